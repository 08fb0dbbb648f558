//! One journal file, memory-mapped: its header, its objects, and the data
//! hash table. Every read is checked against the mapping's length, so a
//! truncated or corrupt file gives an error, never a fault.

use std::borrow::Cow;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use crate::error::{Error, Result, corrupt};
use crate::hash::Hasher;
use crate::map::{FaultMark, Map, MapError};

const SIGNATURE: &[u8; 8] = b"LPKSHHRH";

const INCOMPAT_XZ: u32 = 1 << 0;
const INCOMPAT_LZ4: u32 = 1 << 1;
const INCOMPAT_KEYED_HASH: u32 = 1 << 2;
const INCOMPAT_ZSTD: u32 = 1 << 3;
const INCOMPAT_COMPACT: u32 = 1 << 4;
const INCOMPAT_KNOWN: u32 =
    INCOMPAT_XZ | INCOMPAT_LZ4 | INCOMPAT_KEYED_HASH | INCOMPAT_ZSTD | INCOMPAT_COMPACT;

const OBJ_COMPRESSED_XZ: u8 = 1 << 0;
const OBJ_COMPRESSED_LZ4: u8 = 1 << 1;
const OBJ_COMPRESSED_ZSTD: u8 = 1 << 2;

pub const OBJECT_DATA: u8 = 1;
pub const OBJECT_ENTRY: u8 = 3;
pub const OBJECT_ENTRY_ARRAY: u8 = 6;
const OBJECT_FIELD: u8 = 2;
const OBJECT_DATA_HASH_TABLE: u8 = 4;
const OBJECT_FIELD_HASH_TABLE: u8 = 5;
/// Field object: header, hash, next_hash_offset, head_data_offset.
const FIELD_PAYLOAD: u64 = 40;

const OBJECT_HEADER: u64 = 16;
/// Entry object: header, seqnum, realtime, monotonic, boot_id, xor_hash.
const ENTRY_ITEMS: u64 = 64;
const ENTRY_ARRAY_ITEMS: u64 = 24;

/// The identity of an entry that journalctl's merge compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub seqnum_id: [u8; 16],
    pub seqnum: u64,
    pub boot_id: [u8; 16],
    pub monotonic: u64,
    pub realtime: u64,
    pub xor_hash: u64,
}

impl Location {
    /// `journal_file_compare_locations` of systemd 252.
    pub fn compare(&self, other: &Location) -> std::cmp::Ordering {
        use std::cmp::Ordering::Equal;
        if self == other {
            return Equal;
        }
        if self.seqnum_id == other.seqnum_id {
            let r = self.seqnum.cmp(&other.seqnum);
            if r != Equal {
                return r;
            }
        }
        if self.boot_id == other.boot_id {
            let r = self.monotonic.cmp(&other.monotonic);
            if r != Equal {
                return r;
            }
        }
        self.realtime
            .cmp(&other.realtime)
            .then(self.xor_hash.cmp(&other.xor_hash))
    }
}

pub struct JournalFile {
    path: PathBuf,
    map: Arc<Map>,
    /// Held while a query reads a map shared with other queries.
    _file: Option<std::fs::File>,
    compact: bool,
    hasher: Hasher,
    seqnum_id: [u8; 16],
    data_table: u64,
    data_buckets: u64,
    field_table: u64,
    field_buckets: u64,
    entry_array: u64,
    n_entries: u64,
    max_field: usize,
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

impl JournalFile {
    /// Maps `path` and checks its header. `max_field` bounds the size of a
    /// decompressed field.
    pub fn open(path: &Path, max_field: usize) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let map = Self::map_file(path, &file)?;
        Self::from_map(path, map, None, max_field)
    }

    /// A map of `file` as long as it is now.
    pub(crate) fn map_file(path: &Path, file: &std::fs::File) -> Result<Arc<Map>> {
        match Map::new(file) {
            Ok(map) => Ok(Arc::new(map)),
            Err(MapError::Io(source)) => Err(Error::Io {
                path: path.to_owned(),
                source,
            }),
            Err(full @ MapError::Full) => {
                Err(Error::Unsupported(format!("{}: {full}", path.display())))
            }
        }
    }

    /// `file`, open at `path`, read through `map`: a map of it made while it
    /// had the length it has now, maybe for an earlier query. The header is
    /// read anew, as `open` reads it: a private read-only map shows what
    /// journald has written since it was made. The file stays open while
    /// this is read, as journalctl keeps it.
    pub(crate) fn from_map(
        path: &Path,
        map: Arc<Map>,
        file: Option<std::fs::File>,
        max_field: usize,
    ) -> Result<Self> {
        let h = &map[..];
        if h.len() < 240 || &h[..8] != SIGNATURE {
            return corrupt("header signature or size", 0);
        }
        let incompat = le32(h, 12);
        if incompat & !INCOMPAT_KNOWN != 0 {
            return Err(Error::Unsupported(format!(
                "{}: incompatible flags {incompat:#x}",
                path.display()
            )));
        }
        let header_size = le64(h, 88);
        let arena_size = le64(h, 96);
        // journalctl refuses a file whose header claims more than it holds.
        if header_size
            .checked_add(arena_size)
            .is_none_or(|end| end > h.len() as u64)
        {
            return corrupt("header and arena larger than the file", 96);
        }
        let file_id: [u8; 16] = h[24..40].try_into().expect("16 bytes");
        let data_table = le64(h, 104);
        let data_table_size = le64(h, 112);
        // The table's items follow its object header, inside the file.
        if data_table_size > 0
            && (data_table < OBJECT_HEADER
                || data_table
                    .checked_add(data_table_size)
                    .is_none_or(|end| end > h.len() as u64))
        {
            return corrupt("data hash table outside the file", 104);
        }
        let field_table = le64(h, 120);
        let field_table_size = le64(h, 128);
        if field_table_size > 0
            && (field_table < OBJECT_HEADER
                || field_table
                    .checked_add(field_table_size)
                    .is_none_or(|end| end > h.len() as u64))
        {
            return corrupt("field hash table outside the file", 120);
        }
        Ok(JournalFile {
            path: path.to_owned(),
            compact: incompat & INCOMPAT_COMPACT != 0,
            hasher: Hasher::new(incompat & INCOMPAT_KEYED_HASH != 0, &file_id),
            seqnum_id: h[72..88].try_into().expect("16 bytes"),
            data_table,
            data_buckets: data_table_size / 16,
            field_table,
            field_buckets: field_table_size / 16,
            entry_array: le64(h, 176),
            n_entries: le64(h, 152),
            max_field,
            map,
            _file: file,
        })
    }

    /// Whether both are read through one map.
    #[cfg(test)]
    pub(crate) fn shares_map(&self, other: &JournalFile) -> bool {
        Arc::ptr_eq(&self.map, &other.map)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drops the mapped pages from this process's resident set; they are
    /// read again from the page cache when next touched.
    pub fn release_pages(&self) {
        self.map.release_pages();
    }

    /// See [`Map::release_after`].
    pub fn release_after(&self, mark: &FaultMark) {
        self.map.release_after(mark);
    }

    /// Whether a page of the file was missing when read (it shrank under
    /// the map, or the disk failed): what follows cannot be trusted.
    pub fn faulted(&self) -> bool {
        self.map.faulted()
    }

    fn bytes(&self, offset: u64, len: u64) -> Result<&[u8]> {
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= self.map.len() as u64);
        match end {
            Some(end) => Ok(&self.map[offset as usize..end as usize]),
            None => corrupt("read beyond the end of the file", offset),
        }
    }

    fn u64_at(&self, offset: u64) -> Result<u64> {
        Ok(le64(self.bytes(offset, 8)?, 0))
    }

    /// The object at `offset`, of type `kind` and at least `min` bytes.
    fn object(&self, offset: u64, kind: u8, min: u64) -> Result<&[u8]> {
        if offset == 0 || !offset.is_multiple_of(8) {
            return corrupt("misaligned object offset", offset);
        }
        let head = self.bytes(offset, OBJECT_HEADER)?;
        let size = le64(head, 8);
        if head[0] != kind {
            return corrupt("unexpected object type", offset);
        }
        if size < min {
            return corrupt("object too small", offset);
        }
        self.bytes(offset, size)
    }

    fn item_size(&self) -> u64 {
        if self.compact { 4 } else { 8 }
    }

    fn data_payload_start(&self) -> usize {
        if self.compact { 72 } else { 64 }
    }

    /// The data object holding exactly `payload` (`FIELD=value`), looked up
    /// in the data hash table.
    pub fn find_data(&self, payload: &[u8]) -> Result<Option<u64>> {
        if self.data_buckets == 0 {
            return Ok(None);
        }
        self.object(
            self.data_table - OBJECT_HEADER,
            OBJECT_DATA_HASH_TABLE,
            OBJECT_HEADER,
        )?;
        let hash = self.hasher.hash(payload);
        let bucket = self.data_table + (hash % self.data_buckets) * 16;
        let mut p = self.u64_at(bucket)?;
        let mut steps = 0u64;
        while p != 0 {
            let o = self.object(p, OBJECT_DATA, self.data_payload_start() as u64)?;
            if le64(o, 16) == hash && self.payload_of(p, o)?.as_ref() == payload {
                return Ok(Some(p));
            }
            let next = le64(o, 24);
            steps += 1;
            if next <= p && next != 0 || steps > self.map.len() as u64 / 64 {
                return corrupt("hash chain loops", p);
            }
            p = next;
        }
        Ok(None)
    }

    /// Every distinct payload (`FIELD=value`) of `field` in this file, as
    /// `sd_journal_query_unique` walks them: the field object from the
    /// field hash table, then its data objects' `next_field_offset` chain.
    /// At most `max_bytes` of payloads; more is an error.
    pub fn field_values(&self, field: &[u8], max_bytes: usize) -> Result<Vec<Vec<u8>>> {
        let Some(head) = self.find_field(field)? else {
            return Ok(Vec::new());
        };
        let mut values = Vec::new();
        let (mut p, mut total) = (head, 0usize);
        while p != 0 {
            let o = self.object(p, OBJECT_DATA, self.data_payload_start() as u64)?;
            let payload = self.payload_of(p, o)?;
            total += payload.len();
            if total > max_bytes {
                return Err(Error::Unsupported(format!(
                    "{}: the values of a field exceed {max_bytes} bytes",
                    self.path.display()
                )));
            }
            // The chain holds only this field's data; check anyway, as
            // sd_journal_enumerate_data does, so a corrupt link cannot
            // smuggle in another field.
            if payload.len() > field.len()
                && payload.starts_with(field)
                && payload[field.len()] == b'='
            {
                values.push(payload.into_owned());
            }
            // journald prepends each new data object to its field's
            // chain, so offsets fall along it.
            let next = le64(o, 32);
            if next >= p {
                return corrupt("field chain goes forwards", p);
            }
            p = next;
        }
        Ok(values)
    }

    /// The first data object of `field`, from the field hash table.
    fn find_field(&self, field: &[u8]) -> Result<Option<u64>> {
        if self.field_buckets == 0 {
            return Ok(None);
        }
        self.object(
            self.field_table - OBJECT_HEADER,
            OBJECT_FIELD_HASH_TABLE,
            OBJECT_HEADER,
        )?;
        let hash = self.hasher.hash(field);
        let mut p = self.u64_at(self.field_table + (hash % self.field_buckets) * 16)?;
        let mut steps = 0u64;
        while p != 0 {
            let o = self.object(p, OBJECT_FIELD, FIELD_PAYLOAD)?;
            if le64(o, 16) == hash && &o[FIELD_PAYLOAD as usize..] == field {
                return Ok(Some(le64(o, 32)));
            }
            let next = le64(o, 24);
            steps += 1;
            if next <= p && next != 0 || steps > self.map.len() as u64 / 64 {
                return corrupt("field hash chain loops", p);
            }
            p = next;
        }
        Ok(None)
    }

    /// `(first entry, entry array chain head, number of entries)` of a data
    /// object.
    pub fn data_entries(&self, offset: u64) -> Result<(u64, u64, u64)> {
        let o = self.object(offset, OBJECT_DATA, self.data_payload_start() as u64)?;
        Ok((le64(o, 40), le64(o, 48), le64(o, 56)))
    }

    /// `(entry array chain head, number of entries)` of the whole file.
    pub fn all_entries(&self) -> (u64, u64) {
        (self.entry_array, self.n_entries)
    }

    /// An entry array at `offset`: `(next array, item capacity)`.
    pub fn entry_array(&self, offset: u64) -> Result<(u64, u64)> {
        let o = self.object(offset, OBJECT_ENTRY_ARRAY, ENTRY_ARRAY_ITEMS)?;
        Ok((
            le64(o, 16),
            (o.len() as u64 - ENTRY_ARRAY_ITEMS) / self.item_size(),
        ))
    }

    /// Item `i` of the entry array at `offset` (0 means unused).
    pub fn entry_array_item(&self, offset: u64, i: u64) -> Result<u64> {
        let at = offset + ENTRY_ARRAY_ITEMS + i * self.item_size();
        if self.compact {
            Ok(u64::from(le32(self.bytes(at, 4)?, 0)))
        } else {
            self.u64_at(at)
        }
    }

    pub fn location(&self, entry: u64) -> Result<Location> {
        let o = self.object(entry, OBJECT_ENTRY, ENTRY_ITEMS)?;
        Ok(Location {
            seqnum_id: self.seqnum_id,
            seqnum: le64(o, 16),
            realtime: le64(o, 24),
            monotonic: le64(o, 32),
            boot_id: o[40..56].try_into().expect("16 bytes"),
            xor_hash: le64(o, 56),
        })
    }

    pub fn realtime(&self, entry: u64) -> Result<u64> {
        Ok(le64(self.object(entry, OBJECT_ENTRY, ENTRY_ITEMS)?, 24))
    }

    /// The data object offsets of an entry's fields, in item order.
    pub fn entry_items(&self, entry: u64) -> Result<impl Iterator<Item = u64> + '_> {
        let o = self.object(entry, OBJECT_ENTRY, ENTRY_ITEMS)?;
        let step = if self.compact { 4 } else { 16 };
        let compact = self.compact;
        Ok(o[ENTRY_ITEMS as usize..].chunks_exact(step).map(move |c| {
            if compact {
                u64::from(le32(c, 0))
            } else {
                le64(c, 0)
            }
        }))
    }

    /// The payload (`FIELD=value`) of the data object at `offset`,
    /// decompressed when needed.
    pub fn data(&self, offset: u64) -> Result<Cow<'_, [u8]>> {
        let o = self.object(offset, OBJECT_DATA, self.data_payload_start() as u64)?;
        self.payload_of(offset, o)
    }

    fn payload_of<'a>(&self, offset: u64, o: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        let raw = &o[self.data_payload_start()..];
        let flags = o[1];
        if flags == 0 {
            return Ok(Cow::Borrowed(raw));
        }
        if flags == OBJ_COMPRESSED_ZSTD {
            return self.zstd(raw, offset);
        }
        if flags == OBJ_COMPRESSED_LZ4 {
            // systemd's LZ4 blob: the decompressed size (le64), then a block.
            if raw.len() < 8 {
                return corrupt("lz4 data", offset);
            }
            let size = le64(raw, 0);
            if size > self.max_field as u64 {
                return self.too_large(offset);
            }
            let mut out = vec![0; size as usize];
            let n = lz4_flex::block::decompress_into(&raw[8..], &mut out).map_err(|_| {
                Error::Corrupt {
                    what: "lz4 data",
                    offset,
                }
            })?;
            out.truncate(n);
            return Ok(Cow::Owned(out));
        }
        let what = if flags == OBJ_COMPRESSED_XZ {
            "xz"
        } else {
            "unknown"
        };
        Err(Error::Unsupported(format!(
            "{}: {what} compressed data object at offset {offset}",
            self.path.display()
        )))
    }

    /// A zstd frame, decoded by this thread's decoder: a fresh decoder per
    /// field allocated its window and tables each time, and streaming it
    /// through `Read` copied every byte once more (a quarter of a whole
    /// kubelet query's time went to zstd on the bench journal).
    fn zstd(&self, mut raw: &[u8], offset: u64) -> Result<Cow<'static, [u8]>> {
        thread_local! {
            static DECODER: RefCell<FrameDecoder> = RefCell::new(FrameDecoder::new());
        }
        let corrupt_data = || Error::Corrupt {
            what: "zstd data",
            offset,
        };
        DECODER.with_borrow_mut(|d| {
            // A frame's window is at most twice its content (journald
            // compresses one field per frame), so a declared window beyond
            // that is refused before anything is allocated.
            d.set_max_window_size(2 * self.max_field as u64);
            d.reset(&mut raw).map_err(|_| Error::Corrupt {
                what: "zstd frame",
                offset,
            })?;
            let mut out = Vec::new();
            if let Some(size) = usize::try_from(d.content_size()).ok().filter(|&n| n > 0) {
                if size > self.max_field {
                    return self.too_large(offset);
                }
                out.reserve_exact(size);
            }
            while !d.is_finished() {
                let before = d.blocks_decoded();
                d.decode_blocks(&mut raw, BlockDecodingStrategy::UptoBytes(64 << 10))
                    .map_err(|_| corrupt_data())?;
                if d.blocks_decoded() == before && !d.is_finished() {
                    // A frame cut short: no block, and not finished.
                    return Err(corrupt_data());
                }
                d.collect_to_writer(&mut out).map_err(|_| corrupt_data())?;
                if out.len() > self.max_field {
                    return self.too_large(offset);
                }
            }
            d.collect_to_writer(&mut out).map_err(|_| corrupt_data())?;
            if out.len() > self.max_field {
                return self.too_large(offset);
            }
            Ok(Cow::Owned(out))
        })
    }

    fn too_large<T>(&self, offset: u64) -> Result<T> {
        Err(Error::Unsupported(format!(
            "{}: data object at offset {offset} decompresses to more than {} bytes",
            self.path.display(),
            self.max_field
        )))
    }
}

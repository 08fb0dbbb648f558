//! Journal files kept mapped between queries.
//!
//! journald never writes to a file again once it has archived it (renamed
//! to `NAME@….journal`) or set it aside (`….journal~`), so one map of it,
//! with its header read, can serve every later query: a query then costs
//! no `open`, `mmap` and `munmap` per file, the index pages it walks stay
//! mapped, and concurrent queries share one set of resident pages instead
//! of one each. Such a file is known by device, inode, size and
//! modification time, so a file replaced under the same name is opened
//! again.
//!
//! The file being written (`system.journal`) keeps its map too, but each
//! query opens the file, as journalctl does, and reads its header anew
//! through the map (`JournalFile::from_map`): journald appends through its
//! own map, which shows in ours. The map is reused while the open file has
//! the device, inode, size and birth time it had when mapped; journald
//! grows a file in steps, and then it is mapped anew. Its modification
//! time cannot tell: writes through a map need not change it. Mapping and
//! unmapping it twice per tail request (the unit check and the query) took
//! a sixth of the host's CPU at a thousand tails a second.
//!
//! A file that went (vacuumed, rotated, replaced) or lost a page under its
//! map (see `map`) is forgotten by the next open, and between queries by
//! [`OpenFiles::sweep`], which the host runs on a timer: a deleted file's
//! disk space is not free while it is mapped.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use crate::map::Map;

use crate::error::{Error, Result};
use crate::file::JournalFile;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    /// The modification time of a finished file, the birth time of the one
    /// being written (a new file that reuses a deleted one's inode and size
    /// has another).
    time: (i64, u32),
}

impl Identity {
    fn new(meta: &Metadata, time: (i64, u32)) -> Self {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            time,
        }
    }

    /// A finished file's, with its modification time.
    fn finished(meta: &Metadata) -> Self {
        Identity::new(meta, (meta.mtime(), meta.mtime_nsec() as u32))
    }

    /// The file being written's, with its birth time; none on a file
    /// system that keeps no birth time, where a reused inode could not be
    /// told apart.
    fn written(meta: &Metadata) -> Option<Self> {
        let born = meta.created().ok()?.duration_since(UNIX_EPOCH).ok()?;
        Some(Identity::new(
            meta,
            (born.as_secs() as i64, born.subsec_nanos()),
        ))
    }
}

enum Cached {
    Finished(Identity, Arc<JournalFile>),
    Written(Identity, Arc<Map>),
}

impl Cached {
    fn identity(&self) -> Identity {
        match self {
            Cached::Finished(identity, _) | Cached::Written(identity, _) => *identity,
        }
    }

    /// Whether the file at this entry's path, as `meta` describes it, is
    /// still the one this entry maps, every page of it.
    fn is_current(&self, meta: &Metadata) -> bool {
        let (now, faulted) = match self {
            Cached::Finished(_, file) => (Some(Identity::finished(meta)), file.faulted()),
            Cached::Written(_, map) => (Identity::written(meta), map.faulted()),
        };
        now == Some(self.identity()) && !faulted
    }
}

/// The files of the last open; see the module documentation.
#[derive(Default)]
pub struct OpenFiles {
    files: Mutex<HashMap<PathBuf, Cached>>,
}

impl std::fmt::Debug for OpenFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.files.lock().map_or(0, |files| files.len());
        write!(f, "OpenFiles({n} files)")
    }
}

/// Whether journald is done with the file: archived or set aside.
fn archived(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".journal~") || (name.ends_with(".journal") && name.contains('@'))
}

impl OpenFiles {
    /// `path`, from the cache when it was seen before as it is now.
    pub(crate) fn open(&self, path: &Path, max_field: usize) -> Result<Arc<JournalFile>> {
        if !archived(path) {
            return self.open_written(path, max_field).map(Arc::new);
        }
        let fresh = || JournalFile::open(path, max_field).map(Arc::new);
        let Ok(meta) = std::fs::metadata(path) else {
            return fresh(); // and its error
        };
        let identity = Identity::finished(&meta);
        if let Some(Cached::Finished(seen, file)) = self.lock().get(path)
            && *seen == identity
            && !file.faulted()
        {
            return Ok(file.clone());
        }
        let file = fresh()?;
        self.lock()
            .insert(path.to_owned(), Cached::Finished(identity, file.clone()));
        Ok(file)
    }

    /// The file being written, open for this query, through the map of an
    /// earlier one while it is the same file with the same length.
    fn open_written(&self, path: &Path, max_field: usize) -> Result<JournalFile> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        // Without a birth time, mapped afresh each time.
        let Some(identity) = Identity::written(&meta) else {
            let map = JournalFile::map_file(path, &file)?;
            return JournalFile::from_map(path, map, Some(file), max_field);
        };
        let seen = match self.lock().get(path) {
            Some(Cached::Written(seen, map)) if *seen == identity && !map.faulted() => {
                Some(map.clone())
            }
            _ => None,
        };
        let map = match seen {
            Some(map) => map,
            None => {
                let map = JournalFile::map_file(path, &file)?;
                self.lock()
                    .insert(path.to_owned(), Cached::Written(identity, map.clone()));
                map
            }
        };
        JournalFile::from_map(path, map, Some(file), max_field)
    }

    /// Forgets the files not found this time (deleted by journald's
    /// vacuuming), so that the cache holds no more than the directories do.
    pub(crate) fn keep_only(&self, found: &[PathBuf]) {
        let gone: Vec<_> = self
            .lock()
            .extract_if(|path, _| found.binary_search(path).is_err())
            .collect();
        // Unmapped after the lock is let go: queries go on opening.
        drop(gone);
    }

    /// Forgets the files that are no longer at their paths as they were
    /// (vacuumed, rotated, replaced, or a page gone): between queries nothing else would,
    /// and the map of a deleted file keeps its disk space from journald's
    /// vacuuming. Blocking: a `stat` of each file, none under the lock.
    pub fn sweep(&self) {
        let paths: Vec<PathBuf> = self.lock().keys().cloned().collect();
        for path in paths {
            let meta = std::fs::metadata(&path).ok();
            let mut files = self.lock();
            // Looked at again under the lock: a query may have replaced
            // the entry since.
            let stale = files
                .get(&path)
                .is_some_and(|cached| !meta.as_ref().is_some_and(|m| cached.is_current(m)));
            let gone = stale.then(|| files.remove(&path));
            // Unmapped after the lock is let go: queries go on opening.
            drop(files);
            drop(gone);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Cached>> {
        // A panic while holding it leaves a consistent map: every insert
        // and removal is one call.
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_finished_files_are_kept() {
        for name in [
            "system@0c15936455884523b12403cc33826b2e-0000000000000001-000627751067080f.journal",
            "user-1000@0c15936455884523b12403cc33826b2e-01-02.journal",
            "system@0006277f9c11a40b-2a5f4b7b0e0b2c2f.journal~",
        ] {
            assert!(archived(Path::new(name)), "{name}");
        }
        for name in ["system.journal", "user-1000.journal", "x@y.journal.tmp"] {
            assert!(!archived(Path::new(name)), "{name}");
        }
    }
}

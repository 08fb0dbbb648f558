//! Reads systemd journal files directly (memory-mapped, through journald's
//! own hash tables and entry arrays) and prints what
//! `journalctl --utc --no-pager -o short-precise` prints, byte for byte,
//! for the node log query's arguments: `-u`, `--boot`, `--since`,
//! `--until`, `--grep`, `--lines`, `--reverse`.
//!
//! What it cannot answer identically it reports as
//! [`Error::Unsupported`], so that a caller can fall back to journalctl:
//! xz-compressed or unknown data, unit globs and paths, positive boot
//! offsets, and patterns whose meaning differs between PCRE2 and the regex
//! crate.

mod entries;
mod error;
mod file;
mod hash;
mod map;
mod matches;
mod merge;
mod open_files;
mod query;
mod short;
mod text;
mod units;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Error, Result};
pub use open_files::OpenFiles;
pub use query::{Entries, Query};
pub use units::mangle;

/// The largest decompressed field the reader accepts by default.
pub const DEFAULT_MAX_FIELD: usize = 64 << 20;

/// A set of journal files, opened once and queried many times.
pub struct Journal {
    files: Vec<Arc<file::JournalFile>>,
    skipped: Vec<String>,
}

fn is_journal_file(name: &str) -> bool {
    name.ends_with(".journal") || name.ends_with(".journal~")
}

fn is_id128(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The journal files of `dir` as `journalctl --directory` finds them: its
/// own `*.journal` and `*.journal~`, and those of machine-ID subdirectories.
fn files_in(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = entry.path();
        if is_journal_file(name) {
            out.push(path);
        } else if depth == 0 && is_id128(name) && path.is_dir() {
            files_in(&path, 1, out)?;
        }
    }
    Ok(())
}

impl Journal {
    /// Opens the journal files in these directories (and these files).
    /// A file that cannot be opened is skipped, as journalctl skips it; see
    /// [`Journal::skipped_files`].
    pub fn open(paths: &[PathBuf]) -> Result<Self> {
        Self::open_with_limit(paths, DEFAULT_MAX_FIELD)
    }

    /// As [`Journal::open`], with the largest decompressed field accepted.
    pub fn open_with_limit(paths: &[PathBuf], max_field: usize) -> Result<Self> {
        Self::open_each(paths, |path| {
            file::JournalFile::open(path, max_field).map(Arc::new)
        })
        .map(|(journal, _)| journal)
    }

    /// As [`Journal::open_with_limit`], taking archived files from `cache`
    /// (and leaving this open's in it for the next).
    pub fn open_cached(paths: &[PathBuf], max_field: usize, cache: &OpenFiles) -> Result<Self> {
        let (journal, found) = Self::open_each(paths, |path| cache.open(path, max_field))?;
        cache.keep_only(&found);
        Ok(journal)
    }

    /// Finds the files and opens each with `open`; also returns the paths
    /// found, sorted.
    fn open_each(
        paths: &[PathBuf],
        open: impl Fn(&Path) -> Result<Arc<file::JournalFile>>,
    ) -> Result<(Self, Vec<PathBuf>)> {
        let mut found = Vec::new();
        for p in paths {
            if p.is_dir() {
                files_in(p, 0, &mut found)?;
            } else {
                found.push(p.clone());
            }
        }
        found.sort();
        found.dedup();
        let mut files = Vec::new();
        let mut skipped = Vec::new();
        for path in &found {
            match open(path) {
                Ok(f) => files.push(f),
                Err(e @ Error::Unsupported(_)) => return Err(e),
                Err(e) => skipped.push(format!("{}: {e}", path.display())),
            }
        }
        Ok((Journal { files, skipped }, found))
    }

    /// Files that were found but could not be read, with the reason.
    pub fn skipped_files(&self) -> &[String] {
        &self.skipped
    }

    /// The distinct values of `field` (without the `FIELD=` prefix) in all
    /// files, as `journalctl --field=FIELD` lists them (unordered). At most
    /// `max_bytes` of values in all; more is [`Error::Unsupported`]. A file
    /// that fails is skipped, as journalctl skips it.
    pub fn field_values(&self, field: &str, max_bytes: usize) -> Result<Vec<Vec<u8>>> {
        let mut seen = std::collections::HashSet::new();
        let mut total = 0usize;
        for f in &self.files {
            let values = match f.field_values(field.as_bytes(), max_bytes) {
                Ok(v) => v,
                Err(e @ Error::Unsupported(_)) => return Err(e),
                Err(_) => continue,
            };
            // Read past a page that went missing: maybe zeros, skipped.
            if f.faulted() {
                continue;
            }
            for v in values {
                let value = v[field.len() + 1..].to_vec();
                if !seen.contains(&value) {
                    total += value.len();
                    if total > max_bytes {
                        return Err(Error::Unsupported(format!(
                            "the values of {field} exceed {max_bytes} bytes"
                        )));
                    }
                    seen.insert(value);
                }
            }
        }
        Ok(seen.into_iter().collect())
    }

    /// Starts answering `q`; read the output with [`Entries::fill`].
    pub fn query(&self, q: &Query) -> Result<Entries> {
        Entries::new(self.files.clone(), q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal header whose offsets point at garbage.
    fn garbage_journal() -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[..8].copy_from_slice(b"LPKSHHRH");
        let put =
            |h: &mut Vec<u8>, at: usize, v: u64| h[at..at + 8].copy_from_slice(&v.to_le_bytes());
        put(&mut h, 88, 272); // header_size
        put(&mut h, 96, 1024); // arena_size
        put(&mut h, 104, 512); // data hash table
        put(&mut h, 112, 160);
        put(&mut h, 152, u64::MAX); // n_entries
        put(&mut h, 176, 1000); // entry array: garbage
        for (i, b) in h[272..].iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        h
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("nodelogd-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Every read must fail cleanly (the file is skipped while iterating),
    /// never panic.
    #[test]
    fn garbage_offsets_are_errors_not_panics() {
        let dir = scratch("garbage");
        std::fs::write(dir.join("bad.journal"), garbage_journal()).unwrap();
        let journal = Journal::open(std::slice::from_ref(&dir)).unwrap();
        for q in [
            Query::default(),
            Query {
                units: vec!["kubelet".into()],
                ..Query::default()
            },
            Query {
                lines: Some(5),
                pattern: Some("x".into()),
                ..Query::default()
            },
        ] {
            let mut out = Vec::new();
            if let Ok(mut e) = journal.query(&q) {
                while let Ok(true) = e.fill(&mut out, 1 << 16) {}
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Archived files are shared between opens, until they change or go;
    /// the file still written is opened anew each time, through the same
    /// map while it is the same file with the same length.
    #[test]
    fn archived_files_are_kept_open_until_they_change_or_go() {
        let dir = scratch("cache");
        let archived = dir.join("system@0c15-01-02.journal");
        let online = dir.join("system.journal");
        std::fs::write(&archived, garbage_journal()).unwrap();
        std::fs::write(&online, garbage_journal()).unwrap();
        let cache = OpenFiles::default();
        let open = || Journal::open_cached(std::slice::from_ref(&dir), 1 << 20, &cache).unwrap();
        let (a, b) = (open(), open());
        // Sorted: system.journal, then system@….
        assert_eq!(a.files.len(), 2);
        assert!(Arc::ptr_eq(&a.files[1], &b.files[1]), "archived: shared");
        assert!(
            !Arc::ptr_eq(&a.files[0], &b.files[0]),
            "online: opened anew"
        );
        assert!(a.files[0].shares_map(&b.files[0]), "online: the same map");
        // Replaced, or grown: mapped anew.
        let new = dir.join("new");
        std::fs::write(&new, garbage_journal()).unwrap();
        std::fs::rename(&new, &online).unwrap();
        let replaced = open();
        assert!(!b.files[0].shares_map(&replaced.files[0]), "replaced");
        let mut grown = garbage_journal();
        grown.extend([0; 8]);
        std::fs::write(&online, grown).unwrap();
        assert!(!replaced.files[0].shares_map(&open().files[0]), "grown");
        // Replaced under the same name: opened again.
        let new = dir.join("new");
        std::fs::write(&new, garbage_journal()).unwrap();
        std::fs::rename(&new, &archived).unwrap();
        let c = open();
        assert!(!Arc::ptr_eq(&b.files[1], &c.files[1]), "replaced: reopened");
        // Vacuumed: forgotten.
        std::fs::remove_file(&archived).unwrap();
        assert_eq!(open().files.len(), 1);
        assert_eq!(format!("{cache:?}"), "OpenFiles(1 files)", "the online one");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Between queries, a sweep forgets what was vacuumed or rotated away
    /// and keeps the rest.
    #[test]
    fn a_sweep_forgets_the_files_that_went() {
        let dir = scratch("sweep");
        let archived = dir.join("system@0c15-01-02.journal");
        let older = dir.join("system@0c15-00-01.journal");
        let online = dir.join("system.journal");
        for path in [&archived, &older, &online] {
            std::fs::write(path, garbage_journal()).unwrap();
        }
        let cache = OpenFiles::default();
        Journal::open_cached(std::slice::from_ref(&dir), 1 << 20, &cache).unwrap();
        cache.sweep();
        assert_eq!(format!("{cache:?}"), "OpenFiles(3 files)", "nothing went");
        // Vacuumed, and rotated: a new file under the name being written.
        std::fs::remove_file(&older).unwrap();
        let new = dir.join("new");
        std::fs::write(&new, garbage_journal()).unwrap();
        std::fs::rename(&new, &online).unwrap();
        cache.sweep();
        assert_eq!(
            format!("{cache:?}"),
            "OpenFiles(1 files)",
            "the archive left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

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
mod matches;
mod merge;
mod query;
mod short;
mod text;
mod units;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{Error, Result};
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
        for path in found {
            match file::JournalFile::open(&path, max_field) {
                Ok(f) => files.push(Arc::new(f)),
                Err(e @ Error::Unsupported(_)) => return Err(e),
                Err(e) => skipped.push(format!("{}: {e}", path.display())),
            }
        }
        Ok(Journal { files, skipped })
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

    /// A header whose offsets point at garbage: every read must fail
    /// cleanly (the file is skipped while iterating), never panic.
    #[test]
    fn garbage_offsets_are_errors_not_panics() {
        let dir = std::env::temp_dir().join(format!("nodelogd-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
        std::fs::write(dir.join("bad.journal"), &h).unwrap();
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
}

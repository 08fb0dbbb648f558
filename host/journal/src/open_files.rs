//! Archived journal files kept open between queries.
//!
//! journald never writes to a file again once it has archived it (renamed
//! to `NAME@….journal`) or set it aside (`….journal~`), so one map of it,
//! with its header read, can serve every later query: a query then costs
//! no `open`, `mmap` and `munmap` per file, the index pages it walks stay
//! mapped, and concurrent queries share one set of resident pages instead
//! of one each. A file still being written (`system.journal`) is opened
//! anew for each query, as journalctl opens it. A cached file is known by
//! device, inode, size and modification time, so a file replaced under the
//! same name is opened again.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::file::JournalFile;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
}

/// The archived files of the last open; see the module documentation.
#[derive(Default)]
pub struct OpenFiles {
    files: Mutex<HashMap<PathBuf, (Identity, Arc<JournalFile>)>>,
}

impl std::fmt::Debug for OpenFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.files.lock().map_or(0, |files| files.len());
        write!(f, "OpenFiles({n} archived files)")
    }
}

/// Whether journald is done with the file: archived or set aside.
fn archived(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".journal~") || (name.ends_with(".journal") && name.contains('@'))
}

impl OpenFiles {
    /// `path`, from the cache when it is an archived file seen before.
    pub(crate) fn open(&self, path: &Path, max_field: usize) -> Result<Arc<JournalFile>> {
        let fresh = || JournalFile::open(path, max_field).map(Arc::new);
        if !archived(path) {
            return fresh();
        }
        let Ok(meta) = std::fs::metadata(path) else {
            return fresh(); // and its error
        };
        let identity = Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
        };
        if let Some((seen, file)) = self.lock().get(path)
            && *seen == identity
        {
            return Ok(file.clone());
        }
        let file = fresh()?;
        self.lock()
            .insert(path.to_owned(), (identity, file.clone()));
        Ok(file)
    }

    /// Forgets the files not found this time (deleted by journald's
    /// vacuuming), so that the cache holds no more than the directories do.
    pub(crate) fn keep_only(&self, found: &[PathBuf]) {
        self.lock()
            .retain(|path, _| found.binary_search(path).is_ok());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Identity, Arc<JournalFile>)>> {
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

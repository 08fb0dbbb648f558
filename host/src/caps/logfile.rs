//! The `logfile` capability: regular files under the plugin's read roots,
//! opened by the host through `LogRoot` with the read root as the root, so
//! symlinks and `..` are resolved and confined there.
//!
//! Opening and reading touch the file system, which can block (a slow disk,
//! NFS, a FUSE mount), so both run on tokio's blocking pool, never on the
//! async workers that serve every other connection. A trip to that pool
//! costs about as much as copying 64 KiB, so each read takes up to
//! `READ_AHEAD` and serves the plugin's next reads from what is left.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use wasmtime::component::Resource;

use crate::caps::grants::ReadTarget;
use crate::logroot::{self, Entry, LogRoot, RootError};
use crate::runtime::State;
use crate::runtime::bindings::nodelogd::plugin::logfile::{self, DirEntry, OpenError};

/// Files one plugin instance may hold open at once (each is an fd).
pub const MAX_OPEN: u32 = 16;
/// Longest path a plugin may ask for, and most components in it: Linux's
/// `PATH_MAX`, and far more directories than any log tree has. Checked
/// before the resolver expands the path into per-component allocations.
pub const MAX_PATH_BYTES: usize = 4096;
pub const MAX_PATH_COMPONENTS: usize = 256;
/// Bytes read from the file per trip to the blocking pool.
const READ_AHEAD: u32 = 256 << 10;
/// Entries `list` returns at most: far more than a log directory holds,
/// and a bound on what one call makes the host allocate.
pub const MAX_LIST: usize = 4096;

pub struct FileReader {
    file: Arc<File>,
    /// Read from the file; `ahead[taken..]` is not yet handed to the plugin.
    ahead: Vec<u8>,
    taken: usize,
}

/// Why a path is refused before it is resolved, if it is.
fn oversized(path: &str) -> Option<String> {
    if path.len() > MAX_PATH_BYTES {
        return Some(format!("path longer than {MAX_PATH_BYTES} bytes"));
    }
    if path.split('/').count() > MAX_PATH_COMPONENTS {
        return Some(format!(
            "path with more than {MAX_PATH_COMPONENTS} components"
        ));
    }
    None
}

/// Where `path` is to be resolved, when it is within bounds and inside one
/// of the plugin's read roots.
fn readable_root(state: &State, path: &str) -> Result<(Arc<LogRoot>, ReadTarget), OpenError> {
    if let Some(refused) = oversized(path) {
        return Err(OpenError::Denied(refused));
    }
    let (root, target) = state
        .grants
        .allow_read(path)
        .map_err(|denied| OpenError::Denied(denied.to_string()))?;
    Ok((root.clone(), target))
}

fn open_error(e: RootError) -> OpenError {
    match e {
        RootError::NotFound => OpenError::NotFound,
        RootError::Io(e) => OpenError::Io(e.to_string()),
        refused => OpenError::Denied(refused.to_string()),
    }
}

/// A directory's entries, at most `MAX_LIST` of them.
fn list_dir(root: &LogRoot, target: &ReadTarget) -> Result<Vec<DirEntry>, OpenError> {
    let Entry::Dir(dir) = open_below(root, target).map_err(open_error)? else {
        return Err(OpenError::Io("not a directory".into()));
    };
    // Names of at most 255 bytes each: MAX_LIST of them fit in this.
    let items = logroot::list(dir, MAX_LIST * 256).map_err(|e| OpenError::Io(e.to_string()))?;
    if items.iter().count() > MAX_LIST {
        return Err(OpenError::Io(format!(
            "directory has more than {MAX_LIST} entries"
        )));
    }
    Ok(items
        .iter()
        .map(|(name, is_dir)| DirEntry {
            name: String::from_utf8_lossy(name).into_owned(),
            is_dir,
        })
        .collect())
}

impl logfile::Host for State {
    async fn read_dir(
        &mut self,
        dir: String,
    ) -> wasmtime::Result<Result<Vec<DirEntry>, OpenError>> {
        let (root, target) = match readable_root(self, &dir) {
            Ok(granted) => granted,
            Err(e) => return Ok(Err(e)),
        };
        Ok(tokio::task::spawn_blocking(move || list_dir(&root, &target)).await?)
    }

    async fn open(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Resource<FileReader>, OpenError>> {
        let (root, target) = match readable_root(self, &path) {
            Ok(granted) => granted,
            Err(e) => return Ok(Err(e)),
        };
        if self.open_files >= MAX_OPEN {
            let refused = format!("at most {MAX_OPEN} files may be open at once");
            return Ok(Err(OpenError::Denied(refused)));
        }
        let opened = tokio::task::spawn_blocking(move || open_below(&root, &target)).await?;
        Ok(match opened {
            Ok(Entry::File(file)) => {
                let reader = self.table.push(FileReader {
                    file: Arc::new(file),
                    ahead: Vec::new(),
                    taken: 0,
                })?;
                self.open_files += 1;
                Ok(reader)
            }
            Ok(Entry::Dir(_)) => Err(OpenError::IsDirectory),
            Err(e) => Err(open_error(e)),
        })
    }
}

/// Opens `target.below` with the read root as the root; the whole log root
/// needs no second resolution.
fn open_below(root: &LogRoot, target: &ReadTarget) -> Result<Entry, RootError> {
    if target.root_dir.is_empty() {
        return root.open_entry(&target.below);
    }
    root.subroot(&target.root_dir)?.open_entry(&target.below)
}

impl logfile::HostReader for State {
    async fn read(
        &mut self,
        reader: Resource<FileReader>,
        max_bytes: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        let want = max_bytes.clamp(1, super::MAX_READ) as usize;
        let entry = self.table.get_mut(&reader)?;
        if entry.taken == entry.ahead.len() {
            let file = entry.file.clone();
            let (buf, read) = tokio::task::spawn_blocking(move || {
                let mut buf = super::read_buffer(READ_AHEAD.max(max_bytes));
                let read = (&*file).read(&mut buf);
                (buf, read)
            })
            .await?;
            let entry = self.table.get_mut(&reader)?;
            match super::read_result(buf, read) {
                Ok(Some(bytes)) if bytes.len() <= want => return Ok(Ok(Some(bytes))),
                Ok(Some(bytes)) => (entry.ahead, entry.taken) = (bytes, 0),
                done => return Ok(done),
            }
        }
        let entry = self.table.get_mut(&reader)?;
        let end = entry.ahead.len().min(entry.taken + want);
        let bytes = entry.ahead[entry.taken..end].to_vec();
        entry.taken = end;
        Ok(Ok(Some(bytes)))
    }

    async fn size(
        &mut self,
        reader: Resource<FileReader>,
    ) -> wasmtime::Result<Result<u64, String>> {
        let file = self.table.get(&reader)?.file.clone();
        let meta = tokio::task::spawn_blocking(move || file.metadata()).await?;
        Ok(meta.map(|m| m.len()).map_err(|e| e.to_string()))
    }

    /// A positioned read (`pread`): the `read` position and its read-ahead
    /// are untouched.
    async fn read_at(
        &mut self,
        reader: Resource<FileReader>,
        offset: u64,
        max_bytes: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        let file = self.table.get(&reader)?.file.clone();
        let (buf, read) = tokio::task::spawn_blocking(move || {
            let mut buf = super::read_buffer(max_bytes);
            let read = file.read_at(&mut buf, offset);
            (buf, read)
        })
        .await?;
        Ok(super::read_result(buf, read))
    }

    async fn drop(&mut self, reader: Resource<FileReader>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        self.open_files -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_bounded_before_they_are_resolved() {
        assert_eq!(oversized("containers/a.log"), None);
        assert!(oversized(&"a".repeat(MAX_PATH_BYTES + 1)).is_some());
        assert!(oversized(&"/".repeat(MAX_PATH_COMPONENTS)).is_some());
        assert_eq!(oversized(&"/".repeat(MAX_PATH_COMPONENTS - 1)), None);
    }
}

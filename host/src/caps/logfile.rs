//! The `logfile` capability: regular files under the log root, opened by
//! the host through `LogRoot` (symlinks resolved and confined there).

use std::fs::File;
use std::io::Read;

use wasmtime::component::Resource;

use crate::logroot::{Entry, RootError};
use crate::runtime::State;
use crate::runtime::bindings::nodelogd::plugin::logfile::{self, OpenError};

pub struct FileReader {
    file: File,
}

impl logfile::Host for State {
    async fn open(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Resource<FileReader>, OpenError>> {
        let root = match self.grants.allow_read() {
            Ok(root) => root,
            Err(denied) => return Ok(Err(OpenError::Denied(denied.to_string()))),
        };
        Ok(match root.open_entry(&path) {
            Ok(Entry::File(file)) => Ok(self.table.push(FileReader { file })?),
            Ok(Entry::Dir(_)) => Err(OpenError::IsDirectory),
            Err(RootError::NotFound) => Err(OpenError::NotFound),
            Err(RootError::Io(e)) => Err(OpenError::Io(e.to_string())),
            Err(refused) => Err(OpenError::Denied(refused.to_string())),
        })
    }
}

impl logfile::HostReader for State {
    async fn read(
        &mut self,
        reader: Resource<FileReader>,
        max_bytes: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        let reader = self.table.get_mut(&reader)?;
        let mut buf = super::read_buffer(max_bytes);
        // A plain read, not tokio's spawn_blocking: regular-file reads are
        // short (page cache or one disk request) and not cancellable either
        // way, and a thread hop per batch halves throughput.
        let read = reader.file.read(&mut buf);
        Ok(super::read_result(buf, read))
    }

    async fn drop(&mut self, reader: Resource<FileReader>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}

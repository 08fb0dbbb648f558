//! The file log source: the kubelet's fallback for services that journald
//! does not know. For each service it serves the first regular file of
//! `<svc>`, `<svc>.log`, `<svc>/<svc>.log` under the log root, whole and
//! unfiltered, exactly as the kubelet's `heuristicsCopyFileLogs` does.

use std::cell::RefCell;
use std::collections::VecDeque;

use nodelogd_plugin_sdk::logfile::{self, OpenError, Reader};
use nodelogd_plugin_sdk::{Guest, GuestLogStream, LogStream, Query, SourceError, SourceInfo};

struct FileSource;

impl Guest for FileSource {
    type LogStream = FileStream;

    fn info() -> SourceInfo {
        SourceInfo {
            name: "file".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "files under the log root: <svc>, <svc>.log or <svc>/<svc>.log".into(),
            supports_options: false,
        }
    }

    /// The fallback claims every service it is asked about; whether a file
    /// exists is only known when the stream reaches it, as in the kubelet.
    fn serves(services: Vec<String>) -> Result<Vec<bool>, SourceError> {
        Ok(vec![true; services.len()])
    }

    fn open(q: Query) -> Result<LogStream, SourceError> {
        Ok(LogStream::new(FileStream {
            state: RefCell::new(State {
                pending: q.services.into(),
                current: None,
            }),
        }))
    }
}

struct State {
    pending: VecDeque<String>,
    current: Option<Reader>,
}

struct FileStream {
    state: RefCell<State>,
}

/// What opening a service's log produced: a file to copy, or the kubelet's
/// in-band message when there is none.
enum Found {
    File(Reader),
    Message(String),
}

fn find_log(service: &str) -> Found {
    let candidates = [
        service.to_string(),
        format!("{service}.log"),
        format!("{service}/{service}.log"),
    ];
    for name in &candidates {
        match logfile::open(name) {
            Ok(reader) => return Found::File(reader),
            Err(OpenError::NotFound | OpenError::IsDirectory) => continue,
            Err(OpenError::Denied(e) | OpenError::Io(e)) => {
                return Found::Message(format!("\nerror getting log for {service}: {e}\n"));
            }
        }
    }
    Found::Message(format!("\nlog not found for {service}\n"))
}

impl GuestLogStream for FileStream {
    fn next_batch(&self, max_bytes: u32) -> Result<Option<Vec<u8>>, SourceError> {
        let mut state = self.state.borrow_mut();
        loop {
            if let Some(reader) = &state.current {
                match reader.read(max_bytes).map_err(SourceError::Io)? {
                    Some(bytes) => return Ok(Some(bytes)),
                    None => state.current = None,
                }
            }
            let Some(service) = state.pending.pop_front() else {
                return Ok(None);
            };
            match find_log(&service) {
                Found::File(reader) => state.current = Some(reader),
                Found::Message(text) => return Ok(Some(text.into_bytes())),
            }
        }
    }
}

nodelogd_plugin_sdk::export!(FileSource);

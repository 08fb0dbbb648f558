//! The kubelet's query as the host's native journal reader takes it: the
//! same options `argv` gives journalctl, as data. Where the reader cannot
//! answer exactly as journalctl would, it says `unsupported` and the
//! caller runs journalctl instead.

use std::cell::RefCell;

use nodelogd_plugin_sdk::journal::{self, Entries, JournalError, JournalQuery};
use nodelogd_plugin_sdk::program::Output;
use nodelogd_plugin_sdk::{GuestLogStream, Query, SourceError};

use crate::argv::{self, Tail};

pub fn query(q: &Query) -> JournalQuery {
    let (lines, pager_end, last) = match argv::tail_plan(q) {
        Tail::Direct => (q.tail_lines.map(u64::from), q.tail_lines.is_some(), None),
        Tail::FromCursor(n) => (None, false, Some(u64::from(n))),
    };
    JournalQuery {
        units: q
            .services
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect(),
        boot: q.boot,
        since: q.since.as_ref().map(argv::micros),
        until: q.until.as_ref().map(argv::micros),
        pattern: q.pattern.clone().filter(|p| !p.is_empty()),
        lines,
        pager_end,
        reverse: false,
        last,
    }
}

/// Where a query's output comes from.
pub enum Source {
    Native(Entries),
    Journalctl(Output),
    /// journalctl's one line before it exits (its stderr, which the
    /// kubelet returns as the body), or the kubelet's own when journalctl
    /// cannot run; taken once.
    Message(Option<Vec<u8>>),
}

/// A query's output: the native reader's, unless it gives up before its
/// first byte, then journalctl's for the same query.
pub struct Stream {
    source: RefCell<Source>,
    /// The query, until the first byte is sent: journalctl can still
    /// answer all of it.
    fallback: RefCell<Option<Query>>,
}

/// Starts `q` on the native reader; `Ok(None)` when journalctl must answer.
pub fn open(q: &Query) -> Result<Option<Stream>, SourceError> {
    let source = match journal::query(&query(q)) {
        Ok(entries) => Source::Native(entries),
        Err(JournalError::Unsupported(why)) => {
            debug(&why);
            return Ok(None);
        }
        Err(JournalError::Refused(line)) => Source::Message(Some(format!("{line}\n").into())),
        Err(JournalError::Failed(why)) => return Err(SourceError::Io(why)),
    };
    Ok(Some(Stream {
        source: RefCell::new(source),
        fallback: RefCell::new(Some(q.clone())),
    }))
}

impl Stream {
    /// journalctl's answer as a stream.
    pub fn of(source: Source) -> Stream {
        Stream {
            source: RefCell::new(source),
            fallback: RefCell::new(None),
        }
    }
}

fn debug(why: &str) {
    nodelogd_plugin_sdk::log::log(
        nodelogd_plugin_sdk::log::Level::Debug,
        &format!("native journal reader: {why}; asking journalctl"),
    );
}

impl GuestLogStream for Stream {
    fn next_batch(&self, max_bytes: u32) -> Result<Option<Vec<u8>>, SourceError> {
        let mut source = self.source.borrow_mut();
        let batch = match &mut *source {
            Source::Journalctl(out) => return out.next_batch(max_bytes),
            Source::Message(line) => return Ok(line.take()),
            Source::Native(entries) => entries.next_batch(max_bytes),
        };
        let fallback = self.fallback.borrow_mut().take();
        match (batch, fallback) {
            (Ok(Some(b)), _) => {
                // Output has begun, so journalctl can no longer answer
                // instead: the host sends the rest straight from its
                // reader, and this stream is not asked again.
                if let Source::Native(entries) = std::mem::replace(&mut *source, Source::Message(None)) {
                    journal::forward(entries).map_err(|e| SourceError::Io(format!("{e:?}")))?;
                }
                Ok(Some(b))
            }
            (Ok(None), _) => Ok(None),
            (Err(JournalError::Unsupported(why)), Some(q)) => {
                debug(&why);
                *source = crate::journalctl(&q)?;
                drop(source);
                self.next_batch(max_bytes)
            }
            (Err(JournalError::Unsupported(why) | JournalError::Failed(why)), _) => {
                Err(SourceError::Io(why))
            }
            (Err(JournalError::Refused(line)), _) => Err(SourceError::Io(line)),
        }
    }
}

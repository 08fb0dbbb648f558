//! A log stream over a file and its rotated siblings (oldest first), with
//! the common filters applied to whole entries:
//! - `sinceTime` / `untilTime` on each entry's timestamp (entries without
//!   one, lines before a file's first timestamp, are left out when either
//!   is set);
//! - `pattern` (see [`crate::pattern`]) anywhere in the entry;
//! - `tailLines` as the last N matching *entries* (as journalctl counts a
//!   multi-line message as one), found by reading plain files backwards
//!   from their end, so a tail of a large file reads only its end. A
//!   compressed file cannot be read backwards: it is decompressed once to
//!   count its matches, then again to print the last ones. The output is
//!   then printed oldest first from where the tail starts, to the current
//!   end (a file still being written may have grown meanwhile).
//!
//! `boot` has no meaning for a file and is refused as unsupported.

use std::cell::RefCell;
use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::errors::{open_error, read_error};
use crate::lines::{Entry, Grouper, Lines, MAX_ENTRY};
use crate::logfile::{self, OpenError, Reader};
use crate::pattern::Pattern;
use crate::rotated::LogFile;
use crate::time::{Format, Instant, instant};
use crate::{GuestLogStream, Query, SourceError};

const CHUNK: u32 = 64 << 10;

struct Filter {
    pattern: Option<Pattern>,
    since: Option<Instant>,
    until: Option<Instant>,
    format: Format,
    /// Where undated stamps get their year (see [`crate::time`]).
    reference: Instant,
}

impl Filter {
    fn matches(&self, e: &Entry) -> bool {
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = e.time else { return false };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
                return false;
            }
        }
        self.pattern.as_ref().is_none_or(|p| p.is_match(&e.text))
    }
}

/// A plain file read with positioned reads from `pos` on.
struct FileBytes {
    reader: Reader,
    pos: u64,
}

impl Read for FileBytes {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(CHUNK as usize) as u32;
        match self.reader.read_at(self.pos, want) {
            Ok(Some(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                self.pos += n as u64;
                Ok(n)
            }
            Ok(None) => Ok(0),
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Where printing starts in the file it applies to.
#[derive(Clone, Copy)]
enum Start {
    Offset(u64),
    SkipMatches(u64),
}

struct Current {
    path: String,
    lines: Lines<Box<dyn Read>>,
    grouper: Grouper,
    skip: u64,
}

struct State {
    files: std::vec::IntoIter<(LogFile, Start)>,
    current: Option<Current>,
    out: Vec<u8>,
    done: bool,
}

pub struct FileLog {
    filter: Filter,
    state: RefCell<State>,
}

/// `None` when the file went away since it was listed (rotation).
fn open(path: &str) -> Result<Option<Reader>, SourceError> {
    match logfile::open(path) {
        Ok(r) => Ok(Some(r)),
        Err(OpenError::NotFound) => Ok(None),
        Err(e) => Err(open_error(path, e)),
    }
}

fn bytes(file: &LogFile, reader: Reader, pos: u64) -> Box<dyn Read> {
    let raw = FileBytes { reader, pos };
    if file.gzip {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    }
}

impl FileLog {
    /// Streams `files` (oldest first, as [`crate::rotated::discover`]
    /// lists them) for `q`; entries start with a timestamp in `format`.
    pub fn open(files: Vec<LogFile>, q: &Query, format: Format) -> Result<Self, SourceError> {
        if q.boot.is_some() {
            return Err(SourceError::Unsupported("boot: files have no boots".into()));
        }
        let (since, until) = (q.since.as_ref().map(instant), q.until.as_ref().map(instant));
        let filter = Filter {
            pattern: q.pattern.as_deref().map(Pattern::new).transpose()?,
            since,
            until,
            format,
            // Without a window no time is compared: any year will do.
            reference: until.or(since).unwrap_or((0, 0)),
        };
        let plan = match q.tail_lines {
            None => files.into_iter().map(|f| (f, Start::Offset(0))).collect(),
            Some(n) => tail_plan(files, &filter, u64::from(n))?,
        };
        Ok(FileLog {
            filter,
            state: RefCell::new(State {
                files: plan.into_iter(),
                current: None,
                out: Vec::new(),
                done: false,
            }),
        })
    }

    /// The next entry that passes the filter, or `None` at the end.
    fn next_entry(&self, state: &mut State) -> Result<Option<Vec<u8>>, SourceError> {
        loop {
            let Some(cur) = &mut state.current else {
                let Some((file, start)) = state.files.next() else {
                    return Ok(None);
                };
                let Some(reader) = open(&file.path)? else {
                    continue;
                };
                let (pos, skip) = match start {
                    Start::Offset(pos) => (pos, 0),
                    Start::SkipMatches(n) => (0, n),
                };
                state.current = Some(Current {
                    lines: Lines::new(bytes(&file, reader, pos)),
                    grouper: Grouper::new(self.filter.format, self.filter.reference),
                    path: file.path,
                    skip,
                });
                continue;
            };
            let line = cur
                .lines
                .next_line()
                .map_err(|e| read_error(&cur.path, e))?;
            let entry = match line {
                Some(line) => cur.grouper.push(line),
                None => {
                    let last = cur.grouper.finish();
                    if last.is_none() {
                        state.current = None;
                        continue;
                    }
                    last
                }
            };
            if let Some(e) = entry.filter(|e| self.filter.matches(e)) {
                if cur.skip > 0 {
                    cur.skip -= 1;
                } else {
                    return Ok(Some(e.text));
                }
            }
        }
    }
}

impl GuestLogStream for FileLog {
    fn next_batch(&self, max_bytes: u32) -> Result<Option<Vec<u8>>, SourceError> {
        let max = (max_bytes as usize).max(1);
        let mut state = self.state.borrow_mut();
        while state.out.len() < max && !state.done {
            match self.next_entry(&mut state)? {
                Some(text) => state.out.extend_from_slice(&text),
                None => state.done = true,
            }
        }
        if state.out.is_empty() {
            return Ok(None);
        }
        let n = state.out.len().min(max);
        Ok(Some(state.out.drain(..n).collect()))
    }
}

/// The files to print for the last `n` matching entries, each with where
/// to start: newest file first, until `n` are found.
fn tail_plan(
    files: Vec<LogFile>,
    filter: &Filter,
    n: u64,
) -> Result<Vec<(LogFile, Start)>, SourceError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut wanted = n;
    for (i, file) in files.iter().enumerate().rev() {
        let Some(reader) = open(&file.path)? else {
            continue;
        };
        let start = if file.gzip {
            let found = count_matches(file, reader, filter)?;
            (found >= wanted)
                .then_some(Start::SkipMatches(found - wanted))
                .ok_or(found)
        } else {
            match nth_match_from_end(&file.path, &reader, filter, wanted)? {
                Ok(offset) => Ok(Start::Offset(offset)),
                Err(found) => Err(found),
            }
        };
        match start {
            Ok(start) => {
                let mut plan: Vec<_> = files
                    .into_iter()
                    .skip(i)
                    .map(|f| (f, Start::Offset(0)))
                    .collect();
                plan[0].1 = start;
                return Ok(plan);
            }
            Err(found) => wanted -= found,
        }
    }
    Ok(files.into_iter().map(|f| (f, Start::Offset(0))).collect())
}

fn count_matches(file: &LogFile, reader: Reader, filter: &Filter) -> Result<u64, SourceError> {
    let mut lines = Lines::new(bytes(file, reader, 0));
    let mut grouper = Grouper::new(filter.format, filter.reference);
    let mut found = 0;
    loop {
        let line = lines.next_line().map_err(|e| read_error(&file.path, e))?;
        let entry = match line {
            Some(line) => grouper.push(line),
            None => match grouper.finish() {
                Some(e) => Some(e),
                None => return Ok(found),
            },
        };
        found += u64::from(entry.is_some_and(|e| filter.matches(&e)));
    }
}

/// Reads a plain file backwards. `Ok(offset)`: where the `n`th newest
/// matching entry starts; `Err(found)`: the file holds only `found < n`.
fn nth_match_from_end(
    path: &str,
    reader: &Reader,
    filter: &Filter,
    n: u64,
) -> Result<Result<u64, u64>, SourceError> {
    let mut pos = reader.size().map_err(|e| read_error(path, e))?;
    let mut back = Backwards {
        filter,
        pending: Vec::new(),
        pending_len: 0,
        found: 0,
        n,
    };
    // The start of a line whose beginning lies before `pos`.
    let mut tail = Vec::new();
    while pos > 0 {
        let from = pos.saturating_sub(u64::from(CHUNK));
        let mut buf = read_exact_at(path, reader, from, (pos - from) as usize)?;
        buf.extend_from_slice(&tail);
        let mut end = buf.len();
        while let Some(i) = buf[..end - 1].iter().rposition(|&b| b == b'\n') {
            if back.line(&buf[i + 1..end]) {
                return Ok(Ok(from + i as u64 + 1));
            }
            end = i + 1;
        }
        tail = buf[..end].to_vec();
        pos = from;
        if tail.len() > MAX_ENTRY {
            // A line too long to hold: its end counts as a line of its own.
            let cut = tail.len() - MAX_ENTRY;
            if back.line(&tail[cut..]) {
                return Ok(Ok(pos + cut as u64));
            }
            tail.truncate(cut);
        }
    }
    if !tail.is_empty() && back.line(&tail) {
        return Ok(Ok(0));
    }
    // Lines before the file's first timestamp: one entry without a time.
    back.pending.reverse();
    let head = Entry {
        text: back.pending.concat(),
        time: None,
    };
    let found = back.found + u64::from(!head.text.is_empty() && filter.matches(&head));
    Ok(if found == n { Ok(0) } else { Err(found) })
}

fn read_exact_at(
    path: &str,
    reader: &Reader,
    from: u64,
    len: usize,
) -> Result<Vec<u8>, SourceError> {
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let want = (len - buf.len()) as u32;
        match reader.read_at(from + buf.len() as u64, want) {
            Ok(Some(bytes)) => buf.extend_from_slice(&bytes),
            Ok(None) => return Err(read_error(path, "file shrank while read")),
            Err(e) => return Err(read_error(path, e)),
        }
    }
    Ok(buf)
}

/// Entries assembled from lines met newest first.
struct Backwards<'a> {
    filter: &'a Filter,
    /// Continuation lines, newest first, waiting for their entry's start.
    pending: Vec<Vec<u8>>,
    pending_len: usize,
    found: u64,
    n: u64,
}

impl Backwards<'_> {
    /// Takes the line before the previous one; true once it starts the
    /// `n`th newest matching entry.
    fn line(&mut self, line: &[u8]) -> bool {
        let Some(time) = self.filter.format.entry_time(line, self.filter.reference) else {
            if self.pending_len + line.len() <= MAX_ENTRY {
                self.pending.push(line.to_vec());
                self.pending_len += line.len();
            }
            return false;
        };
        let mut text = line.to_vec();
        for continuation in self.pending.drain(..).rev() {
            text.extend_from_slice(&continuation);
        }
        self.pending_len = 0;
        if self.filter.matches(&Entry {
            text,
            time: Some(time),
        }) {
            self.found += 1;
        }
        self.found == self.n
    }
}

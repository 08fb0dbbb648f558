//! Lines and entries. An entry is a line that starts with a timestamp and
//! the lines after it that do not; it is filtered and counted as one.
//! Lines longer than `MAX_LINE` are cut, and entries longer than
//! `MAX_ENTRY` end early, so memory stays bounded whatever a file holds.

use std::io::Read;

use crate::time::{Format, Instant};

pub const MAX_LINE: usize = 256 << 10;
pub const MAX_ENTRY: usize = 1 << 20;
const CHUNK: usize = 64 << 10;

/// Lines from a byte stream, each with its `\n` (added to a last line
/// that lacks one).
pub struct Lines<R> {
    input: R,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
}

impl<R: Read> Lines<R> {
    pub fn new(input: R) -> Self {
        Lines {
            input,
            buf: Vec::new(),
            start: 0,
            eof: false,
        }
    }

    pub fn next_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            let pending = &self.buf[self.start..];
            if let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let line = pending[..=i].to_vec();
                self.start += i + 1;
                return Ok(Some(line));
            }
            if pending.len() >= MAX_LINE || (self.eof && !pending.is_empty()) {
                let cut = pending.len().min(MAX_LINE);
                let mut line = pending[..cut].to_vec();
                line.push(b'\n');
                self.start += cut;
                return Ok(Some(line));
            }
            if self.eof {
                return Ok(None);
            }
            self.buf.drain(..self.start);
            self.start = 0;
            let old = self.buf.len();
            self.buf.resize(old + CHUNK, 0);
            let n = self.input.read(&mut self.buf[old..])?;
            self.buf.truncate(old + n);
            self.eof = n == 0;
        }
    }
}

pub struct Entry {
    pub text: Vec<u8>,
    /// `None` for lines before a file's first timestamp.
    pub time: Option<Instant>,
}

/// Groups lines, read oldest first, into entries.
pub struct Grouper {
    format: Format,
    reference: Instant,
    current: Option<Entry>,
}

impl Grouper {
    pub fn new(format: Format, reference: Instant) -> Self {
        Grouper {
            format,
            reference,
            current: None,
        }
    }

    /// Adds a line; returns the entry it completed, if any.
    pub fn push(&mut self, line: Vec<u8>) -> Option<Entry> {
        let time = self.format.entry_time(&line, self.reference);
        match (&mut self.current, time) {
            (Some(entry), None) if entry.text.len() + line.len() <= MAX_ENTRY => {
                entry.text.extend_from_slice(&line);
                None
            }
            (current, _) => {
                let time = time.or_else(|| current.as_ref().and_then(|e| e.time));
                current.replace(Entry { text: line, time })
            }
        }
    }

    pub fn finish(&mut self) -> Option<Entry> {
        self.current.take()
    }
}

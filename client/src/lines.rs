//! Whole lines out of a node's byte stream, with bounded memory: a line
//! longer than the cap is cut at the cap (and ended with a newline) rather
//! than buffered without limit, and a last line without a newline gets one,
//! so output from several nodes never mixes within a line.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest line kept whole.
pub const MAX_LINE: usize = 1 << 20;

pub struct LineReader<R> {
    inner: R,
    carry: Vec<u8>,
    max_line: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max_line: usize) -> Self {
        LineReader {
            inner,
            carry: Vec::new(),
            max_line,
        }
    }

    /// One or more whole lines, each ending in `\n`; `None` at the end.
    pub async fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let buf = self.inner.fill_buf().await?;
            if buf.is_empty() {
                if self.carry.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(self.take_carry()));
            }
            let room = self.max_line - self.carry.len();
            let window = &buf[..buf.len().min(room)];
            if let Some(pos) = window.iter().rposition(|&b| b == b'\n') {
                let mut out = std::mem::take(&mut self.carry);
                out.extend_from_slice(&window[..=pos]);
                self.inner.consume(pos + 1);
                return Ok(Some(out));
            }
            let n = window.len();
            self.carry.extend_from_slice(window);
            self.inner.consume(n);
            if self.carry.len() >= self.max_line {
                return Ok(Some(self.take_carry()));
            }
        }
    }

    fn take_carry(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.carry);
        out.push(b'\n');
        out
    }
}

/// The lines of a chunk from [`LineReader::next_chunk`], each with its `\n`.
pub fn split(chunk: &[u8]) -> impl Iterator<Item = &[u8]> {
    chunk.split_inclusive(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn chunks(input: &[u8], max: usize) -> Vec<Vec<u8>> {
        let reader = tokio::io::BufReader::with_capacity(4, input);
        let mut lines = LineReader::new(reader, max);
        let mut out = Vec::new();
        while let Some(c) = lines.next_chunk().await.unwrap() {
            out.push(c);
        }
        out
    }

    #[tokio::test]
    async fn whole_lines_bounded() {
        let all: Vec<u8> = chunks(b"ab\ncd\nef", 100).await.concat();
        assert_eq!(all, b"ab\ncd\nef\n");
        for c in chunks(b"ab\ncdefgh\ni\n", 100).await {
            assert!(c.ends_with(b"\n"));
        }
        // A line longer than the cap is cut at the cap.
        let all = chunks(b"0123456789\nx\n", 4).await;
        let lines: Vec<&[u8]> = all.iter().flat_map(|c| split(c)).collect();
        assert_eq!(lines, [&b"0123\n"[..], b"4567\n", b"89\n", b"x\n"]);
    }
}

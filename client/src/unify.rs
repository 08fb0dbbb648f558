//! `--unify`: the nodes' entries merged into one stream ordered by each
//! entry's own timestamp. Each node's output is already in time order, so
//! a k-way merge needs only the next entry of every node: the heap holds at
//! most one pending entry per node, each node's channel a few more, and an
//! entry (a stamped line and its continuation lines) is capped in size.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::NaiveDateTime;
use tokio::sync::mpsc;

use crate::output::{Event, Events};
use crate::stamp::Years;

/// Continuation lines beyond this start a new entry with the same time.
pub const MAX_ENTRY: usize = 1 << 20;
/// Entries buffered per node between its reader and the merge.
pub const NODE_BUFFER: usize = 16;

#[derive(Debug)]
pub struct Entry {
    at: NaiveDateTime,
    bytes: Vec<u8>,
}

/// Groups one node's lines into entries.
pub struct EntryBuilder {
    years: Years,
    current: Option<Entry>,
    /// Lines before the first stamped one sort first.
    last_at: NaiveDateTime,
}

impl EntryBuilder {
    pub fn new(years: Years) -> Self {
        EntryBuilder {
            years,
            current: None,
            last_at: NaiveDateTime::MIN,
        }
    }

    /// Adds a line (with its `\n`); returns the entry it completes, if any.
    pub fn push(&mut self, line: &[u8]) -> Option<Entry> {
        let stamp = self.years.stamp(line);
        let continues = stamp.is_none()
            && self
                .current
                .as_ref()
                .is_some_and(|e| e.bytes.len() + line.len() <= MAX_ENTRY);
        if continues {
            self.current.as_mut()?.bytes.extend_from_slice(line);
            return None;
        }
        if let Some(at) = stamp {
            self.last_at = at;
        }
        let next = Entry {
            at: self.last_at,
            bytes: line.to_vec(),
        };
        self.current.replace(next)
    }

    pub fn finish(self) -> Option<Entry> {
        self.current
    }
}

/// Merges the nodes' entry streams (`inputs[i]` is node `i`'s) into `out`,
/// earliest first; equal times keep node order. A node whose channel
/// closes (finished or failed) simply leaves the merge.
pub async fn merge(mut inputs: Vec<mpsc::Receiver<Entry>>, out: &Events) {
    let mut pending: Vec<Option<Vec<u8>>> = inputs.iter().map(|_| None).collect();
    let mut heap = BinaryHeap::new();
    for (node, input) in inputs.iter_mut().enumerate() {
        if let Some(e) = input.recv().await {
            heap.push(Reverse((e.at, node)));
            pending[node] = Some(e.bytes);
        }
    }
    while let Some(Reverse((_, node))) = heap.pop() {
        if let Some(bytes) = pending[node].take() {
            out.send(Event::Lines { node, bytes }).await;
        }
        if let Some(e) = inputs[node].recv().await {
            heap.push(Reverse((e.at, node)));
            pending[node] = Some(e.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stamp::Anchor;

    #[test]
    fn continuation_lines_stay_with_their_entry() {
        let anchor = Anchor::NotAfter("2026-11-30T10:00:00".parse().unwrap());
        let mut b = EntryBuilder::new(Years::new(anchor));
        let mut entries = Vec::new();
        for line in [
            "-- Boot a --\n",
            "Nov 22 12:00:00.000001 n k[1]: one\n",
            "  two\n",
            "Nov 22 12:00:00.000002 n k[1]: three\n",
        ] {
            entries.extend(b.push(line.as_bytes()));
        }
        entries.extend(b.finish());
        let texts: Vec<_> = entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.bytes).into_owned())
            .collect();
        assert_eq!(
            texts,
            [
                "-- Boot a --\n",
                "Nov 22 12:00:00.000001 n k[1]: one\n  two\n",
                "Nov 22 12:00:00.000002 n k[1]: three\n"
            ]
        );
        assert_eq!(entries[0].at, NaiveDateTime::MIN);
    }
}

//! Match expressions, as sd-journal evaluates them: a term is one
//! `FIELD=value` data object's entry list; AND is a leapfrog over the
//! children's offset streams, OR takes the nearest. Nothing is scanned: each
//! step is a search in an entry list.

use crate::entries::{Direction, EntryList};
use crate::error::Result;
use crate::file::JournalFile;

/// A match expression, independent of any file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// Every entry.
    All,
    /// Entries carrying this exact `FIELD=value`.
    Field(Vec<u8>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// An expression bound to one file's entry lists.
pub enum Node {
    Empty,
    List(EntryList),
    And(Vec<Node>),
    Or(Vec<Node>),
}

impl Expr {
    pub fn bind(&self, file: &JournalFile) -> Result<Node> {
        Ok(match self {
            Expr::All => Node::List(EntryList::for_file(file)),
            Expr::Field(payload) => match file.find_data(payload)? {
                Some(data) => Node::List(EntryList::for_data(file, data)?),
                None => Node::Empty,
            },
            Expr::And(children) => {
                let nodes = children
                    .iter()
                    .map(|c| c.bind(file))
                    .collect::<Result<Vec<_>>>()?;
                if nodes.iter().any(|n| matches!(n, Node::Empty)) {
                    Node::Empty
                } else {
                    Node::And(nodes)
                }
            }
            Expr::Or(children) => {
                let nodes: Vec<Node> = children
                    .iter()
                    .map(|c| c.bind(file))
                    .filter(|n| !matches!(n, Ok(Node::Empty)))
                    .collect::<Result<_>>()?;
                if nodes.is_empty() {
                    Node::Empty
                } else {
                    Node::Or(nodes)
                }
            }
        })
    }
}

fn nearer(dir: Direction, a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if dir == Direction::Down {
            a.min(b)
        } else {
            a.max(b)
        }),
        (a, b) => a.or(b),
    }
}

impl Node {
    /// The first matching entry at or beyond offset `p` in direction `dir`.
    pub fn next_from(&mut self, file: &JournalFile, p: u64, dir: Direction) -> Result<Option<u64>> {
        match self {
            Node::Empty => Ok(None),
            Node::List(list) => list.next_from(file, p, dir),
            Node::Or(children) => {
                let mut best = None;
                for c in children {
                    best = nearer(dir, best, c.next_from(file, p, dir)?);
                }
                Ok(best)
            }
            Node::And(children) => leapfrog(children, file, p, dir),
        }
    }

    /// Where `sd_journal_seek_realtime_usec(t)` followed by a step in `dir`
    /// lands in this file.
    pub fn seek_realtime(
        &mut self,
        file: &JournalFile,
        t: u64,
        dir: Direction,
    ) -> Result<Option<u64>> {
        match self {
            Node::Empty => Ok(None),
            Node::List(list) => list.seek_realtime(file, t, dir),
            Node::Or(children) => {
                let mut best = None;
                for c in children {
                    best = nearer(dir, best, c.seek_realtime(file, t, dir)?);
                }
                Ok(best)
            }
            Node::And(children) => {
                // Start from the farthest child's position, then agree.
                let mut start: Option<u64> = None;
                for c in children.iter_mut() {
                    let Some(p) = c.seek_realtime(file, t, dir)? else {
                        return Ok(None);
                    };
                    let back = if dir == Direction::Down {
                        Direction::Up
                    } else {
                        Direction::Down
                    };
                    start = nearer(back, start, Some(p));
                }
                match start {
                    Some(p) => leapfrog(children, file, p, dir),
                    None => Ok(None),
                }
            }
        }
    }
}

fn leapfrog(
    children: &mut [Node],
    file: &JournalFile,
    mut p: u64,
    dir: Direction,
) -> Result<Option<u64>> {
    loop {
        let mut agreed = true;
        for c in children.iter_mut() {
            let Some(x) = c.next_from(file, p, dir)? else {
                return Ok(None);
            };
            if x != p {
                p = x;
                agreed = false;
            }
        }
        if agreed {
            return Ok(Some(p));
        }
    }
}

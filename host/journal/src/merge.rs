//! Several files read as one stream in journalctl's order
//! (`real_journal_next` of systemd 252): every file offers its next
//! matching entry that lies beyond the current location, and the nearest
//! by `journal_file_compare_locations` wins, the earlier file on a tie. An
//! entry equal to the current one (the same entry in another file) is
//! skipped. A file that fails while iterating is dropped, as journalctl
//! drops it ("Can't iterate through ..., ignoring").

use std::sync::Arc;

use crate::entries::Direction;
use crate::error::{Error, Result};
use crate::file::{JournalFile, Location};
use crate::map::FaultMark;
use crate::matches::{Expr, Node};

/// Where a file's first candidate comes from.
#[derive(Clone, Copy)]
pub enum Seek {
    Head,
    Tail,
    Realtime(u64),
    /// Just before this location (for walking to an older boot).
    Before(Location),
}

enum Pos {
    /// Not positioned yet: take the candidate from the seek.
    Unset,
    /// This entry is the file's candidate.
    At(u64, Location),
    /// This entry was taken; the candidate is the next one in file order.
    Taken(u64),
    End,
}

struct Source {
    file: Arc<JournalFile>,
    node: Node,
    pos: Pos,
}

/// What becomes of the pages a file's index walks (binding terms, seeks)
/// mapped cold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Walks {
    /// Kept: a tail ends soon, and the next tail walks the same pages.
    Keep,
    /// Released after each file's walk: a stream runs on for seconds, and
    /// the heads of six files' entry arrays and a few dozen hash buckets
    /// each, read once, took the resident set from 35 to 82 MiB before its
    /// first line (with the page cache in large folios; see `map`).
    LetGo,
}

pub struct Merge {
    sources: Vec<Source>,
    walks: Walks,
    seek: Seek,
    dir: Option<Direction>,
    current: Option<Location>,
    /// Files dropped because they could not be read, with the reason.
    pub dropped: Vec<String>,
}

/// An entry chosen by the merge.
#[derive(Clone)]
pub struct Hit {
    pub file: Arc<JournalFile>,
    pub offset: u64,
    pub location: Location,
}

impl Merge {
    /// Binds `expr` to every file. A file that cannot be read is dropped;
    /// Unsupported is an error (the answer would be incomplete).
    pub fn new(files: &[Arc<JournalFile>], expr: &Expr, walks: Walks) -> Result<Self> {
        let mut dropped = Vec::new();
        let mut sources = Vec::new();
        for f in files {
            let mark = (walks == Walks::LetGo).then(FaultMark::now);
            let bound = expr.bind(f);
            if let Some(mark) = mark {
                f.release_after(&mark);
            }
            match bound {
                Ok(node) => sources.push(Source {
                    file: f.clone(),
                    node,
                    pos: Pos::Unset,
                }),
                Err(e @ Error::Unsupported(_)) => return Err(e),
                Err(e) => dropped.push(format!("{}: {e}", f.path().display())),
            }
        }
        Ok(Merge {
            sources,
            walks,
            seek: Seek::Head,
            dir: None,
            current: None,
            dropped,
        })
    }

    pub fn seek(&mut self, seek: Seek) {
        self.seek = seek;
        self.dir = None;
        self.current = None;
        for s in &mut self.sources {
            s.pos = Pos::Unset;
        }
    }

    /// The next entry in direction `dir`, or None at the end.
    pub fn next(&mut self, dir: Direction) -> Result<Option<Hit>> {
        if self.dir.is_some_and(|d| d != dir) {
            self.turn_around();
        }
        self.dir = Some(dir);
        let mut best: Option<usize> = None;
        for i in 0..self.sources.len() {
            if let Err(e) = self.candidate(i, dir) {
                if matches!(e, Error::Unsupported(_)) {
                    return Err(e);
                }
                let s = &mut self.sources[i];
                self.dropped
                    .push(format!("{}: {e}", s.file.path().display()));
                s.pos = Pos::End;
                continue;
            }
            let Pos::At(_, loc) = self.sources[i].pos else {
                continue;
            };
            let better = match best.map(|b| &self.sources[b].pos) {
                Some(Pos::At(_, b)) => {
                    let k = loc.compare(b);
                    if dir == Direction::Down {
                        k.is_lt()
                    } else {
                        k.is_gt()
                    }
                }
                _ => true,
            };
            if better {
                best = Some(i);
            }
        }
        let Some(best) = best else {
            return Ok(None);
        };
        let s = &mut self.sources[best];
        let Pos::At(offset, location) = s.pos else {
            return Ok(None);
        };
        s.pos = Pos::Taken(offset);
        self.current = Some(location);
        Ok(Some(Hit {
            file: s.file.clone(),
            offset,
            location,
        }))
    }

    /// Makes source `i`'s candidate the next entry beyond the current
    /// location, or End. A file that lost a page under its map (see
    /// `map`) before or while this looked is dropped, as one that fails
    /// to iterate: what was read may be zeros, which can also look like
    /// the end of an entry array.
    fn candidate(&mut self, i: usize, dir: Direction) -> Result<()> {
        let s = &mut self.sources[i];
        if matches!(s.pos, Pos::End) {
            return Ok(());
        }
        // A seek walks the file's entry arrays: a stream lets their pages
        // go before the next file's seek maps more.
        let seeking = self.walks == Walks::LetGo && matches!(s.pos, Pos::Unset);
        let mark = seeking.then(FaultMark::now);
        let result = Self::next_candidate(s, self.seek, self.current.as_ref(), dir);
        if let Some(mark) = mark {
            s.file.release_after(&mark);
        }
        if s.file.faulted() {
            return Err(Error::Faulted(s.file.path().to_owned()));
        }
        result
    }

    /// [`Merge::candidate`], without the fault check.
    fn next_candidate(
        s: &mut Source,
        seek: Seek,
        current: Option<&Location>,
        dir: Direction,
    ) -> Result<()> {
        let file = &*s.file;
        loop {
            let next = match s.pos {
                Pos::End => return Ok(()),
                // The candidate's location was read when it became the
                // candidate (an entry never changes): checked again against
                // the new current entry, as journalctl does, but not read
                // again, so a file that does not advance costs no read.
                Pos::At(offset, loc) => {
                    if beyond(current, &loc, dir) {
                        return Ok(());
                    }
                    s.pos = Pos::Taken(offset);
                    continue;
                }
                Pos::Unset => match seek {
                    Seek::Head => s.node.next_from(file, 0, Direction::Down)?,
                    Seek::Tail => s.node.next_from(file, u64::MAX, Direction::Up)?,
                    Seek::Realtime(t) => s.node.seek_realtime(file, t, dir)?,
                    Seek::Before(loc) => before(&mut s.node, file, &loc)?,
                },
                Pos::Taken(offset) => match dir {
                    Direction::Down => s.node.next_from(file, offset + 1, dir)?,
                    Direction::Up if offset == 0 => None,
                    Direction::Up => s.node.next_from(file, offset - 1, dir)?,
                },
            };
            let Some(offset) = next else {
                s.pos = Pos::End;
                return Ok(());
            };
            let loc = file.location(offset)?;
            if beyond(current, &loc, dir) {
                s.pos = Pos::At(offset, loc);
                return Ok(());
            }
            s.pos = Pos::Taken(offset);
        }
    }

    /// Keeps the current entry and prepares to walk the other way: each
    /// file resumes from its candidate, or from its far end if it had none.
    fn turn_around(&mut self) {
        let back = match self.dir {
            Some(Direction::Up) => Seek::Head,
            _ => Seek::Tail,
        };
        self.seek = back;
        for s in &mut self.sources {
            s.pos = match s.pos {
                Pos::At(o, _) | Pos::Taken(o) => Pos::Taken(o),
                Pos::Unset | Pos::End => Pos::Unset,
            };
        }
    }
}

/// Whether `loc` lies beyond the `current` entry in direction `dir`.
fn beyond(current: Option<&Location>, loc: &Location, dir: Direction) -> bool {
    current.is_none_or(|cur| {
        let k = loc.compare(cur);
        if dir == Direction::Down {
            k.is_gt()
        } else {
            k.is_lt()
        }
    })
}

/// The last entry of `node` ordering before `loc`: bisect the whole file,
/// then step to a matching entry.
fn before(node: &mut Node, file: &JournalFile, loc: &Location) -> Result<Option<u64>> {
    let mut all = crate::entries::EntryList::for_file(file);
    match all.seek_before(file, loc)? {
        Some(p) => node.next_from(file, p, Direction::Up),
        None => Ok(None),
    }
}

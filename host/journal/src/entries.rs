//! An ordered list of entry offsets as journal files store them: a data
//! object's inline first entry followed by a chain of entry arrays, or the
//! file's global chain. Entry offsets rise along a list, so a search is a
//! gallop from the last position plus a binary search: a sequential walk
//! reads one item per step, a seek O(log n) items.

use crate::error::{Result, corrupt};
use crate::file::JournalFile;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    Down,
    Up,
}

struct Array {
    offset: u64,
    start: u64,
    len: u64,
}

pub struct EntryList {
    inline: Option<u64>,
    chain: u64,
    total: u64,
    arrays: Option<Vec<Array>>,
    hint: u64,
    last_array: usize,
}

impl EntryList {
    pub fn for_data(file: &JournalFile, data: u64) -> Result<Self> {
        let (first, chain, n) = file.data_entries(data)?;
        Ok(EntryList {
            inline: (first != 0 && n > 0).then_some(first),
            chain,
            total: n,
            arrays: None,
            hint: 0,
            last_array: 0,
        })
    }

    pub fn for_file(file: &JournalFile) -> Self {
        let (chain, n) = file.all_entries();
        EntryList {
            inline: None,
            chain,
            total: n,
            arrays: None,
            hint: 0,
            last_array: 0,
        }
    }

    /// Walks the chain once (O(log n) arrays: each is larger than the last).
    fn load(&mut self, file: &JournalFile) -> Result<()> {
        if self.arrays.is_none() {
            let mut arrays = Vec::new();
            let inline = u64::from(self.inline.is_some());
            let mut start = inline;
            let mut p = self.chain;
            while p != 0 && start < self.total {
                let (next, capacity) = file.entry_array(p)?;
                let len = capacity.min(self.total - start);
                arrays.push(Array {
                    offset: p,
                    start,
                    len,
                });
                start += len;
                if next != 0 && next <= p {
                    return corrupt("entry array chain goes backwards", p);
                }
                p = next;
            }
            self.total = start;
            self.arrays = Some(arrays);
        }
        Ok(())
    }

    pub fn len(&mut self, file: &JournalFile) -> Result<u64> {
        self.load(file)?;
        Ok(self.total)
    }

    /// Entry offset number `i`, or None past the last written item.
    pub fn get(&mut self, file: &JournalFile, i: u64) -> Result<Option<u64>> {
        if i == 0
            && let Some(first) = self.inline
        {
            return Ok(Some(first));
        }
        self.load(file)?;
        if i >= self.total {
            return Ok(None);
        }
        let mut at = self.last_array;
        let arrays = self.arrays.as_deref().unwrap_or_default();
        if !arrays
            .get(at)
            .is_some_and(|a| a.start <= i && i < a.start + a.len)
        {
            at = arrays.partition_point(|a| a.start + a.len <= i);
        }
        let a = &arrays[at];
        let item = file.entry_array_item(a.offset, i - a.start)?;
        self.last_array = at;
        // Arrays are preallocated: an unused item is 0 and ends the list.
        Ok((item != 0).then_some(item))
    }

    /// The first index at which `below(item)` is false, searching from the
    /// hint; `below` must be true on a prefix of the list. Unused items
    /// count as past everything.
    fn first_not(
        &mut self,
        file: &JournalFile,
        mut below: impl FnMut(u64) -> Result<bool>,
    ) -> Result<u64> {
        let len = self.len(file)?;
        let mut test = |list: &mut Self, i: u64| -> Result<bool> {
            match list.get(file, i)? {
                Some(o) => below(o),
                None => Ok(false),
            }
        };
        let h = self.hint.min(len);
        // Gallop to bracket the answer in (lo, hi].
        let (mut lo, mut hi);
        if h < len && test(self, h)? {
            lo = h;
            let mut step = 1;
            loop {
                let probe = lo.saturating_add(step);
                if probe >= len {
                    hi = len;
                    break;
                }
                if !test(self, probe)? {
                    hi = probe;
                    break;
                }
                lo = probe;
                step *= 2;
            }
            lo += 1;
        } else {
            hi = h;
            let mut step = 1;
            loop {
                if hi == 0 {
                    lo = 0;
                    break;
                }
                let probe = hi.saturating_sub(step);
                if test(self, probe)? {
                    lo = probe + 1;
                    break;
                }
                hi = probe;
                step *= 2;
            }
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if test(self, mid)? {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.hint = lo.min(len.saturating_sub(1));
        Ok(lo)
    }

    /// The first entry at or after offset `p` (Down), or the last at or
    /// before it (Up).
    pub fn next_from(&mut self, file: &JournalFile, p: u64, dir: Direction) -> Result<Option<u64>> {
        match dir {
            Direction::Down => {
                let i = self.first_not(file, |o| Ok(o < p))?;
                self.get(file, i)
            }
            Direction::Up => {
                let i = self.first_not(file, |o| Ok(o <= p))?;
                self.before(file, i)
            }
        }
    }

    /// The first entry whose header realtime is at least `t` (Down), or the
    /// last at most `t` (Up): a bisection, as `sd_journal_seek_realtime_usec`.
    pub fn seek_realtime(
        &mut self,
        file: &JournalFile,
        t: u64,
        dir: Direction,
    ) -> Result<Option<u64>> {
        match dir {
            Direction::Down => {
                let i = self.first_not(file, |o| Ok(file.realtime(o)? < t))?;
                self.get(file, i)
            }
            Direction::Up => {
                let i = self.first_not(file, |o| Ok(file.realtime(o)? <= t))?;
                self.before(file, i)
            }
        }
    }

    /// The last entry whose location orders strictly before `loc`.
    pub fn seek_before(
        &mut self,
        file: &JournalFile,
        loc: &crate::file::Location,
    ) -> Result<Option<u64>> {
        let i = self.first_not(file, |o| Ok(file.location(o)?.compare(loc).is_lt()))?;
        self.before(file, i)
    }

    fn before(&mut self, file: &JournalFile, i: u64) -> Result<Option<u64>> {
        if i == 0 {
            return Ok(None);
        }
        self.get(file, i - 1)
    }
}

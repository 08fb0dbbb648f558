//! journalctl's main loop for `--utc --no-pager -o short-precise`
//! (journalctl.c of systemd 252): where to start (`--since`, `--until`,
//! `--lines`, `--reverse`), when to stop, boot separators, `--grep`, and the
//! `-- No entries --` trailer, producing output in batches.

use std::sync::Arc;

use regex::bytes::Regex;

use crate::entries::Direction;
use crate::error::{Error, Result};
use crate::file::{JournalFile, Location};
use crate::matches::Expr;
use crate::merge::{Hit, Merge, Seek, Walks};
use crate::short::Formatter;
use crate::units;

/// What to read: the arguments journalctl would get.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// `-u`, each mangled as journalctl does (`kubelet` is `kubelet.service`).
    pub units: Vec<String>,
    /// `--boot N` with N <= 0 (0 is the last boot in the journal).
    pub boot: Option<i32>,
    /// `--since`/`--until`, microseconds since the epoch, inclusive.
    pub since: Option<u64>,
    pub until: Option<u64>,
    /// `--grep`.
    pub pattern: Option<String>,
    /// `--case-sensitive`; None is smart case.
    pub case_sensitive: Option<bool>,
    /// `--lines` (`-n`).
    pub lines: Option<u64>,
    /// `--pager-end` (`-e`), which the kubelet sends with `--lines`: in
    /// systemd 252 it also implies `--boot 0` unless a boot is given, and
    /// `--lines=1000` unless lines are given.
    pub pager_end: bool,
    /// `--reverse`.
    pub reverse: bool,
    /// Not a journalctl option: the last N entries that match (units, boot,
    /// window and pattern), printed oldest first, as nodelogd answers
    /// `tailLines` with a window or a pattern. It is what journalctl
    /// prints with `--cursor=` at the Nth newest match of `--reverse`
    /// (then `since` is not applied, as `--cursor` excludes `--since`);
    /// with fewer matches, what it prints without `--lines`. Ignores
    /// `lines`, `pager_end` and `reverse`.
    pub last: Option<u64>,
}

/// Mapped pages are released from the resident set after this much work:
/// bytes of output, plus [`ENTRY_WEIGHT`] for each entry examined. Output
/// alone is not enough: a pattern that matches little touches the whole
/// journal and prints nothing (265 MiB resident over a 1M-entry journal),
/// and each query maps the files anew, so 16 whole-journal streams held
/// 16 sets of pages (540 MiB) with a 16 MiB period.
const RELEASE_EVERY: usize = 4 << 20;
/// About what one entry's objects take in the map (entry, items, data).
const ENTRY_WEIGHT: usize = 512;

/// A query being answered: call [`Entries::fill`] until it returns false.
pub struct Entries {
    files: Vec<Arc<JournalFile>>,
    merge: Merge,
    since: Option<u64>,
    until: Option<u64>,
    lines: Option<u64>,
    reverse: bool,
    regex: Option<Regex>,
    current: Option<Hit>,
    need_seek: bool,
    shown: u64,
    previous_boot: Option<[u8; 16]>,
    done: bool,
    formatter: Formatter,
    since_release: usize,
}

fn compile(pattern: &str, case_sensitive: Option<bool>) -> Result<Regex> {
    // PCRE2 constructs that the regex crate reads differently: `$` also
    // matches before a final newline in PCRE2, `{,n}` is a literal there,
    // and `\<`, `\>`, `\b{` are word assertions only in the regex crate.
    for tricky in ["$", "{,", "\\<", "\\>", "\\b{"] {
        if pattern.contains(tricky) {
            return Err(Error::Unsupported(format!(
                "pattern {pattern:?}: {tricky:?} differs between PCRE2 and the native reader"
            )));
        }
    }
    // journalctl's smart case: caseless unless the pattern holds [[:upper:]]
    // (ASCII: PCRE2 runs without UTF).
    let caseless = match case_sensitive {
        Some(sensitive) => !sensitive,
        None => !pattern.bytes().any(|b| b.is_ascii_uppercase()),
    };
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .case_insensitive(caseless)
        .build()
        .map_err(|e| Error::Unsupported(format!("pattern {pattern:?}: {e}")))
}

fn field_eq(name: &str, value: &str) -> Expr {
    Expr::Field(format!("{name}={value}").into_bytes())
}

fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// `get_boot_id_for_offset` for offsets <= 0: walk back from the tail, one
/// boot at a time, jumping to the first entry of each boot.
fn boot_for_offset(files: &[Arc<JournalFile>], offset: i32) -> Result<[u8; 16]> {
    let mut all = Merge::new(files, &Expr::All, Walks::Keep)?;
    all.seek(Seek::Tail);
    let mut previous: Option<[u8; 16]> = None;
    let mut k = 0;
    loop {
        let boot = loop {
            let hit = all.next(Direction::Up)?.ok_or(Error::NoSuchBoot(offset))?;
            if Some(hit.location.boot_id) != previous {
                break hit.location.boot_id;
            }
        };
        if k == offset.unsigned_abs() {
            return Ok(boot);
        }
        k += 1;
        previous = Some(boot);
        let mut this = Merge::new(files, &field_eq("_BOOT_ID", &hex(&boot)), Walks::Keep)?;
        this.seek(Seek::Head);
        let first = this
            .next(Direction::Down)?
            .ok_or(Error::NoSuchBoot(offset))?;
        all.seek(Seek::Before(first.location));
    }
}

impl Entries {
    pub(crate) fn new(files: Vec<Arc<JournalFile>>, q: &Query) -> Result<Self> {
        let Some(n) = q.last else {
            return Self::start(files, q, None);
        };
        let plain = Query {
            last: None,
            lines: None,
            pager_end: false,
            ..q.clone()
        };
        let newest_first = Query {
            reverse: true,
            ..plain.clone()
        };
        let mut scan = Self::start(files.clone(), &newest_first, None)?;
        let mut seen = 0;
        while let Some(hit) = scan.next_match()? {
            seen += 1;
            if seen == n {
                let from_cursor = Query {
                    since: None,
                    ..plain
                };
                return Self::start(files, &from_cursor, Some(hit.location));
            }
        }
        Self::start(files, &plain, None)
    }

    /// journalctl's setup; `from` is where `--cursor=` points.
    fn start(files: Vec<Arc<JournalFile>>, q: &Query, from: Option<Location>) -> Result<Self> {
        if let (Some(since), Some(until)) = (q.since, q.until)
            && since > until
        {
            return Err(Error::SinceAfterUntil);
        }
        let regex = q
            .pattern
            .as_deref()
            .map(|p| compile(p, q.case_sensitive))
            .transpose()?;
        let mut terms = Vec::new();
        let boot = q.boot.or(q.pager_end.then_some(0));
        let lines = q.lines.or(q.pager_end.then_some(1000));
        if let Some(offset) = boot {
            if offset > 0 {
                return Err(Error::Unsupported("--boot with a positive offset".into()));
            }
            terms.push(field_eq(
                "_BOOT_ID",
                &hex(&boot_for_offset(&files, offset)?),
            ));
        }
        if !q.units.is_empty() {
            let branches = q
                .units
                .iter()
                .map(|u| units::mangle(u).map(|u| units::unit_expr(&u)))
                .collect::<Result<Vec<_>>>()?;
            terms.push(Expr::Or(branches));
        }
        let expr = match terms.len() {
            0 => Expr::All,
            1 => terms.pop().expect("one term"),
            _ => Expr::And(terms),
        };
        // journalctl: "--grep with --lines searches backwards".
        let reverse = q.reverse || (lines.is_some() && regex.is_some());
        // A query without a line limit streams: see `Walks`.
        let walks = if lines.is_some() {
            Walks::Keep
        } else {
            Walks::LetGo
        };
        let mut merge = Merge::new(&files, &expr, walks)?;
        let mut current = None;
        if let Some(at) = from {
            // Step onto the cursor's entry: from the entry just before it,
            // turning around, as journalctl's seek lands on it.
            merge.seek(Seek::Before(at));
            if merge.next(Direction::Up)?.is_none() {
                merge.seek(Seek::Head);
            }
            current = merge.next(Direction::Down)?;
        } else if let (Some(since), false) = (q.since, reverse) {
            merge.seek(Seek::Realtime(since));
            current = merge.next(Direction::Down)?;
        } else if let (Some(until), true) = (q.until, reverse) {
            merge.seek(Seek::Realtime(until));
            current = merge.next(Direction::Up)?;
        } else if reverse {
            merge.seek(Seek::Tail);
            current = merge.next(Direction::Up)?;
        } else if let Some(n) = lines {
            merge.seek(Seek::Tail);
            for _ in 0..n {
                match merge.next(Direction::Up)? {
                    Some(hit) => current = Some(hit),
                    None => break,
                }
            }
        } else {
            merge.seek(Seek::Head);
            current = merge.next(Direction::Down)?;
        }
        Ok(Entries {
            files,
            merge,
            since: q.since,
            until: q.until,
            lines,
            reverse,
            regex,
            done: false,
            current,
            need_seek: false,
            shown: 0,
            previous_boot: None,
            formatter: Formatter::default(),
            since_release: 0,
        })
    }

    /// How many entries were shown so far; journalctl exits 1 when
    /// `--grep` showed none.
    pub fn shown(&self) -> u64 {
        self.shown
    }

    /// Files that could not be read and were skipped, with the reason (as
    /// journalctl skips them).
    pub fn skipped_files(&self) -> &[String] {
        &self.merge.dropped
    }

    /// Appends output to `out` until it holds at least `min_len` bytes or
    /// the answer is complete. Returns false once everything, including
    /// the trailer, has been written.
    pub fn fill(&mut self, out: &mut Vec<u8>, min_len: usize) -> Result<bool> {
        self.fill_bounded(out, min_len, u64::MAX)
    }

    /// [`Entries::fill`], examining at most `max_entries` entries, so that
    /// a pattern that matches little cannot hold the caller for the whole
    /// journal; `out` may then have grown by nothing.
    pub fn fill_bounded(
        &mut self,
        out: &mut Vec<u8>,
        min_len: usize,
        max_entries: u64,
    ) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let start = out.len();
        let mut examined = 0;
        while out.len() < min_len && examined < max_entries {
            examined += 1;
            if !self.step(out)? {
                if self.shown == 0 {
                    out.extend_from_slice(b"-- No entries --\n");
                }
                self.done = true;
                break;
            }
        }
        self.since_release += out.len() - start + examined as usize * ENTRY_WEIGHT;
        if self.since_release >= RELEASE_EVERY {
            self.since_release = 0;
            for f in &self.files {
                f.release_pages();
            }
        }
        Ok(!self.done)
    }

    /// The next entry journalctl's loop reaches, within `--since` and
    /// `--until`; None at the end.
    fn advance(&mut self) -> Result<Option<Hit>> {
        if self.need_seek {
            let dir = if self.reverse {
                Direction::Up
            } else {
                Direction::Down
            };
            self.current = self.merge.next(dir)?;
        }
        self.need_seek = true;
        let Some(hit) = self.current.clone() else {
            return Ok(None);
        };
        let loc = hit.location;
        if !self.reverse && self.until.is_some_and(|u| loc.realtime > u) {
            return Ok(None);
        }
        if self.reverse && self.since.is_some_and(|s| loc.realtime < s) {
            return Ok(None);
        }
        Ok(Some(hit))
    }

    /// The next entry that `--grep` lets through, without printing it.
    fn next_match(&mut self) -> Result<Option<Hit>> {
        while let Some(hit) = self.advance()? {
            match &self.regex {
                Some(re) if !message_matches(&hit, re)? => continue,
                _ => return Ok(Some(hit)),
            }
        }
        Ok(None)
    }

    /// One turn of journalctl's loop; false at the end.
    fn step(&mut self, out: &mut Vec<u8>) -> Result<bool> {
        if self.lines.is_some_and(|n| self.shown >= n) {
            return Ok(false);
        }
        let Some(hit) = self.advance()? else {
            return Ok(false);
        };
        let loc = hit.location;
        let start = out.len();
        let boot_before = self.previous_boot;
        if self.previous_boot.is_some_and(|b| b != loc.boot_id) {
            out.extend_from_slice(format!("-- Boot {} --\n", hex(&loc.boot_id)).as_bytes());
        }
        self.previous_boot = Some(loc.boot_id);
        let shown = match &self.regex {
            Some(re) => message_matches(&hit, re)?,
            None => true,
        };
        if shown {
            let mark = out.len();
            match self
                .formatter
                .entry(out, &hit.file, hit.offset, loc.realtime)
            {
                Ok(()) => {}
                // journalctl skips an entry it cannot read ("Skipping
                // message we can't read") and counts it as shown.
                Err(Error::Corrupt { .. }) => out.truncate(mark),
                Err(e) => return Err(e),
            }
        }
        // A page of the file went missing while the entry was read: what
        // was read may be zeros. Neither shown nor counted; the merge drops
        // the file at its next step.
        if hit.file.faulted() {
            out.truncate(start);
            self.previous_boot = boot_before;
            return Ok(true);
        }
        if shown {
            self.shown += 1;
        }
        Ok(true)
    }
}

/// Whether the first MESSAGE field matches, as journalctl's `--grep` tests
/// what `sd_journal_get_data` finds; an entry without one does not match.
fn message_matches(hit: &Hit, re: &Regex) -> Result<bool> {
    let f = &hit.file;
    for data in f.entry_items(hit.offset)? {
        // A corrupt field is skipped as sd_journal_get_data skips it; data
        // the reader cannot decode must not be taken for a missing MESSAGE.
        let payload = match f.data(data) {
            Ok(p) => p,
            Err(Error::Corrupt { .. }) => continue,
            Err(e) => return Err(e),
        };
        if let Some(v) = payload.strip_prefix(b"MESSAGE=") {
            return Ok(re.is_match(v));
        }
    }
    Ok(false)
}

//! The `journal` capability: the host reads the journal itself, with the
//! `nodelogd-journal` crate, and hands the plugin journalctl's bytes.
//!
//! The reader, its index walks and page access, and the formatting stay in
//! the host: inside wasm, without mmap, every page would be copied, which
//! is where the speed comes from. The plugin keeps the kubelet's policy
//! (which services, which options) and falls back to journalctl when the
//! reader says `unsupported`.
//!
//! What a plugin may read is its `JournalGrant`: the journal's place is
//! the host's, the units are the manifest's within the operator's grant
//! (`journal_units`), checked here on every query's unit names before the
//! reader starts, never by filtering its output.
//!
//! Each query runs on a blocking thread of its own, which fills batches
//! ahead into a channel two deep, so reading overlaps with the plugin and
//! the client; it stops when the plugin drops the query (or the request's
//! store goes away), after at most one bounded slice of work. Its time is not charged
//! to the plugin's CPU budget (as a program's is not); the request's
//! deadline bounds it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use nodelogd_journal::{Error, Journal, OpenFiles, Query};
use tokio::sync::{mpsc, oneshot};
use wasmtime::component::Resource;

use crate::caps::journal_dirs::SystemJournal;
use crate::caps::journal_units::UnitGrant;
use crate::runtime::State;
use crate::runtime::bindings::nodelogd::plugin::journal::{self, JournalError, JournalQuery};

/// Queries one plugin instance may hold open at once (each is a thread).
pub const MAX_QUERIES: u32 = 4;
/// The most a plugin gets from one `next-batch`.
const BATCH: usize = 64 << 10;
/// What the reader thread prepares per batch before it hands it over.
/// A forwarded query's batches go to the client as they are, so larger
/// ones mean fewer wake-ups and writes per byte; a plugin reading them
/// gets them in pieces of at most [`BATCH`].
const FILL: usize = 128 << 10;
/// How long matches found may wait for a batch to fill.
const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// The most a forwarded query hands the response at once.
const FORWARDED_MAX: usize = 1 << 20;
/// Entries the reader examines before it looks whether the query is still
/// wanted, so a pattern that matches nothing cannot keep it busy after the
/// client has gone.
const SLICE_ENTRIES: u64 = 16 << 10;
/// The largest decompressed field the host decodes; a larger one is
/// `unsupported`, so journalctl answers.
const MAX_FIELD: usize = 16 << 20;
/// What `field-values` returns at most: a node has a few hundred units.
const MAX_FIELD_VALUES: usize = 16 << 20;
const MAX_QUERY_UNITS: usize = 16;
const MAX_PATTERN_BYTES: usize = 64 << 10;

/// Where the host's journal is, as a plugin's grant holds it, with the
/// archived files its queries keep open between them.
#[derive(Debug, Clone)]
pub enum JournalAccess {
    /// `--journal-reader=journalctl`: every query is `unsupported`.
    Off,
    /// `--journal-dir`: that directory, as `journalctl --directory` reads it.
    Dir(PathBuf, Arc<OpenFiles>),
    /// The system journal, as journalctl finds it by default.
    System(Arc<SystemJournal>, Arc<OpenFiles>),
}

impl JournalAccess {
    /// `--journal-dir`, or the system journal. On a runtime, the files its
    /// queries keep open are swept every [`SWEEP_EVERY`] while any query
    /// can still use them; elsewhere (no runtime) no query can run.
    pub fn new(journal_dir: Option<&Path>) -> Self {
        let cache = Arc::default();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(sweep(Arc::downgrade(&cache)));
        }
        match journal_dir {
            Some(dir) => JournalAccess::Dir(dir.to_path_buf(), cache),
            None => JournalAccess::System(Arc::new(SystemJournal::local()), cache),
        }
    }

    /// The journal's files as they are now.
    fn open(&self) -> Result<Journal, Error> {
        match self {
            JournalAccess::Off => Journal::open_with_limit(&[], MAX_FIELD),
            JournalAccess::Dir(dir, cache) => {
                Journal::open_cached(std::slice::from_ref(dir), MAX_FIELD, cache)
            }
            JournalAccess::System(system, cache) => {
                Journal::open_cached(&system.files(), MAX_FIELD, cache)
            }
        }
    }
}

/// How often the files kept open between queries are looked at again: a
/// file journald vacuumed keeps its disk space while it is mapped.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Sweeps `cache` (see [`OpenFiles::sweep`]) until it is dropped.
async fn sweep(cache: Weak<OpenFiles>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await; // the first tick is at once
    loop {
        every.tick().await;
        let Some(cache) = cache.upgrade() else {
            return;
        };
        // A stat per file: on a blocking thread. Should it fail to start,
        // the next tick tries again.
        let _ = tokio::task::spawn_blocking(move || cache.sweep()).await;
    }
}

/// The journal as granted to one plugin: where it is, and which units.
#[derive(Debug, Clone)]
pub struct JournalGrant {
    pub access: JournalAccess,
    pub units: UnitGrant,
}

/// The one field `field-values` answers under a unit grant: the unit
/// names, filtered to the granted ones. Any other field's values (command
/// lines, hostnames, messages) would come from every unit's entries.
const UNIT_FIELD: &str = "_SYSTEMD_UNIT";

impl JournalGrant {
    /// Refuses a query for a unit outside the grant, checked on the names
    /// as the reader will look them up (mangled), and a query for the whole
    /// journal unless every unit is granted.
    fn check_units(&self, units: &[String]) -> Result<(), JournalError> {
        if self.units.is_all() {
            return Ok(());
        }
        let granted = || self.units.patterns().join(" ");
        if units.is_empty() {
            return Err(JournalError::Refused(format!(
                "this plugin may read only the journal units {}, not the whole journal",
                granted()
            )));
        }
        for unit in units {
            let name = match nodelogd_journal::mangle(unit) {
                Ok(name) => name,
                Err(Error::Unsupported(_)) => {
                    return Err(JournalError::Refused(format!(
                        "unit {unit:?}: globs and paths are refused under a grant of units {}",
                        granted()
                    )));
                }
                Err(e) => return Err(journal_error(e)),
            };
            if !self.units.allows(&name) {
                return Err(JournalError::Refused(format!(
                    "unit {name:?} is not granted to this plugin (its journal units: {})",
                    granted()
                )));
            }
        }
        Ok(())
    }

    fn check_field(&self, name: &str) -> Result<(), JournalError> {
        if self.units.is_all() || name == UNIT_FIELD {
            return Ok(());
        }
        Err(JournalError::Refused(format!(
            "field {name:?}: a plugin granted only some units may list {UNIT_FIELD} only"
        )))
    }

    /// The values this plugin may see: under a unit grant, its own units.
    fn filter_values(&self, values: Vec<String>) -> Vec<String> {
        if self.units.is_all() {
            return values;
        }
        values
            .into_iter()
            .filter(|v| self.units.allows(v))
            .collect()
    }
}

/// What the plugin holds for a query: the reader thread's channel and what
/// is left of its last batch.
pub struct JournalEntries {
    batches: mpsc::Receiver<Result<Vec<u8>, JournalError>>,
    pending: Vec<u8>,
    taken: usize,
}

fn journal_error(e: Error) -> JournalError {
    match e {
        Error::Unsupported(why) => JournalError::Unsupported(why),
        e @ (Error::NoSuchBoot(_) | Error::SinceAfterUntil | Error::BadUnit(_)) => {
            JournalError::Refused(e.to_string())
        }
        e => JournalError::Failed(e.to_string()),
    }
}

fn query_of(q: JournalQuery) -> Result<Query, JournalError> {
    if q.units.len() > MAX_QUERY_UNITS {
        return Err(JournalError::Failed(format!(
            "at most {MAX_QUERY_UNITS} units"
        )));
    }
    if q.pattern
        .as_ref()
        .is_some_and(|p| p.len() > MAX_PATTERN_BYTES)
    {
        return Err(JournalError::Failed(format!(
            "pattern longer than {MAX_PATTERN_BYTES} bytes"
        )));
    }
    Ok(Query {
        units: q.units,
        boot: q.boot,
        since: q.since,
        until: q.until,
        pattern: q.pattern,
        case_sensitive: None,
        lines: q.lines,
        pager_end: q.pager_end,
        reverse: q.reverse,
        last: q.last,
    })
}

/// The reader thread: starts the query, reports whether it started, then
/// sends batches until the output ends or nobody wants it.
fn run(
    access: JournalAccess,
    q: Query,
    started: oneshot::Sender<Result<(), JournalError>>,
    batches: mpsc::Sender<Result<Vec<u8>, JournalError>>,
) {
    let entries = access.open().and_then(|j| j.query(&q));
    let mut entries = match entries {
        Ok(e) => {
            let _ = started.send(Ok(()));
            e
        }
        Err(e) => {
            let _ = started.send(Err(journal_error(e)));
            return;
        }
    };
    for skipped in entries.skipped_files() {
        tracing::debug!(?skipped, "journal file skipped");
    }
    let mut out = Vec::with_capacity(2 * FILL);
    let mut sent = Instant::now();
    loop {
        let more = entries
            .fill_bounded(&mut out, FILL, SLICE_ENTRIES)
            .map_err(journal_error);
        let end = !matches!(more, Ok(true));
        if !end && out.len() < FILL {
            // A slice of entries matched little: look whether the query is
            // still wanted before the next one, and send what there is if
            // it has waited a while, so that a sparse pattern streams.
            if batches.is_closed() {
                return;
            }
            if out.is_empty() || sent.elapsed() < FLUSH_AFTER {
                continue;
            }
        }
        sent = Instant::now();
        let batch = more.map(|_| std::mem::replace(&mut out, Vec::with_capacity(2 * FILL)));
        if batches.blocking_send(batch).is_err() || end {
            return;
        }
    }
}

fn values(access: &JournalAccess, field: &str) -> Result<Vec<String>, JournalError> {
    let journal = access.open().map_err(journal_error)?;
    let values = journal
        .field_values(field, MAX_FIELD_VALUES)
        .map_err(journal_error)?;
    Ok(values
        .iter()
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect())
}

/// A journal field name as journald accepts one.
fn is_field_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

impl State {
    fn journal_grant(&self) -> Result<&JournalGrant, JournalError> {
        match &self.grants.journal {
            Some(JournalGrant {
                access: JournalAccess::Off,
                ..
            }) => Err(JournalError::Unsupported(
                "the native journal reader is off (--journal-reader=journalctl)".into(),
            )),
            Some(grant) => Ok(grant),
            None => Err(JournalError::Failed(
                "the journal is not granted to this plugin".into(),
            )),
        }
    }
}

impl journal::Host for State {
    async fn query(
        &mut self,
        q: JournalQuery,
    ) -> wasmtime::Result<Result<Resource<JournalEntries>, JournalError>> {
        let access = self.journal_grant().and_then(|g| {
            g.check_units(&q.units)?;
            Ok(g.access.clone())
        });
        let access = match access {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        if self.journal_queries >= MAX_QUERIES {
            return Ok(Err(JournalError::Failed(format!(
                "at most {MAX_QUERIES} journal queries may be open at once"
            ))));
        }
        let q = match query_of(q) {
            Ok(q) => q,
            Err(e) => return Ok(Err(e)),
        };
        let (started_tx, started) = oneshot::channel();
        let (tx, batches) = mpsc::channel(2);
        // tokio's blocking pool, as files are streamed: a thread of its
        // own per query cost a `clone` and a stack each (3% of the host's
        // CPU at a thousand tails a second).
        tokio::task::spawn_blocking(move || run(access, q, started_tx, tx));
        match started.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Ok(Err(e)),
            Err(_) => return Ok(Err(JournalError::Failed("the reader stopped".into()))),
        }
        self.journal_queries += 1;
        Ok(Ok(self.table.push(JournalEntries {
            batches,
            pending: Vec::new(),
            taken: 0,
        })?))
    }

    /// Keeps the query for the runtime, which takes it when the current
    /// call returns (`runtime::Batches`). It leaves the plugin's
    /// [`MAX_QUERIES`]: a store holds at most one forwarded query more.
    async fn forward(
        &mut self,
        entries: Resource<JournalEntries>,
    ) -> wasmtime::Result<Result<(), JournalError>> {
        let entries = self.table.delete(entries)?;
        self.journal_queries -= 1;
        if self.forwarded.is_some() {
            return Ok(Err(JournalError::Failed(
                "this call has forwarded a query already".into(),
            )));
        }
        self.forwarded = Some(entries);
        Ok(Ok(()))
    }

    async fn field_values(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Vec<String>, JournalError>> {
        let grant = match self.journal_grant() {
            Ok(g) => g.clone(),
            Err(e) => return Ok(Err(e)),
        };
        if !is_field_name(&name) {
            return Ok(Err(JournalError::Failed(format!(
                "{name:?} is not a journal field name"
            ))));
        }
        if let Err(e) = grant.check_field(&name) {
            return Ok(Err(e));
        }
        let found = tokio::task::spawn_blocking(move || {
            values(&grant.access, &name).map(|v| grant.filter_values(v))
        })
        .await;
        Ok(found.unwrap_or_else(|e| Err(JournalError::Failed(e.to_string()))))
    }
}

impl JournalEntries {
    /// The next batch of a forwarded query: as the reader made it, but a
    /// batch made large by one huge entry (fields reach [`MAX_FIELD`]) in
    /// pieces of [`FORWARDED_MAX`].
    pub async fn next_forwarded(&mut self) -> Result<Option<Vec<u8>>, JournalError> {
        self.next(FORWARDED_MAX as u32).await
    }

    /// Up to `max_bytes` of output, `None` at its end.
    async fn next(&mut self, max_bytes: u32) -> Result<Option<Vec<u8>>, JournalError> {
        let max = (max_bytes as usize).max(1);
        while self.taken == self.pending.len() {
            match self.batches.recv().await {
                None => return Ok(None),
                Some(batch) => {
                    self.pending = batch?;
                    self.taken = 0;
                }
            }
        }
        // A whole batch that fits is handed over as it is, not copied.
        if self.taken == 0 && self.pending.len() <= max {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        let end = (self.taken + max).min(self.pending.len());
        let batch = self.pending[self.taken..end].to_vec();
        self.taken = end;
        Ok(Some(batch))
    }
}

impl journal::HostEntries for State {
    async fn next_batch(
        &mut self,
        entries: Resource<JournalEntries>,
        max_bytes: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, JournalError>> {
        let max = max_bytes.min(BATCH as u32);
        Ok(self.table.get_mut(&entries)?.next(max).await)
    }

    async fn drop(&mut self, entries: Resource<JournalEntries>) -> wasmtime::Result<()> {
        self.table.delete(entries)?;
        self.journal_queries -= 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_journal_field_names() {
        assert!(is_field_name("_SYSTEMD_UNIT"));
        for bad in ["", "_systemd_unit", "A=B", "../x", &"A".repeat(65)] {
            assert!(!is_field_name(bad), "{bad:?}");
        }
    }
}

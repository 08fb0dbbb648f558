//! A log file and its rotated siblings, oldest first: `x.log-20261129`
//! (logrotate's `dateext`, oldest date first), then `x.log.3.gz`,
//! `x.log.2`, `x.log.1` (numbered, highest first), then `x.log`. Either
//! kind may end in `.gz`. A directory that uses both schemes (it changed
//! configuration) lists the dated files first: they are the older habit.
//! The order is pinned end to end by `tests/all/hybrid_overlay.rs`.

use std::cmp::Reverse;

use crate::SourceError;
use crate::errors::open_error;
use crate::logfile::{self, OpenError};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    /// Relative to the log root.
    pub path: String,
    pub gzip: bool,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    Dated(String),
    Numbered(Reverse<u32>),
    Current,
}

/// The files named `base` or rotated from it in `dir` (relative to the log
/// root), oldest first; empty when `dir` does not exist.
pub fn discover(dir: &str, base: &str) -> Result<Vec<LogFile>, SourceError> {
    let entries = match logfile::read_dir(dir) {
        Ok(entries) => entries,
        Err(OpenError::NotFound) => return Ok(Vec::new()),
        Err(e) => return Err(open_error(dir, e)),
    };
    let mut found: Vec<(Age, LogFile)> = entries
        .into_iter()
        .filter(|e| !e.is_dir)
        .filter_map(|e| {
            let (age, gzip) = age(base, &e.name)?;
            let path = format!("{}/{}", dir.trim_end_matches('/'), e.name);
            Some((age, LogFile { path, gzip }))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found.into_iter().map(|(_, f)| f).collect())
}

fn age(base: &str, name: &str) -> Option<(Age, bool)> {
    let rest = name.strip_prefix(base)?;
    let (rest, gzip) = match rest.strip_suffix(".gz") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if rest.is_empty() {
        // A compressed current file is not a log being written.
        return (!gzip).then_some((Age::Current, false));
    }
    if let Some(n) = rest.strip_prefix('.').filter(|n| digits(n)) {
        return Some((Age::Numbered(Reverse(n.parse().ok()?)), gzip));
    }
    // dateext: -YYYYMMDD, optionally with an hour (-YYYYMMDDHH) or more.
    let date = rest
        .strip_prefix('-')
        .filter(|d| d.len() >= 8 && digits(d))?;
    Some((Age::Dated(date.to_string()), gzip))
}

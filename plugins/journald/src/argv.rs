//! journalctl arguments. The kubelet's order is kept:
//! `--utc --no-pager --output=short-precise [--since=] [--until=]
//! [--pager-end --lines=N] --unit=... [--grep=] [--boot N]`.
//!
//! Deliberate differences from the kubelet (each one an upstream bug):
//! - `--until` comes from `untilTime` (upstream formats `sinceTime` there);
//! - times are passed as `@<unix seconds>[.<micros>]`, which journalctl reads
//!   as an absolute instant, so the node's time zone cannot shift the window
//!   (upstream passes a zone-less local date);
//! - when `tailLines` is combined with a time window or a pattern,
//!   systemd's `--lines` returns the wrong entries (the first N, none, or
//!   newest first), so the last N matching entries are found by cursor
//!   instead; see `tail_plan`.

use nodelogd_plugin_sdk::{Query, Timestamp};

/// Where the entries to print begin.
pub enum Start {
    /// The kubelet's arguments as they are.
    Query,
    /// Every matching entry (`--lines` dropped).
    All,
    /// From this entry on: the first of the last N. `--cursor` and `--since`
    /// exclude each other, and the cursor already lies inside the window.
    Cursor(String),
}

/// How `tailLines` is honoured.
pub enum Tail {
    /// journalctl's `--pager-end --lines=N` is right for this query.
    Direct,
    /// Find the Nth newest match first, then print from its cursor.
    FromCursor(u32),
}

pub fn tail_plan(q: &Query) -> Tail {
    match q.tail_lines {
        Some(n) if n > 0 && (q.since.is_some() || q.until.is_some() || q.pattern.is_some()) => {
            Tail::FromCursor(n)
        }
        _ => Tail::Direct,
    }
}

pub fn unit_list() -> Vec<String> {
    vec!["--field".into(), "_SYSTEMD_UNIT".into()]
}

pub fn entries(q: &Query, start: Start) -> Vec<String> {
    let mut args = vec![
        "--utc".to_string(),
        "--no-pager".into(),
        "--output=short-precise".into(),
    ];
    let since = matches!(start, Start::Query | Start::All);
    let lines = matches!(start, Start::Query);
    filters(q, &mut args, since, lines);
    if let Start::Cursor(cursor) = start {
        args.push(format!("--cursor={cursor}"));
    }
    args
}

pub fn newest_first_cursors(q: &Query) -> Vec<String> {
    let mut args = vec![
        "--utc".to_string(),
        "--no-pager".into(),
        "--reverse".into(),
        "--output=json".into(),
        // Only the fields json always prints: the cursor is all we need.
        "--output-fields=_BOOT_ID".into(),
    ];
    filters(q, &mut args, true, false);
    args
}

fn filters(q: &Query, args: &mut Vec<String>, since: bool, lines: bool) {
    if since && let Some(t) = &q.since {
        args.push(format!("--since={}", instant(t)));
    }
    if let Some(t) = &q.until {
        args.push(format!("--until={}", instant(t)));
    }
    if lines && let Some(n) = q.tail_lines {
        args.push("--pager-end".into());
        args.push(format!("--lines={n}"));
    }
    for service in q.services.iter().filter(|s| !s.is_empty()) {
        args.push(format!("--unit={service}"));
    }
    if let Some(p) = q.pattern.as_deref().filter(|p| !p.is_empty()) {
        args.push(format!("--grep={p}"));
    }
    if let Some(boot) = q.boot {
        args.push("--boot".into());
        args.push(boot.to_string());
    }
}

/// Microseconds since the epoch: journal timestamps have microsecond
/// resolution. Times before 1970 cannot match any entry and are clamped to
/// the epoch.
pub fn micros(t: &Timestamp) -> u64 {
    if t.seconds < 0 {
        return 0;
    }
    t.seconds as u64 * 1_000_000 + u64::from(t.nanoseconds / 1000)
}

/// `@secs[.micros]`, as journalctl reads an absolute instant.
fn instant(t: &Timestamp) -> String {
    let us = micros(t);
    let (secs, micros) = (us / 1_000_000, us % 1_000_000);
    if micros == 0 {
        format!("@{secs}")
    } else {
        format!("@{secs}.{micros:06}")
    }
}

//! Where an entry starts, and when: a line that begins with a timestamp in
//! the source's format starts a new entry; any other line continues the
//! one before it (a stack trace, a wrapped message).
//!
//! klog and syslog stamps carry no year and no zone: they are read as UTC,
//! in the year that puts them nearest a reference time, the query's window
//! (so a window in late December, asked in January, finds December's
//! lines). Plugins get no clock to read "now" from, on purpose: the wall
//! clock in Rust's standard library would also import the monotonic one.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use crate::Timestamp;

/// A point in time, as seconds and nanoseconds since the epoch (ordered).
pub type Instant = (i64, u32);

pub fn instant(t: &Timestamp) -> Instant {
    (t.seconds, t.nanoseconds)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `I1130 10:32:42.123456    1234 file.go:12] message` (klog, glog).
    Klog,
    /// `2026-11-30T10:32:42.123Z message` or with an offset.
    Rfc3339,
    /// `Nov 30 10:32:42 host prog[1]: message` (RFC 3164).
    Syslog,
}

impl Format {
    /// The time an entry starting with `line` was written, or `None` when
    /// `line` does not start an entry.
    pub fn entry_time(self, line: &[u8], reference: Instant) -> Option<Instant> {
        let text = std::str::from_utf8(line.get(..line.len().min(64))?)
            .or_else(|e| std::str::from_utf8(&line[..e.valid_up_to()]))
            .ok()?;
        match self {
            Format::Klog => klog(text, reference),
            Format::Rfc3339 => rfc3339(text),
            Format::Syslog => syslog(text, reference),
        }
    }
}

fn klog(text: &str, reference: Instant) -> Option<Instant> {
    let b = text.as_bytes();
    if b.len() < 21 || !matches!(b[0], b'I' | b'W' | b'E' | b'F') || b[5] != b' ' {
        return None;
    }
    let month = text.get(1..3)?.parse().ok()?;
    let day = text.get(3..5)?.parse().ok()?;
    let time = NaiveTime::parse_from_str(text.get(6..21)?, "%H:%M:%S%.6f").ok()?;
    nearest_year(month, day, time, reference)
}

fn rfc3339(text: &str) -> Option<Instant> {
    let first = text.split([' ', '\t']).next()?;
    let t = DateTime::parse_from_rfc3339(first).ok()?;
    Some((t.timestamp(), t.timestamp_subsec_nanos()))
}

fn syslog(text: &str, reference: Instant) -> Option<Instant> {
    let stamp = text.get(..15)?;
    // `%e` is the space-padded day: "Nov  3 01:02:03".
    let parsed =
        NaiveDateTime::parse_from_str(&format!("2000 {stamp}"), "%Y %b %e %H:%M:%S").ok()?;
    nearest_year(parsed.month(), parsed.day(), parsed.time(), reference)
}

fn nearest_year(month: u32, day: u32, time: NaiveTime, reference: Instant) -> Option<Instant> {
    let year = DateTime::<Utc>::from_timestamp(reference.0, 0)?.year();
    (year - 1..=year + 1)
        .filter_map(|y| {
            let t = NaiveDate::from_ymd_opt(y, month, day)?
                .and_time(time)
                .and_utc();
            Some((t.timestamp(), t.timestamp_subsec_nanos()))
        })
        .min_by_key(|t| t.0.abs_diff(reference.0))
}

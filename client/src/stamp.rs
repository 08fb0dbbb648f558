//! The timestamp at the start of a log line, for `--unify`: RFC 3339
//! (`2024-11-22T12:00:00.123456Z`, also journalctl's `short-iso` offsets
//! without a colon), the journal's `short-precise` (`Nov 22 12:00:00.123456`,
//! UTC as the server prints it) and klog (`I1122 12:00:00.123456`).
//!
//! The last two have no year. A [`Years`] per node supplies it: from an
//! anchor for the first stamped line (`--since`, else `--until`, else now),
//! then from the previous line, adding a year when the month goes back
//! (Dec 31 → Jan 1), since each node's output is in time order.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

/// Where the first yearless stamp of a stream lies.
#[derive(Debug, Clone, Copy)]
pub enum Anchor {
    /// Entries start at or after this (`--since`).
    NotBefore(NaiveDateTime),
    /// Entries end at or before this (`--until`, or now).
    NotAfter(NaiveDateTime),
}

/// Clocks of nodes and client differ, and `--since` is checked by the server
/// against its own clock: a stamp this far on the wrong side of the anchor
/// still counts as the anchor's year.
const SLACK: TimeDelta = TimeDelta::days(2);

/// A stamp without a year.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Yearless {
    month: u32,
    day: u32,
    time: NaiveTime,
}

impl Yearless {
    fn in_year(&self, year: i32) -> Option<NaiveDateTime> {
        NaiveDate::from_ymd_opt(year, self.month, self.day).map(|d| d.and_time(self.time))
    }
}

/// Per-node year inference.
#[derive(Debug)]
pub struct Years {
    anchor: Anchor,
    last: Option<NaiveDateTime>,
}

impl Years {
    pub fn new(anchor: Anchor) -> Self {
        Years { anchor, last: None }
    }

    /// The line's timestamp (UTC), or `None` when it does not start with one
    /// (a continuation line).
    pub fn stamp(&mut self, line: &[u8]) -> Option<NaiveDateTime> {
        if let Some(t) = rfc3339(line) {
            return Some(t);
        }
        let yearless = short_precise(line).or_else(|| klog(line))?;
        let t = self.place(yearless)?;
        self.last = Some(t);
        Some(t)
    }

    fn place(&self, s: Yearless) -> Option<NaiveDateTime> {
        if let Some(last) = self.last {
            let year = if s.month < last.month() {
                last.year() + 1
            } else {
                last.year()
            };
            // Feb 29 of a year that has none: the nearest year that has one.
            return s.in_year(year).or_else(|| s.in_year(year + 1));
        }
        match self.anchor {
            Anchor::NotBefore(a) => {
                let t = s.in_year(a.year()).or_else(|| s.in_year(a.year() + 1))?;
                if t < a - SLACK {
                    s.in_year(a.year() + 1).or(Some(t))
                } else {
                    Some(t)
                }
            }
            Anchor::NotAfter(a) => {
                let t = s.in_year(a.year()).or_else(|| s.in_year(a.year() - 1))?;
                if t > a + SLACK {
                    s.in_year(a.year() - 1).or(Some(t))
                } else {
                    Some(t)
                }
            }
        }
    }
}

fn rfc3339(line: &[u8]) -> Option<NaiveDateTime> {
    if !line.first()?.is_ascii_digit() {
        return None;
    }
    let end = line
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let token = std::str::from_utf8(&line[..end]).ok()?;
    DateTime::parse_from_rfc3339(token)
        .or_else(|_| DateTime::parse_from_str(token, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.naive_utc())
}

/// `Nov 22 12:00:00.123456` or `Nov  2 12:00:00` (syslog's padding).
fn short_precise(line: &[u8]) -> Option<Yearless> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let month = MONTHS.iter().position(|m| line.starts_with(m))? as u32 + 1;
    let rest = line.get(3..)?.strip_prefix(b" ")?;
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    let (day, rest) = digits(rest, 1, 2)?;
    let time = clock(rest.strip_prefix(b" ")?)?;
    Some(Yearless { month, day, time })
}

/// klog's header: severity, `MMDD`, a space, the time of day.
fn klog(line: &[u8]) -> Option<Yearless> {
    let rest = line.strip_prefix(b"I").or_else(|| {
        line.strip_prefix(b"W")
            .or_else(|| line.strip_prefix(b"E"))
            .or_else(|| line.strip_prefix(b"F"))
    })?;
    let (mmdd, rest) = digits(rest, 4, 4)?;
    let time = clock(rest.strip_prefix(b" ")?)?;
    Some(Yearless {
        month: mmdd / 100,
        day: mmdd % 100,
        time,
    })
}

/// `HH:MM:SS` with an optional fraction, followed by the end or a non-digit.
fn clock(s: &[u8]) -> Option<NaiveTime> {
    let (h, s) = digits(s, 2, 2)?;
    let (m, s) = digits(s.strip_prefix(b":")?, 2, 2)?;
    let (sec, s) = digits(s.strip_prefix(b":")?, 2, 2)?;
    let nanos = match s.strip_prefix(b".") {
        Some(frac) => {
            let len = frac.iter().take_while(|b| b.is_ascii_digit()).count();
            if len == 0 {
                return None;
            }
            let mut nanos = 0u32;
            for i in 0..9 {
                nanos = nanos * 10
                    + frac
                        .get(i)
                        .filter(|_| i < len)
                        .map_or(0, |b| u32::from(b - b'0'));
            }
            nanos
        }
        None => 0,
    };
    NaiveTime::from_hms_nano_opt(h, m, sec, nanos)
}

/// Between `min` and `max` ASCII digits, then anything but a digit.
fn digits(s: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let len = s
        .iter()
        .take(max + 1)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if len < min || len > max {
        return None;
    }
    let n = s[..len]
        .iter()
        .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    Some((n, &s[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    fn stamps(anchor: Anchor, lines: &[&str]) -> Vec<Option<NaiveDateTime>> {
        let mut years = Years::new(anchor);
        lines.iter().map(|l| years.stamp(l.as_bytes())).collect()
    }

    #[test]
    fn forms() {
        let now = Anchor::NotAfter(at("2026-11-30T10:00:00"));
        assert_eq!(
            stamps(
                now,
                &[
                    "Nov 22 12:00:00.123456 node-1 kubelet[755]: hi",
                    "Nov  2 12:00:00 host sshd[1]: hi",
                    "I1122 12:00:00.000001    1234 server.go:42] hi",
                    "2024-11-22T12:00:00.5+01:00 stdout F hi",
                    "2024-11-22T12:00:00+0000 node-1 kubelet[755]: short-iso",
                    "    continuation",
                    "-- Boot 1234 --",
                    "Novel idea",
                    "I1122 no time",
                ]
            ),
            [
                Some(at("2026-11-22T12:00:00.123456")),
                Some(at("2026-11-02T12:00:00")),
                Some(at("2026-11-22T12:00:00.000001")),
                Some(at("2024-11-22T11:00:00.5")),
                Some(at("2024-11-22T12:00:00")),
                None,
                None,
                None,
                None,
            ]
        );
    }

    #[test]
    fn year_from_the_anchor_then_from_the_previous_line() {
        // Since Dec 30: Jan 1 is next year's.
        let since = Anchor::NotBefore(at("2025-12-30T00:00:00"));
        assert_eq!(
            stamps(since, &["Jan 01 00:00:01.000000 a"]),
            [Some(at("2026-01-01T00:00:01"))]
        );
        // Now is Jan 2: Dec 31 is last year's.
        let now = Anchor::NotAfter(at("2027-01-02T00:00:00"));
        assert_eq!(
            stamps(now, &["Dec 31 23:59:59.000000 a"]),
            [Some(at("2026-12-31T23:59:59"))]
        );
        // A stream across the new year: the month going back adds a year.
        let since = Anchor::NotBefore(at("2026-11-30T00:00:00"));
        assert_eq!(
            stamps(
                since,
                &[
                    "Nov 30 23:59:59.900000 a",
                    "Dec 01 00:00:00.100000 a",
                    "Dec 31 23:59:59.900000 a",
                    "I0101 00:00:00.100000 1 a.go:1] a",
                ]
            ),
            [
                Some(at("2026-11-30T23:59:59.9")),
                Some(at("2026-12-01T00:00:00.1")),
                Some(at("2026-12-31T23:59:59.9")),
                Some(at("2027-01-01T00:00:00.1")),
            ]
        );
    }
}

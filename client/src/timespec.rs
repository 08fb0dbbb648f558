//! `--since`/`--until` values: a duration ago (`30s`, `15m`, `2h`, `1d`)
//! or a timestamp (RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS]]` taken as UTC, the
//! zone the server's journal output uses).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use crate::cli::parse_duration;

pub fn resolve(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    for layout in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, layout) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(d.and_time(Default::default()).and_utc());
    }
    let ago = parse_duration(value).map_err(|_| {
        format!(
            "{value:?} is neither a duration (30s, 15m, 2h, 1d) nor a time \
             (RFC 3339 or YYYY-MM-DD HH:MM:SS in UTC)"
        )
    })?;
    chrono::Duration::from_std(ago)
        .ok()
        .and_then(|ago| now.checked_sub_signed(ago))
        .ok_or_else(|| format!("{value:?} is too far in the past"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        let now: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
        let at = |v| resolve(v, now).unwrap().to_rfc3339();
        assert_eq!(at("30s"), "2026-11-30T09:59:30+00:00");
        assert_eq!(at("15m"), "2026-11-30T09:45:00+00:00");
        assert_eq!(at("2h"), "2026-11-30T08:00:00+00:00");
        assert_eq!(at("1d"), "2026-11-29T10:00:00+00:00");
        assert_eq!(at("2026-11-01T01:02:03+01:00"), "2026-11-01T00:02:03+00:00");
        assert_eq!(at("2026-11-01 01:02:03"), "2026-11-01T01:02:03+00:00");
        assert_eq!(at("2026-11-01"), "2026-11-01T00:00:00+00:00");
        assert!(resolve("yesterday", now).is_err());
        assert!(resolve("1000000000d", now).is_err());
    }
}

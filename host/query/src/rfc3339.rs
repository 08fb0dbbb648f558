//! Go's `time.Parse(time.RFC3339, v)`: `T` between date and time, a zone
//! of `Z` or `±hh:mm`, and (when parsing only) an optional fraction of a
//! second after the seconds, with `.` or `,`. Stricter than chrono's parser,
//! which also takes a space or a lowercase `t`.

use chrono::{DateTime, FixedOffset, NaiveDate};

pub fn parse(s: &str) -> Option<DateTime<FixedOffset>> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);

    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let kept = &frac[..digits.min(9)];
        nanos = kept.parse::<u32>().ok()? * 10u32.pow(9 - kept.len() as u32);
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hh = num_pair(*h1, *h2)?;
            let mm = num_pair(*m1, *m2)?;
            if hh > 23 || mm > 59 {
                return None;
            }
            let secs = (hh * 3600 + mm * 60) as i32;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    let time = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    if second > 59 {
        return None;
    }
    time.and_local_timezone(FixedOffset::east_opt(offset)?)
        .single()
}

fn num_pair(a: u8, b: u8) -> Option<u32> {
    (a.is_ascii_digit() && b.is_ascii_digit())
        .then(|| u32::from(a - b'0') * 10 + u32::from(b - b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_go_rfc3339() {
        assert_eq!(
            parse("2019-12-04T02:00:00Z").unwrap().timestamp(),
            1575424800
        );
        assert_eq!(
            parse("2019-12-04T03:00:00+01:00").unwrap().timestamp(),
            1575424800
        );
        let t = parse("2019-12-04T02:00:00.123456789Z").unwrap();
        assert_eq!(t.timestamp_subsec_nanos(), 123456789);
        assert_eq!(
            parse("2019-12-04T02:00:00,5Z")
                .unwrap()
                .timestamp_subsec_millis(),
            500
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "2019-12-04 02:00:00Z",
            "2019-12-04t02:00:00Z",
            "2019-12-04T02:00:00",
            "2019-12-04T02:00:00.Z",
            "2019-02-30T02:00:00Z",
            "2019-12-04T24:00:00Z",
            "2019-12-04T02:00:00+0100",
            "2019-12-04T02:00:00+24:00",
            "2019-12-04T02:00:60Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}

//! One entry as `journalctl --utc -o short-precise` prints it
//! (`output_short` of systemd 252's logs-show.c, stdout not a TTY, `--full`).

use std::borrow::Cow;
use std::io::Write;

use crate::error::Result;
use crate::file::JournalFile;
use crate::text::{format_bytes, safe_atou64, strip_tab_ansi, utf8_is_printable};

/// Reused between entries so that formatting allocates nothing per line.
#[derive(Default)]
pub struct Formatter {
    stripped: Vec<u8>,
    day: Option<(u64, [u8; 6])>,
}

/// The fields `output_short` reads; the last occurrence wins.
#[derive(Default)]
struct Fields<'a> {
    hostname: Option<Cow<'a, [u8]>>,
    identifier: Option<Cow<'a, [u8]>>,
    comm: Option<Cow<'a, [u8]>>,
    pid: Option<Cow<'a, [u8]>>,
    fake_pid: Option<Cow<'a, [u8]>>,
    message: Option<Cow<'a, [u8]>>,
    realtime: Option<Cow<'a, [u8]>>,
}

/// `shall_print`: shorter than PRINT_CHAR_THRESHOLD (300) and printable.
fn shall_print(v: &[u8]) -> bool {
    v.len() < 300 && utf8_is_printable(v)
}

fn strip_prefix<'a>(data: &Cow<'a, [u8]>, name: &[u8]) -> Option<Cow<'a, [u8]>> {
    if !data.starts_with(name) {
        return None;
    }
    Some(match data {
        Cow::Borrowed(b) => Cow::Borrowed(&b[name.len()..]),
        Cow::Owned(v) => Cow::Owned(v[name.len()..].to_vec()),
    })
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Days since 1970-01-01 to (month 1..12, day 1..31), proleptic Gregorian.
fn civil(days: i64) -> (u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (m as u32, d as u32)
}

impl Formatter {
    /// `%b %d %H:%M:%S.%06u` in UTC; returns the number of bytes written.
    fn timestamp(&mut self, out: &mut Vec<u8>, usec: u64) -> usize {
        let secs = usec / 1_000_000;
        let day = secs / 86_400;
        let date = match self.day {
            Some((d, text)) if d == day => text,
            _ => {
                let (m, d) = civil(day as i64);
                let mut text = [b' '; 6];
                text[..3].copy_from_slice(MONTHS[m as usize - 1]);
                text[4] = b'0' + (d / 10) as u8;
                text[5] = b'0' + (d % 10) as u8;
                self.day = Some((day, text));
                text
            }
        };
        let s = secs % 86_400;
        let (h, m, sec, us) = (s / 3600, s / 60 % 60, s % 60, usec % 1_000_000);
        let digit = |v: u64| b'0' + v as u8;
        let text = [
            b' ',
            digit(h / 10),
            digit(h % 10),
            b':',
            digit(m / 10),
            digit(m % 10),
            b':',
            digit(sec / 10),
            digit(sec % 10),
            b'.',
            digit(us / 100_000),
            digit(us / 10_000 % 10),
            digit(us / 1000 % 10),
            digit(us / 100 % 10),
            digit(us / 10 % 10),
            digit(us % 10),
        ];
        out.extend_from_slice(&date);
        out.extend_from_slice(&text);
        date.len() + text.len()
    }

    /// Appends the entry's lines to `out`. An entry without MESSAGE prints
    /// nothing (journalctl still counts it as shown).
    pub fn entry(
        &mut self,
        out: &mut Vec<u8>,
        file: &JournalFile,
        entry: u64,
        header_realtime: u64,
    ) -> Result<()> {
        let mut f = Fields::default();
        for data in file.entry_items(entry)? {
            let payload = file.data(data)?;
            let slot = match payload.first() {
                Some(b'_') => {
                    if let Some(v) = strip_prefix(&payload, b"_PID=") {
                        f.pid = Some(v);
                        continue;
                    }
                    if let Some(v) = strip_prefix(&payload, b"_COMM=") {
                        f.comm = Some(v);
                        continue;
                    }
                    if let Some(v) = strip_prefix(&payload, b"_HOSTNAME=") {
                        f.hostname = Some(v);
                        continue;
                    }
                    strip_prefix(&payload, b"_SOURCE_REALTIME_TIMESTAMP=")
                        .map(|v| (&mut f.realtime, v))
                }
                Some(b'M') => strip_prefix(&payload, b"MESSAGE=").map(|v| (&mut f.message, v)),
                Some(b'S') => {
                    if let Some(v) = strip_prefix(&payload, b"SYSLOG_PID=") {
                        f.fake_pid = Some(v);
                        continue;
                    }
                    strip_prefix(&payload, b"SYSLOG_IDENTIFIER=").map(|v| (&mut f.identifier, v))
                }
                _ => None,
            };
            if let Some((target, v)) = slot {
                *target = Some(v);
            }
        }
        let Some(message) = f.message else {
            return Ok(());
        };

        let time = f
            .realtime
            .as_deref()
            .and_then(safe_atou64)
            .filter(|&t| t > 0 && t < 253_402_214_399_999_999)
            .unwrap_or(header_realtime);
        let mut n = self.timestamp(out, time);
        if let Some(h) = f.hostname.as_deref().filter(|v| shall_print(v)) {
            out.push(b' ');
            out.extend_from_slice(h);
            n += h.len() + 1;
        }
        if let Some(v) = f
            .identifier
            .as_deref()
            .filter(|v| shall_print(v))
            .or(f.comm.as_deref().filter(|v| shall_print(v)))
        {
            out.push(b' ');
            out.extend_from_slice(v);
            n += v.len() + 1;
        } else {
            // systemd does not count this in the indentation.
            out.extend_from_slice(b" unknown");
        }
        if let Some(v) = f
            .pid
            .as_deref()
            .filter(|v| shall_print(v))
            .or(f.fake_pid.as_deref().filter(|v| shall_print(v)))
        {
            out.push(b'[');
            out.extend_from_slice(v);
            out.push(b']');
            n += v.len() + 2;
        }
        out.extend_from_slice(b": ");

        // Most messages hold no TAB, ESC or CR: print them as they are
        // rather than through a copy.
        let msg = if memchr::memchr3(b'\t', 0x1b, b'\r', &message).is_none() {
            &message[..]
        } else {
            strip_tab_ansi(&message, &mut self.stripped);
            &self.stripped[..]
        };
        if !utf8_is_printable(msg) {
            let _ = writeln!(out, "[{} blob data]", format_bytes(msg.len() as u64));
            return Ok(());
        }
        print_multiline(out, n + 2, msg);
        Ok(())
    }
}

/// `print_multiline` with `--full`: every line after the first indented by
/// `indent`; a trailing newline adds no empty line; an empty message prints
/// one newline.
fn print_multiline(out: &mut Vec<u8>, indent: usize, msg: &[u8]) {
    let mut first = true;
    let mut rest = msg;
    loop {
        let (line, tail) = match memchr::memchr(b'\n', rest) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        if !first {
            out.extend(std::iter::repeat_n(b' ', indent));
        }
        out.extend_from_slice(line);
        out.push(b'\n');
        first = false;
        match tail {
            Some(t) if !t.is_empty() => rest = t,
            _ => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1, 1));
        assert_eq!(civil(20_049), (11, 22)); // 2024-11-22
        assert_eq!(civil(11_016), (2, 29)); // 2000-02-29
    }
}

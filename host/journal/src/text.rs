//! systemd 252's text helpers that decide journalctl's bytes:
//! `strip_tab_ansi`, `utf8_is_printable`, `format_bytes` and `safe_atou64`.

/// `strip_tab_ansi` (string-util.c): TAB becomes 8 spaces, CSI SGR (`ESC [`
/// digits `;` ... `m`) and OSC (`ESC ]` ... BEL) sequences are removed, an
/// invalid or cut-off sequence is kept as it is, and CR is dropped before LF
/// and at the end.
pub fn strip_tab_ansi(input: &[u8], out: &mut Vec<u8>) {
    #[derive(Clone, Copy)]
    enum State {
        Other,
        Escape,
        Csi,
        Osc,
    }
    out.clear();
    let mut state = State::Other;
    let mut begin = 0;
    let mut crs = 0usize;
    let n = input.len();
    let mut i = 0;
    // One step past the end: C's loop sees the terminating NUL as "EOT".
    while i <= n {
        let c = input.get(i).copied();
        match state {
            State::Other => {
                // Copy plain text up to the next TAB, ESC or CR at once.
                if crs == 0 {
                    let plain = memchr::memchr3(b'\t', 0x1b, b'\r', &input[i..]).unwrap_or(n - i);
                    out.extend_from_slice(&input[i..i + plain]);
                    i += plain;
                }
                let Some(c) = input.get(i).copied() else {
                    break;
                };
                if c == b'\r' {
                    crs += 1;
                } else {
                    if c == b'\n' {
                        crs = 0;
                    }
                    out.extend(std::iter::repeat_n(b'\r', crs));
                    crs = 0;
                    match c {
                        0x1b => state = State::Escape,
                        b'\t' => out.extend_from_slice(b"        "),
                        _ => out.push(c),
                    }
                }
            }
            State::Escape => match c {
                None => out.push(0x1b),
                Some(b'[') => {
                    state = State::Csi;
                    begin = i + 1;
                }
                Some(b']') => {
                    state = State::Osc;
                    begin = i + 1;
                }
                Some(c) => {
                    out.extend_from_slice(&[0x1b, c]);
                    state = State::Other;
                }
            },
            State::Csi => match c {
                // strchr("0123456789;m", c) also finds the terminating NUL.
                Some(b'm') => state = State::Other,
                Some(b'0'..=b'9' | b';' | 0) => {}
                _ => {
                    out.extend_from_slice(b"\x1b[");
                    state = State::Other;
                    i = begin;
                    continue;
                }
            },
            State::Osc => match c {
                Some(0x07) => state = State::Other,
                Some(c) if (32..=126).contains(&c) => {}
                _ => {
                    out.extend_from_slice(b"\x1b]");
                    state = State::Other;
                    i = begin;
                    continue;
                }
            },
        }
        i += 1;
    }
}

/// `utf8_is_printable` (utf8.c): strict UTF-8 without the noncharacters
/// U+FDD0..U+FDEF and U+xFFFE/U+xFFFF, and without control characters other
/// than TAB and LF (C0, DEL and C1).
pub fn utf8_is_printable(s: &[u8]) -> bool {
    let mut rest = s;
    // ASCII fast path, 32 bytes at a time without early exit (so that the
    // compiler vectorises it).
    let plain = |b: u8| (0x20..0x7f).contains(&b) | (b == b'\t') | (b == b'\n');
    while rest.len() >= 32 && rest[..32].iter().fold(true, |ok, &b| ok & plain(b)) {
        rest = &rest[32..];
    }
    if rest.iter().all(|&b| plain(b)) {
        return true;
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return false;
    };
    text.chars().all(|c| {
        let u = c as u32;
        let control = (u < 0x20 && c != '\t' && c != '\n') || (0x7f..=0x9f).contains(&u);
        let nonchar = (0xfdd0..=0xfdef).contains(&u) || u & 0xfffe == 0xfffe;
        !control && !nonchar
    })
}

/// `format_bytes` (format-util.c): IEC units with one truncated decimal,
/// `B` below 1 KiB.
pub fn format_bytes(t: u64) -> String {
    const UNITS: [(&str, u64); 6] = [
        ("E", 1 << 60),
        ("P", 1 << 50),
        ("T", 1 << 40),
        ("G", 1 << 30),
        ("M", 1 << 20),
        ("K", 1 << 10),
    ];
    for (i, &(suffix, factor)) in UNITS.iter().enumerate() {
        if t >= factor {
            let decimal = match UNITS.get(i + 1) {
                Some(&(_, smaller)) => (t / smaller * 10 / 1024) % 10,
                None => (t * 10 / factor) % 10,
            };
            return format!("{}.{decimal}{suffix}", t / factor);
        }
    }
    format!("{t}B")
}

/// `safe_atou64` (parse-util.c): strtoull with base 0 after skipping
/// WHITESPACE and `0b`/`0o` prefixes; the whole string must parse, and a
/// non-zero value with a `-` is refused. The value is read as C does, up to
/// the first NUL.
pub fn safe_atou64(s: &[u8]) -> Option<u64> {
    let s = &s[..memchr::memchr(0, s).unwrap_or(s.len())];
    let start = s
        .iter()
        .position(|c| !b" \t\n\r".contains(c))
        .unwrap_or(s.len());
    let s = &s[start..];
    let (s, base) = match s {
        [b'0', b'b' | b'B', rest @ ..] => (rest, 2),
        [b'0', b'o' | b'O', rest @ ..] => (rest, 8),
        _ => (s, 0),
    };
    let (value, used) = strtoull(s, base)?;
    if used != s.len() || used == 0 {
        return None;
    }
    if value != 0 && s.first() == Some(&b'-') {
        return None;
    }
    Some(value)
}

/// glibc's strtoull: `(value, bytes consumed)`, None on overflow; 0 bytes
/// consumed when no digit was found.
fn strtoull(s: &[u8], base: u32) -> Option<(u64, usize)> {
    let mut i = s
        .iter()
        .position(|c| !b" \t\n\x0b\x0c\r".contains(c))
        .unwrap_or(s.len());
    let negative = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let hex_prefix = s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    let base = match base {
        0 if hex_prefix => {
            i += 2;
            16
        }
        0 if s.get(i) == Some(&b'0') => 8,
        0 => 10,
        b => b,
    };
    let digits_start = i;
    let mut value: u64 = 0;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base)) {
        value = value
            .checked_mul(u64::from(base))?
            .checked_add(u64::from(d))?;
        i += 1;
    }
    if i == digits_start {
        return Some((0, 0));
    }
    Some((
        if negative {
            value.wrapping_neg()
        } else {
            value
        },
        i,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        strip_tab_ansi(s, &mut out);
        out
    }

    #[test]
    fn strips_like_systemd() {
        assert_eq!(strip(b"a\tb"), b"a        b");
        assert_eq!(strip(b"\x1b[1;31mred\x1b[0m"), b"red");
        assert_eq!(strip(b"\x1b]8;;http://x\x07link"), b"link");
        assert_eq!(strip(b"bad\x1b[1xq"), b"bad\x1b[1xq");
        assert_eq!(strip(b"end\x1b"), b"end\x1b");
        assert_eq!(strip(b"a\r\nb\r"), b"a\nb");
        assert_eq!(strip(b"a\rb"), b"a\rb");
        assert_eq!(strip(b"\x1b[\x00m!"), b"!");
    }

    #[test]
    fn printable_like_systemd() {
        assert!(utf8_is_printable("héllo\tworld\n".as_bytes()));
        assert!(!utf8_is_printable(b"bell\x07"));
        assert!(!utf8_is_printable("\u{85}".as_bytes()));
        assert!(!utf8_is_printable("\u{fdd0}".as_bytes()));
        assert!(!utf8_is_printable("\u{ffff}".as_bytes()));
        assert!(!utf8_is_printable("\u{1fffe}".as_bytes()));
        assert!(!utf8_is_printable(b"\xc0\x80"));
        assert!(!utf8_is_printable(b"\xf8\x88\x80\x80\x80"));
    }

    #[test]
    fn bytes_like_systemd() {
        assert_eq!(format_bytes(33), "33B");
        assert_eq!(format_bytes(1536), "1.5K");
        assert_eq!(format_bytes(1_572_864), "1.5M");
        assert_eq!(format_bytes(1023), "1023B");
    }

    #[test]
    fn atou64_like_systemd() {
        assert_eq!(safe_atou64(b"123"), Some(123));
        assert_eq!(safe_atou64(b"0x10"), Some(16));
        assert_eq!(safe_atou64(b"010"), Some(8));
        assert_eq!(safe_atou64(b" 5"), Some(5));
        assert_eq!(safe_atou64(b"0o17"), Some(15));
        assert_eq!(safe_atou64(b"0b101"), Some(5));
        assert_eq!(safe_atou64(b"-0"), Some(0));
        assert_eq!(safe_atou64(b"-1"), None);
        assert_eq!(safe_atou64(b"12a"), None);
        assert_eq!(safe_atou64(b""), None);
        assert_eq!(safe_atou64(b"0x"), None);
        assert_eq!(safe_atou64(b"99999999999999999999"), None);
        assert_eq!(safe_atou64(b"7\0junk"), Some(7));
    }
}

//! A small journal full of the cases that decide journalctl's bytes, in any
//! of the four on-disk layouts (compact or regular, keyed or Jenkins hash),
//! written by `systemd-journal-remote` from Journal Export Format.
//!
//! Three files and three boots:
//! - `a.journal`: boots 0 and 1, ordinary entries of four units, then the
//!   edge cases (escapes, invalid UTF-8, blobs, compressed fields, missing
//!   fields, odd `_SOURCE_REALTIME_TIMESTAMP`s, long hostnames, the `-u`
//!   branches, equal realtimes, a boot switch and back);
//! - `b.journal` and `c.journal~` (archived): boot 2 split between them,
//!   entry by entry, with the wall clock stepping back an hour half way, so
//!   the merge must follow journalctl's order (monotonic within a boot).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::journal::systemd_journal_remote;

/// 2025-03-01T00:00:00Z.
pub const T0: u64 = 1_740_787_200;
const HOUR: u64 = 3_600_000_000;

#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub compact: bool,
    pub keyed: bool,
}

pub const LAYOUTS: [Layout; 4] = [
    Layout {
        compact: true,
        keyed: true,
    },
    Layout {
        compact: true,
        keyed: false,
    },
    Layout {
        compact: false,
        keyed: true,
    },
    Layout {
        compact: false,
        keyed: false,
    },
];

pub fn boot_id(b: usize) -> String {
    format!("{:032x}", 0x0b00_7000_u128 + b as u128 * 104_729)
}

/// One entry: its boot, times and fields (in the order given).
struct Entry {
    boot: usize,
    realtime: u64,
    monotonic: u64,
    fields: Vec<(String, Vec<u8>)>,
}

fn entry(boot: usize, realtime: u64, fields: &[(&str, &[u8])]) -> Entry {
    Entry {
        boot,
        realtime,
        monotonic: realtime - T0 * 1_000_000 - boot as u64 * 24 * HOUR + 5_000_000,
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect(),
    }
}

fn write_export(out: &mut impl Write, entries: &[Entry]) -> std::io::Result<()> {
    for e in entries {
        writeln!(out, "__REALTIME_TIMESTAMP={}", e.realtime)?;
        writeln!(out, "__MONOTONIC_TIMESTAMP={}", e.monotonic)?;
        writeln!(out, "_BOOT_ID={}", boot_id(e.boot))?;
        for (k, v) in &e.fields {
            // The binary form carries any byte, newlines included.
            writeln!(out, "{k}")?;
            out.write_all(&(v.len() as u64).to_le_bytes())?;
            out.write_all(v)?;
            writeln!(out)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn remote(path: &Path, layout: Layout, entries: &[Entry]) -> anyhow::Result<()> {
    let mut child = Command::new(systemd_journal_remote()?)
        .arg("--split-mode=none")
        .arg("--compress=yes")
        .arg(format!("--output={}", path.display()))
        .arg("-")
        .env(
            "SYSTEMD_JOURNAL_COMPACT",
            if layout.compact { "1" } else { "0" },
        )
        .env(
            "SYSTEMD_JOURNAL_KEYED_HASH",
            if layout.keyed { "1" } else { "0" },
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting systemd-journal-remote")?;
    let mut stdin = std::io::BufWriter::new(child.stdin.take().context("stdin")?);
    write_export(&mut stdin, entries)?;
    drop(stdin);
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "systemd-journal-remote failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

const UNITS: [(&str, &str); 4] = [
    ("kubelet.service", "kubelet"),
    ("containerd.service", "containerd"),
    ("kube-proxy.service", "kube-proxy"),
    ("sshd.service", "sshd"),
];

fn ordinary(boot: usize, i: usize, realtime: u64) -> Entry {
    let (unit, ident) = UNITS[(i * 7 + i / 3) % UNITS.len()];
    let mut message = format!("I{i:05} sync pod=web-{:03x} seq={i}", i * 37 % 4096);
    if i % 11 == 4 {
        message = format!(
            "E{i:05} {} syncing pod: deadline exceeded",
            ["error", "Error", "ERROR"][i % 3]
        );
    }
    if i % 13 == 6 {
        message.push_str("\n\tat main.go:42\n\tat proc.go:250");
    }
    let pid = (700 + boot * 10 + ident.len()).to_string();
    entry(
        boot,
        realtime,
        &[
            ("_HOSTNAME", b"node-1"),
            ("_SYSTEMD_UNIT", unit.as_bytes()),
            ("SYSLOG_IDENTIFIER", ident.as_bytes()),
            ("_COMM", ident.as_bytes()),
            ("_PID", pid.as_bytes()),
            ("MESSAGE", message.as_bytes()),
        ],
    )
}

/// Appends entries one second apart.
struct Edges {
    boot: usize,
    t: u64,
    v: Vec<Entry>,
}

impl Edges {
    /// An entry with exactly these fields.
    fn raw(&mut self, fields: &[(&str, &[u8])]) {
        self.t += 1_000_000;
        self.v.push(entry(self.boot, self.t, fields));
    }

    /// A kubelet.service entry on node-1 with these fields added.
    fn add(&mut self, fields: &[(&str, &[u8])]) {
        let mut all: Vec<(&str, &[u8])> = vec![
            ("_HOSTNAME", b"node-1"),
            ("_SYSTEMD_UNIT", b"kubelet.service"),
        ];
        all.extend_from_slice(fields);
        self.raw(&all);
    }
}

fn edge_cases(boot: usize, t: u64) -> Vec<Entry> {
    let mut e = Edges {
        boot,
        t,
        v: Vec::new(),
    };
    for m in [
        &b"tabs\there\tand\tthere"[..],
        b"\x1b[1;31mFAILED\x1b[0m to start",
        b"see \x1b]8;;https://example.com\x07the link\x1b]8;;\x07 now",
        b"bad csi \x1b[1xq and \x1b[12",
        b"lone \x1bx escape and trailing \x1b",
        b"crlf line\r\nsecond\r\n",
        b"trailing cr\r",
        b"middle\rcr",
        b"invalid \xff\xfe utf8",
        "c1 \u{85} control".as_bytes(),
        "nonchar \u{fdd0}".as_bytes(),
        "nonchar \u{ffff}".as_bytes(),
        b"overlong \xc0\x80",
        b"surrogate \xed\xa0\x80",
        b"five byte \xf8\x88\x80\x80\x80",
        b"del \x7f",
        b"nul \x00 inside",
        b"bell \x07",
        b"",
        b"\n",
        b"trailing newline\n",
        b"multi\n\tline\nwith tabs\n\n",
        "mixed MiXeD case Error \u{c9}t\u{e9} \u{212a}elvin".as_bytes(),
        "\u{1f600} emoji and \u{e9}".as_bytes(),
    ] {
        e.add(&[
            ("SYSLOG_IDENTIFIER", b"kubelet"),
            ("_PID", b"42"),
            ("MESSAGE", m),
        ]);
    }
    let blob_small = vec![1u8; 1536];
    e.add(&[("SYSLOG_IDENTIFIER", b"kubelet"), ("MESSAGE", &blob_small)]);
    let blob_large: Vec<u8> = (0..1_572_864u32).map(|i| (i % 7) as u8).collect();
    e.add(&[("SYSLOG_IDENTIFIER", b"kubelet"), ("MESSAGE", &blob_large)]);
    let long_text = "compressible error text ".repeat(3000);
    e.add(&[
        ("SYSLOG_IDENTIFIER", b"kubelet"),
        ("MESSAGE", long_text.as_bytes()),
    ]);
    let long_lines = "line of text\n".repeat(100);
    e.add(&[
        ("_COMM", b"kube"),
        ("_PID", b"7"),
        ("MESSAGE", long_lines.as_bytes()),
    ]);
    e.add(&[
        ("_PID", b"8"),
        ("MESSAGE", b"no identifier nor comm\nsecond line"),
    ]);
    e.add(&[
        ("SYSLOG_IDENTIFIER", b"sys"),
        ("SYSLOG_PID", b"99"),
        ("MESSAGE", b"syslog pid only"),
    ]);
    e.add(&[
        ("SYSLOG_IDENTIFIER", b"sys"),
        ("_PID", b"5"),
        ("SYSLOG_PID", b"99"),
        ("MESSAGE", b"both pids"),
    ]);
    e.add(&[
        ("SYSLOG_IDENTIFIER", b"bad\x01ident"),
        ("_COMM", b"comm"),
        ("MESSAGE", b"control in identifier"),
    ]);
    e.add(&[
        ("SYSLOG_IDENTIFIER", b"dup"),
        ("MESSAGE", b"first message"),
        ("MESSAGE", b"second message"),
    ]);
    e.add(&[
        ("SYSLOG_IDENTIFIER", b"dup"),
        ("MESSAGE", b"second message"),
        ("MESSAGE", b"first message"),
    ]);
    e.add(&[("SYSLOG_IDENTIFIER", b"nomsg"), ("PRIORITY", b"6")]);
    for h in ["h".repeat(299), "h".repeat(300)] {
        e.raw(&[
            ("_HOSTNAME", h.as_bytes()),
            ("_SYSTEMD_UNIT", b"kubelet.service"),
            ("SYSLOG_IDENTIFIER", b"kubelet"),
            ("MESSAGE", b"long hostname"),
        ]);
    }
    for ts in [
        &b"1740800000123456"[..],
        b"0x62f5a0c5e7a40",
        b" 1740800000000001",
        b"12x",
        b"0",
        b"0123",
        b"-5",
        b"99999999999999999999",
    ] {
        e.add(&[
            ("SYSLOG_IDENTIFIER", b"ts"),
            ("_SOURCE_REALTIME_TIMESTAMP", ts),
            ("MESSAGE", b"source time"),
        ]);
    }
    // The -u branches: none of these has _SYSTEMD_UNIT=kubelet.service.
    e.raw(&[
        ("_HOSTNAME", b"node-1"),
        ("_PID", b"1"),
        ("_COMM", b"systemd"),
        ("UNIT", b"kubelet.service"),
        ("MESSAGE", b"Started kubelet."),
    ]);
    e.raw(&[
        ("_HOSTNAME", b"node-1"),
        ("_PID", b"2"),
        ("_COMM", b"other"),
        ("UNIT", b"kubelet.service"),
        ("MESSAGE", b"not pid 1"),
    ]);
    e.raw(&[
        ("_HOSTNAME", b"node-1"),
        ("_PID", b"900"),
        ("_UID", b"0"),
        ("SYSLOG_IDENTIFIER", b"systemd-coredump"),
        ("MESSAGE_ID", b"fc2e22bc6ee647b6b90729ab34a250b1"),
        ("COREDUMP_UNIT", b"kubelet.service"),
        ("MESSAGE", b"Process 42 (kubelet) dumped core."),
    ]);
    e.raw(&[
        ("_HOSTNAME", b"node-1"),
        ("_PID", b"901"),
        ("_UID", b"0"),
        ("_COMM", b"daemon"),
        ("OBJECT_SYSTEMD_UNIT", b"kubelet.service"),
        ("MESSAGE", b"about kubelet as root"),
    ]);
    e.raw(&[
        ("_HOSTNAME", b"node-1"),
        ("_PID", b"902"),
        ("_UID", b"1000"),
        ("_COMM", b"user"),
        ("OBJECT_SYSTEMD_UNIT", b"kubelet.service"),
        ("MESSAGE", b"about kubelet as a user"),
    ]);
    e.raw(&[
        ("_HOSTNAME", b"node-1"),
        ("_PID", b"903"),
        ("_SYSTEMD_SLICE", b"user.slice"),
        ("_COMM", b"bash"),
        ("MESSAGE", b"in the user slice"),
    ]);
    // Equal realtimes.
    e.raw(&[
        ("_SYSTEMD_UNIT", b"kubelet.service"),
        ("SYSLOG_IDENTIFIER", b"kubelet"),
        ("MESSAGE", b"same time one"),
    ]);
    e.t -= 1_000_000;
    e.raw(&[
        ("_SYSTEMD_UNIT", b"kubelet.service"),
        ("SYSLOG_IDENTIFIER", b"kubelet"),
        ("MESSAGE", b"same time two"),
    ]);
    e.v
}

/// Writes the three files into `dir` (created).
pub fn build(dir: &Path, layout: Layout) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let day = 24 * HOUR;
    let mut a = Vec::new();
    for boot in 0..2 {
        let start = T0 * 1_000_000 + boot as u64 * day;
        for i in 0..600 {
            a.push(ordinary(
                boot,
                boot * 600 + i,
                start + i as u64 * 60_000_000,
            ));
        }
    }
    let edge_start = a.last().map_or(0, |e| e.realtime);
    a.extend(edge_cases(1, edge_start));
    // A boot switch and back: one entry of boot 0 among boot 1's.
    let t = a.last().map_or(0, |e| e.realtime) + 1_000_000;
    a.push(entry(
        0,
        t,
        &[
            ("_SYSTEMD_UNIT", b"kubelet.service"),
            ("SYSLOG_IDENTIFIER", b"kubelet"),
            ("MESSAGE", b"late entry of boot 0"),
        ],
    ));
    let mut e = ordinary(1, 99_999, t + 1_000_000);
    e.monotonic = a[a.len() - 2].monotonic + 2_000_000;
    a.push(e);
    remote(&dir.join("a.journal"), layout, &a)?;

    // Boot 2: split over two files, the clock stepping back an hour at
    // entry 300 while the monotonic clock goes on.
    let (mut b, mut c) = (Vec::new(), Vec::new());
    let start = T0 * 1_000_000 + 2 * day;
    for i in 0..600u64 {
        let mut realtime = start + i * 30_000_000;
        if i >= 300 {
            realtime -= HOUR;
        }
        let mut e = ordinary(2, 2000 + i as usize, realtime);
        e.monotonic = 5_000_000 + i * 30_000_000;
        if i % 2 == 0 { b.push(e) } else { c.push(e) }
    }
    remote(&dir.join("b.journal"), layout, &b)?;
    remote(&dir.join("c.journal"), layout, &c)?;
    std::fs::rename(dir.join("c.journal"), dir.join("c.journal~"))?;
    Ok(())
}

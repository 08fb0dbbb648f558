//! A deterministic systemd journal: Journal Export Format written to
//! `systemd-journal-remote`, which stores it as real journal files that
//! `journalctl --directory` reads.
//!
//! Contents: four units (kubelet, containerd, kube-proxy, sshd) over three
//! boots, a day each, starting at [`T0`]; one message in 13 mentions
//! "error" in varied case, one in 17 spans several lines, one in 31 is
//! about 6 KiB long.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// 2024-11-22T00:00:00Z, the first entry's time.
pub const T0: i64 = 1_732_233_600;
const DAY_US: i64 = 86_400_000_000;
pub const BOOTS: usize = 3;

const UNITS: [(&str, &str, u32); 4] = [
    ("kubelet.service", "kubelet", 55),
    ("containerd.service", "containerd", 25),
    ("kube-proxy.service", "kube-proxy", 12),
    ("sshd.service", "sshd", 8),
];

/// Small, seedable and stable across platforms (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub(crate) fn systemd_journal_remote() -> anyhow::Result<PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .context("systemd-journal-remote is not installed (apt-get install -y systemd-journal-remote)")
}

/// Writes `entries` entries into `dir` (created; must not hold a journal).
pub fn build(dir: &Path, entries: usize, seed: u64) -> anyhow::Result<()> {
    let mut writer = Writer::start(dir)?;
    write_export(writer.input(), entries, seed, 0..entries)?;
    writer.finish()
}

/// `systemd-journal-remote` writing `dir/system.journal`, appending when it
/// exists, as entries arrive: a journal being written.
pub struct Writer {
    child: std::process::Child,
    input: Option<std::io::BufWriter<std::process::ChildStdin>>,
}

impl Writer {
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut child = Command::new(systemd_journal_remote()?)
            .arg("--split-mode=none")
            .arg("--compress=yes")
            .arg(format!("--output={}", dir.join("system.journal").display()))
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let input = Some(std::io::BufWriter::new(child.stdin.take().unwrap()));
        Ok(Writer { child, input })
    }

    pub fn input(&mut self) -> &mut impl Write {
        self.input.as_mut().expect("input is open until finish")
    }

    /// Closes the input and waits for everything to be written.
    pub fn finish(mut self) -> anyhow::Result<()> {
        drop(self.input.take());
        let out = self.child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "systemd-journal-remote failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

/// Entries `part` of the `entries`-entry journal of `seed`, in Journal
/// Export Format: the whole journal is the parts written in order.
pub fn write_export(
    out: &mut impl Write,
    entries: usize,
    seed: u64,
    part: std::ops::Range<usize>,
) -> std::io::Result<()> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let machine = format!("{:032x}", 0x6e6f_6465_6c6f_6764_u128);
    let boot_ids: Vec<String> = (0..BOOTS)
        .map(|b| format!("{:032x}", 0xb007_0000_u128 + b as u128 * 7919))
        .collect();
    let per_boot = entries.div_ceil(BOOTS);
    for i in 0..entries {
        let boot = i / per_boot;
        // Evenly spread over the boot's day, with jitter; strictly increasing.
        let step = DAY_US / per_boot as i64;
        let realtime = T0 * 1_000_000
            + boot as i64 * DAY_US
            + (i % per_boot) as i64 * step
            + rng.below(step as u64 / 2) as i64;
        let monotonic = realtime - (T0 * 1_000_000 + boot as i64 * DAY_US) + 3_000_000;
        let pick = rng.below(100) as u32;
        let mut acc = 0;
        let &(unit, ident, _) = UNITS
            .iter()
            .find(|u| {
                acc += u.2;
                pick < acc
            })
            .unwrap();
        let message = message(&mut rng, i);
        if !part.contains(&i) {
            continue;
        }
        writeln!(out, "__REALTIME_TIMESTAMP={realtime}")?;
        writeln!(out, "__MONOTONIC_TIMESTAMP={monotonic}")?;
        writeln!(out, "_BOOT_ID={}", boot_ids[boot])?;
        writeln!(out, "_MACHINE_ID={machine}")?;
        writeln!(out, "_HOSTNAME=node-1")?;
        writeln!(out, "_SYSTEMD_UNIT={unit}")?;
        writeln!(out, "SYSLOG_IDENTIFIER={ident}")?;
        writeln!(out, "_COMM={ident}")?;
        writeln!(out, "_PID={}", 700 + boot * 100 + ident.len())?;
        writeln!(out, "_TRANSPORT=stdout")?;
        writeln!(
            out,
            "PRIORITY={}",
            if message.to_lowercase().contains("error") {
                3
            } else {
                6
            }
        )?;
        // The binary field form carries newlines inside a value.
        out.write_all(b"MESSAGE\n")?;
        out.write_all(&(message.len() as u64).to_le_bytes())?;
        out.write_all(message.as_bytes())?;
        out.write_all(b"\n\n")?;
    }
    Ok(())
}

fn message(rng: &mut Rng, i: usize) -> String {
    const VERBS: [&str; 6] = [
        "SyncLoop (PLEG)",
        "RemoveContainer",
        "Observed pod startup",
        "probe succeeded",
        "volume mounted",
        "image pulled",
    ];
    const ERRORS: [&str; 3] = ["error", "Error", "ERROR"];
    let verb = VERBS[rng.below(VERBS.len() as u64) as usize];
    let pod = format!("default/web-{:04x}", rng.below(0xffff));
    let mut m = format!("I{i:06} {verb} pod=\"{pod}\" seq={i}");
    if i % 13 == 5 {
        m = format!(
            "E{i:06} {} syncing pod=\"{pod}\" err=\"context deadline exceeded\" seq={i}",
            ERRORS[i % 3]
        );
    }
    if i % 17 == 3 {
        m.push_str("\ngoroutine 1 [running]:\n  main.main()\n\t/src/main.go:42");
    }
    if i % 31 == 7 {
        m.push_str(&" padding".repeat(750));
    }
    m
}

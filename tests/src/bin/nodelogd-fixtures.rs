//! Generates benchmark and exploration data with the test suite's own
//! generators.
//!
//!   nodelogd-fixtures journal ENTRIES DIR [SEED]   a systemd journal
//!   nodelogd-fixtures text BYTES FILE              klog-style text lines

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["journal", entries, dir, rest @ ..] => {
            let seed = rest.first().map_or(Ok(42), |s| s.parse()).context("SEED")?;
            nodelogd_tests::journal::build(
                Path::new(dir),
                entries.parse().context("ENTRIES")?,
                seed,
            )
        }
        ["text", bytes, file] => text(bytes.parse().context("BYTES")?, Path::new(file)),
        _ => bail!("usage: nodelogd-fixtures journal ENTRIES DIR [SEED] | text BYTES FILE"),
    }
}

fn text(bytes: u64, path: &Path) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let (mut written, mut i) = (0u64, 0u64);
    while written < bytes {
        let line = format!(
            "I1122 {:02}:{:02}:{:02}.{:06} {:7} kubelet.go:{}] \"SyncLoop (PLEG): event for pod\" pod=\"default/web-{:x}\" seq={i}\n",
            i / 3_600_000 % 24,
            i / 60_000 % 60,
            i / 1000 % 60,
            i % 1_000_000,
            700 + i % 9000,
            1000 + i % 1500,
            i.wrapping_mul(2_654_435_761) % 0xffff_ffff,
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        i += 1;
    }
    out.flush()?;
    Ok(())
}

//! A program for plugins to run in the sandbox tests, reporting what the
//! host gave it:
//!
//!   nodelogd-probe trickle LINES MS   a numbered line every MS milliseconds
//!   nodelogd-probe fds                its open descriptors, `N -> target`
//!   nodelogd-probe group              `pid P group G`
//!   nodelogd-probe grandchild SECS    starts `sleep SECS`, then waits

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut out = std::io::stdout().lock();
    match args.as_slice() {
        ["trickle", lines, ms] => {
            let every = Duration::from_millis(ms.parse().context("MS")?);
            for n in 0..lines.parse::<u32>().context("LINES")? {
                writeln!(out, "line {n}")?;
                out.flush()?;
                std::thread::sleep(every);
            }
        }
        ["fds"] => {
            for entry in std::fs::read_dir("/proc/self/fd")? {
                let path = entry?.path();
                let target = std::fs::read_link(&path).unwrap_or_default();
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                writeln!(out, "{name} -> {}", target.display())?;
            }
        }
        ["group"] => {
            let stat = std::fs::read_to_string("/proc/self/stat")?;
            // pid (comm) state ppid pgrp ...; comm may hold spaces.
            let rest: Vec<&str> = stat
                .rsplit_once(')')
                .context("stat")?
                .1
                .split(' ')
                .collect();
            writeln!(out, "pid {} group {}", std::process::id(), rest[3])?;
        }
        ["grandchild", secs] => {
            let mut sleep = std::process::Command::new("sleep").arg(secs).spawn()?;
            writeln!(out, "started")?;
            out.flush()?;
            sleep.wait()?;
        }
        _ => bail!("usage: see the source"),
    }
    Ok(())
}

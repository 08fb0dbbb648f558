//! `jread` prints what `journalctl --utc --no-pager -o short-precise` would,
//! for the subset of journalctl's arguments the reader supports:
//!
//!   jread --directory=DIR [--unit=U]... [--boot N] [--since=@SECS[.US]]
//!         [--until=@SECS[.US]] [--grep=RE] [--case-sensitive=BOOL]
//!         [--lines=N] [--pager-end] [--reverse]
//!
//! For the benchmark and for trying the reader by hand. Exit status 2 means
//! "unsupported: use journalctl".

use std::io::Write;
use std::path::PathBuf;

use nodelogd_journal::{Error, Journal, Query};

fn instant(v: &str) -> Result<u64, String> {
    let v = v.strip_prefix('@').ok_or("times are @SECONDS[.MICROS]")?;
    let (secs, frac) = v.split_once('.').unwrap_or((v, "0"));
    let secs: u64 = secs.parse().map_err(|e| format!("{v}: {e}"))?;
    let frac = format!("{frac:0<6}");
    let micros: u64 = frac[..6].parse().map_err(|e| format!("{v}: {e}"))?;
    Ok(secs * 1_000_000 + micros)
}

fn parse(args: &[String]) -> Result<(Vec<PathBuf>, Query), String> {
    let mut dirs = Vec::new();
    let mut q = Query::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (a.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{name} needs a value"))
        };
        match name {
            "--directory" | "-D" => dirs.push(PathBuf::from(value()?)),
            "--unit" | "-u" => q.units.push(value()?),
            "--boot" | "-b" => q.boot = Some(value()?.parse().map_err(|e| format!("--boot: {e}"))?),
            "--since" | "-S" => q.since = Some(instant(&value()?)?),
            "--until" | "-U" => q.until = Some(instant(&value()?)?),
            "--grep" | "-g" => q.pattern = Some(value()?),
            "--case-sensitive" => q.case_sensitive = Some(value()? != "false"),
            "--lines" | "-n" => {
                q.lines = Some(value()?.parse().map_err(|e| format!("--lines: {e}"))?)
            }
            "--pager-end" | "-e" => q.pager_end = true,
            "--reverse" | "-r" => q.reverse = true,
            "--utc" | "--no-pager" | "--output=short-precise" => {}
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    Ok((dirs, q))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (dirs, q) = match parse(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("jread: {e}");
            std::process::exit(1);
        }
    };
    let result = Journal::open(&dirs).and_then(|j| {
        let mut entries = j.query(&q)?;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let mut buf = Vec::with_capacity(1 << 17);
        loop {
            buf.clear();
            let more = entries.fill(&mut buf, 1 << 16)?;
            if out.write_all(&buf).is_err() {
                return Ok(());
            }
            if !more {
                return Ok(());
            }
        }
    });
    if let Err(e) = result {
        eprintln!("jread: {e}");
        std::process::exit(if matches!(e, Error::Unsupported(_)) {
            2
        } else {
            1
        });
    }
}

//! The native journal reader (`nodelogd-journal`) against the real
//! journalctl over the same files, byte for byte: the edge-case journal in
//! all four layouts, every kubelet query shape, a seeded differential run,
//! and a truncated file. Before this crate there was no native reader:
//! every test here pins one of journalctl's rules the reader must follow.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nodelogd_journal::{Error, Journal, Query};
use nodelogd_tests::edge_journal::{self, LAYOUTS, T0};

const HOUR: u64 = 3_600_000_000;
const DAY: u64 = 24 * HOUR;
const START: u64 = T0 * 1_000_000;

/// One directory per layout, built once per test run.
fn layouts() -> &'static [PathBuf] {
    static DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-journal");
        let _ = std::fs::remove_dir_all(&root);
        LAYOUTS
            .iter()
            .map(|l| {
                let dir = root.join(format!("compact{}-keyed{}", l.compact, l.keyed));
                edge_journal::build(&dir, *l).expect("building the edge journal");
                dir
            })
            .collect()
    })
}

fn instant(usec: u64) -> String {
    format!("@{}.{:06}", usec / 1_000_000, usec % 1_000_000)
}

/// journalctl's arguments for `q`, in the kubelet's order.
fn args(q: &Query) -> Vec<String> {
    let mut a = vec![
        "--utc".into(),
        "--no-pager".into(),
        "--output=short-precise".into(),
    ];
    if let Some(t) = q.since {
        a.push(format!("--since={}", instant(t)));
    }
    if let Some(t) = q.until {
        a.push(format!("--until={}", instant(t)));
    }
    if q.pager_end {
        a.push("--pager-end".into());
    }
    if let Some(n) = q.lines {
        a.push(format!("--lines={n}"));
    }
    a.extend(q.units.iter().map(|u| format!("--unit={u}")));
    if let Some(p) = &q.pattern {
        a.push(format!("--grep={p}"));
    }
    if let Some(c) = q.case_sensitive {
        a.push(format!("--case-sensitive={c}"));
    }
    if let Some(b) = q.boot {
        a.push("--boot".into());
        a.push(b.to_string());
    }
    if q.reverse {
        a.push("--reverse".into());
    }
    a
}

/// journalctl's stdout, or None when it fails before printing anything
/// (it also exits 1 when `--grep` matched nothing, after printing).
fn journalctl(dir: &Path, q: &Query) -> Option<Vec<u8>> {
    let out = Command::new("journalctl")
        .arg(format!("--directory={}", dir.display()))
        .args(args(q))
        .env_clear()
        .env("LANG", "C")
        .output()
        .expect("running journalctl");
    (out.status.success() || !out.stdout.is_empty()).then_some(out.stdout)
}

fn native(dir: &Path, q: &Query) -> Result<Vec<u8>, Error> {
    let journal = Journal::open(&[dir.to_owned()])?;
    let mut entries = journal.query(q)?;
    let mut out = Vec::new();
    // Small batches, so that the batch boundaries are exercised too.
    loop {
        let want = out.len() + 4096;
        if !entries.fill(&mut out, want)? {
            break;
        }
    }
    Ok(out)
}

#[track_caller]
fn same(dir: &Path, q: &Query) {
    let want = journalctl(dir, q);
    let got = native(dir, q);
    match (want, got) {
        (None, Err(Error::NoSuchBoot(_) | Error::SinceAfterUntil)) => {}
        (Some(want), Ok(got)) if want == got => {}
        (Some(want), Ok(got)) => {
            let at = want
                .iter()
                .zip(&got)
                .position(|(a, b)| a != b)
                .unwrap_or(want.len().min(got.len()));
            let around = |b: &[u8]| {
                String::from_utf8_lossy(&b[at.saturating_sub(120)..(at + 120).min(b.len())])
                    .into_owned()
            };
            panic!(
                "{dir:?} {:?}: {} bytes native, {} from journalctl; first difference at {at}:\n  native:     {:?}\n  journalctl: {:?}",
                args(q),
                got.len(),
                want.len(),
                around(&got),
                around(&want)
            );
        }
        (want, got) => panic!(
            "{dir:?} {:?}: journalctl {}, native {:?}",
            args(q),
            if want.is_some() {
                "succeeded"
            } else {
                "failed"
            },
            got.map(|g| g.len())
        ),
    }
}

fn units(u: &[&str]) -> Vec<String> {
    u.iter().map(|s| s.to_string()).collect()
}

/// The query shapes the kubelet produces, and journalctl's own corners.
fn shapes() -> Vec<Query> {
    let q = Query::default;
    let kubelet = || Query {
        units: units(&["kubelet"]),
        ..q()
    };
    let mut v = vec![
        q(),
        kubelet(),
        Query {
            units: units(&["kubelet.service", "sshd"]),
            ..q()
        },
        Query {
            units: units(&["nosuch"]),
            ..q()
        },
        Query {
            units: units(&["user.slice"]),
            ..q()
        },
        Query {
            pattern: Some("error".into()),
            ..q()
        },
        Query {
            pattern: Some("ERROR".into()),
            ..kubelet()
        },
        Query {
            pattern: Some("FAILED|Process [0-9]+".into()),
            ..q()
        },
        Query {
            pattern: Some("\u{c9}t".into()),
            ..q()
        },
        Query {
            pattern: Some("kelvin".into()),
            ..q()
        },
        Query {
            pattern: Some("error".into()),
            case_sensitive: Some(true),
            ..q()
        },
        Query {
            pattern: Some("compressible".into()),
            ..kubelet()
        },
        Query {
            boot: Some(0),
            ..kubelet()
        },
        Query {
            boot: Some(-1),
            ..q()
        },
        Query {
            boot: Some(-2),
            units: units(&["containerd"]),
            ..q()
        },
        Query {
            boot: Some(-3),
            ..q()
        },
        Query {
            since: Some(START + DAY + 10 * HOUR),
            ..kubelet()
        },
        Query {
            until: Some(START + DAY),
            ..kubelet()
        },
        Query {
            since: Some(START + 2 * DAY),
            until: Some(START + 2 * DAY + 2 * HOUR),
            ..q()
        },
        Query {
            since: Some(START + 5 * HOUR),
            until: Some(START + 6 * HOUR),
            pattern: Some("error".into()),
            ..kubelet()
        },
    ];
    // The kubelet's tailLines is `--pager-end --lines=N`, which in systemd
    // 252 also means `--boot 0` unless a boot is given.
    for pager_end in [true, false] {
        for n in [0, 1, 5, 100, 1000] {
            v.push(Query {
                lines: Some(n),
                pager_end,
                ..kubelet()
            });
            v.push(Query {
                lines: Some(n),
                pager_end,
                pattern: Some("error".into()),
                ..kubelet()
            });
        }
        v.push(Query {
            lines: Some(10),
            pager_end,
            since: Some(START + 2 * HOUR),
            ..kubelet()
        });
        v.push(Query {
            lines: Some(10),
            pager_end,
            until: Some(START + DAY),
            ..kubelet()
        });
        v.push(Query {
            lines: Some(10),
            pager_end,
            until: Some(START + DAY),
            pattern: Some("error".into()),
            ..kubelet()
        });
        v.push(Query {
            lines: Some(10),
            pager_end,
            since: Some(START + 2 * HOUR),
            pattern: Some("error".into()),
            ..q()
        });
        v.push(Query {
            lines: Some(20),
            pager_end,
            boot: Some(-1),
            ..q()
        });
        v.push(Query {
            lines: Some(200),
            pager_end,
            units: units(&["user.slice"]),
            ..q()
        });
    }
    v.push(Query {
        pager_end: true,
        ..kubelet()
    });
    v.push(Query {
        reverse: true,
        ..kubelet()
    });
    v
}

#[test]
fn native_reader_matches_journalctl_in_every_layout() {
    // One thread per layout: most of the time is spent waiting for
    // journalctl.
    std::thread::scope(|s| {
        for dir in layouts() {
            s.spawn(move || {
                for q in shapes() {
                    same(dir, &q);
                }
            });
        }
    });
}

/// xorshift64*, seeded: the same queries on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[test]
fn native_reader_matches_journalctl_on_random_queries() {
    const UNITS: [&str; 7] = [
        "kubelet",
        "containerd",
        "kube-proxy.service",
        "sshd",
        "nosuch",
        "user.slice",
        "kubelet.service",
    ];
    const PATTERNS: [&str; 7] = [
        "error",
        "Error",
        "sync",
        "pod=web-0",
        "E0[0-9]+ ",
        "^I0",
        "line|tabs",
    ];
    let mut rng = Rng(0x5eed);
    let dirs = layouts();
    let span = 3 * DAY;
    for i in 0..160 {
        let mut q = Query::default();
        for _ in 0..rng.below(3) {
            q.units
                .push(UNITS[rng.below(UNITS.len() as u64) as usize].into());
        }
        if rng.below(4) == 0 {
            q.boot = Some(-(rng.below(4) as i32));
        }
        if rng.below(3) == 0 {
            q.since = Some(START + rng.below(span));
        }
        if rng.below(3) == 0 {
            q.until = Some(START + rng.below(span));
        }
        if rng.below(3) == 0 {
            q.pattern = Some(PATTERNS[rng.below(PATTERNS.len() as u64) as usize].into());
        }
        if rng.below(2) == 0 {
            q.lines = Some([0, 1, 3, 10, 50, 200][rng.below(6) as usize]);
            q.pager_end = rng.below(2) == 0;
        }
        same(&dirs[i % dirs.len()], &q);
    }
}

/// A file cut short: journalctl ignores it, and so must the reader.
#[test]
fn native_reader_skips_a_truncated_file_as_journalctl_does() {
    let src = &layouts()[0];
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("native-journal-truncated");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["a.journal", "b.journal", "c.journal~"] {
        std::fs::copy(src.join(name), dir.join(name)).unwrap();
    }
    let b = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("b.journal"))
        .unwrap();
    let len = b.metadata().unwrap().len();
    b.set_len(len / 2).unwrap();
    let journal = Journal::open(std::slice::from_ref(&dir)).unwrap();
    assert_eq!(
        journal.skipped_files().len(),
        1,
        "{:?}",
        journal.skipped_files()
    );
    for q in [
        Query::default(),
        Query {
            units: units(&["kubelet"]),
            ..Query::default()
        },
        Query {
            lines: Some(30),
            ..Query::default()
        },
        Query {
            boot: Some(0),
            pattern: Some("error".into()),
            ..Query::default()
        },
    ] {
        same(&dir, &q);
    }
}

/// The `-u` check behind `serves` (`journalctl --field=_SYSTEMD_UNIT`) as
/// the native field-values lookup answers it, in all four layouts: the
/// same set of values, through the field hash table and data chains.
#[test]
fn field_values_are_journalctls() {
    for dir in layouts() {
        let out = Command::new("journalctl")
            .arg(format!("--directory={}", dir.display()))
            .arg("--field=_SYSTEMD_UNIT")
            .output()
            .expect("running journalctl");
        let mut want: Vec<Vec<u8>> = out
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        let journal = Journal::open(std::slice::from_ref(dir)).unwrap();
        let mut got = journal.field_values("_SYSTEMD_UNIT", 1 << 20).unwrap();
        want.sort();
        got.sort();
        assert!(
            !got.is_empty() && got == want,
            "{dir:?}: {got:?} vs {want:?}"
        );
        assert!(
            journal
                .field_values("NO_SUCH_FIELD", 1 << 20)
                .unwrap()
                .is_empty()
        );
    }
}

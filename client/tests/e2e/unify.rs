//! `--unify` against real nodelogd processes.

use crate::support::{node, node_logs};

/// An entry of journalctl's short-precise output: its stamped line and the
/// continuation lines after it.
fn entries(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let stamped = line.starts_with("Nov ") || line.starts_with("Dec ");
        match out.last_mut() {
            Some(e) if !stamped => {
                e.push_str(line);
                e.push('\n');
            }
            _ => out.push(format!("{line}\n")),
        }
    }
    out
}

/// Pins: two journals whose entries interleave in time come out as one
/// stream in time order, each multi-line entry whole, nothing lost.
/// Within one month `short-precise` stamps compare as text, so the
/// expectation is a stable sort of both nodes' entries.
#[test]
fn journals_interleave_by_time() {
    let n1 = node("unify-j1", 41, &[]);
    let n2 = node("unify-j2", 42, &[]);
    let query = [
        "-Q",
        "kubelet",
        "-Q",
        "containerd",
        "--since-time",
        "2024-11-22T00:00:00Z",
        "--until-time",
        "2024-11-22T12:00:00Z",
    ];
    let own = |url: &str| {
        let out = node_logs(&[&["--server", url][..], &query].concat());
        assert_eq!(out.code, 0, "{out:?}");
        entries(&out.stdout)
    };
    let (e1, e2) = (own(&n1.url()), own(&n2.url()));
    assert!(
        e1.iter().any(|e| e.lines().count() > 1),
        "the journal has multi-line entries"
    );
    let mut want: Vec<&String> = e1.iter().chain(&e2).collect();
    want.sort_by_key(|e| &e[..22]);
    let want: String = want.into_iter().map(String::as_str).collect();

    let out = node_logs(
        &[
            &[
                "--unify",
                "--raw",
                "--server",
                &n1.url(),
                "--server",
                &n2.url(),
            ][..],
            &query,
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, want);

    // With prefixes, every line of an entry carries its node's.
    let prefixed = node_logs(
        &[
            &[
                "--unify",
                "--server",
                &format!("a={}", n1.url()),
                "--server",
                &format!("b={}", n2.url()),
            ][..],
            &query,
        ]
        .concat(),
    );
    let stripped: String = prefixed
        .stdout
        .lines()
        .map(|l| format!("{}\n", l.split_once(' ').unwrap().1))
        .collect();
    assert_eq!(stripped, want);
}

/// Pins: across month and year boundaries (Nov 30 → Dec 1, Dec 31 → Jan 1)
/// the order is by time, where text order puts "Dec 01" before "Nov 30"
/// and "I0101" first; journal and klog stamps interleave; continuation lines
/// stay with their entry.
#[test]
fn month_and_year_boundaries() {
    let journal_form = "\
Nov 30 23:59:58.000000 a 1
Nov 30 23:59:59.500000 a 3
Dec 01 00:00:00.200000 a 5
  a 5 continued
Dec 31 23:59:59.900000 a 8
Jan 01 00:00:00.300000 a 10
";
    let klog_form = "\
I1130 23:59:59.000000       7 b.go:1] 2
I1201 00:00:00.100000       7 b.go:1] 4
W1201 00:00:01.000000       7 b.go:1] 6
I1231 23:59:59.800000       7 b.go:1] 7
E0101 00:00:00.200000       7 b.go:1] 9
";
    let a = node("unify-m1", 51, &[("app.log", journal_form.as_bytes())]);
    let b = node("unify-m2", 52, &[("app.log", klog_form.as_bytes())]);
    let out = node_logs(&[
        "--unify",
        "--raw",
        "--server",
        &a.url(),
        "--server",
        &b.url(),
        "--path",
        "app.log",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let order: Vec<&str> = out
        .lines()
        .into_iter()
        .filter_map(|l| l.rsplit(' ').next())
        .collect();
    assert_eq!(
        order,
        [
            "1",
            "2",
            "3",
            "4",
            "5",
            "continued",
            "6",
            "7",
            "8",
            "9",
            "10"
        ],
        "{}",
        out.stdout
    );
}

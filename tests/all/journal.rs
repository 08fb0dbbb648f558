//! Service queries answered by the journald plugin, compared byte for byte
//! with journalctl run directly with the kubelet's arguments. Times in the
//! expectations are written `YYYY-MM-DD HH:MM:SS UTC`, independently of how
//! nodelogd passes them.

use std::io::Read;

use nodelogd_tests::http;
use nodelogd_tests::journal::T0;

use crate::fixture;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn utc(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S UTC")
        .to_string()
}

/// The answer to `query`, the same from both journal readers (the native
/// one without journalctl to fall back on, so it must answer itself).
fn logs(query: &str) -> http::Response {
    let mut answers = fixture().reader_addrs().iter().map(|(reader, addr)| {
        let resp = http::get(*addr, &format!("/logs/?{query}"));
        assert_eq!(resp.status, 200, "{reader}: {query}: {}", resp.text());
        assert_eq!(
            resp.header("content-type"),
            Some("text/plain;charset=UTF-8")
        );
        (reader, resp)
    });
    let (_, first) = answers.next().unwrap();
    for (reader, resp) in answers {
        same(
            &format!("{query} ({reader} reader)"),
            &resp.body,
            &first.body,
        );
    }
    first
}

#[track_caller]
fn same(query: &str, got: &[u8], want: &[u8]) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let around = |b: &[u8]| {
            String::from_utf8_lossy(&b[at.saturating_sub(80)..(at + 80).min(b.len())]).into_owned()
        };
        panic!(
            "{query}: {} bytes from nodelogd, {} from journalctl; first difference at {at}:\n  got:  {:?}\n  want: {:?}",
            got.len(),
            want.len(),
            around(got),
            around(want)
        );
    }
}

/// nodelogd's body for `query` equals journalctl's output for `args`.
#[track_caller]
fn check(query: &str, args: &[&str]) -> Vec<u8> {
    let got = logs(query).body;
    same(query, &got, &fixture().kubelet_journalctl(args));
    got
}

/// The last `n` entries of journalctl's short-precise output, in order.
/// An entry is its first line plus the indented lines of a multi-line
/// message; `-- Boot … --` separators only stand between entries shown.
fn last_entries(output: &[u8], n: usize) -> Vec<u8> {
    let text = String::from_utf8(output.to_vec()).unwrap();
    let mut entries: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with(' ') {
            entries
                .last_mut()
                .expect("a continuation follows an entry")
                .push_str(line);
        } else {
            entries.push(line.to_string());
        }
    }
    let mut tail: Vec<String> = entries.into_iter().rev().take(n).collect();
    tail.reverse();
    while tail.first().is_some_and(|e| e.starts_with("-- ")) {
        tail.remove(0);
    }
    assert_eq!(
        tail.len(),
        n,
        "the fixture must have more than {n} entries here"
    );
    tail.concat().into_bytes()
}

#[test]
fn one_service() {
    let body = check("query=kubelet", &["--unit=kubelet"]);
    assert!(body.len() > 1 << 20, "the fixture's kubelet log is large");
}

#[test]
fn tail_lines() {
    let body = check(
        "query=kubelet&tailLines=3",
        &["--pager-end", "--lines=3", "--unit=kubelet"],
    );
    assert_eq!(
        String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| !l.starts_with(' '))
            .count(),
        3
    );
    let body = check(
        "query=kubelet&tailLines=0",
        &["--pager-end", "--lines=0", "--unit=kubelet"],
    );
    assert_eq!(body, b"-- No entries --\n");
}

#[test]
fn pattern_is_smart_case() {
    let lower = check(
        "query=kubelet&pattern=error",
        &["--unit=kubelet", "--grep=error"],
    );
    let lower = String::from_utf8_lossy(&lower);
    assert!(
        lower.contains("error syncing")
            && lower.contains("Error syncing")
            && lower.contains("ERROR syncing")
    );
    let mixed = check(
        "query=kubelet&pattern=Error",
        &["--unit=kubelet", "--grep=Error"],
    );
    let mixed = String::from_utf8_lossy(&mixed);
    assert!(mixed.contains("Error syncing") && !mixed.contains("ERROR syncing"));
    check(
        "query=kubelet&pattern=(?i)deadline%20exceeded%22%20seq%3D1%5B0-9%5D",
        &[
            "--unit=kubelet",
            "--grep=(?i)deadline exceeded\" seq=1[0-9]",
        ],
    );
}

#[test]
fn boots() {
    for boot in ["0", "-1", "-2"] {
        let body = check(
            &format!("query=kubelet&boot={boot}"),
            &["--unit=kubelet", "--boot", boot],
        );
        assert!(
            !body.is_empty() && !body.starts_with(b"-- No entries"),
            "boot {boot}"
        );
    }
    assert_ne!(
        logs("query=kubelet&boot=0").body,
        logs("query=kubelet&boot=-1").body
    );
}

#[test]
fn since_until_and_window() {
    let since = T0 + DAY + 6 * HOUR;
    let until = since + HOUR;
    let body = check(
        &format!("query=kubelet&sinceTime={}", rfc3339(since)),
        &["--unit=kubelet", &format!("--since={}", utc(since))],
    );
    assert!(
        body.starts_with(b"Nov 23 06:"),
        "{}",
        String::from_utf8_lossy(&body[..40])
    );
    // The kubelet builds --until from sinceTime (and crashes on untilTime
    // alone); nodelogd uses untilTime.
    let body = check(
        &format!("query=kubelet&untilTime={}", rfc3339(T0 + 6 * HOUR)),
        &["--unit=kubelet", &format!("--until={}", utc(T0 + 6 * HOUR))],
    );
    assert!(
        body.starts_with(b"Nov 22 00:") && !String::from_utf8_lossy(&body).contains("Nov 22 06:0")
    );
    let body = check(
        &format!(
            "query=kubelet&sinceTime={}&untilTime={}",
            rfc3339(since),
            rfc3339(until)
        ),
        &[
            "--unit=kubelet",
            &format!("--since={}", utc(since)),
            &format!("--until={}", utc(until)),
        ],
    );
    assert!(body.len() > 1000 && body.starts_with(b"Nov 23 06:"));
}

#[test]
fn offsets_in_times_are_honoured() {
    let since = T0 + DAY + 6 * HOUR;
    // 08:00+02:00 is 06:00Z; `+` must travel as %2B.
    let plus_two = "2024-11-23T08:00:00%2B02:00";
    check(
        &format!("query=kubelet&sinceTime={plus_two}"),
        &["--unit=kubelet", &format!("--since={}", utc(since))],
    );
}

#[test]
fn two_services() {
    let body = check(
        "query=kubelet&query=sshd",
        &["--unit=kubelet", "--unit=sshd"],
    );
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(" kubelet[") && text.contains(" sshd["));
}

#[test]
fn tail_with_window_is_the_last_entries_in_order() {
    let (since, until) = (T0 + DAY + 6 * HOUR, T0 + DAY + 9 * HOUR);
    let window = [
        &format!("--since={}", utc(since)),
        &format!("--until={}", utc(until)),
    ];
    let full = fixture().kubelet_journalctl(&["--unit=kubelet", window[0], window[1]]);
    let q = format!(
        "query=kubelet&sinceTime={}&untilTime={}&tailLines=4",
        rfc3339(since),
        rfc3339(until)
    );
    same(&q, &logs(&q).body, &last_entries(&full, 4));

    let full = fixture().kubelet_journalctl(&["--unit=kubelet", window[1]]);
    let q = format!("query=kubelet&untilTime={}&tailLines=3", rfc3339(until));
    same(&q, &logs(&q).body, &last_entries(&full, 3));

    let full = fixture().kubelet_journalctl(&["--unit=kubelet", window[0]]);
    let q = format!("query=kubelet&sinceTime={}&tailLines=5", rfc3339(since));
    same(&q, &logs(&q).body, &last_entries(&full, 5));
}

#[test]
fn tail_with_pattern_is_the_last_matches_in_order() {
    let full = fixture().kubelet_journalctl(&["--unit=kubelet", "--grep=error"]);
    same(
        "tail+pattern",
        &logs("query=kubelet&pattern=error&tailLines=6").body,
        &last_entries(&full, 6),
    );
    let full = fixture().kubelet_journalctl(&["--unit=kubelet", "--grep=error", "--boot", "-1"]);
    same(
        "tail+pattern+boot",
        &logs("query=kubelet&pattern=error&boot=-1&tailLines=2").body,
        &last_entries(&full, 2),
    );
}

#[test]
fn tail_larger_than_the_matches_returns_them_all() {
    let (since, until) = (T0 + DAY + 6 * HOUR, T0 + DAY + 6 * HOUR + 300);
    let args = [
        "--unit=kubelet",
        &format!("--since={}", utc(since)),
        &format!("--until={}", utc(until)),
    ];
    let q = format!(
        "query=kubelet&sinceTime={}&untilTime={}&tailLines=100000",
        rfc3339(since),
        rfc3339(until)
    );
    same(&q, &logs(&q).body, &fixture().kubelet_journalctl(&args));
    // No match at all: journalctl's own answer without a tail (systemd 252
    // still prints its boot separators there).
    let q = "query=kubelet&pattern=no%20such%20text&tailLines=3";
    same(
        q,
        &logs(q).body,
        &fixture().kubelet_journalctl(&["--unit=kubelet", "--grep=no such text"]),
    );
}

#[test]
fn journalctl_errors_reach_the_body() {
    let body = check("query=kubelet&boot=-7", &["--unit=kubelet", "--boot", "-7"]);
    assert!(
        String::from_utf8_lossy(&body).contains("No such boot ID"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}

#[test]
fn native_detection_matches_the_kubelet() {
    // A substring of a known unit counts as native, as upstream...
    check("query=let", &["--unit=let"]);
    // ...and a name with its `.service` suffix falls back to files.
    assert_eq!(
        logs("query=kubelet.service").text(),
        "\nlog not found for kubelet.service\n"
    );
}

#[test]
fn gzip_only_for_exactly_gzip() {
    let want = fixture().kubelet_journalctl(&["--pager-end", "--lines=50", "--unit=containerd"]);
    let target = "/logs/?query=containerd&tailLines=50";
    let native = fixture().reader_addrs()[0].1;
    let resp = http::request(native, "GET", target, &[("Accept-Encoding", "gzip")]);
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&resp.body[..])
        .read_to_end(&mut plain)
        .unwrap();
    same("gzip", &plain, &want);
    let resp = http::request(
        native,
        "GET",
        target,
        &[("Accept-Encoding", "gzip, deflate")],
    );
    assert_eq!(resp.header("content-encoding"), None);
    same("gzip, deflate", &resp.body, &want);
}

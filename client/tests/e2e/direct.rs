//! Direct mode (`--server`) against real nodelogd processes.

use std::collections::BTreeSet;
use std::io::Write;

use crate::support::{closed_port, node, node_logs};

/// Pins: prefixes only when several nodes are asked, none with --raw or one
/// node; each node's output is its own answer, whole lines, in its order.
#[test]
fn prefixes_raw_and_one_node() {
    let n1 = node("direct-p1", 11, &[]);
    let n2 = node("direct-p2", 12, &[]);
    let query = ["-Q", "kubelet", "--tail", "4"];
    let alone = |n: &crate::support::TestNode| {
        let out = node_logs(&[&["--server", &n.url()][..], &query].concat());
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stdout.lines().count() >= 4, "{out:?}");
        out.stdout
    };
    let (own1, own2) = (alone(&n1), alone(&n2));
    assert!(
        own1.starts_with(char::is_alphabetic),
        "no prefix for one node: {own1}"
    );

    let s1 = format!("n1={}", n1.url());
    let s2 = format!("n2={}", n2.url());
    let both = node_logs(&[&["--server", &s1, "--server", &s2][..], &query].concat());
    assert_eq!(both.code, 0, "{both:?}");
    let of = |prefix: &str| -> String {
        both.lines()
            .iter()
            .filter_map(|l| l.strip_prefix(prefix))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(of("n1 "), own1);
    assert_eq!(of("n2 "), own2);
    assert_eq!(
        both.lines().len(),
        own1.lines().count() + own2.lines().count()
    );

    // --raw: the same lines, no prefixes; unnamed servers are named host:port.
    let raw = node_logs(
        &[
            &["--raw", "--server", &n1.url(), "--server", &n2.url()][..],
            &query,
        ]
        .concat(),
    );
    assert_eq!(raw.code, 0, "{raw:?}");
    let got: BTreeSet<&str> = raw.lines().into_iter().collect();
    let want: BTreeSet<&str> = own1.lines().chain(own2.lines()).collect();
    assert_eq!(got, want);
    let unnamed =
        node_logs(&[&["--server", &n1.url(), "--server", &n2.url()][..], &query].concat());
    assert!(
        unnamed.stdout.starts_with(&format!("{} ", n1.addr))
            || unnamed.stdout.starts_with(&format!("{} ", n2.addr))
    );
}

/// Pins: a node that is down or answers 406 gets one stderr line with its
/// name and the server's message, the others still print, exit status 1.
#[test]
fn failures_are_one_line_each_and_others_continue() {
    let ok = node("direct-f1", 21, &[("app.log", b"one\ntwo\n")]);
    let refusing = node("direct-f2", 22, &[]);
    let down = closed_port();
    let out = node_logs(&[
        "--server",
        &format!("ok={}", ok.url()),
        "--server",
        &format!("refusing={}", refusing.url()),
        "--server",
        &format!("down=http://{down}"),
        "-Q",
        "/app.log",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout, "ok one\nok two\n");
    let errors: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(errors.len(), 2, "{out:?}");
    let missing = refusing.log_dir.join("app.log");
    assert!(errors.contains(&&*format!(
        "error: refusing: 406 Not Acceptable: query: Invalid value: [\"/app.log\"]: stat {}: no such file or directory",
        missing.display()
    )), "{out:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("error: down: ") && e.contains("onnection refused")),
        "{out:?}"
    );
}

/// Pins: `--path` prints a directory listing one entry per line (names
/// unescaped), a file as it is, and a gzip file decompressed.
#[test]
fn path_listing_file_and_gzip() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"rotated 1\nrotated 2\n").unwrap();
    let gz = gz.finish().unwrap();
    let n = node(
        "direct-path",
        31,
        &[
            ("syslog", b"a\nb\n"),
            ("syslog.2.gz", &gz),
            ("pods/web_default_1/app/0.log", b"x\n"),
            ("a b&<c>.log", b""),
        ],
    );
    let path = |p: &str| node_logs(&["--server", &n.url(), "--path", p]);
    let root = path("/");
    assert_eq!(root.code, 0, "{root:?}");
    assert_eq!(root.stdout, "a b&<c>.log\npods/\nsyslog\nsyslog.2.gz\n");
    assert_eq!(path("pods/").stdout, "web_default_1/\n");
    assert_eq!(path("syslog").stdout, "a\nb\n");
    assert_eq!(path("syslog.2.gz").stdout, "rotated 1\nrotated 2\n");
    let missing = path("nope");
    assert_eq!(
        (missing.code, missing.stderr.trim()),
        (
            1,
            "error: 127.0.0.1: 404 Not Found: 404 page not found"
                .replace("127.0.0.1", &n.addr.to_string())
                .as_str()
        )
    );
}

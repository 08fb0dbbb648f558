//! Streaming behaviour with real journalctl processes: a client that leaves
//! mid-stream, and the deadline. Each test serves the journal through a
//! symlink of its own, so its journalctl processes are told apart from
//! every other test's by their `--directory=` argument.

use std::io::Read;
use std::time::{Duration, Instant};

use nodelogd::cli::{JournalReader, ServeArgs};
use nodelogd_tests::{http, procs};

use crate::fixture;

/// Every unit: several MB, more than socket buffers hold.
pub(crate) const EVERYTHING: &str =
    "/logs/?query=kubelet&query=containerd&query=kube-proxy&query=sshd";

#[test]
fn a_client_that_disconnects_leaves_no_journalctl_behind() {
    let (link, needle) = fixture().own_journal("journal-disconnect");
    let addr = fixture().serve(ServeArgs {
        journal_dir: Some(link),
        // The subject is the journalctl process (native_journal_http.rs
        // pins the same for the native reader).
        journal_reader: Some(JournalReader::Journalctl),
        ..Default::default()
    });
    let mut socket = http::send(addr, "GET", EVERYTHING, &[]);
    let mut first = [0u8; 4096];
    socket.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));
    assert!(
        !procs::matching(&needle).is_empty(),
        "journalctl is still producing (backpressure holds it)"
    );
    drop(socket);
    assert!(
        procs::gone_within(&needle, Duration::from_secs(1)),
        "journalctl outlived its client: {:?}",
        procs::matching(&needle)
    );
}

#[test]
fn the_deadline_ends_output_and_the_process() {
    let (link, needle) = fixture().own_journal("journal-deadline");
    let args = ServeArgs {
        journal_dir: Some(link),
        // The subject is the journalctl process (native_journal_http.rs
        // pins the same for the native reader).
        journal_reader: Some(JournalReader::Journalctl),
        deadline_seconds: Some(3),
        ..Default::default()
    };
    let addr = fixture().serve(args);
    let started = Instant::now();
    let mut socket = http::send(addr, "GET", EVERYTHING, &[]);
    // Do not read: the stalled client holds journalctl until the deadline.
    // The query's journalctl, not the short "is it a journald unit" one.
    assert!(
        procs::running_within(&[&needle, "--unit=sshd"], Duration::from_millis(2500)),
        "journalctl runs while the client stalls"
    );
    assert!(
        procs::gone_within(&needle, Duration::from_secs(5)),
        "journalctl outlived the deadline"
    );
    assert!(started.elapsed() >= Duration::from_secs(3));
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).unwrap();
    let resp = http::parse(&raw);
    assert_eq!(resp.status, 200);
    let full = fixture().kubelet_journalctl(&[
        "--unit=kubelet",
        "--unit=containerd",
        "--unit=kube-proxy",
        "--unit=sshd",
    ]);
    assert!(
        resp.body.len() < full.len(),
        "the output was cut at the deadline"
    );
    assert!(
        full.starts_with(&resp.body),
        "what was sent is journalctl's output, cut short"
    );
}

#[test]
fn a_slow_reader_gets_everything_in_order() {
    let mut socket = http::send(fixture().addr, "GET", "/logs/?query=containerd", &[]);
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        let n = socket.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        if raw.len() < 512 << 10 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(
        http::parse(&raw).body,
        fixture().kubelet_journalctl(&["--unit=containerd"])
    );
}

//! The native journal reader behind the journald plugin, over HTTP, where
//! journalctl's process gave the guarantees before: a client that leaves
//! stops the reader, a file appended to or rotated away while a query
//! streams still gives journalctl's bytes, and what the reader cannot do
//! falls back to journalctl.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nodelogd::cli::{JournalReader, ServeArgs};
use nodelogd_tests::http;
use nodelogd_tests::journal::{Writer, write_export};

use crate::fixture;
use crate::streaming::EVERYTHING;

const KUBELET_ARGS: [&str; 3] = ["--utc", "--no-pager", "--output=short-precise"];

/// What journalctl prints for every unit of the fixture over `dir`.
fn journalctl_everything(dir: &Path) -> Vec<u8> {
    let out = Command::new("journalctl")
        .arg(format!("--directory={}", dir.display()))
        .args(KUBELET_ARGS)
        .args([
            "--unit=kubelet",
            "--unit=containerd",
            "--unit=kube-proxy",
            "--unit=sshd",
        ])
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A fresh directory under the fixture's base.
fn scratch(name: &str) -> PathBuf {
    let dir = fixture().base.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The fixture's journal files, hard-linked into `dir`: the same data
/// under a path of its own, so this test's mappings can be told apart.
fn linked_journal(name: &str) -> PathBuf {
    let dir = scratch(name);
    for entry in std::fs::read_dir(&fixture().journal_dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::hard_link(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir
}

fn serve_native(dir: &Path, deadline: u64) -> SocketAddr {
    fixture().serve(ServeArgs {
        journal_dir: Some(dir.to_path_buf()),
        journal_reader: Some(JournalReader::Native),
        deadline_seconds: Some(deadline),
        ..ServeArgs::default()
    })
}

/// Whether this process (the in-process nodelogd) has a file under `dir`
/// open. A query holds the file being written open while it reads it; its
/// map outlives the query (`OpenFiles`).
fn opens(dir: &Path) -> bool {
    let dir = dir.to_string_lossy();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .any(|target| target.to_string_lossy().contains(&*dir))
}

fn closed_within(dir: &Path, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if !opens(dir) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !opens(dir)
}

/// Reads an HTTP/1.1 response to its end (the server closes the
/// connection), `pause` after each read, calling `after_first` once the
/// body has begun. Returns the body.
fn read_slowly(addr: SocketAddr, pause: Duration, after_first: impl FnOnce()) -> Vec<u8> {
    let mut socket = http::send(addr, "GET", EVERYTHING, &[("Connection", "close")]);
    let mut raw = Vec::new();
    let mut buf = vec![0; 64 << 10];
    let mut after_first = Some(after_first);
    loop {
        let n = socket.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        // The head goes out before the source opens its files: wait for
        // the body's first bytes.
        let body_started = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .is_some_and(|at| raw.len() > at + 4 + 4096);
        if body_started && let Some(f) = after_first.take() {
            f();
        }
        std::thread::sleep(pause);
    }
    let resp = http::parse(&raw);
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.body
}

/// Pins: the reader is a thread of the host, not a process the request's
/// store kills; it must stop (and close the journal) when the client goes.
#[test]
fn a_client_that_disconnects_stops_the_native_reader() {
    let dir = linked_journal("native-disconnect");
    let addr = serve_native(&dir, 60);
    let mut socket = http::send(addr, "GET", EVERYTHING, &[]);
    let mut first = [0u8; 4096];
    socket.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"));
    assert!(opens(&dir), "the reader holds the journal while it streams");
    drop(socket);
    assert!(
        closed_within(&dir, Duration::from_secs(2)),
        "the native reader outlived its client"
    );
}

/// Pins: a file journald appends to while a query streams (its header,
/// hash chains and entry arrays change under the mapping) is read as
/// journalctl would have read it: what was there when the query began, at
/// least, in order, and never cut short by the new entries.
#[test]
fn a_file_appended_to_while_a_query_streams() {
    const TOTAL: usize = 12_000;
    const FIRST: usize = 9_000;
    let dir = scratch("native-append");
    let mut writer = Writer::start(&dir).unwrap();
    write_export(writer.input(), TOTAL, 5, 0..FIRST).unwrap();
    writer.finish().unwrap();
    let before = journalctl_everything(&dir);
    let addr = serve_native(&dir, 60);
    let appender = std::sync::Mutex::new(None);
    let body = read_slowly(addr, Duration::from_millis(5), || {
        let dir = dir.clone();
        *appender.lock().unwrap() = Some(std::thread::spawn(move || {
            let mut writer = Writer::start(&dir).unwrap();
            for part in (FIRST..TOTAL).step_by(100) {
                write_export(writer.input(), TOTAL, 5, part..part + 100).unwrap();
                std::io::Write::flush(writer.input()).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
            writer.finish().unwrap();
        }));
    });
    appender.into_inner().unwrap().unwrap().join().unwrap();
    let after = journalctl_everything(&dir);
    assert!(after.len() > before.len(), "the append added entries");
    assert!(
        body.len() >= before.len() && after.starts_with(&body) && body.ends_with(b"\n"),
        "{} bytes streamed; {} before the append, {} after",
        body.len(),
        before.len(),
        after.len()
    );
}

/// Pins: the file being written keeps its map between queries (its header
/// read again for each), so entries journald appends without growing the
/// file, and so without a new size to notice, are in the next answer; and
/// so are those of an append that grows it, which is mapped anew.
#[test]
fn a_file_appended_to_between_queries() {
    const TOTAL: usize = 60_000;
    let dir = scratch("native-append-between");
    let write = |range: std::ops::Range<usize>| {
        let mut writer = Writer::start(&dir).unwrap();
        write_export(writer.input(), TOTAL, 5, range).unwrap();
        writer.finish().unwrap();
    };
    let sizes = || -> Vec<u64> {
        let mut sizes: Vec<(PathBuf, u64)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.path(), e.metadata().unwrap().len()))
            .collect();
        sizes.sort();
        sizes.into_iter().map(|(_, len)| len).collect()
    };
    write(0..2_000);
    let addr = serve_native(&dir, 60);
    let everything = || http::get(addr, EVERYTHING).body;
    assert_eq!(everything(), journalctl_everything(&dir));

    let before = sizes();
    write(2_000..2_050);
    assert_eq!(sizes(), before, "a small append keeps the file's length");
    assert_eq!(
        everything(),
        journalctl_everything(&dir),
        "the small append is served"
    );

    let mut written = 2_050;
    while sizes() == before {
        assert!(written < TOTAL, "{TOTAL} entries never grew the file");
        write(written..written + 2_000);
        written += 2_000;
    }
    assert_eq!(
        everything(),
        journalctl_everything(&dir),
        "the append that grew the file is served"
    );
}

/// A fresh directory holding the fixture's journal as an archived file
/// (which `OpenFiles` keeps mapped between queries), and that file.
fn archived_copy(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let archived = dir
        .join("system@0c15936455884523b12403cc33826b2e-0000000000000001-000627751067080f.journal");
    std::fs::copy(fixture().journal_dir.join("system.journal"), &archived).unwrap();
    (dir, archived)
}

/// Whether this process maps `path` (or the file that had that name).
fn maps(path: &Path) -> bool {
    let path = path.to_string_lossy();
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .any(|line| line.contains(&*path))
}

/// Pins: an archived file stays mapped between queries (`OpenFiles`); if
/// nothing but the next query let it go, a file journald vacuumed would
/// keep its disk space for as long as no one asked. The sweep, every ten
/// seconds, lets it go.
#[test]
fn a_vacuumed_file_is_let_go_without_another_query() {
    let (dir, archived) = archived_copy("native-vacuum");
    let addr = serve_native(&dir, 60);
    assert_eq!(
        http::get(addr, EVERYTHING).body,
        journalctl_everything(&dir)
    );
    assert!(
        maps(&archived),
        "the archive is kept mapped after the query"
    );
    std::fs::remove_file(&archived).unwrap();
    let start = Instant::now();
    while maps(&archived) {
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "the vacuumed file is still mapped after {:?}",
            start.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Pins: a file rotated away (renamed out of the directory, as an archive
/// that is then vacuumed) while a query streams is still read to its end,
/// with both readers.
#[test]
fn a_file_rotated_away_mid_query() {
    let want = journalctl_everything(&fixture().journal_dir);
    for reader in [JournalReader::Native, JournalReader::Journalctl] {
        let dir = scratch(&format!("rotate-{reader:?}"));
        let src = fixture().journal_dir.join("system.journal");
        std::fs::copy(&src, dir.join("system.journal")).unwrap();
        let addr = fixture().serve(ServeArgs {
            journal_dir: Some(dir.clone()),
            journal_reader: Some(reader),
            ..ServeArgs::default()
        });
        let away = fixture()
            .base
            .join(format!("rotated-away-{reader:?}.journal"));
        let body = read_slowly(addr, Duration::from_millis(1), || {
            std::fs::rename(dir.join("system.journal"), &away).unwrap();
            std::fs::remove_file(&away).unwrap();
        });
        assert!(
            body == want,
            "{reader:?}: {} of {} bytes",
            body.len(),
            want.len()
        );
    }
}

/// Pins: a file truncated under the reader's map while a query streams
/// (an admin's `truncate`, or a disk that fails) raises SIGBUS, whose
/// default action would end nodelogd: this test binary is that process.
/// The query ends with what could be read, nodelogd serves on, and the next
/// query skips the file, as journalctl does.
#[test]
fn a_file_truncated_mid_query() {
    let (dir, archived) = archived_copy("native-truncate");
    let whole = journalctl_everything(&dir);
    let addr = serve_native(&dir, 60);
    let body = read_slowly(addr, Duration::from_millis(2), || {
        let file = std::fs::File::options()
            .write(true)
            .open(&archived)
            .unwrap();
        let len = file.metadata().unwrap().len();
        file.set_len(len / 4).unwrap();
    });
    assert!(
        body.len() < whole.len(),
        "{} bytes of {}: the truncation came too late to test anything",
        body.len(),
        whole.len()
    );
    // Up to the entry that met the missing page (which is left out),
    // journalctl's bytes: whole lines, none of them zeros.
    assert!(
        body.ends_with(b"\n") && whole.starts_with(&body),
        "not a prefix of journalctl's lines: ...{:?}",
        String::from_utf8_lossy(&body[body.len().saturating_sub(300)..])
    );
    let after = http::get(addr, EVERYTHING);
    assert_eq!(after.status, 200);
    // No file holds the units now: the kubelet's answer for each.
    assert_eq!(
        after.text(),
        "\nlog not found for kubelet\n\nlog not found for containerd\n\n\
         log not found for kube-proxy\n\nlog not found for sshd\n"
    );
}

/// A pattern the native reader does not run (PCRE2 and Rust's regex read
/// `$` differently) is answered by journalctl, byte for byte; with the
/// native-only server (its journalctl prints `NOT-NATIVE`) it shows that
/// the fallback ran.
#[test]
fn what_the_native_reader_cannot_do_falls_back_to_journalctl() {
    let q = "query=kubelet&pattern=seq%3D1%24";
    let resp = http::get(fixture().addr, &format!("/logs/?{q}"));
    assert_eq!(resp.status, 200);
    let want = fixture().kubelet_journalctl(&["--unit=kubelet", "--grep=seq=1$"]);
    assert!(resp.body == want, "{}", resp.text());
    let native_only = fixture().reader_addrs()[0].1;
    let resp = http::get(native_only, &format!("/logs/?{q}"));
    assert_eq!(resp.text(), "NOT-NATIVE\n");
}

/// A host without journalctl: with the native reader, the journald source
/// still answers what the reader can, and where it would fall back it
/// says what the kubelet says when journalctl cannot run (only for the
/// current boot). Pins the defect: the source was disabled at load (its
/// journalctl grant could not resolve), so services fell back to files.
#[test]
fn without_journalctl_the_native_reader_answers_alone() {
    let args = ServeArgs {
        listen: Some(([127, 0, 0, 1], 0).into()),
        log_dir: Some(fixture().logs.root.clone()),
        journal_dir: Some(fixture().journal_dir.clone()),
        journal_reader: Some(JournalReader::Native),
        cache_dir: Some(fixture().base.parent().unwrap().join("plugin-cache")),
        anonymous_auth: Some(true),
        authorization_mode: Some(nodelogd::cli::AuthorizationMode::AlwaysAllow),
        ..ServeArgs::default()
    };
    let mut config = nodelogd::config::Config::load(args).unwrap();
    // As when journalctl is neither given nor on PATH.
    config.journalctl = None;
    let running = nodelogd_tests::fixture::runtime()
        .block_on(nodelogd::start(config))
        .unwrap();
    let addr = running.local_addr;
    std::mem::forget(running);

    let resp = http::get(addr, "/logs/?query=kubelet");
    assert_eq!(resp.status, 200);
    let want = fixture().kubelet_journalctl(&["--unit=kubelet"]);
    assert!(resp.body == want, "{}", resp.text());
    // `seq=1$` is a pattern only journalctl runs.
    let resp = http::get(addr, "/logs/?query=kubelet&pattern=seq%3D1%24");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), "\nerror: journal output not available\n");
}

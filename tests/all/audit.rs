//! The audit log over real requests: one JSON line per `/logs` request,
//! written when its response ends, for each way one can end. Read back
//! from the file nodelogd writes (its writer thread is asynchronous, so
//! lines are awaited, briefly).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nodelogd::cli::ServeArgs;
use nodelogd_tests::http;
use serde_json::Value;

use crate::fixture;

/// Every unit: several MB, more than socket buffers hold.
const EVERYTHING: &str = "/logs/?query=kubelet&query=containerd&query=kube-proxy&query=sshd";

fn audit_path(name: &str) -> PathBuf {
    let path = fixture().base.join(format!("{name}.audit.log"));
    let _ = std::fs::remove_file(&path);
    path
}

/// The first `n` lines of the audit log, waiting up to 5 s for them.
#[track_caller]
pub fn audit_lines(path: &Path, n: usize) -> Vec<Value> {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
            .collect();
        if lines.len() >= n || Instant::now() > give_up {
            assert_eq!(lines.len(), n, "{text}");
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pins: nothing was audited. A 200 from a plugin, a file from the log
/// root, a 400 and a 406 each get one line, with the fields the issue
/// lists; `/healthz` and unknown paths get none.
#[test]
fn a_line_per_logs_request() {
    let path = audit_path("audit-lines");
    let addr = fixture().serve(ServeArgs {
        audit_log_path: Some(path.clone()),
        ..Default::default()
    });
    let ok = http::get(addr, "/logs/?query=kubelet&tailLines=3&pattern=a+b%2Bc");
    assert_eq!(ok.status, 200);
    assert_eq!(http::get(addr, "/healthz").status, 200);
    assert_eq!(http::get(addr, "/nothing").status, 404);
    assert_eq!(http::get(addr, "/logs/filelogged.log").status, 200);
    assert_eq!(http::get(addr, "/logs/?tailLines=ten").status, 400);
    assert_eq!(http::get(addr, "/logs/?query=ku%0Abelet").status, 406);

    let lines = audit_lines(&path, 4);
    let first = &lines[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "authMethod",
            "bytes",
            "clientAddress",
            "decision",
            "durationMs",
            "groups",
            "method",
            "outcome",
            "path",
            "query",
            "sources",
            "status",
            "time",
            "user",
        ]
    );
    assert_eq!(first["clientAddress"], "127.0.0.1");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/logs/");
    assert_eq!(
        first["query"],
        serde_json::json!({"query": ["kubelet"], "tailLines": ["3"], "pattern": ["a b+c"]})
    );
    assert_eq!(first["sources"], serde_json::json!(["journald"]));
    assert_eq!(
        (&first["status"], &first["outcome"]),
        (&200.into(), &"completed".into())
    );
    assert_eq!(first["bytes"], ok.body.len());
    assert!(first["time"].as_str().unwrap().ends_with('Z'), "{first}");

    let file = &lines[1];
    assert_eq!(file["path"], "/logs/filelogged.log");
    assert_eq!(file["sources"], serde_json::json!(["log-root"]));
    assert_eq!(file["bytes"], fixture_file_len("filelogged.log"));
    let outcomes: Vec<(&Value, &Value, &Value)> = lines[2..]
        .iter()
        .map(|l| (&l["status"], &l["outcome"], &l["sources"]))
        .collect();
    let none = serde_json::json!([]);
    assert_eq!(
        outcomes,
        [
            (&400.into(), &"completed".into(), &none),
            (&406.into(), &"completed".into(), &none),
        ]
    );
    // The request's text is escaped JSON, never a raw line break.
    assert_eq!(lines[3]["query"]["query"][0], "ku\nbelet");
}

fn fixture_file_len(name: &str) -> usize {
    std::fs::metadata(fixture().logs.root.join(name))
        .unwrap()
        .len() as usize
}

/// Pins: a response cut by the deadline, a client that leaves mid-body
/// and a 429 were not told apart (nor audited at all).
#[test]
fn deadline_client_gone_and_busy_are_told_apart() {
    let path = audit_path("audit-ends");
    let addr = fixture().serve(ServeArgs {
        audit_log_path: Some(path.clone()),
        deadline_seconds: Some(1),
        max_concurrent_queries: Some(1),
        max_queries_per_client: Some(1),
        queue_wait_ms: Some(100),
        ..Default::default()
    });
    // Unread until past the deadline, then read to its (early) end.
    let mut slow = http::send(addr, "GET", EVERYTHING, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    let mut raw = Vec::new();
    slow.read_to_end(&mut raw).unwrap();
    let cut = http::parse(&raw);
    assert_eq!(cut.status, 200);
    let lines = audit_lines(&path, 1);
    assert_eq!(lines[0]["outcome"], "deadline");
    assert_eq!(lines[0]["bytes"], cut.body.len());

    // Leaves after the first bytes, while its slot is held: the next
    // query is refused meanwhile.
    let mut gone = http::send(addr, "GET", EVERYTHING, &[]);
    let mut first = [0u8; 1024];
    gone.read_exact(&mut first).unwrap();
    let busy = http::get(addr, "/logs/?query=kubelet&tailLines=1");
    assert_eq!(busy.status, 429);
    drop(gone);
    let lines = audit_lines(&path, 3);
    assert_eq!(
        (&lines[1]["status"], &lines[1]["outcome"]),
        (&429.into(), &"completed".into())
    );
    assert_eq!(
        (&lines[2]["status"], &lines[2]["outcome"]),
        (&200.into(), &"client-gone".into())
    );
    let sent = lines[2]["bytes"].as_u64().unwrap();
    assert!(sent > 0 && sent < cut.body.len() as u64, "{}", lines[2]);
}

/// Pins: an audit log that cannot be opened was not a start-up error.
#[test]
fn an_audit_log_that_cannot_be_opened_stops_start_up() {
    let err = fixture()
        .try_serve_with(
            ServeArgs {
                audit_log_path: Some("/nonexistent/dir/audit.log".into()),
                ..Default::default()
            },
            Vec::new(),
        )
        .unwrap_err();
    assert!(
        format!("{err:#}").starts_with("opening the audit log /nonexistent/dir/audit.log: "),
        "{err:#}"
    );
}

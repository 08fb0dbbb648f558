//! `--log-format json`: the real binary, real requests over loopback, and
//! every line nodelogd writes to stderr parsed as JSON.
//!
//! Pins: before `--log-format`, logs were human text only (a collector had
//! to scrape them with regular expressions), and the per-request line had
//! no message to select it by. It was also written when the response head
//! was ready, so it had no bytes, no user and no sources.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A nodelogd process, killed if the test fails before stopping it.
struct Nodelogd(Child);

impl Drop for Nodelogd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a loopback port")
}

/// One HTTP/1.1 request on its own connection; the status code.
fn get(addr: SocketAddr, target: &str) -> std::io::Result<u16> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        conn,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply)?;
    let head = String::from_utf8_lossy(&reply);
    Ok(head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0))
}

#[test]
fn json_log_lines_parse_and_carry_each_request() {
    let tmp = tempfile::tempdir().unwrap();
    let log_dir = tmp.path().join("log");
    std::fs::create_dir(&log_dir).unwrap();
    std::fs::write(log_dir.join("app.log"), "one\ntwo\n").unwrap();
    // Compiled plugins kept between runs: a debug build takes seconds to
    // compile them.
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("log-format-cache");
    let addr = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_nodelogd"))
        .args(["--log-format", "json", "serve", "--listen"])
        .arg(addr.to_string())
        .arg("--log-dir")
        .arg(&log_dir)
        .arg("--cache-dir")
        .arg(&cache)
        // Open access, said explicitly: this test is about the log lines.
        .args(["--anonymous-auth=true", "--authorization-mode=AlwaysAllow"])
        .env_remove("NODELOGD_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting nodelogd");
    let mut nodelogd = Nodelogd(child);

    let started = Instant::now();
    while get(addr, "/healthz").ok() != Some(200) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nodelogd did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get(addr, "/logs/app.log").unwrap(), 200);
    // A refused query is logged too, with its status.
    assert_eq!(get(addr, "/logs/?query=app&tailLines=%0Ax").unwrap(), 400);

    // SIGTERM drains and exits; stderr then ends.
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(nodelogd.0.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let mut stderr = String::new();
    nodelogd
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();

    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 2, "one line per request: {stderr}");
    let statuses: Vec<_> = requests.iter().map(|l| &l["fields"]["status"]).collect();
    assert_eq!(statuses, [200, 400]);
    for line in &requests {
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["method"], "\"GET\"");
        assert!(line["fields"]["ms"].is_u64(), "{line}");
        // Debug-formatted, so escaped: the name comes with the request.
        assert_eq!(line["fields"]["user"], "\"system:anonymous\"", "{line}");
        // The client's address comes from the connection's span.
        assert!(
            line["span"]["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.1:")),
            "{line}"
        );
    }
    // Written when the response ended: what it sent and who answered.
    let served = &requests[0]["fields"];
    assert_eq!(served["path"], "\"/logs/app.log\"");
    assert_eq!(served["bytes"], 8, "one\\ntwo\\n");
    assert_eq!(served["sources"], "[\"log-root\"]");
    assert_eq!(served["outcome"], "completed");
    let refused = &requests[1]["fields"];
    assert_eq!(refused["sources"], "[]", "nothing answered a 400");
    assert!(
        !stderr.contains("one\\ntwo") && !stderr.contains("\"one"),
        "nothing of the log itself: {stderr}"
    );
}

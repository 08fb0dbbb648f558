//! Time-bound behaviour against a server that accepts connections and
//! never answers: --timeout, --max-concurrency, Ctrl-C, and the terminal's
//! progress line.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{BIN, node_logs, run};

/// Accepts and holds connections without answering; records when each came.
fn silent_server() -> (SocketAddr, Arc<Mutex<Vec<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let record = arrivals.clone();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for conn in listener.incoming().flatten() {
            record.lock().unwrap().push(Instant::now());
            held.push(conn);
        }
    });
    (addr, arrivals)
}

/// Pins: --timeout ends a silent node with one line; --max-concurrency 1
/// asks the second node only after the first is done.
#[test]
fn timeout_and_concurrency_bound() {
    let (addr, arrivals) = silent_server();
    let url = format!("http://{addr}");
    let (a, b) = (format!("a={url}"), format!("b={url}"));
    let started = Instant::now();
    let out = node_logs(&[
        "--server",
        &a,
        "--server",
        &b,
        "--max-concurrency",
        "1",
        "--timeout",
        "1s",
        "-Q",
        "kubelet",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        "error: a: timed out after 1s\nerror: b: timed out after 1s\n"
    );
    assert!(started.elapsed() >= Duration::from_secs(2));
    let times = arrivals.lock().unwrap().clone();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_millis(900),
        "{times:?}"
    );

    // --unify reads every node at once, so it refuses more than the bound.
    let out = node_logs(&[
        "--unify",
        "--server",
        &a,
        "--server",
        &b,
        "--max-concurrency",
        "1",
        "-Q",
        "kubelet",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--max-concurrency"), "{out:?}");
}

/// Pins: Ctrl-C (SIGINT) exits at once with 130 while nodes are pending.
#[test]
fn ctrl_c_exits_at_once() {
    let (addr, arrivals) = silent_server();
    let mut child = Command::new(BIN)
        .args(["--server", &format!("http://{addr}"), "-Q", "kubelet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while arrivals.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the client never connected");
        std::thread::sleep(Duration::from_millis(20));
    }
    let interrupted = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert!(interrupted.elapsed() < Duration::from_secs(1));
    assert_eq!(status.code(), Some(130));
}

/// Pins: on a terminal, stderr shows how many nodes are pending and the
/// prefixes are coloured. `script` runs the client on a pseudo-terminal.
#[test]
fn progress_and_colours_on_a_terminal() {
    let (addr, _) = silent_server();
    let url = format!("http://{addr}");
    let cmd = format!("{BIN} --server a={url} --server b={url} --timeout 2s -Q kubelet");
    let out = run(Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("NO_COLOR"));
    assert!(
        out.stdout.contains("waiting for 2 of 2 nodes..."),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("error: a: timed out after 2s"),
        "{out:?}"
    );

    let n1 = crate::support::node("terminal-1", 91, &[]);
    let cmd = format!(
        "{BIN} --server a={} --server b={} -Q kubelet --tail 1",
        n1.url(),
        n1.url()
    );
    let out = run(Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("NO_COLOR"));
    assert!(out.stdout.contains("\x1b[32ma\x1b[0m Nov "), "{out:?}");
    assert!(out.stdout.contains("\x1b[33mb\x1b[0m Nov "), "{out:?}");
}

//! Plugin faults over HTTP, through the production paths: source selection
//! (500, 504), the in-band `error:` line once the 200 is on its way, and
//! the server's own deadline for what blocks in a host call. After each
//! fault a request on the same server succeeds.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nodelogd::cli::ServeArgs;
use nodelogd_tests::{http, procs};

use crate::fixture;
use crate::sandbox::misbehave;

/// The server's deadline for these tests: long enough for every mode that
/// ends by itself, short enough to wait for.
const DEADLINE: Duration = Duration::from_secs(3);

fn server(deadline: Duration) -> std::net::SocketAddr {
    let args = ServeArgs {
        deadline_seconds: Some(deadline.as_secs()),
        ..Default::default()
    };
    fixture().serve_with(args, vec![misbehave()])
}

fn addr() -> std::net::SocketAddr {
    static ADDR: OnceLock<std::net::SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| server(DEADLINE))
}

fn get(mode: &str) -> http::Response {
    http::get(addr(), &format!("/logs/?query={mode}"))
}

#[track_caller]
fn still_serves() {
    let resp = get("hello");
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello\n"));
}

#[test]
fn faults_while_streaming_end_in_band_and_only_their_request() {
    for (mode, needle) in [
        ("trap", "unreachable"),
        ("loop", "used up its CPU budget"),
        ("alloc", "memory"),
        ("oversized", "larger than 65536 bytes"),
    ] {
        let started = Instant::now();
        let resp = get(mode);
        let body = resp.text();
        assert_eq!(resp.status, 200, "{mode}: {body}");
        assert!(
            body.starts_with("\nerror: log source misbehave") && body.contains(needle),
            "{mode}: {body}"
        );
        assert!(started.elapsed() < DEADLINE, "{mode} ran into the deadline");
        still_serves();
    }
}

#[test]
fn an_error_after_output_is_one_line_after_it() {
    let body = get("hello-then-trap").text();
    assert!(
        body.starts_with("hello\n\nerror: log source misbehave failed: ")
            && body.contains("unreachable")
            && body.ends_with('\n'),
        "{body:?}"
    );
    still_serves();
}

#[test]
fn a_trap_while_choosing_sources_is_a_500() {
    let resp = get("trap-in-serves");
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert!(
        resp.text().contains("log source misbehave failed"),
        "{}",
        resp.text()
    );
    still_serves();
}

#[test]
fn sources_that_do_not_answer_by_the_deadline_are_a_504_and_killed() {
    let started = Instant::now();
    let resp = get("hang-in-serves");
    assert_eq!(resp.status, 504, "{}", resp.text());
    assert!(started.elapsed() >= DEADLINE - Duration::from_millis(100));
    assert!(
        procs::gone_within("sleep 8765433", Duration::from_secs(1)),
        "sleep survived its request"
    );
    still_serves();
}

/// The wall clock, not the CPU budget, ends a plugin blocked in a host call:
/// the server's deadline ends the response, and dropping the store kills
/// the program.
#[test]
fn a_host_call_that_never_returns_is_cut_at_the_deadline_and_its_process_killed() {
    let started = Instant::now();
    let resp = get("sleep-8765431");
    assert_eq!((resp.status, resp.text().as_str()), (200, ""));
    assert!(started.elapsed() >= DEADLINE - Duration::from_millis(100));
    assert!(
        procs::gone_within("sleep 8765431", Duration::from_secs(1)),
        "sleep survived its request"
    );
    still_serves();
}

/// Pins the process group kill: only the program itself was killed, and
/// what it had started lived on.
#[test]
fn what_a_program_started_dies_with_it() {
    let resp = get("run:probe:grandchild:8765432");
    assert_eq!((resp.status, resp.text().as_str()), (200, "started\n"));
    assert!(
        procs::gone_within("sleep 8765432", Duration::from_secs(1)),
        "the program's own child survived the request"
    );
}

#[test]
fn host_resources_are_capped_with_clear_errors() {
    let body = get("open-many").text();
    assert!(
        body.ends_with("at most 16 files may be open at once\")"),
        "{body}"
    );
    let body = get("huge-path").text();
    assert!(body.contains("path longer than 4096 bytes"), "{body}");
    let body = get("two-children").text();
    assert!(
        body.contains("at most 1 programs may run at once"),
        "{body}"
    );
    let body = get("run:probe:group").text();
    let words: Vec<&str> = body.split_whitespace().collect();
    assert_eq!(words.get(1), words.get(3), "{body}");
    still_serves();
}

/// Pins the CPU budget that counted wall-clock windows: with `cpu-ms` 300
/// a stream trickling a line every 10 ms died after about 0.3 s. This one
/// runs for just over 10 s, under a deadline that allows it.
#[test]
fn a_stream_runs_longer_than_ten_seconds_on_a_300_ms_cpu_budget() {
    let addr = server(Duration::from_secs(20));
    let started = Instant::now();
    let resp = http::get(addr, "/logs/?query=run:probe:trickle:1010:10");
    let body = resp.text();
    assert!(started.elapsed() > Duration::from_secs(10));
    assert_eq!(resp.status, 200);
    assert_eq!(
        body.lines().count(),
        1010,
        "{}",
        &body[body.len().saturating_sub(300)..]
    );
    assert!(body.ends_with("line 1009\n"));
}

/// nodelogd in a process of its own (`nodelogd-misbehave-server`), for
/// what only shows when it dies or in its own log; stderr is piped.
struct OwnServer {
    process: std::process::Child,
    addr: std::net::SocketAddr,
}

impl OwnServer {
    fn start() -> Self {
        let mut process =
            std::process::Command::new(env!("CARGO_BIN_EXE_nodelogd-misbehave-server"))
                .arg(&fixture().logs.root)
                .arg(crate::sandbox::plugin_cache())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(process.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let addr = line.trim().parse().expect("the server's address");
        OwnServer { process, addr }
    }

    /// Kills it (SIGKILL) and returns what it logged.
    fn kill(mut self) -> String {
        self.process.kill().unwrap();
        let out = self.process.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// Pins orphaned programs: when nodelogd itself died (here SIGKILL), the
/// programs its plugins had started lived on. `PR_SET_PDEATHSIG` ends them.
#[test]
fn programs_die_with_nodelogd() {
    let server = OwnServer::start();
    // The request blocks in `read` on sleep's output until killed.
    let _client = http::send(server.addr, "GET", "/logs/?query=sleep-8765435", &[]);
    let started = Instant::now();
    while procs::matching("sleep 8765435").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "sleep never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    assert!(
        procs::gone_within("sleep 8765435", Duration::from_secs(1)),
        "sleep outlived nodelogd"
    );
}

/// Pins plugin log forgery and floods: messages were logged raw (a newline
/// started a line of the plugin's choosing) and without a rate limit.
#[test]
fn plugin_log_messages_are_escaped_and_rate_limited() {
    let server = OwnServer::start();
    let resp = http::get(server.addr, "/logs/?query=log-forge");
    assert_eq!(resp.text(), "logged\n");
    let log = server.kill();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("forged")).collect();
    assert!(
        lines
            .iter()
            .all(|l| l.contains(r"\nforged line\u{1b}[31m\0")),
        "{log}"
    );
    assert!(!log.contains('\u{1b}'), "{log}");
    // A burst of 20, plus what refills while the 100 calls run.
    assert!(
        (20..30).contains(&lines.len()),
        "{} lines: {log}",
        lines.len()
    );
}

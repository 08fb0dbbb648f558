//! Real nodes for the client: each a nodelogd started in-process from the
//! workspace's own crate, with its own generated journal (systemd's own
//! journal files, written by systemd-journal-remote) and its own log root;
//! and the built `kubectl-node_logs` run as a process.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;

use nodelogd::cli::{AuthorizationMode, ServeArgs};
use nodelogd::config::Config;
use nodelogd_tests::{fixture, journal};

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-node_logs");
/// Small: a few hundred entries over the generator's three days.
const ENTRIES: usize = 600;

pub fn tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

pub struct TestNode {
    pub addr: SocketAddr,
    pub log_dir: PathBuf,
}

impl TestNode {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A nodelogd whose journal is generated from `seed` and whose log root
/// holds `files` (path, contents).
pub fn node(name: &str, seed: u64, files: &[(&str, &[u8])]) -> TestNode {
    let base = tmp().join("node-logs").join(name);
    let _ = std::fs::remove_dir_all(&base);
    let journal_dir = base.join("journal");
    journal::build(&journal_dir, ENTRIES, seed).expect("building a test journal");
    let log_dir = base.join("log");
    for (path, contents) in files {
        let path = log_dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    std::fs::create_dir_all(&log_dir).unwrap();
    let args = ServeArgs {
        listen: Some(([127, 0, 0, 1], 0).into()),
        log_dir: Some(log_dir.clone()),
        journal_dir: Some(journal_dir),
        node_name: Some(name.to_string()),
        // Shared with the other end-to-end tests: compiled plugins persist.
        cache_dir: Some(tmp().join("plugin-cache")),
        // Open access, said explicitly (loopback only): these nodes test
        // the client, not nodelogd's authentication.
        anonymous_auth: Some(true),
        authorization_mode: Some(AuthorizationMode::AlwaysAllow),
        ..ServeArgs::default()
    };
    let config = Config::load(args).expect("test configuration");
    let running = fixture::runtime()
        .block_on(nodelogd::start(config))
        .expect("starting nodelogd");
    let addr = running.local_addr;
    // Serves until the test binary exits.
    std::mem::forget(running);
    TestNode { addr, log_dir }
}

/// A loopback address where nothing listens.
pub fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs the client; no kubeconfig of the machine's is ever read.
pub fn node_logs(args: &[&str]) -> Out {
    run(Command::new(BIN).args(args))
}

pub fn run(cmd: &mut Command) -> Out {
    let out = cmd
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("NODE_LOGS_TOKEN")
        .output()
        .expect("running kubectl-node_logs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

//! The real `nodelogd` binary: help, refusals, configuration precedence,
//! readiness and a clean SIGTERM shutdown.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn nodelogd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nodelogd"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("log")).unwrap();
    dir
}

fn cache() -> String {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("plugin-cache")
        .display()
        .to_string()
}

fn fails_with(cmd: &mut Command, needle: &str) {
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
}

#[test]
fn help_explains_every_flag() {
    let out = nodelogd().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--log-dir",
        "--journal-dir",
        "--config",
        "--node-name",
        "--deadline-seconds",
        "--cache-dir",
        "--journalctl",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    let out = nodelogd().arg("plugins").output().unwrap();
    let manifests = String::from_utf8(out.stdout).unwrap();
    assert!(
        manifests.contains("name = \"journald\"")
            && manifests.contains("--unit=[A-Za-z0-9._:@-]{1,256}")
    );
}

#[test]
fn refuses_what_it_cannot_do_safely() {
    let dir = scratch("cli-refusals");
    let log = dir.join("log").display().to_string();
    fails_with(
        nodelogd().args([
            "serve",
            "--listen",
            "0.0.0.0:10260",
            "--log-dir",
            &log,
            "--cache-dir",
            "none",
        ]),
        "loopback",
    );
    fails_with(
        nodelogd().args(["serve", "--log-dir", "/nonexistent/nodelogd"]),
        "opening log directory /nonexistent/nodelogd",
    );
    fails_with(
        nodelogd().args(["serve", "--journalctl", "/nonexistent/journalctl"]),
        "journalctl not found at /nonexistent/journalctl",
    );
    let config = dir.join("bad.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlog-dri = \"/tmp\"\n").unwrap();
    fails_with(
        nodelogd().args(["serve", "--config"]).arg(&config),
        "unknown field `log-dri`",
    );
    std::fs::write(&config, "deadline-seconds = 0\n").unwrap();
    fails_with(
        nodelogd().args(["serve", "--config"]).arg(&config),
        "deadline-seconds must be at least 1",
    );
}

#[test]
fn serves_health_and_stops_on_sigterm() {
    let dir = scratch("cli-serve");
    std::fs::write(dir.join("log/hello.log"), "hi\n").unwrap();
    // The file's log-dir is wrong on purpose: the flag must win.
    let config = dir.join("nodelogd.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nlog-dir = \"/nonexistent\"\nnode-name = \"from-file\"\n",
    )
    .unwrap();
    let mut child = nodelogd()
        .args(["serve", "--config"])
        .arg(&config)
        .args([
            "--log-dir",
            &dir.join("log").display().to_string(),
            "--cache-dir",
            &cache(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "nodelogd exited before serving"
        );
        assert!(
            !line.contains('\u{1b}'),
            "no colour codes into a pipe: {line:?}"
        );
        if let Some(at) = line.find("local_addr=") {
            break line[at + "local_addr=".len()..].trim().to_string();
        }
    };
    let get = |path: &str| {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    };
    assert!(get("/healthz").ends_with("\r\n\r\nok"));
    assert!(get("/logs/hello.log").ends_with("\r\n\r\nhi\n"));
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

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
}

/// `plugins list` shows what `serve` would run, in order, with the rules.
#[test]
fn plugins_list_shows_every_plugin_with_its_grant() {
    let dir = scratch("cli-plugins-list");
    let config = dir.join("nodelogd.toml");
    let log = dir.join("log");
    std::fs::write(
        &config,
        format!("log-dir = {log:?}\ncache-dir = {:?}\n", cache()),
    )
    .unwrap();
    let out = nodelogd()
        .args(["plugins", "list", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file_at = text.find("file (built in)").expect(&text);
    assert!(text.contains("  reads \"/\" under the log root"), "{text}");
    assert!(text.contains("nodelogd:plugin@0.1.0"), "{text}");
    if let Some(journald_at) = text.find("journald (built in)") {
        assert!(journald_at < file_at, "journald is asked first: {text}");
        assert!(
            text.contains("    arg \"--unit=[A-Za-z0-9._:@-]{1,256}\""),
            "{text}"
        );
    }
    let out = nodelogd()
        .args(["plugins", "list", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let json = String::from_utf8(out.stdout).unwrap();
    assert!(
        json.trim_start().starts_with('[') && json.contains("\"wit-version\": \"0.1.0\""),
        "{json}"
    );
}

/// `plugins check` says what a plugin would be allowed, or every reason it
/// would be refused (exit 1).
#[test]
fn plugins_check_allows_or_lists_every_refusal() {
    let dir = scratch("cli-plugins-check");
    let log = dir.join("log");
    let wasm = dir.join("reader.wasm");
    std::fs::copy(env!("NODELOGD_PLUGIN_FILE"), &wasm).unwrap();
    std::fs::write(
        dir.join("reader.toml"),
        "name = \"reader\"\nclaims = [\"x-*\"]\nread-roots = [\"/\"]\n",
    )
    .unwrap();
    let config = dir.join("nodelogd.toml");
    let base = format!("log-dir = {log:?}\ncache-dir = \"none\"\n");
    std::fs::write(
        &config,
        format!("{base}[plugins.reader]\nread-roots = [\"/\"]\n"),
    )
    .unwrap();
    let check = |config: &PathBuf, json: bool| {
        let mut cmd = nodelogd();
        cmd.args(["plugins", "check"])
            .arg(&wasm)
            .arg("--config")
            .arg(config);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, text) = check(&config, false);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.starts_with("plugin reader would load with:") && text.contains("claims x-*"),
        "{text}"
    );
    std::fs::write(
        &config,
        format!("{base}[plugins.reader]\nsha256 = \"{}\"\n", "ab".repeat(32)),
    )
    .unwrap();
    let (code, text) = check(&config, false);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("sha256 mismatch: the config pins abab")
            && text.contains("read root \"/\" is not granted"),
        "{text}"
    );
    std::fs::write(&wasm, b"not wasm").unwrap();
    let (code, json) = check(&config, true);
    assert_eq!(code, Some(1), "{json}");
    assert!(
        json.contains("\"allowed\": null") && json.contains("not a valid component"),
        "{json}"
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

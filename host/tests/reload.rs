//! SIGHUP reloads: the real binary, real signals (`kill -HUP`), real
//! files, the real drop-in example plugin, streams over loopback.
//!
//! Pins: SIGHUP was logged and ignored, so a changed token file, plugin
//! directory or config file took a restart, which cut every stream. Each
//! test below waits for the "configuration reloaded" (or "reload failed")
//! line that only a reload writes, with a short timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// How long one reload, or the start, may take: with the plugins cached
/// (`--cache-dir`, kept between runs), under a second; the first run
/// compiles hybrid-overlay, which a debug build on a loaded machine has
/// taken a minute to do.
const WAIT: Duration = Duration::from_secs(180);

/// A nodelogd process and its log lines, killed if the test fails first.
struct Nodelogd {
    child: Child,
    lines: Receiver<String>,
    addr: String,
}

impl Drop for Nodelogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nodelogd {
    /// `nodelogd serve --config DIR/config.toml` over `DIR/log`, with
    /// `extra` flags; returns once it serves.
    fn start(dir: &Path, extra: &[&str]) -> Nodelogd {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-cache");
        let mut child = Command::new(env!("CARGO_BIN_EXE_nodelogd"))
            .arg("serve")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .arg("--log-dir")
            .arg(dir.join("log"))
            .arg("--cache-dir")
            .arg(cache)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let mut nodelogd = Nodelogd {
            child,
            lines,
            addr: String::new(),
        };
        let serving = nodelogd.wait_for("local_addr=");
        let at = serving.find("local_addr=").unwrap() + "local_addr=".len();
        nodelogd.addr = serving[at..].split_whitespace().next().unwrap().to_string();
        nodelogd
    }

    /// The next log line containing `needle`.
    fn wait_for(&self, needle: &str) -> String {
        self.wait_for_any(&[needle])
    }

    /// The next log line containing one of `needles`.
    fn wait_for_any(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if needles.iter().any(|n| line.contains(n)) => return line,
                Ok(line) => seen.push(line),
                Err(e) => panic!(
                    "no {needles:?} in the log ({e}); seen:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    /// Sends SIGHUP and returns the line that says how the reload went.
    fn reload(&self) -> String {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.wait_for("reloading the configuration");
        self.wait_for_any(&["configuration reloaded", "reload failed"])
    }

    /// A new connection with a GET of `target` sent on it, as `token`.
    fn send(&self, target: &str, token: &str) -> TcpStream {
        let mut conn = TcpStream::connect(&self.addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        write!(
            conn,
            "GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        conn
    }

    /// The status and the (unchunked) body.
    fn get(&self, target: &str, token: &str) -> (u16, Vec<u8>) {
        let mut raw = Vec::new();
        self.send(target, token).read_to_end(&mut raw).unwrap();
        response(&raw)
    }
}

/// A scratch directory with an empty `log/` and `plugins/`, and a token
/// file accepting `token`.
fn scratch(name: &str, token: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("log")).unwrap();
    std::fs::create_dir_all(dir.join("plugins")).unwrap();
    write_tokens(&dir, token);
    write_config(&dir, "");
    dir
}

fn write_tokens(dir: &Path, token: &str) {
    let line = format!("{token},alice,1,\"system:masters\"\n");
    std::fs::write(dir.join("tokens.csv"), line).unwrap();
}

/// The config file: the token file, the plugin directory, and `more`.
fn write_config(dir: &Path, more: &str) {
    let text = format!(
        "token-auth-file = {:?}\nplugin-dir = {:?}\n{more}",
        dir.join("tokens.csv").display().to_string(),
        dir.join("plugins").display().to_string(),
    );
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

/// Status and body of a whole HTTP/1.1 response (chunked or not).
fn response(raw: &[u8]) -> (u16, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let body = &raw[end + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return (status, body.to_vec());
    }
    let (mut out, mut rest) = (Vec::new(), body);
    loop {
        let line = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line]).unwrap(), 16).unwrap();
        if size == 0 {
            return (status, out);
        }
        out.extend_from_slice(&rest[line + 2..line + 2 + size]);
        rest = &rest[line + 4 + size..];
    }
}

/// Lines enough to stay in flight across a reload (4 MiB, each distinct).
fn big_log() -> Vec<u8> {
    (0..64_000)
        .flat_map(|i| format!("{i:08} {}\n", "x".repeat(56)).into_bytes())
        .collect()
}

/// Pins: a reload that replaced the plugins' runtime under a running
/// query, or restarted to reload, cut the stream. Both a raw file and a
/// service query (through the file plugin, whose runtime the reload
/// replaces) are paused mid-response while the token they were sent with
/// is revoked by the reload, and must complete byte for byte.
#[test]
fn streams_in_flight_survive_a_reload_and_complete_byte_identical() {
    let dir = scratch("reload-streams", "old-token");
    let content = big_log();
    std::fs::write(dir.join("log/big.log"), &content).unwrap();
    let nodelogd = Nodelogd::start(&dir, &[]);
    let mut streams: Vec<(TcpStream, Vec<u8>)> = ["/logs/big.log", "/logs/?query=big"]
        .into_iter()
        .map(|target| {
            let mut conn = nodelogd.send(target, "old-token");
            let mut started = vec![0; 64 << 10];
            conn.read_exact(&mut started).unwrap();
            (conn, started)
        })
        .collect();
    write_tokens(&dir, "new-token");
    assert!(nodelogd.reload().contains("configuration reloaded"));
    // New requests see the reloaded state...
    assert_eq!(nodelogd.get("/logs/big.log", "old-token").0, 401);
    // ...the ones in flight finish on the old one.
    for (conn, raw) in &mut streams {
        conn.read_to_end(raw).unwrap();
        let (status, body) = response(raw);
        assert_eq!(status, 200);
        assert!(body == content, "{} of {} bytes", body.len(), content.len());
    }
}

/// Pins: a changed token file (and authorized users) took a restart.
#[test]
fn a_changed_token_file_and_authorized_users_take_effect_at_sighup() {
    let dir = scratch("reload-tokens", "old-token");
    std::fs::write(dir.join("log/a.log"), "hello\n").unwrap();
    let nodelogd = Nodelogd::start(&dir, &[]);
    assert_eq!(
        nodelogd.get("/logs/a.log", "old-token"),
        (200, b"hello\n".to_vec())
    );
    assert_eq!(nodelogd.get("/logs/a.log", "new-token").0, 401);
    write_tokens(&dir, "new-token");
    assert!(nodelogd.reload().contains("configuration reloaded"));
    assert_eq!(nodelogd.get("/logs/a.log", "old-token").0, 401);
    assert_eq!(nodelogd.get("/logs/a.log", "new-token").0, 200);
    // Static authorization: alice (in system:masters) no longer listed.
    write_config(
        &dir,
        "authorization-mode = \"Static\"\nauthorized-users = [\"bob\"]\nauthorized-groups = []\n",
    );
    assert!(nodelogd.reload().contains("configuration reloaded"));
    assert_eq!(nodelogd.get("/logs/a.log", "new-token").0, 403);
}

/// Pins: nothing re-read the config file; and a reload must not half-apply
/// a broken one.
#[test]
fn a_bad_config_file_at_sighup_keeps_the_state_in_force() {
    let dir = scratch("reload-bad-config", "old-token");
    std::fs::write(dir.join("log/a.log"), "hello\n").unwrap();
    let nodelogd = Nodelogd::start(&dir, &[]);
    // A new token file named by a config file that does not parse: neither
    // is taken.
    write_tokens(&dir, "new-token");
    std::fs::write(dir.join("config.toml"), "token-auth-file = [\n").unwrap();
    let failed = nodelogd.reload();
    assert!(failed.contains("reload failed"), "{failed}");
    assert!(failed.contains("config.toml"), "{failed}");
    assert_eq!(
        nodelogd.get("/logs/a.log", "old-token"),
        (200, b"hello\n".to_vec())
    );
    assert_eq!(nodelogd.get("/logs/a.log", "new-token").0, 401);
    // Fixed, it loads.
    write_config(&dir, "");
    assert!(nodelogd.reload().contains("configuration reloaded"));
    assert_eq!(nodelogd.get("/logs/a.log", "new-token").0, 200);
    // Both are counted, in the metrics that outlived the reload.
    let (status, metrics) = nodelogd.get("/metrics", "new-token");
    let metrics = String::from_utf8(metrics).unwrap();
    assert_eq!(status, 200, "{metrics}");
    for line in [
        "nodelogd_reloads_total{outcome=\"failure\"} 1\n",
        "nodelogd_reloads_total{outcome=\"success\"} 1\n",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

/// Pins: the plugin directory was scanned only at start. The drop-in
/// example (hybrid-overlay, built beside the embedded plugins) is served
/// after SIGHUP; a plugin that does not compile, added next, fails the
/// reload and hybrid-overlay goes on serving.
#[test]
fn a_dropped_in_plugin_is_served_after_sighup_and_a_broken_one_changes_nothing() {
    let dir = scratch("reload-dropin", "token");
    std::fs::create_dir(dir.join("log/hybrid-overlay")).unwrap();
    let klog = "I1130 12:00:00.000000    1 node.go:1] hybrid overlay marker\n";
    std::fs::write(dir.join("log/hybrid-overlay/hybrid-overlay.log"), klog).unwrap();
    let nodelogd = Nodelogd::start(&dir, &[]);
    let query = "/logs/?query=hybrid-overlay-node";
    let served = |nodelogd: &Nodelogd| {
        let (status, body) = nodelogd.get(query, "token");
        status == 200 && String::from_utf8_lossy(&body).contains("hybrid overlay marker")
    };
    assert!(!served(&nodelogd));

    let wasm = Path::new(env!("NODELOGD_PLUGIN_FILE")).with_file_name("hybrid_overlay.wasm");
    std::fs::copy(&wasm, dir.join("plugins/hybrid-overlay.wasm"))
        .unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    std::fs::write(
        dir.join("plugins/hybrid-overlay.toml"),
        include_str!("../../plugins/hybrid-overlay/nodelogd-plugin.toml"),
    )
    .unwrap();
    let hybrid = "[plugins.hybrid-overlay]\nread-roots = [\"hybrid-overlay\"]\n";
    write_config(&dir, hybrid);
    assert!(nodelogd.reload().contains("configuration reloaded"));
    assert!(served(&nodelogd));

    std::fs::write(dir.join("plugins/broken.wasm"), b"\0asm not really").unwrap();
    std::fs::write(
        dir.join("plugins/broken.toml"),
        "name = \"broken\"\ndescription = \"does not compile\"\nclaims = [\"broken\"]\n",
    )
    .unwrap();
    write_config(&dir, &format!("{hybrid}[plugins.broken]\n"));
    let failed = nodelogd.reload();
    assert!(failed.contains("reload failed"), "{failed}");
    assert!(failed.contains("broken"), "{failed}");
    assert!(served(&nodelogd));
}

/// A CA and server certificates for `localhost` it signs, each with a key
/// of its own.
struct Ca(rcgen::CertifiedIssuer<'static, rcgen::KeyPair>);

impl Ca {
    fn new() -> Ca {
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        Ca(rcgen::CertifiedIssuer::self_signed(params, key).unwrap())
    }

    /// Writes a new server certificate and its key as `tls.crt` and
    /// `tls.key` into `dir`; returns the certificate (DER).
    fn issue_into(&self, dir: &Path) -> Vec<u8> {
        let params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.0).unwrap();
        std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
        std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
        cert.der().to_vec()
    }

    /// The certificate `addr` presents in a TLS handshake (DER).
    fn served_by(&self, addr: &str) -> Vec<u8> {
        use rustls::pki_types::ServerName;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.0.der().clone()).unwrap();
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        let mut conn = rustls::ClientConnection::new(config.into(), name).unwrap();
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        conn.peer_certificates().unwrap()[0].to_vec()
    }
}

/// Pins: new certificates were taken only by the once-a-second poll; a
/// SIGHUP read nothing. (The poll may also see them during the reload: the
/// point is that they are in force once the reload says so.)
#[test]
fn new_tls_files_are_in_force_once_sighup_has_reloaded() {
    let dir = scratch("reload-tls", "token");
    let ca = Ca::new();
    let first = ca.issue_into(&dir);
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let nodelogd = Nodelogd::start(
        &dir,
        &[
            "--tls-cert-file",
            cert.to_str().unwrap(),
            "--tls-private-key-file",
            key.to_str().unwrap(),
        ],
    );
    assert!(ca.served_by(&nodelogd.addr) == first);
    let second = ca.issue_into(&dir);
    assert!(nodelogd.reload().contains("configuration reloaded"));
    assert!(ca.served_by(&nodelogd.addr) == second);
}

/// The lines of `path` once it has `n` of them (the audit writer is a
/// thread of its own), within a few seconds.
fn lines_of(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(String::from).collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Pins: the audit log was opened once, so a rotated one (renamed) went
/// on being written under its old name until a restart.
#[test]
fn sighup_reopens_a_rotated_audit_log() {
    let dir = scratch("reload-audit", "token");
    std::fs::write(dir.join("log/a.log"), "hello\n").unwrap();
    let audit = dir.join("audit.log");
    let nodelogd = Nodelogd::start(&dir, &["--audit-log-path", audit.to_str().unwrap()]);
    assert_eq!(nodelogd.get("/logs/a.log?before", "token").0, 200);
    assert_eq!(lines_of(&audit, 1).len(), 1);
    let rotated = dir.join("audit.log.1");
    std::fs::rename(&audit, &rotated).unwrap();
    assert!(nodelogd.reload().contains("configuration reloaded"));
    assert_eq!(nodelogd.get("/logs/a.log?after", "token").0, 200);
    let now = lines_of(&audit, 1);
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(now[0].contains("after"), "{now:?}");
    let before = lines_of(&rotated, 1);
    assert!(
        before.len() == 1 && before[0].contains("before"),
        "{before:?}"
    );
}

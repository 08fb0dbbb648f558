//! HTTPS, over real sockets with certificates generated here: the real
//! kubectl with a client certificate, HTTP/2 chosen by ALPN, certificates
//! that must not get data (another CA, expired), rotation of the served
//! certificate while a stream is open, clients that never finish their
//! handshake, and the caps on request heads (431, 414) for both protocols.
//!
//! Each pins a defect of the code before it: nodelogd spoke plain HTTP
//! only, and hyper's own head limits (400 KiB, 100 fields) let oversized
//! heads through to the handlers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nodelogd::cli::ServeArgs;
use nodelogd_tests::clients;
use nodelogd_tests::fixture::runtime;
use nodelogd_tests::http;
use nodelogd_tests::pki::{Ca, Issued};

use crate::fixture;

const TAIL: &str = "/logs/?query=kubelet&tailLines=5";

fn tail_bytes() -> Vec<u8> {
    fixture().kubelet_journalctl(&["--pager-end", "--lines=5", "--unit=kubelet"])
}

/// A directory of its own for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = fixture().base.join("tls").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A CA with its server certificate in `dir`, and a nodelogd serving
/// HTTPS with them (client certificates from the same CA).
struct Https {
    dir: PathBuf,
    ca: Ca,
    server: Issued,
    addr: SocketAddr,
}

impl Https {
    /// With open access (anonymous, AlwaysAllow), for the transport tests.
    fn start(name: &str, args: ServeArgs) -> Https {
        Https::serve(name, args, |args| fixture().serve(args))
    }

    /// With the default authorization (Static, group system:masters) and
    /// the client CA as the only authentication.
    fn secured(name: &str) -> Https {
        Https::secured_with(name, ServeArgs::default())
    }

    /// [`Https::secured`], with further settings (a token file, say).
    fn secured_with(name: &str, args: ServeArgs) -> Https {
        Https::serve(name, args, |args| {
            fixture()
                .try_serve_secured(args)
                .expect("starting nodelogd")
        })
    }

    fn serve(name: &str, args: ServeArgs, serve: impl FnOnce(ServeArgs) -> SocketAddr) -> Https {
        let dir = scratch(name);
        let ca = Ca::new("nodelogd-test-ca");
        std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
        let server = ca.server();
        let (cert, key) = server.write(&dir, "server");
        let addr = serve(ServeArgs {
            tls_cert_file: Some(cert),
            tls_private_key_file: Some(key),
            client_ca_file: Some(dir.join("ca.crt")),
            ..args
        });
        Https {
            dir,
            ca,
            server,
            addr,
        }
    }

    /// `kubectl get --raw TARGET` over HTTPS, with the client certificate
    /// `client` (files NAME.crt and NAME.key in the directory) if given.
    fn kubectl(&self, target: &str, client: Option<&str>) -> std::process::Output {
        self.kubectl_with(target, client, &[])
    }

    /// [`Https::kubectl`] with further kubectl flags (`--token`, say).
    fn kubectl_with(
        &self,
        target: &str,
        client: Option<&str>,
        flags: &[&str],
    ) -> std::process::Output {
        let home = self.dir.join("kubectl-home");
        std::fs::create_dir_all(&home).unwrap();
        let mut cmd = Command::new("kubectl");
        cmd.env("HOME", &home)
            .env("KUBECONFIG", home.join("none"))
            .arg("--server")
            .arg(format!("https://{}", self.addr))
            .arg("--certificate-authority")
            .arg(self.dir.join("ca.crt"));
        if let Some(name) = client {
            cmd.arg("--client-certificate")
                .arg(self.dir.join(format!("{name}.crt")))
                .arg("--client-key")
                .arg(self.dir.join(format!("{name}.key")));
        }
        cmd.args(flags)
            .args(["--request-timeout", "20s", "get", "--raw", target])
            .output()
            .expect("kubectl is installed")
    }

    /// One HTTP/1.1 request over TLS, with `client`'s certificate.
    async fn get(&self, target: &str, client: Option<&Issued>) -> std::io::Result<Vec<u8>> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await?;
        let tls = clients::tls_connect(tcp, self.ca.der(), client, &[b"http/1.1"]).await?;
        clients::h1_exchange(tls, target, &[]).await
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Pins: no HTTPS at all. kubectl, verifying the server against the CA
/// and presenting a client certificate, gets journalctl's bytes.
#[test]
fn kubectl_over_https_with_a_client_certificate() {
    let https = Https::start("kubectl", ServeArgs::default());
    https
        .ca
        .client("admin", Some("system:masters"))
        .write(&https.dir, "admin");
    let out = https.kubectl(TAIL, Some("admin"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, tail_bytes());
}

/// The certificate matrix with authentication and authorization on:
/// O=system:masters reads the logs, a user in no allowed group gets the
/// kubelet's 403, no certificate (and no token) the kubelet's 401; no log
/// byte in either refusal.
#[test]
fn client_certificates_authenticate_their_user_and_groups() {
    let https = Https::secured("cert-matrix");
    let admin = https.ca.client("admin", Some("system:masters"));
    admin.write(&https.dir, "admin");
    let alice = https.ca.client("alice", None);
    alice.write(&https.dir, "alice");

    let out = https.kubectl(TAIL, Some("admin"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, tail_bytes());
    let forbidden = "Forbidden (user=alice, verb=get, resource=nodes, subresource=log)";
    let out = https.kubectl(TAIL, Some("alice"));
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(stderr(&out).contains(forbidden), "{}", stderr(&out));

    runtime().block_on(async {
        let resp = http::parse(&https.get(TAIL, Some(&alice)).await.unwrap());
        assert_eq!((resp.status, resp.text()), (403, forbidden.to_string()));
        let resp = http::parse(&https.get(TAIL, None).await.unwrap());
        assert_eq!(
            (resp.status, resp.text()),
            (401, "Unauthorized".to_string())
        );
    });
}

/// Static bearer tokens through the real kubectl, which sends a token
/// only over HTTPS: the admin's reads the logs, a viewer's gets the
/// kubelet's 403, an unknown one and none at all get 401; no log byte in
/// any refusal.
#[test]
fn kubectl_with_static_tokens() {
    let dir = scratch("token-file");
    let tokens = dir.join("tokens.csv");
    std::fs::write(
        &tokens,
        "admin-token,admin,1,\"system:masters,ops\"\nviewer-token,viewer,2,viewers\n",
    )
    .unwrap();
    let https = Https::secured_with(
        "tokens",
        ServeArgs {
            token_auth_file: Some(tokens),
            ..ServeArgs::default()
        },
    );
    let out = https.kubectl_with(TAIL, None, &["--token", "admin-token"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, tail_bytes());

    let out = https.kubectl_with(TAIL, None, &["--token", "viewer-token"]);
    assert!(!out.status.success() && out.stdout.is_empty());
    let forbidden = "Forbidden (user=viewer, verb=get, resource=nodes, subresource=log)";
    assert!(stderr(&out).contains(forbidden), "{}", stderr(&out));

    for flags in [&["--token", "no-such-token"][..], &[]] {
        let out = https.kubectl_with(TAIL, None, flags);
        assert!(!out.status.success(), "{flags:?}: kubectl succeeded");
        // Without credentials of its own, kubectl answers a 401 by asking
        // for a user name (on stdout); nothing else may arrive there.
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.is_empty() || stdout == "Please enter Username: ",
            "{flags:?}: got {stdout:?}"
        );
        // kubectl's words for a 401, or the end of its prompt's input.
        let err = stderr(&out);
        assert!(
            err.contains("You must be logged in to the server") || err == "error: EOF\n",
            "{err}"
        );
    }
}

/// Certificates that must not authenticate fail the handshake: one from
/// another CA and one expired, through kubectl and through a client that
/// sends its request right after a TLS 1.3 handshake.
#[test]
fn certificates_from_another_ca_or_expired_get_no_data() {
    let https = Https::start("refused-certs", ServeArgs::default());
    let other = Ca::new("another-ca").client("admin", Some("system:masters"));
    let expired = https.ca.expired_client("admin", Some("system:masters"));
    other.write(&https.dir, "other");
    expired.write(&https.dir, "expired");
    for name in ["other", "expired"] {
        let out = https.kubectl(TAIL, Some(name));
        assert!(!out.status.success(), "{name}: kubectl succeeded");
        // The reason kubectl gives varies with timing (the server's
        // alert, or a broken pipe when it closes first).
        assert!(out.stdout.is_empty(), "{name}: data was sent");
    }
    runtime().block_on(async {
        for client in [&other, &expired] {
            // An error (the server's alert) or nothing at all.
            if let Ok(raw) = https.get(TAIL, Some(client)).await {
                assert!(raw.is_empty(), "{}", String::from_utf8_lossy(&raw));
            }
        }
    });
}

/// HTTP/2 and HTTP/1.1 on one port, as the client's ALPN chooses.
#[test]
fn alpn_chooses_http2_or_http1() {
    let https = Https::start("alpn", ServeArgs::default());
    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(https.addr).await.unwrap();
        let tls = clients::tls_connect(tcp, https.ca.der(), None, &[b"h2", b"http/1.1"])
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut send, _conn) = clients::h2_handshake(tls, h2::client::Builder::new())
            .await
            .unwrap();
        let resp = clients::h2_get(&mut send, TAIL).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            clients::h2_body(resp.into_body()).await.unwrap(),
            tail_bytes()
        );

        let raw = https.get(TAIL, None).await.unwrap();
        let resp = http::parse(&raw);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, tail_bytes());
    });
}

/// Writes `issued` over the server's certificate and key, each file
/// replaced by a rename as certificate managers do.
fn install(dir: &Path, issued: &Issued) {
    for (name, text) in [
        ("server.crt", &issued.cert_pem),
        ("server.key", &issued.key_pem),
    ] {
        let tmp = dir.join(format!("{name}.new"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
}

/// The leaf certificate a new connection is served.
async fn served_leaf(https: &Https) -> Vec<u8> {
    let tcp = tokio::net::TcpStream::connect(https.addr).await.unwrap();
    let tls = clients::tls_connect(tcp, https.ca.der(), None, &[b"http/1.1"])
        .await
        .unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// Pins: certificates were not reloaded (kubelet certificates rotate).
/// While a stream is open the files change: the stream completes with
/// every byte, new connections get the new certificate, and a broken file
/// afterwards keeps the last good one in service.
#[test]
fn rotation_keeps_open_streams_and_serves_the_new_certificate() {
    let https = Https::start("rotation", ServeArgs::default());
    let everything = fixture().kubelet_journalctl(&["--unit=kubelet"]);
    runtime().block_on(async {
        assert_eq!(served_leaf(&https).await, https.server.cert.to_vec());
        // A stream larger than the windows, so it is still running below.
        let tcp = tokio::net::TcpStream::connect(https.addr).await.unwrap();
        let tls = clients::tls_connect(tcp, https.ca.der(), None, &[b"h2"])
            .await
            .unwrap();
        let (mut send, conn) = clients::h2_handshake(tls, h2::client::Builder::new())
            .await
            .unwrap();
        let resp = clients::h2_get(&mut send, "/logs/?query=kubelet")
            .await
            .unwrap();
        let mut body = resp.into_body();
        let first = body.data().await.unwrap().unwrap();
        body.flow_control().release_capacity(first.len()).unwrap();

        let rotated = https.ca.server();
        install(&https.dir, &rotated);
        let deadline = Instant::now() + Duration::from_secs(10);
        while served_leaf(&https).await != rotated.cert.to_vec() {
            assert!(
                Instant::now() < deadline,
                "the new certificate was not served"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        let mut got = first.to_vec();
        got.extend(clients::h2_body(body).await.unwrap());
        assert_eq!(got.len(), everything.len());
        assert!(got == everything, "the open stream was cut or changed");
        drop(send);
        drop(conn);

        // A certificate that is not PEM: the rotated one stays.
        std::fs::write(https.dir.join("server.crt"), "not a certificate").unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(served_leaf(&https).await, rotated.cert.to_vec());
    });
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Pins: a client that opens TCP and never finishes its handshake holds
/// a place. It is closed after the head timeout, counts under the
/// per-address cap, and makes room (it is idle) for a client that
/// handshakes; clients from other addresses are served meanwhile.
#[test]
fn clients_that_never_finish_the_handshake_do_not_hold_the_server() {
    let https = Https::start(
        "slowloris",
        ServeArgs {
            header_timeout_seconds: Some(2),
            max_connections_per_address: Some(4),
            ..Default::default()
        },
    );
    let rt = runtime();
    let slow = loopback(2);
    let started = Instant::now();
    let mut stalled = Vec::new();
    for i in 0..4 {
        let mut tcp = clients::connect_from_blocking(rt, slow, https.addr, None).unwrap();
        if i % 2 == 1 {
            // The start of a ClientHello, then nothing.
            use std::io::Write;
            tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
                .unwrap();
        }
        stalled.push(tcp);
    }
    rt.block_on(async {
        for from in [slow, loopback(3)] {
            let tcp = clients::connect_from(from, https.addr, None).await.unwrap();
            let tls = clients::tls_connect(tcp, https.ca.der(), None, &[b"http/1.1"])
                .await
                .unwrap();
            let resp = http::parse(&clients::h1_exchange(tls, "/healthz", &[]).await.unwrap());
            assert_eq!(
                (resp.status, resp.text()),
                (200, "ok".to_string()),
                "{from}"
            );
        }
    });
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "served only after the stalled handshakes timed out"
    );
    for tcp in &stalled {
        assert!(clients::closed_within(tcp, Duration::from_secs(5)));
    }
}

/// Pins: hyper's limits (400 KiB of head, 100 fields) let large heads
/// through. Over the caps: 414 for the target, 431 for the fields, with
/// Go's wording, over HTTP/1.1 and HTTP/2.
#[test]
fn oversized_heads_get_431_and_414() {
    let addr = fixture().addr;
    let long_target = format!("/logs/?query=kubelet&pattern={}", "a".repeat(33 << 10));
    let big_value = "v".repeat(20 << 10);
    let many: Vec<(String, String)> = (0..80)
        .map(|i| (format!("x-field-{i}"), "1".to_string()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let resp = http::request(addr, "GET", &long_target, &[]);
    assert_eq!(
        (resp.status, resp.text()),
        (414, "414 URI Too Long\n".to_string())
    );
    let text = "431 Request Header Fields Too Large\n".to_string();
    let resp = http::request(addr, "GET", TAIL, &[("x-big", &big_value)]);
    assert_eq!((resp.status, resp.text()), (431, text.clone()));
    let resp = http::request(addr, "GET", TAIL, &many);
    assert_eq!((resp.status, resp.text()), (431, text.clone()));
    // Within the caps, the same requests are answered.
    assert_eq!(http::request(addr, "GET", TAIL, &many[..40]).status, 200);

    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut send, _conn) = clients::h2_handshake(tcp, h2::client::Builder::new())
            .await
            .unwrap();
        let resp = clients::h2_get(&mut send, &long_target).await.unwrap();
        assert_eq!(resp.status(), 414);
        let req = ::http::Request::get(format!("http://nodelogd{TAIL}"))
            .header("x-big", big_value.as_str());
        let mut ready = send.clone().ready().await.unwrap();
        let (resp, _) = ready.send_request(req.body(()).unwrap(), true).unwrap();
        let resp = resp.await.unwrap();
        assert_eq!(resp.status(), 431);
        assert_eq!(
            clients::h2_body(resp.into_body()).await.unwrap(),
            text.as_bytes()
        );
    });
}

//! Who may read logs, end to end over real sockets and the real kubectl:
//! 401 without credentials (also when nothing at all is configured), the
//! static token file, Static and AlwaysAllow authorization with the
//! kubelet's exact texts, the refused start-ups of item 5, the kubelet's
//! gating, and the per-user cap. Each test pins a defect of the code
//! before issue 6, which served every log to anyone who could connect.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;

use nodelogd::cli::{AuthorizationMode, ServeArgs};
use nodelogd::config::Config;
use nodelogd_tests::http;

use crate::fixture;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
const TAIL: &str = "/logs/?query=kubelet&tailLines=5";
const EVERYTHING: &str = "/logs/?query=kubelet&query=containerd&query=kube-proxy&query=sshd";

fn dir(name: &str) -> PathBuf {
    let dir = fixture().base.join("auth").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A token file: an admin in system:masters, a viewer in no group, and
/// alice and bob (ops) for the per-user cap.
fn token_file(name: &str) -> PathBuf {
    let path = dir(name).join("tokens.csv");
    std::fs::write(
        &path,
        "admin-token,admin,1,\"system:masters,ops\"\n\
         viewer-token,viewer,2\n\
         alice-token,alice,3,ops\n\
         bob-token,bob,4,ops\n",
    )
    .unwrap();
    path
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn get_as(addr: SocketAddr, target: &str, token: &str) -> http::Response {
    http::request(addr, "GET", target, &[("Authorization", &bearer(token))])
}

fn journal_tail() -> Vec<u8> {
    fixture().kubelet_journalctl(&["--pager-end", "--lines=5", "--unit=kubelet"])
}

#[track_caller]
fn assert_unauthorized(resp: &http::Response) {
    assert_eq!((resp.status, resp.text().as_str()), (401, "Unauthorized"));
}

#[test]
fn with_no_flags_at_all_no_log_reaches_a_client_without_the_generated_token() {
    // Pins: nodelogd without flags served every log to any local process.
    let token_path = dir("first-run").join("nodelogd/token");
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            generated_token_file: Some(token_path.clone()),
            ..Default::default()
        })
        .unwrap();
    for target in [TAIL, "/logs/", "/logs/kubelet.log", "/nope"] {
        assert_unauthorized(&http::get(addr, target));
    }
    assert_unauthorized(&get_as(addr, TAIL, "guess"));
    let health = http::get(addr, "/healthz");
    assert_eq!((health.status, health.text().as_str()), (200, "ok"));

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "readable by nodelogd's user only");
    let token = std::fs::read_to_string(&token_path).unwrap();
    let resp = get_as(addr, TAIL, token.trim());
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, journal_tail());
}

/// The real kubectl, with a bearer token, straight at `addr` over plain
/// HTTP.
fn kubectl(addr: SocketAddr, token: &str, raw: &str) -> std::process::Output {
    let home = dir("kubectl-home");
    Command::new("kubectl")
        .env("HOME", &home)
        .env("KUBECONFIG", home.join("none"))
        .args(["--server", &format!("http://{addr}"), "--token", token])
        .args(["get", "--raw", raw])
        .output()
        .expect("kubectl is installed")
}

#[test]
fn static_tokens_admin_reads_others_are_refused() {
    // Pins: no token was ever asked for; a token file is how a standalone
    // node grants access.
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            token_auth_file: Some(token_file("static")),
            ..Default::default()
        })
        .unwrap();
    let resp = get_as(addr, TAIL, "admin-token");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, journal_tail());

    let forbidden = "Forbidden (user=viewer, verb=get, resource=nodes, subresource=log)";
    let resp = get_as(addr, TAIL, "viewer-token");
    assert_eq!((resp.status, resp.text().as_str()), (403, forbidden));
    let resp = http::request(
        addr,
        "POST",
        TAIL,
        &[("Authorization", "Bearer viewer-token")],
    );
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (
            403,
            "Forbidden (user=viewer, verb=create, resource=nodes, subresource=log)"
        )
    );
    assert_unauthorized(&get_as(addr, TAIL, "unknown-token"));
    assert_unauthorized(&http::get(addr, TAIL));
    // The scheme is case-insensitive, as kube-apiserver's; other schemes
    // are not credentials nodelogd takes.
    let resp = http::request(
        addr,
        "GET",
        TAIL,
        &[("Authorization", "bearer admin-token")],
    );
    assert_eq!(resp.status, 200);
    assert_unauthorized(&http::request(
        addr,
        "GET",
        TAIL,
        &[("Authorization", "Basic YTpi")],
    ));

    // kubectl sends a token over HTTPS only (client-go withholds it from
    // plain HTTP), so here even the admin's token gets no log: the real
    // kubectl --token matrix runs over TLS (tests/all/tls.rs).
    let out = kubectl(addr, "admin-token", TAIL);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("You must be logged in to the server"),
        "{stderr}"
    );
}

#[test]
fn authorized_users_and_groups_decide_in_static_mode() {
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            token_auth_file: Some(token_file("static-lists")),
            authorized_users: Some(vec!["viewer".into()]),
            authorized_groups: Some(vec!["ops".into()]),
            ..Default::default()
        })
        .unwrap();
    for token in ["viewer-token", "alice-token", "admin-token"] {
        assert_eq!(get_as(addr, TAIL, token).status, 200, "{token}");
    }
}

#[test]
fn anonymous_access_is_allowed_only_as_said() {
    // Open access said explicitly: anonymous and AlwaysAllow.
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            anonymous_auth: Some(true),
            authorization_mode: Some(AuthorizationMode::AlwaysAllow),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(http::get(addr, TAIL).body, journal_tail());
    // Anonymous under Static: authenticated, but not authorized.
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            anonymous_auth: Some(true),
            token_auth_file: Some(token_file("anonymous")),
            ..Default::default()
        })
        .unwrap();
    let resp = http::get(addr, TAIL);
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (
            403,
            "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=log)"
        )
    );
    // A bad token stays a 401, even where anonymous requests are let in.
    assert_unauthorized(&get_as(addr, TAIL, "unknown-token"));
}

fn refusal(args: ServeArgs) -> String {
    format!("{:#}", Config::load(args).unwrap_err())
}

#[test]
fn insecure_configurations_are_refused_with_what_is_missing() {
    // Pins: the old check said only "loopback only"; now each refusal
    // names the missing piece.
    let public: SocketAddr = "10.1.2.3:10260".parse().unwrap();
    assert_eq!(
        refusal(ServeArgs {
            listen: Some(public),
            ..Default::default()
        }),
        "refusing to listen on 10.1.2.3:10260: a non-loopback address needs TLS \
         (--tls-cert-file and --tls-private-key-file) and an authentication method \
         (--client-ca-file, --token-auth-file or --authentication-token-webhook)"
    );
    assert_eq!(
        refusal(ServeArgs {
            listen: Some(public),
            token_auth_file: Some(token_file("refusals")),
            ..Default::default()
        }),
        "refusing to listen on 10.1.2.3:10260: a non-loopback address needs TLS \
         (--tls-cert-file and --tls-private-key-file)"
    );
    assert_eq!(
        refusal(ServeArgs {
            listen: Some(public),
            tls_cert_file: Some("cert.pem".into()),
            tls_private_key_file: Some("key.pem".into()),
            ..Default::default()
        }),
        "refusing to listen on 10.1.2.3:10260: a non-loopback address needs an \
         authentication method (--client-ca-file, --token-auth-file or \
         --authentication-token-webhook)"
    );
    assert_eq!(
        refusal(ServeArgs {
            listen: Some("[::]:10260".parse().unwrap()),
            anonymous_auth: Some(true),
            authorization_mode: Some(AuthorizationMode::AlwaysAllow),
            ..Default::default()
        }),
        "refusing to listen on [::]:10260: open access (--anonymous-auth=true with \
         --authorization-mode=AlwaysAllow) is accepted on loopback addresses only"
    );
    assert_eq!(
        refusal(ServeArgs {
            authorization_mode: Some(AuthorizationMode::Webhook),
            ..Default::default()
        }),
        "--authorization-mode=Webhook needs --kubeconfig, to reach the API server"
    );
    assert_eq!(
        refusal(ServeArgs {
            client_ca_file: Some("ca.pem".into()),
            ..Default::default()
        }),
        "--client-ca-file needs TLS: --tls-cert-file and --tls-private-key-file"
    );
}

#[test]
fn a_bad_token_file_stops_the_start_naming_the_line() {
    let path = dir("bad-tokens").join("tokens.csv");
    std::fs::write(&path, "good,admin,1\nshort,line\n").unwrap();
    let err = fixture()
        .try_serve_secured(ServeArgs {
            token_auth_file: Some(path.clone()),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(
        format!("{err:#}"),
        format!(
            "{}, line 2: at least 3 columns (token, user name, user uid) are needed, found 2",
            path.display()
        )
    );
}

#[test]
fn gating_has_the_kubelet_s_start_up_errors_and_answers() {
    // Pins: none of the kubelet's switches existed.
    let gated = |handler, query, gates: Option<&str>| {
        refusal(ServeArgs {
            enable_system_log_handler: handler,
            enable_system_log_query: query,
            feature_gates: gates.map(String::from),
            anonymous_auth: Some(true),
            ..Default::default()
        })
    };
    assert_eq!(
        gated(None, None, Some("NodeLogQuery=false")),
        "invalid configuration: NodeLogQuery feature gate is required for enableSystemLogHandler"
    );
    assert_eq!(
        gated(Some(false), Some(true), None),
        "invalid configuration: enableSystemLogHandler is required for enableSystemLogQuery"
    );
    assert_eq!(
        gated(Some(false), None, Some("NodeLogQuery=false")),
        "[invalid configuration: NodeLogQuery feature gate is required for enableSystemLogHandler, \
         invalid configuration: enableSystemLogHandler is required for enableSystemLogQuery]"
    );
    assert_eq!(
        gated(None, None, Some("Bogus=true")),
        "unrecognized feature gate: Bogus"
    );

    let addr = fixture().serve(ServeArgs {
        enable_system_log_handler: Some(false),
        enable_system_log_query: Some(false),
        ..Default::default()
    });
    for target in [TAIL, "/logs/", "/logs/kubelet.log"] {
        let resp = http::get(addr, target);
        assert_eq!(
            (resp.status, resp.text().as_str()),
            (405, "logs endpoint is disabled.\n"),
            "{target}"
        );
    }
    // Without query mode, the kubelet's file server ignores the query.
    let addr = fixture().serve(ServeArgs {
        enable_system_log_query: Some(false),
        ..Default::default()
    });
    let listing = http::get(addr, "/logs/?query=kubelet&tailLines=5");
    assert_eq!(listing.status, 200);
    assert!(
        listing
            .text()
            .contains("<a href=\"containers/\">containers/</a>")
    );
    assert_eq!(http::get(addr, "/logs/?tailLines=x").status, 200);
}

/// A query from `from` as `token` whose response starts (so it holds its
/// slots) and is then not read.
fn stalled(from: IpAddr, addr: SocketAddr, token: &str) -> TcpStream {
    let auth = bearer(token);
    let mut socket = http::send_from(from, addr, "GET", EVERYTHING, &[("Authorization", &auth)]);
    let mut first = [0u8; 4096];
    socket.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"), "started");
    socket
}

#[test]
fn one_user_cannot_take_every_query_slot_from_any_address() {
    // Pins: slots were shared per address only, so one user with many
    // addresses (or one behind a proxy) could take them all.
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            token_auth_file: Some(token_file("per-user")),
            authorized_groups: Some(vec!["ops".into()]),
            max_concurrent_queries: Some(4),
            max_queries_per_client: Some(4),
            max_queries_per_user: Some(1),
            queue_wait_ms: Some(200),
            deadline_seconds: Some(10),
            ..Default::default()
        })
        .unwrap();
    let held = stalled(A, addr, "alice-token");
    let auth = bearer("alice-token");
    let mut again = http::send_from(B, addr, "GET", TAIL, &[("Authorization", &auth)]);
    let mut raw = Vec::new();
    again.read_to_end(&mut raw).unwrap();
    let resp = http::parse(&raw);
    assert_eq!(
        (
            resp.status,
            resp.text().as_str(),
            resp.header("retry-after")
        ),
        (
            429,
            "too many log queries are running; try again later\n",
            Some("1")
        )
    );
    assert_eq!(get_as(addr, TAIL, "bob-token").body, journal_tail());
    drop(held);
}

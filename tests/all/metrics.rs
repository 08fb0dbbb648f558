//! `/metrics` over real sockets: a scripted mix of requests (a listing, a
//! file, service queries served by the misbehaving plugin, its faults, a
//! 400, 429s, a deadline, a client that leaves mid-stream), each series
//! checked to have moved by what the script did, the output read by a
//! Prometheus text-format parser (`prometheus-parse`). Then the guard:
//! the kubelet's 401 and 403 texts for `/metrics`, and the loopback
//! opening.
//!
//! Pins: nodelogd had no `/metrics` (404), so none of this was visible.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use nodelogd::cli::ServeArgs;
use nodelogd_tests::http;
use nodelogd_tests::pki::Ca;
use prometheus_parse::{Scrape, Value};

use crate::fixture;
use crate::sandbox::misbehave;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
const FILE: &str = "/logs/containers/web-1_default_app-abc.log";

/// One scrape: `name{label="value",...}` (labels sorted) to its value; a
/// histogram's buckets as `name_bucket{...,le="X"}`.
#[derive(Debug)]
struct Series(BTreeMap<String, f64>);

impl Series {
    fn get(&self, key: &str) -> f64 {
        self.0.get(key).copied().unwrap_or(0.0)
    }

    /// The key of the one series of `name`, for labels unknown in advance.
    fn find(&self, name: &str) -> Option<&String> {
        self.0.keys().find(|k| k.starts_with(&format!("{name}{{")))
    }
}

fn scrape_with(addr: SocketAddr, headers: &[(&str, &str)]) -> Series {
    let resp = http::request(addr, "GET", "/metrics", headers);
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = resp.text();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    let mut series = BTreeMap::new();
    for sample in parsed.samples {
        let key = |name: &str, labels: &str| format!("{name}{{{labels}}}");
        match sample.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => {
                series.insert(key(&sample.metric, &sample.labels.to_string()), v);
            }
            Value::Histogram(buckets) => {
                for b in buckets {
                    let labels = sample.labels.to_string();
                    let sep = if labels.is_empty() { "" } else { "," };
                    let le = format!("{labels}{sep}le=\"{}\"", b.less_than);
                    series.insert(key(&format!("{}_bucket", sample.metric), &le), b.count);
                }
            }
            Value::Summary(_) => panic!("nodelogd exports no summaries"),
        }
    }
    Series(series)
}

fn scrape(addr: SocketAddr) -> Series {
    scrape_with(addr, &[])
}

/// A request whose response head arrives and whose body is then not read.
fn started(from: IpAddr, addr: SocketAddr, target: &str) -> TcpStream {
    let mut socket = http::send_from(from, addr, "GET", target, &[]);
    let mut head = [0u8; 12];
    socket.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "{target} started");
    socket
}

/// Scrapes until `check` holds (the server sees a client leave a moment
/// after it does), for at most 5 s.
fn eventually(addr: SocketAddr, check: impl Fn(&Series) -> bool) -> Series {
    let started = Instant::now();
    loop {
        let now = scrape(addr);
        if check(&now) || started.elapsed() > Duration::from_secs(5) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_series_moves_as_a_scripted_mix_of_requests_says() {
    // Open access (the fixture's default), one query at a time, a short
    // wait and a 3 s deadline (the CPU and memory faults end well before
    // it, even on a busy machine); the misbehaving plugin claims every
    // service.
    let args = ServeArgs {
        max_concurrent_queries: Some(1),
        queue_wait_ms: Some(200),
        deadline_seconds: Some(3),
        ..Default::default()
    };
    let addr = fixture().serve_with(args, vec![misbehave()]);
    let before = scrape(addr);
    let mut scrapes = 1.0;

    assert_eq!(http::get(addr, "/logs/").status, 200);
    assert_eq!(http::get(addr, FILE).status, 200);
    let resp = http::get(addr, "/logs/?query=hello");
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello\n"));
    assert_eq!(
        http::get(addr, "/logs/?query=hello&tailLines=x").status,
        400
    );
    for mode in ["trap", "loop", "alloc", "oversized"] {
        let resp = http::get(addr, &format!("/logs/?query={mode}"));
        let body = resp.text();
        assert!(
            body.contains("error: log source misbehave"),
            "{mode}: {body:?}"
        );
    }

    // A query that holds the only slot (a program that prints nothing)
    // until the deadline ends it; meanwhile its address is turned away
    // for want of an address slot, and another address for want of a slot
    // of the user (all anonymous requests are one user, whose share is
    // every slot: one).
    let mut held = started(A, addr, "/logs/?query=sleep-8765101");
    // The program starts a moment after the response head is sent.
    // Process-wide: other tests' programs may be running too.
    let programs = "nodelogd_programs_running{}";
    let during = eventually(addr, |now| now.get(programs) >= 1.0);
    scrapes += 1.0;
    assert!(during.get(programs) >= 1.0);
    assert_eq!(during.get("nodelogd_queries_in_flight{}"), 1.0);
    assert_eq!(
        http::request_from(A, addr, "/logs/?query=hello").status,
        429
    );
    assert_eq!(
        http::request_from(B, addr, "/logs/?query=hello").status,
        429
    );
    let mut rest = Vec::new();
    held.read_to_end(&mut rest).unwrap();

    // A client that reads the head and leaves.
    drop(started(A, addr, "/logs/?query=sleep-8765102"));
    let gone = r#"nodelogd_client_disconnects_total{kind="query"}"#;
    // Its producer lets go of the slot a moment after the response ends.
    let in_flight = "nodelogd_queries_in_flight{}";
    let after = eventually(addr, |now| {
        now.get(gone) > before.get(gone) && now.get(in_flight) == 0.0
    });
    scrapes += 1.0;
    // The final scrape is counted after its own response.
    let scrapes_before_final = scrapes - 1.0;

    let moved = |key: &str| after.get(key) - before.get(key);
    let requests = |kind: &str, code: u16| {
        moved(&format!(
            r#"nodelogd_requests_total{{code="{code}",kind="{kind}"}}"#
        ))
    };
    assert_eq!(requests("listing", 200), 1.0);
    assert_eq!(requests("file", 200), 1.0);
    // hello, the four faults (in-band, after the 200), the held query and
    // the one whose client left.
    assert_eq!(requests("query", 200), 7.0);
    assert_eq!(requests("query", 429), 2.0);
    assert_eq!(requests("other", 400), 1.0);
    assert!(requests("metrics", 200) >= scrapes_before_final);
    let throttled = |reason: &str| {
        moved(&format!(
            r#"nodelogd_throttled_requests_total{{kind="query",reason="{reason}"}}"#
        ))
    };
    assert_eq!(throttled("client_address"), 1.0);
    assert_eq!(throttled("user"), 1.0);
    assert_eq!(moved("nodelogd_query_deadline_hits_total{}"), 1.0);
    assert_eq!(moved(gone), 1.0);
    assert_eq!(after.get(in_flight), 0.0);

    let plugin = |name: &str| format!(r#"{name}{{plugin="misbehave"}}"#);
    assert_eq!(moved(&plugin("nodelogd_plugin_instantiations_total")), 7.0);
    for cause in ["panic", "cpu", "memory", "malformed"] {
        let key = format!(r#"nodelogd_plugin_faults_total{{cause="{cause}",plugin="misbehave"}}"#);
        assert_eq!(moved(&key), 1.0, "{cause}");
    }
    assert_eq!(moved(&plugin("nodelogd_plugin_output_bytes_total")), 6.0);
    // The CPU loop alone burns its 300 ms budget. The budget is fuel,
    // calibrated to about a millisecond per unit, so the seconds it takes
    // vary with the machine (0.296 s on an idle one here): a third of it.
    let time = moved(&plugin("nodelogd_plugin_time_seconds_total"));
    assert!(time >= 0.1, "{time}");

    // Durations and times to first byte: one observation per response.
    for kind in ["listing", "file"] {
        for name in ["request_duration", "request_first_byte"] {
            let key = format!(r#"nodelogd_{name}_seconds_count{{kind="{kind}"}}"#);
            assert_eq!(moved(&key), 1.0, "{key}");
        }
        let key = format!(r#"nodelogd_response_body_bytes_total{{kind="{kind}"}}"#);
        assert!(moved(&key) > 0.0, "{key}");
    }
    let key = r#"nodelogd_request_duration_seconds_count{kind="query"}"#;
    assert_eq!(moved(key), 9.0, "the 429s too");
    let inf = r#"nodelogd_request_duration_seconds_bucket{kind="query",le="inf"}"#;
    assert_eq!(moved(inf), 9.0, "{after:?}");
    let key = r#"nodelogd_response_body_bytes_total{kind="query"}"#;
    assert!(moved(key) >= 6.0);

    // Open access: every request anonymous and allowed.
    let all: f64 = after
        .0
        .keys()
        .filter(|k| k.starts_with("nodelogd_requests_total{"))
        .map(|k| moved(k))
        .sum();
    assert_eq!(
        moved(r#"nodelogd_authentications_total{result="anonymous"}"#),
        all
    );
    assert_eq!(
        moved(r#"nodelogd_authorizations_total{decision="allowed"}"#),
        all
    );

    let build = after.find("nodelogd_build_info").expect("build info");
    assert_eq!(after.get(build), 1.0);
    for label in [
        format!(r#"version="{}""#, env!("CARGO_PKG_VERSION")),
        r#"wasmtime_version="48."#.to_string(),
        r#"wit_version="0.1."#.to_string(),
    ] {
        assert!(build.contains(&label), "{build} has {label}");
    }
    assert_eq!(after.get("nodelogd_plugin_load_failures_total{}"), 0.0);
}

fn token_file(name: &str) -> std::path::PathBuf {
    let dir = fixture().base.join("metrics").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokens.csv");
    std::fs::write(
        &path,
        "admin-token,admin,1,system:masters\nviewer-token,viewer,2\n",
    )
    .unwrap();
    path
}

fn get_as(addr: SocketAddr, target: &str, token: &str) -> http::Response {
    let bearer = format!("Bearer {token}");
    http::request(addr, "GET", target, &[("Authorization", &bearer)])
}

#[test]
fn metrics_are_authorized_as_the_kubelets_by_default() {
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            token_auth_file: Some(token_file("secured")),
            ..Default::default()
        })
        .unwrap();
    let before = scrape_with(addr, &[("Authorization", "Bearer admin-token")]);
    let resp = http::get(addr, "/metrics");
    assert_eq!((resp.status, resp.text().as_str()), (401, "Unauthorized"));
    let resp = get_as(addr, "/metrics", "viewer-token");
    assert_eq!(
        (resp.status, resp.text().as_str()),
        (
            403,
            "Forbidden (user=viewer, verb=get, resource=nodes, subresource=metrics)"
        )
    );
    let after = scrape_with(addr, &[("Authorization", "Bearer admin-token")]);
    let moved = |key: &str| after.get(key) - before.get(key);
    assert_eq!(
        moved(r#"nodelogd_authentications_total{result="failed"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"nodelogd_authentications_total{result="static-token"}"#),
        2.0,
        "the viewer's and the admin's first scrape"
    );
    assert_eq!(
        moved(r#"nodelogd_authorizations_total{decision="denied"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"nodelogd_requests_total{code="401",kind="other"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"nodelogd_requests_total{code="403",kind="other"}"#),
        1.0
    );
}

#[test]
fn metrics_open_on_loopback_needs_no_credentials_and_only_there() {
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            token_auth_file: Some(token_file("open")),
            metrics_open_on_loopback: Some(true),
            ..Default::default()
        })
        .unwrap();
    scrape(addr);
    // The logs are still guarded.
    assert_eq!(http::get(addr, "/logs/").status, 401);
    // With TLS the opening is refused at start.
    let dir = fixture().base.join("metrics").join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = Ca::new("metrics-ca").server().write(&dir, "server");
    let err = fixture()
        .try_serve_secured(ServeArgs {
            token_auth_file: Some(token_file("open-tls")),
            metrics_open_on_loopback: Some(true),
            tls_cert_file: Some(cert),
            tls_private_key_file: Some(key),
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("--metrics-open-on-loopback needs plain HTTP"),
        "{err:#}"
    );
}

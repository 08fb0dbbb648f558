//! Admission over real sockets: per-address fairness, the short queue,
//! `Retry-After` on every 429, the file requests' own limit, and a
//! 100,000-entry listing streamed while `/healthz` answers. Clients are
//! told apart by binding their sockets to 127.0.0.2, 127.0.0.3, ...

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use nodelogd::cli::ServeArgs;
use nodelogd_tests::http;

use crate::files::{BIG, go_listing, many_entries, odd};
use crate::fixture;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Every unit: several MB, more than socket buffers hold.
const EVERYTHING: &str = "/logs/?query=kubelet&query=containerd&query=kube-proxy&query=sshd";
const SMALL: &str = "/logs/?query=kubelet&tailLines=3";

/// A request from `from` whose response starts (so it holds its slot) and
/// is then not read.
fn stalled(from: IpAddr, addr: SocketAddr, target: &str) -> TcpStream {
    let mut socket = http::send_from(from, addr, "GET", target, &[]);
    let mut first = [0u8; 4096];
    socket.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"HTTP/1.1 200"), "{target} started");
    socket
}

#[track_caller]
fn assert_busy(resp: &http::Response, text: &str) {
    assert_eq!(
        (
            resp.status,
            resp.text().as_str(),
            resp.header("retry-after")
        ),
        (429, text, Some("1"))
    );
}

#[test]
fn a_busy_address_gets_429_with_retry_after_and_others_still_get_in() {
    // Pins: one address could take every query slot, and a 429 had no
    // Retry-After.
    let addr = fixture().serve(ServeArgs {
        max_concurrent_queries: Some(3),
        max_queries_per_client: Some(2),
        queue_wait_ms: Some(300),
        deadline_seconds: Some(10),
        ..Default::default()
    });
    let held = [stalled(A, addr, EVERYTHING), stalled(A, addr, EVERYTHING)];
    let started = Instant::now();
    let resp = http::request_from(A, addr, SMALL);
    assert_busy(&resp, "too many log queries are running; try again later\n");
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited");
    let resp = http::request_from(B, addr, SMALL);
    assert_eq!(resp.status, 200, "{}", resp.text());
    drop(held);
}

#[test]
fn a_short_queue_absorbs_a_burst() {
    // Pins: with every slot taken, the next query got 429 at once although
    // a slot freed a moment later.
    let addr = fixture().serve(ServeArgs {
        max_concurrent_queries: Some(2),
        max_queries_per_client: Some(2),
        queue_wait_ms: Some(5000),
        ..Default::default()
    });
    let burst: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(move || http::get(addr, SMALL).status))
        .collect();
    let statuses: Vec<u16> = burst.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(statuses, [200; 6]);
}

#[test]
fn file_requests_have_a_limit_of_their_own() {
    // Pins: raw files and listings ran without any limit.
    let addr = fixture().serve_root(
        &odd().0,
        ServeArgs {
            max_file_requests: Some(3),
            max_file_requests_per_client: Some(2),
            queue_wait_ms: Some(300),
            ..Default::default()
        },
    );
    let big = format!("/logs/{BIG}");
    let held = [stalled(A, addr, &big), stalled(A, addr, &big)];
    for target in ["/logs/", "/logs/?query=/big.bin"] {
        let resp = http::request_from(A, addr, target);
        assert_busy(
            &resp,
            "too many file requests are running; try again later\n",
        );
    }
    assert_eq!(http::request_from(B, addr, "/logs/").status, 200);
    // Service queries and /healthz are not file requests.
    assert_eq!(http::request_from(A, addr, SMALL).status, 200);
    assert_eq!(http::request_from(A, addr, "/healthz").status, 200);
    drop(held);
}

#[test]
fn a_100k_entry_listing_streams_sorted_while_healthz_answers() {
    // Pins: the listing was built whole, in memory, on the async workers
    // (a Content-Length body; /healthz stalled behind concurrent listings).
    // In memory when possible: creating 100,000 names on a busy disk takes
    // minutes.
    let shm = std::path::Path::new("/dev/shm");
    let root = if shm.is_dir() { shm } else { &fixture().base }
        .join(format!("nodelogd-many-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let _cleanup = RemoveOnDrop(root.clone());
    let names = many_entries(&root.join("many"), 100_000);
    let addr = fixture().serve_root(&root, ServeArgs::default());
    let expected = go_listing(&names);
    let clients: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(move || http::get(addr, "/logs/many/")))
        .collect();
    let mut slowest = Duration::ZERO;
    while !clients.iter().all(|c| c.is_finished()) {
        let started = Instant::now();
        assert_eq!(http::get(addr, "/healthz").status, 200);
        slowest = slowest.max(started.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    for client in clients {
        let resp = client.join().unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
        assert_eq!(resp.header("content-length"), None);
        assert!(resp.body == expected, "the listing differs from Go's");
    }
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?}"
    );
}

/// Removes a directory when the test ends, passed or failed (it may be in
/// memory, /dev/shm).
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

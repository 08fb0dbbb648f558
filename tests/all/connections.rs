//! What one client can hold, over real sockets: connections that send
//! nothing, clients that stop reading (HTTP/1 and HTTP/2), one address
//! flooding, HTTP/2 end to end, and kept-alive latency. Servers here get
//! timeouts of one or two seconds so the rules show within the test.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use nodelogd::cli::{JournalReader, ServeArgs};
use nodelogd_tests::clients::{self, H2_PREFACE_AND_SETTINGS};
use nodelogd_tests::fixture::runtime;
use nodelogd_tests::procs;

use crate::fixture;
use crate::streaming::EVERYTHING;

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// Pins: a connection that sent nothing, or only the HTTP/2 preface,
/// held its slot forever (hyper's header timeout starts only once the
/// version is known, and HTTP/2 had no idle timeout); so did a kept-alive
/// HTTP/2 connection after its request.
#[test]
fn idle_connections_are_closed() {
    let addr = fixture().serve(ServeArgs {
        header_timeout_seconds: Some(1),
        idle_timeout_seconds: Some(2),
        ..Default::default()
    });
    let started = Instant::now();
    let silent = TcpStream::connect(addr).unwrap();
    let mut preface = TcpStream::connect(addr).unwrap();
    preface.write_all(H2_PREFACE_AND_SETTINGS).unwrap();
    // The head timeout, then (HTTP/2, which gets a GOAWAY) a second's grace
    // for the client to leave, with room for a loaded machine.
    assert!(clients::closed_within(&silent, Duration::from_secs(5)));
    assert!(clients::closed_within(
        &preface,
        Duration::from_secs(5).saturating_sub(started.elapsed())
    ));
    assert!(started.elapsed() >= Duration::from_millis(900));

    // After a request, HTTP/2 gets the idle timeout and a GOAWAY.
    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut send, conn) = clients::h2_handshake(tcp, h2::client::Builder::new())
            .await
            .unwrap();
        let resp = clients::h2_get(&mut send, "/healthz").await.unwrap();
        assert_eq!(clients::h2_body(resp.into_body()).await.unwrap(), b"ok");
        let idle = Instant::now();
        // `send` stays alive: the client itself would close without it.
        let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
        assert!(ended.is_ok(), "the idle HTTP/2 connection stayed open");
        assert!(idle.elapsed() >= Duration::from_millis(1900));
        drop(send);
    });
}

/// Pins: one address could hold every connection slot, so every other
/// client (and `/healthz`) waited; now an address at its cap, or a full
/// server, closes its longest-idle connection to make room.
#[test]
fn one_address_cannot_starve_another() {
    let addr = fixture().serve(ServeArgs {
        max_connections: Some(8),
        max_connections_per_address: Some(4),
        header_timeout_seconds: Some(60),
        ..Default::default()
    });
    let rt = runtime();
    let flood: Vec<TcpStream> = (0..12)
        .map(|_| clients::connect_from_blocking(rt, loopback(2), addr, None).unwrap())
        .collect();
    let closed = flood
        .iter()
        .filter(|s| clients::closed_within(s, Duration::from_millis(300)))
        .count();
    assert_eq!(closed, 8, "127.0.0.2 keeps its 4 newest connections");
    // Other addresses fill the server; the longest idle make room.
    let others: Vec<TcpStream> = (4..10)
        .map(|last| clients::connect_from_blocking(rt, loopback(last), addr, None).unwrap())
        .collect();
    let started = Instant::now();
    let mut healthz = clients::connect_from_blocking(rt, loopback(3), addr, None).unwrap();
    healthz
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = String::new();
    healthz.read_to_string(&mut resp).unwrap();
    assert!(resp.ends_with("\r\n\r\nok"), "{resp}");
    assert!(started.elapsed() < Duration::from_secs(1));
    let open = flood
        .iter()
        .chain(&others)
        .filter(|s| !clients::closed_within(s, Duration::from_millis(100)))
        .count();
    assert!(open <= 8, "{open} connections open, over the cap of 8");
}

/// Pins: a client that stopped reading held its response, buffers and
/// journalctl until it left (or the deadline, here a minute).
#[test]
fn a_client_that_stops_reading_is_cut_off() {
    let (link, needle) = fixture().own_journal("journal-stalled-h1");
    let addr = fixture().serve(ServeArgs {
        journal_dir: Some(link),
        // The subject is the journalctl process (native_journal_http.rs
        // pins the same for the native reader).
        journal_reader: Some(JournalReader::Journalctl),
        send_timeout_seconds: Some(2),
        deadline_seconds: Some(60),
        ..Default::default()
    });
    let mut socket =
        clients::connect_from_blocking(runtime(), loopback(1), addr, Some(4096)).unwrap();
    write!(
        socket,
        "GET {EVERYTHING} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        !procs::matching(&needle).is_empty(),
        "journalctl runs while the client stalls"
    );
    assert!(
        procs::gone_within(&needle, Duration::from_secs(10)),
        "journalctl outlived the send timeout"
    );
    // The server closed the connection: what is buffered reads, then EOF
    // or a reset, not a hang.
    assert!(clients::closed_within(&socket, Duration::from_secs(5)));
}

/// Pins: HTTP/2 streams the client gives no window held their responses
/// and journalctl forever; now each is reset after the send timeout.
#[test]
fn http2_streams_without_window_are_reset() {
    let (link, needle) = fixture().own_journal("journal-stalled-h2");
    let addr = fixture().serve(ServeArgs {
        journal_dir: Some(link),
        // The subject is the journalctl process (native_journal_http.rs
        // pins the same for the native reader).
        journal_reader: Some(JournalReader::Journalctl),
        send_timeout_seconds: Some(2),
        deadline_seconds: Some(60),
        ..Default::default()
    });
    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut builder = h2::client::Builder::new();
        builder.initial_window_size(0);
        let (mut send, _conn) = clients::h2_handshake(tcp, builder).await.unwrap();
        let mut bodies = Vec::new();
        for _ in 0..3 {
            let resp = clients::h2_get(&mut send, EVERYTHING).await.unwrap();
            assert_eq!(resp.status(), 200);
            bodies.push(resp.into_body());
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!procs::matching(&needle).is_empty());
        for body in bodies {
            let read = tokio::time::timeout(Duration::from_secs(10), clients::h2_body(body)).await;
            let err = read.expect("the stalled stream was not ended").unwrap_err();
            assert!(err.is_reset(), "{err}");
        }
    });
    assert!(
        procs::gone_within(&needle, Duration::from_secs(2)),
        "journalctl outlived its reset stream"
    );
}

/// A real query over HTTP/2 is journalctl's output, byte for byte.
#[test]
fn http2_end_to_end() {
    let expected = fixture().kubelet_journalctl(&["--unit=kubelet"]);
    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(fixture().addr)
            .await
            .unwrap();
        let (mut send, _conn) = clients::h2_handshake(tcp, h2::client::Builder::new())
            .await
            .unwrap();
        let resp = clients::h2_get(&mut send, "/logs/?query=kubelet")
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(clients::h2_body(resp.into_body()).await.unwrap(), expected);
    });
}

/// Pins: without TCP_NODELAY, a streamed response on a kept-alive
/// connection waited about 40 ms for the client's delayed ACK.
#[test]
fn kept_alive_responses_do_not_wait_for_acks() {
    let mut socket = TcpStream::connect(fixture().addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut times = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        socket
            .write_all(b"GET /logs/filelogged.log HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let resp = read_one_response(&mut socket);
        assert!(resp.ends_with(nodelogd_tests::logtree::FILELOGGED.as_bytes()));
        times.push(started.elapsed());
    }
    // The first runs on a fresh connection, where Linux ACKs at once.
    let mut kept = times.split_off(1);
    kept.sort();
    assert!(
        kept[kept.len() / 2] < Duration::from_millis(30),
        "kept-alive response times: {kept:?}"
    );
}

/// One response with a Content-Length, read off a kept-alive connection.
fn read_one_response(socket: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).unwrap();
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .expect("a Content-Length")
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0u8; length];
    socket.read_exact(&mut body).unwrap();
    raw.extend_from_slice(&body);
    raw
}

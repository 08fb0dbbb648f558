//! The HTTP layer on arbitrary bytes: random bytes, alone or after the
//! start of a real HTTP/1 request or the HTTP/2 preface, written to a real
//! socket and half-closed. nodelogd must answer with a well-formed status
//! line or nothing, close the connection promptly, and still answer a
//! real request afterwards.
//!
//! Cases: PROPTEST_CASES (proptest's default, 256, when unset; about a
//! second here), e.g. `PROPTEST_CASES=20000 cargo test -p nodelogd-tests
//! --test all garbage` for a long run.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

use nodelogd::cli::ServeArgs;
use nodelogd_tests::clients::H2_PREFACE_AND_SETTINGS;
use nodelogd_tests::http;
use proptest::prelude::*;

use crate::fixture;

/// One server for every case, with a short head timeout so that no case
/// waits long for a head that never completes.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        fixture().serve(ServeArgs {
            header_timeout_seconds: Some(2),
            ..Default::default()
        })
    })
}

fn garbage() -> impl Strategy<Value = Vec<u8>> {
    let prefix = prop_oneof![
        Just(Vec::new()),
        Just(b"GET /logs/".to_vec()),
        Just(b"GET /logs/?query=".to_vec()),
        Just(b"POST /logs/ HTTP/1.1\r\nContent-Length: ".to_vec()),
        Just(b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec()),
        Just(b"GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
        Just(H2_PREFACE_AND_SETTINGS.to_vec()),
    ];
    let tail = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2048),
        // Printable, with line ends: closer to what a parser gets far with.
        "[ -~\r\n]{0,512}".prop_map(String::into_bytes),
    ];
    (prefix, tail).prop_map(|(mut p, t)| {
        p.extend(t);
        p
    })
}

proptest! {
    #[test]
    fn garbage_on_the_socket_is_survived(bytes in garbage()) {
        let addr = server();
        let mut conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // The server may close before reading everything: a failed write
        // is an answer too.
        let _ = conn.write_all(&bytes);
        let _ = conn.shutdown(Shutdown::Write);
        let mut reply = Vec::new();
        match conn.read_to_end(&mut reply) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => prop_assert!(false, "no close within 10 s ({e}) after {bytes:?}"),
        }
        if reply.starts_with(b"HTTP/") {
            let status = std::str::from_utf8(&reply[..reply.len().min(12)])
                .ok()
                .and_then(|line| line.get(9..12))
                .and_then(|code| code.parse::<u16>().ok());
            prop_assert!(
                status.is_some_and(|s| (100..600).contains(&s)),
                "bad status line: {:?}",
                String::from_utf8_lossy(&reply[..reply.len().min(64)])
            );
        }
        let health = http::get(addr, "/healthz");
        prop_assert_eq!(health.status, 200);
        prop_assert_eq!(health.body, b"ok");
    }
}

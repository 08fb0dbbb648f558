//! Client-side validation: a query the server would refuse fails with the
//! server's exact message, and no request is made.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{node, node_logs};

/// Pins: for each bad query, stderr is `error: ` and the body a real
/// nodelogd answers for the same query; the listener the client was pointed
/// at never sees a connection.
#[test]
fn server_messages_without_a_request() {
    let real = node("validation", 81, &[]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for _ in listener.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    let cases: [(&[&str], &str); 6] = [
        (
            &["-Q", "kubelet", "--tail", "ten"],
            "/logs/?query=kubelet&tailLines=ten",
        ),
        (
            &["-Q", "kubelet", "--boot", "1"],
            "/logs/?query=kubelet&boot=1",
        ),
        (
            &["-Q", "kubelet", "-p", "a(b"],
            "/logs/?query=kubelet&pattern=a%28b",
        ),
        (
            &["-Q", "a", "-Q", "b", "-Q", "c", "-Q", "d", "-Q", "e"],
            "/logs/?query=a&query=b&query=c&query=d&query=e",
        ),
        (
            &["-Q", "/syslog", "--tail", "1"],
            "/logs/?query=%2Fsyslog&tailLines=1",
        ),
        (&["--path", "syslog", "--boot", "0"], "/logs/syslog?boot=0"),
    ];
    for (args, same_query) in cases {
        let answer = nodelogd_tests::http::get(real.addr, same_query);
        assert!(
            answer.status == 400 || answer.status == 406,
            "{same_query}: {}",
            answer.status
        );
        let out = node_logs(&[&["--server", &target][..], args].concat());
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_eq!(out.stderr, format!("error: {}", answer.text()), "{args:?}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

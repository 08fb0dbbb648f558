//! Raw client connections for the connection tests and the attack tool:
//! opened from a chosen loopback address (each one a different "client"),
//! watched for the server closing them, and HTTP/2 over them (prior
//! knowledge, as kubelet clients speak it without TLS).

use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;

/// The HTTP/2 connection preface and an empty SETTINGS frame: all an
/// HTTP/2 client says before its first request.
pub const H2_PREFACE_AND_SETTINGS: &[u8] =
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Connects to `to` from the loopback address `from`; `recv_buffer` (bytes)
/// shrinks the socket's receive buffer, so a client that does not read is
/// noticed after little data.
pub async fn connect_from(
    from: IpAddr,
    to: SocketAddr,
    recv_buffer: Option<u32>,
) -> std::io::Result<tokio::net::TcpStream> {
    let socket = match from {
        IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// The same, as a blocking socket.
pub fn connect_from_blocking(
    rt: &tokio::runtime::Runtime,
    from: IpAddr,
    to: SocketAddr,
    recv_buffer: Option<u32>,
) -> std::io::Result<TcpStream> {
    let stream = rt
        .block_on(connect_from(from, to, recv_buffer))?
        .into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// Whether the server closes `stream` within `within`; whatever it sends
/// meanwhile (HTTP/2 SETTINGS, GOAWAY) is read and dropped.
pub fn closed_within(mut stream: &TcpStream, within: Duration) -> bool {
    let end = Instant::now() + within;
    let mut buf = [0u8; 16 << 10];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// An HTTP/2 client over `tcp`; its connection task ends with the
/// connection, and its result says how.
pub async fn h2_handshake(
    tcp: tokio::net::TcpStream,
    builder: h2::client::Builder,
) -> Result<
    (
        SendRequest<Bytes>,
        tokio::task::JoinHandle<Result<(), h2::Error>>,
    ),
    h2::Error,
> {
    let (send, conn) = builder.handshake(tcp).await?;
    Ok((send, tokio::spawn(conn)))
}

/// Sends a GET for `path` on a new stream; returns the response with its
/// body still to be read.
pub async fn h2_get(
    send: &mut SendRequest<Bytes>,
    path: &str,
) -> Result<http::Response<h2::RecvStream>, h2::Error> {
    let req = http::Request::get(format!("http://nodelogd{path}"))
        .body(())
        .expect("a valid request");
    let mut ready = send.clone().ready().await?;
    let (resp, _) = ready.send_request(req, true)?;
    *send = ready;
    resp.await
}

/// Reads a whole HTTP/2 body, granting the server window as it goes.
pub async fn h2_body(mut body: h2::RecvStream) -> Result<Vec<u8>, h2::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        out.extend_from_slice(&chunk);
        body.flow_control().release_capacity(chunk.len())?;
    }
    Ok(out)
}

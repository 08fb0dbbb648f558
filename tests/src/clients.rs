//! Raw client connections for the connection tests and the attack tool:
//! opened from a chosen loopback address (each one a different "client"),
//! watched for the server closing them, and HTTP/2 over them (prior
//! knowledge, as kubelet clients speak it without TLS).

use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::client::TlsStream;

use crate::pki::Issued;

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

/// An HTTP/2 client over `io` (TCP, or TLS); its connection task ends
/// with the connection, and its result says how.
pub async fn h2_handshake<T>(
    io: T,
    builder: h2::client::Builder,
) -> Result<
    (
        SendRequest<Bytes>,
        tokio::task::JoinHandle<Result<(), h2::Error>>,
    ),
    h2::Error,
>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = builder.handshake(io).await?;
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

/// A TLS client over `tcp` to 127.0.0.1, trusting `ca`, offering `alpn`
/// and presenting `client` if given. With TLS 1.3 a client certificate
/// the server refuses shows only at the first read.
pub async fn tls_connect(
    tcp: tokio::net::TcpStream,
    ca: CertificateDer<'static>,
    client: Option<&Issued>,
    alpn: &[&[u8]],
) -> std::io::Result<TlsStream<tokio::net::TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        Some(issued) => builder
            .with_client_auth_cert(
                vec![issued.cert.clone()],
                PrivateKeyDer::from_pem_slice(issued.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = ServerName::try_from("127.0.0.1").unwrap();
    connector.connect(name, tcp).await
}

/// One HTTP/1.1 request with `Connection: close` over `io`; the whole
/// response as it came, or why none came.
pub async fn h1_exchange<S>(
    mut io: S,
    target: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Vec<u8>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut head = format!("GET {target} HTTP/1.1\r\nHost: nodelogd\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    io.write_all(head.as_bytes()).await?;
    let mut out = Vec::new();
    match io.read_to_end(&mut out).await {
        // A peer that closes without close_notify still said all it had.
        Err(e) if e.kind() == ErrorKind::UnexpectedEof && !out.is_empty() => Ok(out),
        Err(e) => Err(e),
        Ok(_) => Ok(out),
    }
}

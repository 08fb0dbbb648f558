//! A minimal HTTP/1.1 client over a blocking socket, so tests see exactly
//! the bytes nodelogd sends (status line, headers, de-chunked body) with
//! no client library normalising paths or decoding bodies on the way.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub fn get(addr: SocketAddr, target: &str) -> Response {
    request(addr, "GET", target, &[])
}

/// Sends one request (`target` goes on the wire as given) and reads the
/// whole response.
pub fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
    let mut stream = send(addr, method, target, headers);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reading the response");
    parse(&raw)
}

/// Sends a request and returns the open socket, for tests that read
/// slowly, partly or not at all.
pub fn send(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connecting to nodelogd");
    send_on(stream, addr, method, target, headers)
}

/// [`send`] from the local address `from` (any of 127.0.0.0/8), so that
/// tests can be several clients.
pub fn send_from(
    from: IpAddr,
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> TcpStream {
    let socket = match from {
        IpAddr::V4(_) => Socket::new(Domain::IPV4, Type::STREAM, None),
        IpAddr::V6(_) => Socket::new(Domain::IPV6, Type::STREAM, None),
    }
    .expect("a socket");
    socket
        .bind(&SocketAddr::new(from, 0).into())
        .expect("binding the client address");
    socket
        .connect(&addr.into())
        .expect("connecting to nodelogd");
    send_on(socket.into(), addr, method, target, headers)
}

/// [`request`] from the local address `from`.
pub fn request_from(from: IpAddr, addr: SocketAddr, target: &str) -> Response {
    let mut stream = send_from(from, addr, "GET", target, &[]);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reading the response");
    parse(&raw)
}

fn send_on(
    mut stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> TcpStream {
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream
}

pub fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            panic!("truncated chunked body")
        };
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..eol])
                .unwrap()
                .split(';')
                .next()
                .unwrap(),
            16,
        )
        .unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[eol + 2 + size + 2..];
    }
}

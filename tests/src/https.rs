//! The serving loop of the test stand-ins: HTTP/1.1 over TLS, each
//! request handed to a handler with whether the client presented a
//! verified certificate. Stopping it closes every connection too, so a
//! client's pooled connection cannot outlive a stand-in that is "down".
//! And kube-apiserver's way of answering: JSON, errors as a `Status`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::fixture::runtime;

pub type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A serving loop; dropping it stops it.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The connections live in the task's JoinSet, which aborts them.
        self.task.abort();
    }
}

/// Serves on a new port of 127.0.0.1 on the shared test runtime.
pub fn serve<H, F>(tls: Arc<rustls::ServerConfig>, handler: H) -> Server
where
    H: Fn(Request<Incoming>, bool) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = runtime()
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(tls);
    let handler = Arc::new(handler);
    let task = runtime().spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let (acceptor, handler) = (acceptor.clone(), handler.clone());
            connections.spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let has_cert = tls.get_ref().1.peer_certificates().is_some();
                let service = service_fn(move |req| {
                    let response = handler(req, has_cert);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Server { addr, task }
}

/// A JSON answer.
pub fn json(code: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let body = Full::new(Bytes::from(value.to_string()))
        .map_err(|never| match never {})
        .boxed();
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

/// An error as kube-apiserver answers one: a `Status` object.
pub fn status(code: StatusCode, message: &str) -> Response<Body> {
    let value = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "code": code.as_u16(),
    });
    json(code, &value)
}

//! The listener: accepts connections, serves HTTP/1.1 and HTTP/2 with
//! hyper, over TLS when configured (`tls`), and drains gracefully on
//! shutdown. Request heads over the caps are refused (`head_limits`)
//! before anything else sees them. What a client may hold is
//! bounded here: connections in all and per address (`admission`), time
//! without a request or without progress (`watchdog`, over every response
//! body as `paced_body` hands it to hyper, and HTTP/2 streams as
//! `stream_tasks` runs them), and response bytes buffered (`stream`'s
//! budget). One tracing span per connection.

mod admission;
mod head_limits;
mod paced_body;
mod stream_tasks;
pub mod tls;
mod watchdog;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tracing::Instrument;

use crate::admission::ClientAddr;
use crate::audit::Audited;
use crate::auth::PeerCertificate;
use crate::config::ConnLimits;
use crate::metrics::Kind;
use crate::route::{self, App};
use crate::stream::{self, Budget};
use admission::Admission;
use paced_body::Paced;
use stream_tasks::StreamExecutor;
use tls::Tls;
use watchdog::Activity;

const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP/2 streams per connection. Each running one may hold a plugin
/// instance and its buffers; all of them together are bounded by the
/// response budget and the query limit.
const MAX_STREAMS: u32 = 32;
/// What hyper's h2 buffers per stream beyond the window the client grants
/// (its default is 400 KiB): the client's reading, not ours, sets the pace.
const H2_SEND_BUFFER: usize = 64 << 10;
/// Receive windows: request bodies are never read, so they need no room.
const H2_WINDOW: u32 = 64 << 10;

/// A running server; dropping it does not stop it, `shutdown` does.
pub struct Running {
    pub local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }

    /// Runs until `signal` resolves, then shuts down.
    pub async fn until(self, signal: impl Future<Output = ()>) {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

/// Serves the `app` in force on `addr`, over TLS when `tls` is given
/// (its files are then watched for changes as long as the server runs).
pub async fn listen(
    addr: SocketAddr,
    app: watch::Receiver<Arc<App>>,
    limits: ConnLimits,
    tls: Option<Arc<Tls>>,
) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local_addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel();
    let server = Server {
        admission: Admission::new(limits.max_connections, limits.max_connections_per_address),
        budget: Budget::new(limits.response_buffer_bytes),
        builder: builder(),
        app,
        limits,
        tls,
    };
    let https = server.tls.as_ref().map(|tls| tls.watch()).is_some();
    let task = tokio::spawn(accept_loop(listener, Arc::new(server), stopped));
    tracing::info!(%local_addr, https, "serving");
    Ok(Running {
        local_addr,
        stop,
        task,
    })
}

/// Everything the connections share.
struct Server {
    /// Swapped by a reload; each request keeps the one it started with.
    app: watch::Receiver<Arc<App>>,
    limits: ConnLimits,
    admission: Arc<Admission>,
    budget: Arc<Budget>,
    builder: Builder<StreamExecutor>,
    tls: Option<Arc<Tls>>,
}

fn builder() -> Builder<StreamExecutor> {
    let mut builder = Builder::new(StreamExecutor);
    // The watchdog times heads and idleness for both protocols alike.
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(head_limits::HYPER_MAX_BUF)
        .max_headers(head_limits::HYPER_MAX_HEADERS);
    builder
        .http2()
        .max_concurrent_streams(MAX_STREAMS)
        .max_send_buf_size(H2_SEND_BUFFER)
        .initial_stream_window_size(H2_WINDOW)
        .initial_connection_window_size(H2_WINDOW)
        .max_header_list_size(head_limits::HYPER_MAX_HEADER_LIST);
    builder
}

async fn accept_loop(
    listener: TcpListener,
    server: Arc<Server>,
    mut stopped: oneshot::Receiver<()>,
) {
    let (shutdown, _) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            conn = listener.accept() => match conn {
                Ok(conn) => conn,
                Err(e) => {
                    // EMFILE and friends pass; the listener must not die.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let activity = Activity::new();
        let slot = match server.admission.admit(peer.ip(), activity.clone()) {
            Ok(slot) => slot,
            Err(refused) => {
                tracing::debug!(%peer, "refused a connection: {refused}");
                continue;
            }
        };
        // Responses are written as they are produced; waiting for the
        // client's delayed ACK would add 40 ms to each on a kept-alive
        // connection.
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, "setting TCP_NODELAY: {e}");
        }
        let server = server.clone();
        let shutdown = shutdown.subscribe();
        tokio::spawn(
            async move {
                // Held through the handshake: it counts under the caps.
                let _slot = slot;
                server.connection(stream, peer, activity, shutdown).await;
            }
            .instrument(tracing::info_span!("conn", %peer)),
        );
    }
    drop(listener);
    // Every connection starts closing gracefully and holds a receiver
    // until it has ended.
    let _ = shutdown.send(());
    if tokio::time::timeout(DRAIN_TIMEOUT, shutdown.closed())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

impl Server {
    /// One connection, from accept (TLS handshake first, if any) to close.
    async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        activity: Arc<Activity>,
        mut shutdown: watch::Receiver<()>,
    ) {
        let Some(tls) = &self.tls else {
            return self.serve(stream, peer, None, activity, shutdown).await;
        };
        let accept = tls.acceptor().accept(stream);
        match watchdog::handshake(accept, &activity, &self.limits, &mut shutdown).await {
            Ok(Ok(stream)) => {
                let identity = tls::peer_identity(stream.get_ref().1);
                tracing::debug!(user = ?identity.as_ref().map(|c| &c.0), "TLS handshake done");
                self.serve(stream, peer, identity, activity, shutdown).await;
            }
            // Debug-formatted: the reason may hold what the client sent.
            Ok(Err(e)) => tracing::debug!(error = ?e, "TLS handshake failed"),
            Err(why) => tracing::debug!(why, "closing the connection during its TLS handshake"),
        }
    }

    /// Serves HTTP on `io` (after the handshake, if any), every request
    /// carrying the client's address and verified certificate.
    async fn serve<I>(
        self: &Arc<Self>,
        io: I,
        peer: SocketAddr,
        identity: Option<PeerCertificate>,
        activity: Arc<Activity>,
        shutdown: watch::Receiver<()>,
    ) where
        I: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let server = self.clone();
        let activity_ = activity.clone();
        let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // Admission counts requests per client address; authentication
            // reads the certificate.
            req.extensions_mut().insert(ClientAddr(peer.ip()));
            if let Some(identity) = &identity {
                req.extensions_mut().insert(identity.clone());
            }
            let server = server.clone();
            let app = server.app.borrow().clone();
            // Reported when the response ends, or here if the client
            // leaves before it starts (the future is dropped). Health
            // probes come every few seconds and tell nothing: not counted,
            // logged at debug only.
            let path = req.uri().path();
            let mut pending = (path != "/healthz").then(|| {
                app.audit.begin(
                    route::audited(path),
                    peer.ip(),
                    &req,
                    app.metrics.clone(),
                    logged_uri(req.uri()),
                )
            });
            if let Some(pending) = &pending {
                req.extensions_mut().insert(pending.handle());
            }
            let running = activity_.request_started();
            let activity = activity_.clone();
            async move {
                let started = Instant::now();
                let resp = match head_limits::check(&req) {
                    Some(refused) => refused,
                    None => {
                        stream::with_budget(server.budget.clone(), route::handle(&app, req)).await
                    }
                };
                match &mut pending {
                    Some(pending) => {
                        let kind = resp.extensions().get::<Kind>().copied().unwrap_or_default();
                        pending.responded(resp.status(), kind);
                    }
                    None => {
                        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                        tracing::debug!(status = resp.status().as_u16(), ms, "health probe");
                    }
                }
                let pace = activity.response();
                let length = resp
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok());
                Ok::<_, Infallible>(
                    resp.map(|body| Audited::new(Paced::new(body, pace, running), pending, length)),
                )
            }
        });
        let conn = self
            .builder
            .serve_connection(TokioIo::new(io), service)
            .into_owned();
        watchdog::supervise(conn, &activity, &self.limits, shutdown).await;
    }
}

/// Longest request target written to the log, in bytes.
const MAX_LOGGED_URI: usize = 512;

/// The request target as logged: at most `MAX_LOGGED_URI` bytes, then `…`.
fn logged_uri(uri: &http::Uri) -> String {
    let mut text = uri.to_string();
    if text.len() > MAX_LOGGED_URI {
        text.truncate(text.floor_char_boundary(MAX_LOGGED_URI));
        text.push('…');
    }
    text
}

//! The listener: accepts connections, serves HTTP/1.1 and HTTP/2 with
//! hyper, and drains gracefully on shutdown. What a client may hold is
//! bounded here: connections in all and per address (`admission`), time
//! without a request or without progress (`watchdog`, over every response
//! body as `paced_body` hands it to hyper, and HTTP/2 streams as
//! `stream_tasks` runs them), and response bytes buffered (`stream`'s
//! budget). One tracing span per connection.

mod admission;
mod paced_body;
mod stream_tasks;
mod watchdog;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tracing::Instrument;

use crate::admission::ClientAddr;
use crate::config::ConnLimits;
use crate::route::{self, App};
use crate::stream::{self, Budget};
use admission::Admission;
use paced_body::Paced;
use stream_tasks::StreamExecutor;
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
const MAX_HEADER_LIST: u32 = 16 << 10;

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

/// Plain HTTP without authentication is for loopback only; checked before
/// anything is loaded, so a bad address fails at once.
pub fn ensure_loopback(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!(
            "refusing to listen on {addr}: without TLS and authentication, nodelogd serves plain HTTP on \
             loopback addresses only (for example 127.0.0.1:10260)"
        );
    }
    Ok(())
}

pub async fn listen(addr: SocketAddr, app: App, limits: ConnLimits) -> anyhow::Result<Running> {
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
    };
    let task = tokio::spawn(accept_loop(listener, Arc::new(server), stopped));
    tracing::info!(%local_addr, "serving");
    Ok(Running {
        local_addr,
        stop,
        task,
    })
}

/// Everything the connections share.
struct Server {
    app: App,
    limits: ConnLimits,
    admission: Arc<Admission>,
    budget: Arc<Budget>,
    builder: Builder<StreamExecutor>,
}

fn builder() -> Builder<StreamExecutor> {
    let mut builder = Builder::new(StreamExecutor);
    // The watchdog times heads and idleness for both protocols alike.
    builder.http1().header_read_timeout(None);
    builder
        .http2()
        .max_concurrent_streams(MAX_STREAMS)
        .max_send_buf_size(H2_SEND_BUFFER)
        .initial_stream_window_size(H2_WINDOW)
        .initial_connection_window_size(H2_WINDOW)
        .max_header_list_size(MAX_HEADER_LIST);
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
        let server_ = server.clone();
        let activity_ = activity.clone();
        let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // Admission counts requests per client address.
            req.extensions_mut().insert(ClientAddr(peer.ip()));
            let server = server_.clone();
            let running = activity_.request_started();
            let activity = activity_.clone();
            async move {
                let started = Instant::now();
                let method = req.method().clone();
                let uri = req.uri().clone();
                let resp =
                    stream::with_budget(server.budget.clone(), route::handle(&server.app, req))
                        .await;
                let status = resp.status().as_u16();
                let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                if uri.path() == "/healthz" {
                    // Probes every few seconds; a client could also loop on
                    // them to flood the log.
                    tracing::debug!(status, ms, "health probe");
                } else {
                    // Request-derived values are Debug-formatted (escaped, so
                    // a URL cannot forge lines) and cut short (so one request
                    // cannot write tens of kilobytes of log).
                    tracing::info!(
                        method = ?method.as_str(),
                        uri = ?logged_uri(&uri),
                        status,
                        ms,
                        "request"
                    );
                }
                let pace = activity.response();
                Ok::<_, Infallible>(resp.map(|body| Paced::new(body, pace, running)))
            }
        });
        let conn = server
            .builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let server = server.clone();
        let shutdown = shutdown.subscribe();
        tokio::spawn(
            async move {
                let _slot = slot;
                watchdog::supervise(conn, &activity, &server.limits, shutdown).await;
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

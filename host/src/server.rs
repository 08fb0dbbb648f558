//! The listener: accepts connections, serves HTTP/1.1 and HTTP/2 with
//! hyper, bounds connections and header read time, and drains gracefully
//! on shutdown. One tracing span per connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tracing::Instrument;

use crate::admission::ClientAddr;
use crate::route::{self, App};

const MAX_CONNECTIONS: usize = 1024;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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

pub async fn listen(addr: SocketAddr, app: App) -> anyhow::Result<Running> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local_addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, Arc::new(app), stopped));
    tracing::info!(%local_addr, "serving");
    Ok(Running {
        local_addr,
        stop,
        task,
    })
}

async fn accept_loop(listener: TcpListener, app: Arc<App>, mut stopped: oneshot::Receiver<()>) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = &mut stopped => break,
        };
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
        let app = app.clone();
        let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ClientAddr(peer.ip()));
            let app = app.clone();
            async move {
                let started = Instant::now();
                let (method, uri) = (req.method().clone(), req.uri().clone());
                let resp = route::handle(&app, req).await;
                tracing::info!(%method, %uri, status = resp.status().as_u16(), ms = started.elapsed().as_millis() as u64);
                Ok::<_, Infallible>(resp)
            }
        });
        let conn = graceful.watch(
            builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned(),
        );
        tokio::spawn(
            async move {
                let _permit = permit;
                if let Err(e) = conn.await {
                    tracing::debug!("connection ended: {e}");
                }
            }
            .instrument(tracing::info_span!("conn", %peer)),
        );
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

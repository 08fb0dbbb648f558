//! The audit log (`--audit-log-path FILE`, `-` for stderr): one JSON line
//! per request to `/logs`, written when its response ends: who asked (user,
//! groups, how authenticated, from where), what (method, path, query
//! parameters), the authorization decision, the sources that answered,
//! and how it went (status, bytes handed to the connection, duration,
//! outcome). Never a header, so never a token or a certificate, and never
//! a log line.
//!
//! A request's [`Handle`] travels in its extensions for authentication,
//! authorization and the sources to fill in; its [`Pending`] record is
//! written when the response body ends or is dropped ([`Audited`]), or,
//! when the client leaves before the response starts, when the request's
//! future is dropped.
//!
//! The same record, for every request but `/healthz`, is what the metrics
//! count (`metrics::Ended`) and what the one `request` line at info says
//! (method, target, status, bytes, duration, user, sources, outcome),
//! whether or not the audit log is on.
//!
//! Writing never holds a response up: records go through a bounded channel
//! to a writer thread, and when that is full they are counted and dropped,
//! with a warning.

mod record;
mod writer;

use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::auth::{AuthMethod, User};
use crate::metrics::{Ended, Kind, Metrics};
pub use record::{Decision, Outcome};
use record::{Fields, Record};

/// Where records go; a disabled one ([`Log::off`]) costs nothing.
#[derive(Clone, Default)]
pub struct Log(Option<writer::Writer>);

impl Log {
    pub fn off() -> Log {
        Log(None)
    }

    /// `-` is stderr; a file is appended to, created readable by its owner
    /// only (it names users and what they asked for).
    pub fn open(path: &Path) -> std::io::Result<Log> {
        writer::Writer::open(path).map(|w| Log(Some(w)))
    }

    /// What is known of a request that has just arrived. When it ends it
    /// is counted in `metrics`, logged (one line at info), and, when
    /// `audited` and this log is on, written here. `target` is the
    /// request target as logged (escaped and cut short by the caller).
    pub fn begin<B>(
        &self,
        audited: bool,
        client: IpAddr,
        req: &Request<B>,
        metrics: Arc<Metrics>,
        target: String,
    ) -> Pending {
        let writer = self.0.clone().filter(|_| audited);
        let fields = Arc::new(Mutex::new(Fields::new(client, req, writer.is_some())));
        Pending {
            writer,
            metrics,
            target,
            kind: Kind::Other,
            fields,
            started: Instant::now(),
            status: None,
            first_byte: None,
            bytes: 0,
            ended: None,
        }
    }
}

/// What authentication, authorization and the sources tell the record of
/// a request; does nothing for a request that has none (`/healthz`).
#[derive(Clone, Default)]
pub struct Handle(Option<Arc<Mutex<Fields>>>);

impl Handle {
    /// The request's handle (a disabled one when it has none).
    pub fn of<B>(req: &Request<B>) -> Handle {
        req.extensions()
            .get::<Handle>()
            .cloned()
            .unwrap_or_default()
    }

    pub fn authenticated(&self, user: &User, method: AuthMethod) {
        self.with(|f| f.authenticated(user, method));
    }

    pub fn decided(&self, decision: Decision) {
        self.with(|f| f.decision = Some(decision));
    }

    /// The sources (plugin names, or `log-root` for the file server) that
    /// answered.
    pub fn answered_by(&self, sources: impl IntoIterator<Item = impl Into<String>>) {
        self.with(|f| f.sources.extend(sources.into_iter().map(Into::into)));
    }

    /// The query's deadline ended its output.
    pub fn deadline_reached(&self) {
        self.with(|f| f.deadline = true);
    }

    fn with(&self, fill: impl FnOnce(&mut Fields)) {
        if let Some(fields) = &self.0 {
            fill(&mut fields.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

/// A request's record until its response ends; reported when dropped.
pub struct Pending {
    /// Where the audit record goes, if anywhere.
    writer: Option<writer::Writer>,
    metrics: Arc<Metrics>,
    target: String,
    kind: Kind,
    fields: Arc<Mutex<Fields>>,
    started: Instant,
    status: Option<u16>,
    first_byte: Option<Duration>,
    bytes: u64,
    /// How the body ended, if it did.
    ended: Option<Outcome>,
}

impl Pending {
    /// The handle to put in the request's extensions.
    pub fn handle(&self) -> Handle {
        Handle(Some(self.fields.clone()))
    }

    /// The response's head is ready: its status, and what kind of request
    /// its handler found this to be.
    pub fn responded(&mut self, status: http::StatusCode, kind: Kind) {
        self.status = Some(status.as_u16());
        self.kind = kind;
    }

    fn sent(&mut self, len: usize) {
        if len > 0 && self.first_byte.is_none() {
            self.first_byte = Some(self.started.elapsed());
        }
        self.bytes += u64::try_from(len).unwrap_or(u64::MAX);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let fields = std::mem::take(&mut *self.fields.lock().unwrap_or_else(|e| e.into_inner()));
        let outcome = Outcome::of(self.ended, self.status, &fields);
        let duration = self.started.elapsed();
        let ended = Ended {
            kind: self.kind,
            status: self.status,
            bytes: self.bytes,
            duration,
            // An empty body's first byte is its head.
            first_byte: self.first_byte.or(self.status.map(|_| duration)),
            outcome,
            auth_method: fields.auth_method,
            decision: fields.decision,
        };
        self.metrics.request_ended(&ended);
        // Request-derived values are Debug-formatted (escaped, so a URL or
        // a user name cannot forge lines) and cut short; never a log line.
        tracing::info!(
            method = ?fields.method,
            path = ?self.target,
            status = self.status,
            bytes = self.bytes,
            ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            user = fields.user.as_deref().map(tracing::field::debug),
            sources = ?fields.sources,
            outcome = outcome.as_str(),
            "request"
        );
        if let Some(writer) = &self.writer {
            writer.write(Record::new(
                fields,
                self.status,
                self.bytes,
                duration,
                outcome,
            ));
        }
    }
}

/// A response body that completes its request's record when it ends.
pub struct Audited<B: Body> {
    inner: B,
    pending: Option<Pending>,
    /// The body's length when known in advance (`Content-Length`).
    length: Option<u64>,
}

impl<B: Body> Audited<B> {
    /// `length`: the response's `Content-Length`, if it has one.
    pub fn new(inner: B, pending: Option<Pending>, length: Option<u64>) -> Self {
        let length = inner.size_hint().exact().or(length);
        Audited {
            inner,
            pending,
            length,
        }
    }
}

impl<B: Body<Data = Bytes> + Unpin> Body for Audited<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Some(pending) = &mut this.pending {
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    pending.sent(frame.data_ref().map_or(0, |d| d.len()));
                }
                Poll::Ready(Some(Err(_))) => pending.ended = Some(Outcome::Error),
                Poll::Ready(None) => pending.ended = Some(Outcome::Completed),
                Poll::Pending => {}
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B: Body> Drop for Audited<B> {
    fn drop(&mut self) {
        // hyper stops polling a body that says it has ended (an empty one
        // is never polled at all), or once it has sent its Content-Length.
        if let Some(pending) = &mut self.pending
            && pending.ended.is_none()
            && (self.inner.is_end_stream() || self.length == Some(pending.bytes))
        {
            pending.ended = Some(Outcome::Completed);
        }
    }
}

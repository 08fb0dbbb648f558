//! Streaming response bodies. A producer task writes chunks into a bounded
//! channel (two chunks deep) that the response body drains, so memory stays
//! flat however large the log is, and a slow client stalls the producer
//! instead of being buffered for. When the client goes away the body and
//! the channel's receiver are dropped; the producer sees `closed()` and
//! stops at once (dropping a plugin's store kills its programs).
//!
//! Every chunk also holds its size in the server's response `Budget` until
//! hyper has written and dropped it, so all responses together buffer a
//! bounded number of bytes however many clients read slowly.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

pub type Body = BoxBody<Bytes, Infallible>;

/// Chunks in flight between producer and client.
const DEPTH: usize = 2;

struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// Bytes of response data that may be buffered at once, over all
/// responses of a server.
pub struct Budget {
    bytes: Arc<Semaphore>,
    /// The most one chunk waits for: a chunk larger than the whole budget
    /// takes all of it.
    whole: u32,
}

impl Budget {
    pub fn new(bytes: usize) -> Arc<Self> {
        let whole = u32::try_from(bytes).unwrap_or(u32::MAX);
        Arc::new(Budget {
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
            whole,
        })
    }

    async fn reserve(&self, len: usize) -> OwnedSemaphorePermit {
        let wanted = u32::try_from(len).unwrap_or(u32::MAX).min(self.whole);
        self.bytes
            .clone()
            .acquire_many_owned(wanted)
            .await
            .expect("the budget's semaphore is never closed")
    }
}

/// A chunk and its share of the budget (and whatever else it holds),
/// returned when hyper drops it.
struct Charged<H = OwnedSemaphorePermit> {
    data: Vec<u8>,
    _held: H,
}

impl<H> AsRef<[u8]> for Charged<H> {
    fn as_ref(&self) -> &[u8] {
        &self.data
    }
}

tokio::task_local! {
    static BUDGET: Arc<Budget>;
}

/// Runs `handle` (a request's handler) with responses it streams charged
/// to `budget`.
pub async fn with_budget<F: Future>(budget: Arc<Budget>, handle: F) -> F::Output {
    BUDGET.scope(budget, handle).await
}

/// The client has gone; stop producing.
#[derive(Debug)]
pub struct Closed;

/// The producer's end: raw bytes in, optionally gzip-compressed out.
pub struct Sink {
    tx: mpsc::Sender<Bytes>,
    gzip: Option<GzEncoder<Vec<u8>>>,
    budget: Option<Arc<Budget>>,
}

impl Sink {
    /// Sends `chunk`; an owned `Vec` goes to the client as it is, without
    /// a copy, unless it is compressed.
    pub async fn send<C>(&mut self, chunk: C) -> Result<(), Closed>
    where
        C: AsRef<[u8]> + Into<Vec<u8>>,
    {
        // Room first, copy after: a producer waiting for room holds no
        // copy. Compressed output is charged its input's size, which it
        // exceeds by a few bytes at most.
        let room = self.reserve(chunk.as_ref().len()).await?;
        let out = match &mut self.gzip {
            None => chunk.into(),
            Some(gz) => {
                // A sync flush per chunk keeps compressed output streaming
                // as the log is produced, at a small cost in ratio.
                gz.write_all(chunk.as_ref())
                    .and_then(|()| gz.flush())
                    .expect("writing to a Vec cannot fail");
                std::mem::take(gz.get_mut())
            }
        };
        self.push(out, room).await
    }

    /// Waits for room in the budget; the wait ends as soon as the client
    /// leaves.
    async fn reserve(&self, len: usize) -> Result<Option<OwnedSemaphorePermit>, Closed> {
        let Some(budget) = &self.budget else {
            return Ok(None);
        };
        tokio::select! {
            permit = budget.reserve(len) => Ok(Some(permit)),
            () = self.tx.closed() => Err(Closed),
        }
    }

    async fn push(
        &self,
        mut out: Vec<u8>,
        room: Option<OwnedSemaphorePermit>,
    ) -> Result<(), Closed> {
        if out.is_empty() {
            return Ok(());
        }
        // The budget counts the bytes sent, so a moved buffer must not hold
        // much more than those (a tail's last batch in a 256 KiB buffer).
        if out.capacity() > 2 * out.len() {
            out.shrink_to_fit();
        }
        let out = match room {
            None => Bytes::from(out),
            Some(permit) => Bytes::from_owner(Charged {
                data: out,
                _held: permit,
            }),
        };
        self.tx.send(out).await.map_err(|_| Closed)
    }

    async fn finish(mut self) {
        if let Some(gz) = self.gzip.take() {
            let trailer = gz.finish().expect("writing to a Vec cannot fail");
            if let Ok(room) = self.reserve(trailer.len()).await {
                let _ = self.push(trailer, room).await;
            }
        }
    }
}

/// A body of `data`, all there is: no producer task, no channel. It is
/// charged to the budget as a streamed chunk is (waiting for room), and
/// holds `held` (the request's admission) until hyper has sent and dropped
/// it.
pub async fn whole<H: Send + 'static>(data: Vec<u8>, held: H) -> Body {
    let room = match BUDGET.try_with(Arc::clone) {
        Ok(budget) => Some(budget.reserve(data.len()).await),
        Err(_) => None,
    };
    Full::new(Bytes::from_owner(Charged {
        data,
        _held: (room, held),
    }))
    .boxed()
}

/// Starts `produce` on its own task and returns the body it feeds. The task
/// ends when `produce` returns or as soon as the client disconnects,
/// whichever comes first.
pub fn spawn<F, Fut>(gzip: bool, produce: F) -> Body
where
    F: FnOnce(Sink) -> Fut + Send + 'static,
    Fut: Future<Output = Sink> + Send,
{
    let (tx, rx) = mpsc::channel(DEPTH);
    let gzip = gzip.then(|| GzEncoder::new(Vec::new(), Compression::fast()));
    let sink = Sink {
        tx: tx.clone(),
        gzip,
        // Outside a server's handler (unit tests), nothing is charged.
        budget: BUDGET.try_with(Arc::clone).ok(),
    };
    tokio::spawn(async move {
        tokio::select! {
            sink = produce(sink) => sink.finish().await,
            () = tx.closed() => {}
        }
    });
    ChannelBody(rx).boxed()
}

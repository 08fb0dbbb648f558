//! Streaming response bodies. A producer task writes chunks into a bounded
//! channel (two chunks deep) that the response body drains, so memory stays
//! flat however large the log is, and a slow client stalls the producer
//! instead of being buffered for. When the client goes away the body and
//! the channel's receiver are dropped; the producer sees `closed()` and
//! stops at once (dropping a plugin's store kills its programs).

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;
use http_body::Frame;
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use tokio::sync::mpsc;

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

/// The client has gone; stop producing.
#[derive(Debug)]
pub struct Closed;

/// The producer's end: raw bytes in, optionally gzip-compressed out.
pub struct Sink {
    tx: mpsc::Sender<Bytes>,
    gzip: Option<GzEncoder<Vec<u8>>>,
}

impl Sink {
    pub async fn send(&mut self, chunk: &[u8]) -> Result<(), Closed> {
        let out = match &mut self.gzip {
            None => Bytes::copy_from_slice(chunk),
            Some(gz) => {
                // A sync flush per chunk keeps compressed output streaming
                // as the log is produced, at a small cost in ratio.
                gz.write_all(chunk)
                    .and_then(|()| gz.flush())
                    .expect("writing to a Vec cannot fail");
                Bytes::from(std::mem::take(gz.get_mut()))
            }
        };
        if out.is_empty() {
            return Ok(());
        }
        self.tx.send(out).await.map_err(|_| Closed)
    }

    async fn finish(self) {
        if let Some(gz) = self.gzip {
            let trailer = gz.finish().expect("writing to a Vec cannot fail");
            let _ = self.tx.send(Bytes::from(trailer)).await;
        }
    }
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
    };
    tokio::spawn(async move {
        tokio::select! {
            sink = produce(sink) => sink.finish().await,
            () = tx.closed() => {}
        }
    });
    ChannelBody(rx).boxed()
}

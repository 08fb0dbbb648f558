//! Every response body as hyper pulls it: in frames of at most 16 KiB, so
//! that hyper comes back for the next frame after each 16 KiB the client
//! takes (a stalled client is then told from a slow one), with its `Pace`
//! telling the watchdog whether hyper holds a frame and has not come back.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::watchdog::{Pace, Running};

const FRAME: usize = 16 << 10;

pub struct Paced<B> {
    inner: B,
    /// What is left of the inner body's last data frame.
    rest: Bytes,
    pace: Arc<Pace>,
    _running: Running,
}

impl<B> Paced<B> {
    pub fn new(inner: B, pace: Arc<Pace>, running: Running) -> Self {
        Paced {
            inner,
            rest: Bytes::new(),
            pace,
            _running: running,
        }
    }
}

impl<B> Body for Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        if this.rest.is_empty() {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                // hyper waits for us (the producer), not for the client.
                Poll::Pending => {
                    this.pace.awaited();
                    return Poll::Pending;
                }
                Poll::Ready(None) => {
                    this.pace.awaited();
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.pace.awaited();
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.rest = data,
                    Err(frame) => {
                        this.pace.handed();
                        return Poll::Ready(Some(Ok(frame)));
                    }
                },
            }
        }
        let piece = this.rest.split_to(FRAME.min(this.rest.len()));
        this.pace.handed();
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        // Exact for fixed bodies, so hyper still sends Content-Length.
        let inner = self.inner.size_hint();
        let rest = u64::try_from(self.rest.len()).unwrap_or(u64::MAX);
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(rest));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

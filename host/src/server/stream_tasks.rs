//! hyper runs each HTTP/2 stream as a task of its own, through this
//! executor. Every such task can find its own abort handle, so the watchdog
//! can reset one stalled stream (aborting the task drops hyper's stream
//! handles, and h2 then sends RST_STREAM) without closing the connection's
//! other streams. HTTP/1 requests run in their connection's task instead.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::task::AbortHandle;
use tracing::Instrument;

tokio::task_local! {
    static CURRENT: StreamTask;
}

#[derive(Clone)]
pub struct StreamTask(Arc<OnceLock<AbortHandle>>);

impl StreamTask {
    /// The HTTP/2 stream task this code runs in, if it runs in one.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    pub fn abort(&self) {
        if let Some(handle) = self.0.get() {
            handle.abort();
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct StreamExecutor;

impl<F> hyper::rt::Executor<F> for StreamExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        let task = StreamTask(Arc::default());
        // hyper calls this from the connection's task: its span (the peer)
        // goes with the stream.
        let handle = tokio::spawn(CURRENT.scope(task.clone(), fut).in_current_span());
        // Set before anyone can want it: a stream is only aborted after it
        // has stalled for the send timeout.
        let _ = task.0.set(handle.abort_handle());
    }
}

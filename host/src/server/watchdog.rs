//! One connection's supervision. hyper's HTTP/1 header timeout starts only
//! once the HTTP version is known and HTTP/2 has no idle timeout, so one
//! watchdog per connection applies the same rules to both:
//! - no request yet: closed `header_timeout` after accept;
//! - no request running: closed `idle_timeout` after the last one ended,
//!   gracefully (HTTP/1 closes, HTTP/2 sends GOAWAY), and dropped if that
//!   has not finished `CLOSE_GRACE` later;
//! - a response from which hyper took a frame and has not come back for
//!   the next for `send_timeout` (the client reads nothing): its HTTP/2
//!   stream is reset, or its HTTP/1 connection dropped. The body goes with
//!   it, and with the body the producer and its log source's processes.
//!
//! Busy connections are never closed for being busy: they end when their
//! responses do, and those end at the deadline or when they stall.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::{Notify, watch};

use super::stream_tasks::StreamTask;
use crate::config::ConnLimits;

/// How long a connection told to close may take to do so once idle.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// What a connection is doing, shared by its requests, its watchdog and
/// the admission that may ask it to make room.
pub struct Activity {
    state: Mutex<State>,
    /// Wakes the watchdog when the connection turns busy or idle, or is
    /// evicted: its next deadline may have moved earlier.
    wake: Notify,
}

struct State {
    running: usize,
    /// Accept time until the first request, then the end of the last one.
    idle_since: Instant,
    served: bool,
    evicted: bool,
    responses: Vec<Weak<Pace>>,
}

/// One response's progress, as hyper pulls its body.
pub struct Pace {
    /// When hyper took a frame without coming back yet for the next (or
    /// when the response was made, before the first). `None` while hyper
    /// waits for the producer, and once the body has ended.
    owed_since: Mutex<Option<Instant>>,
    stream: Option<StreamTask>,
}

/// A running request; the connection is idle when none is left.
pub struct Running(Arc<Activity>);

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            state: Mutex::new(State {
                running: 0,
                idle_since: Instant::now(),
                served: false,
                evicted: false,
                responses: Vec::new(),
            }),
            wake: Notify::new(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn request_started(self: &Arc<Self>) -> Running {
        let mut state = self.state();
        state.running += 1;
        state.served = true;
        if state.running == 1 {
            // From the idle deadline to stall checks.
            self.wake.notify_one();
        }
        Running(self.clone())
    }

    /// Registers a response of the current request; the watchdog ends it
    /// (its stream, or the connection) if it stalls.
    pub fn response(&self) -> Arc<Pace> {
        let pace = Arc::new(Pace {
            owed_since: Mutex::new(Some(Instant::now())),
            stream: StreamTask::current(),
        });
        let mut state = self.state();
        state.responses.retain(|p| p.strong_count() > 0);
        state.responses.push(Arc::downgrade(&pace));
        pace
    }

    /// Since when the connection has had no request running.
    pub fn idle_since(&self) -> Option<Instant> {
        let state = self.state();
        (state.running == 0).then_some(state.idle_since)
    }

    pub fn evicted(&self) -> bool {
        self.state().evicted
    }

    /// Asks the connection to close to make room for another.
    pub fn evict(&self) {
        self.state().evicted = true;
        self.wake.notify_one();
    }

    fn verdict(&self, limits: &ConnLimits, closing: Option<Instant>, now: Instant) -> Verdict {
        let mut state = self.state();
        if closing.is_none() && state.evicted {
            return Verdict::Close("making room for another connection");
        }
        if state.running == 0 {
            let (due, verdict) = match closing {
                Some(since) => (
                    since.max(state.idle_since) + CLOSE_GRACE,
                    Verdict::Drop("did not close in time"),
                ),
                None if state.served => (
                    state.idle_since + limits.idle_timeout,
                    Verdict::Close("idle timeout"),
                ),
                None => (
                    state.idle_since + limits.header_timeout,
                    Verdict::Close("no request head in time"),
                ),
            };
            return if now >= due {
                verdict
            } else {
                Verdict::Wait(due)
            };
        }
        state.responses.retain(|p| p.strong_count() > 0);
        let mut next = now + limits.send_timeout;
        let mut stalled = Vec::new();
        for pace in state.responses.iter().filter_map(Weak::upgrade) {
            let Some(since) = pace.owed_since() else {
                continue;
            };
            let due = since + limits.send_timeout;
            if now >= due {
                stalled.push(pace);
            } else {
                next = next.min(due);
            }
        }
        if stalled.is_empty() {
            Verdict::Wait(next)
        } else {
            Verdict::Stalled(stalled)
        }
    }
}

enum Verdict {
    Wait(Instant),
    /// Close gracefully.
    Close(&'static str),
    /// Drop the connection now.
    Drop(&'static str),
    Stalled(Vec<Arc<Pace>>),
}

impl Pace {
    fn owed_since(&self) -> Option<Instant> {
        *self
            .owed_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, owed: Option<Instant>) {
        *self
            .owed_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = owed;
    }

    /// hyper took a frame; it owes us a poll for the next.
    pub fn handed(&self) {
        self.set(Some(Instant::now()));
    }

    /// hyper waits for the body (or the body has ended).
    pub fn awaited(&self) {
        self.set(None);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.running -= 1;
        if state.running == 0 {
            state.idle_since = Instant::now();
            // From stall checks to the idle deadline.
            self.0.wake.notify_one();
        }
    }
}

/// Runs a connection's TLS handshake under the rules of its first request
/// head, which must follow within the same `header_timeout` from accept:
/// a client that never finishes is closed, and until it has sent a
/// request it is idle, so it makes room when the connection caps are
/// reached. On shutdown the handshake is abandoned.
pub async fn handshake<F: Future>(
    handshake: F,
    activity: &Activity,
    limits: &ConnLimits,
    shutdown: &mut watch::Receiver<()>,
) -> Result<F::Output, &'static str> {
    let due = activity.state().idle_since + limits.header_timeout;
    tokio::pin!(handshake);
    loop {
        if activity.evicted() {
            return Err("making room for another connection");
        }
        tokio::select! {
            done = &mut handshake => return Ok(done),
            () = tokio::time::sleep_until(due.into()) => return Err("no TLS handshake in time"),
            () = activity.wake.notified() => {}
            _ = shutdown.changed() => return Err("shutting down"),
        }
    }
}

/// Drives `conn` until it ends or the rules above end it; on `shutdown`
/// it closes gracefully, and busy connections finish their responses.
pub async fn supervise<C>(
    conn: C,
    activity: &Activity,
    limits: &ConnLimits,
    mut shutdown: watch::Receiver<()>,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Debug,
{
    tokio::pin!(conn);
    let mut closing: Option<Instant> = None;
    loop {
        let wait = match activity.verdict(limits, closing, Instant::now()) {
            Verdict::Wait(until) => until,
            Verdict::Close(why) => {
                tracing::debug!(why, "closing the connection");
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
                continue;
            }
            Verdict::Drop(why) => {
                tracing::debug!(why, "dropping the connection");
                return;
            }
            Verdict::Stalled(stalled) => {
                for pace in stalled {
                    // Not again: the aborted task drops the body shortly.
                    pace.awaited();
                    match &pace.stream {
                        Some(stream) => {
                            tracing::info!(timeout = ?limits.send_timeout, "resetting a stream whose client reads nothing");
                            stream.abort();
                        }
                        None => {
                            tracing::info!(timeout = ?limits.send_timeout, "closing a connection whose client reads nothing");
                            return;
                        }
                    }
                }
                continue;
            }
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = ?e, "connection ended");
                }
                return;
            }
            () = tokio::time::sleep_until(wait.into()) => {}
            () = activity.wake.notified() => {}
            _ = shutdown.changed(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
        }
    }
}

//! The `log` interface: plugin diagnostics into the host's log, tagged
//! with the plugin's name, escaped, bounded in size and rate-limited.
//!
//! The message reaches the host as a `String` that wasmtime has already
//! copied out of guest memory (the bindings give no borrowed view), so that
//! copy is bounded only by the plugin's memory limit; it is freed when this
//! call returns. What the host keeps and formats is bounded here: at most
//! `MAX_MESSAGE` bytes, and only for messages within the rate limit.

use std::time::Instant;

use crate::runtime::State;
use crate::runtime::bindings::nodelogd::plugin::log::{self, Level};
use crate::runtime::bindings::nodelogd::plugin::types;

const MAX_MESSAGE: usize = 4096;
/// Messages a plugin instance may log in a burst, and per second after it.
const BURST: f64 = 20.0;
const PER_SECOND: f64 = 5.0;

/// A token bucket per instance (one instance serves one request).
pub struct RateLimit {
    tokens: f64,
    last: Instant,
    /// Messages dropped since the last one logged; reported with the next.
    dropped: u64,
}

impl RateLimit {
    pub fn new() -> Self {
        RateLimit {
            tokens: BURST,
            last: Instant::now(),
            dropped: 0,
        }
    }

    /// Whether one more message may be logged now.
    fn admit(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.last).as_secs_f64() * PER_SECOND;
        self.tokens = (self.tokens + refill).min(BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

impl log::Host for State {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if !self.log_rate.admit(Instant::now()) {
            return Ok(());
        }
        let dropped = std::mem::take(&mut self.log_rate.dropped);
        let end = message.floor_char_boundary(MAX_MESSAGE);
        // Debug formatting escapes newlines, ESC and NUL, so a plugin
        // cannot forge lines in the host's log.
        let (plugin, message) = (&*self.plugin, &message[..end]);
        match level {
            Level::Error => tracing::error!(plugin, dropped, message = ?message),
            Level::Warn => tracing::warn!(plugin, dropped, message = ?message),
            Level::Info => tracing::info!(plugin, dropped, message = ?message),
            Level::Debug => tracing::debug!(plugin, dropped, message = ?message),
        }
        Ok(())
    }
}

impl types::Host for State {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_a_steady_rate() {
        let mut limit = RateLimit::new();
        let t0 = limit.last;
        let admitted = (0..100).filter(|_| limit.admit(t0)).count();
        assert_eq!(admitted, BURST as usize);
        assert_eq!(limit.dropped, 100 - BURST as u64);
        assert!(limit.admit(t0 + Duration::from_millis(250)));
        assert!(!limit.admit(t0 + Duration::from_millis(260)));
    }
}

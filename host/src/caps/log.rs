//! The `log` interface: plugin diagnostics into the host's log, tagged
//! with the plugin's name and bounded in size.

use crate::runtime::State;
use crate::runtime::bindings::nodelogd::plugin::log::{self, Level};
use crate::runtime::bindings::nodelogd::plugin::types;

const MAX_MESSAGE: usize = 4096;

impl log::Host for State {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let end = message.floor_char_boundary(MAX_MESSAGE);
        let (plugin, message) = (&*self.plugin, &message[..end]);
        match level {
            Level::Error => tracing::error!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
        }
        Ok(())
    }
}

impl types::Host for State {}

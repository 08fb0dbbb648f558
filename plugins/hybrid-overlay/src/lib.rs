//! nodelogd log source for ovn-kubernetes' hybrid-overlay-node: its klog
//! file `hybrid-overlay/hybrid-overlay.log` under the log root and the
//! rotated siblings (`.1`, `.2.gz`, `-20261130`), oldest first, with
//! `pattern`, `tailLines` (read from the end) and `sinceTime`/`untilTime`.
//!
//! Copy this directory to write a source for your own software: change the
//! service, the directory, the file name and the time format.

use nodelogd_plugin_sdk::files::FileLog;
use nodelogd_plugin_sdk::time::Format;
use nodelogd_plugin_sdk::{Guest, LogStream, Query, SourceError, SourceInfo, rotated};

const SERVICE: &str = "hybrid-overlay-node";
const DIR: &str = "hybrid-overlay";
const FILE: &str = "hybrid-overlay.log";

struct HybridOverlay;

impl Guest for HybridOverlay {
    type LogStream = FileLog;

    fn info() -> SourceInfo {
        SourceInfo {
            name: "hybrid-overlay".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "hybrid-overlay-node's klog file and its rotated siblings".into(),
            supports_options: true,
        }
    }

    fn serves(services: Vec<String>) -> Result<Vec<bool>, SourceError> {
        Ok(services.iter().map(|s| s == SERVICE).collect())
    }

    fn open(q: Query) -> Result<LogStream, SourceError> {
        let files = rotated::discover(DIR, FILE)?;
        Ok(LogStream::new(FileLog::open(files, &q, Format::Klog)?))
    }
}

nodelogd_plugin_sdk::export!(HybridOverlay);

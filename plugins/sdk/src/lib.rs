//! The nodelogd plugin SDK: what every log source in `plugins/` needs, so
//! a file-backed source is a few dozen lines (see `plugins/hybrid-overlay`).
//!
//! - [`bindings`]: the WIT world `nodelogd:plugin/log-source`, generated
//!   once here; a plugin implements [`Guest`] and calls [`export!`].
//! - [`files`]: a stream over a log file and its rotated siblings, with the
//!   common filters (`pattern`, `sinceTime`/`untilTime`, `tailLines` read
//!   from the end), multi-line entries kept whole, in batches.
//! - [`rotated`]: `x.log`, `x.log.1`, `x.log.2.gz`, `x.log-20261130`,
//!   oldest first.
//! - [`program`]: running a program the grant names, with an environment.
//! - [`errors`]: the capability errors as [`SourceError`]s.

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "log-source",
        pub_export_macro: true,
        default_bindings_module: "nodelogd_plugin_sdk::bindings",
    });
}

pub mod errors;
pub mod files;
mod lines;
pub mod pattern;
pub mod program;
pub mod rotated;
pub mod time;

pub use bindings::exports::nodelogd::plugin::source::{
    Guest, GuestLogStream, LogStream, Query, SourceError, SourceInfo,
};
pub use bindings::nodelogd::plugin::types::Timestamp;
pub use bindings::nodelogd::plugin::{journal, log, logfile, process};

/// Exports a type implementing [`Guest`] as the plugin's `source`.
#[macro_export]
macro_rules! export {
    ($ty:ident) => {
        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}

//! The one `bindgen!` for the log-source world. Every import is async and
//! trappable (a host bug traps; a refused capability is an ordinary error
//! value for the guest), and the WIT resources map to host types whose
//! `Drop` releases what they hold.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "log-source",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "nodelogd:plugin/process.child": crate::caps::process::ChildProc,
        "nodelogd:plugin/logfile.reader": crate::caps::logfile::FileReader,
        "nodelogd:plugin/journal.entries": crate::caps::journal::JournalEntries,
    },
});

pub use self::nodelogd::plugin::types::{Query, SourceInfo, Timestamp};
pub use exports::nodelogd::plugin::source::SourceError;

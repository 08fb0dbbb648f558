//! What one request's `Store` holds: an empty WASI context (no preopens, no
//! environment, no arguments, no stdio), the resource table, the limits on
//! what the guest can make the host hold, and the plugin's grants.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::caps::Grants;
use crate::caps::journal::JournalEntries;
use crate::caps::log::RateLimit;

use super::Limits;

/// Host resources (programs, files, WASI streams) one store may hold at
/// once; wasmtime's default is a million. Each program or file also has a
/// tighter cap of its own (`max-processes`, `caps::logfile::MAX_OPEN`).
const MAX_RESOURCES: usize = 1024;
/// Entries in a guest table (function references); a Rust plugin needs a
/// few hundred, the default is unbounded up to memory.
const MAX_TABLE_ELEMENTS: usize = 20_000;

pub struct State {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) grants: Arc<Grants>,
    pub(crate) plugin: Arc<str>,
    /// Programs running now; bounded by the grant.
    pub(crate) children: u32,
    /// Files open now; bounded by `caps::logfile::MAX_OPEN`.
    pub(crate) open_files: u32,
    /// Journal queries open now; bounded by `caps::journal::MAX_QUERIES`.
    pub(crate) journal_queries: u32,
    /// A journal query the plugin has made the rest of its stream
    /// (`journal.forward`), until the runtime takes it.
    pub(crate) forwarded: Option<JournalEntries>,
    pub(crate) log_rate: RateLimit,
}

impl State {
    pub fn new(plugin: Arc<str>, grants: Arc<Grants>, limits: &Limits) -> Self {
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_RESOURCES);
        State {
            // Deny by default: the builder's defaults give no files, no
            // environment and closed stdio; sockets are never linked. The
            // environment holds only the operator's settings for it.
            wasi: WasiCtx::builder().envs(&grants.guest_env).build(),
            table,
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .table_elements(MAX_TABLE_ELEMENTS)
                .instances(32)
                .tables(32)
                .memories(8)
                .trap_on_grow_failure(true)
                .build(),
            grants,
            plugin,
            children: 0,
            open_files: 0,
            journal_queries: 0,
            forwarded: None,
            log_rate: RateLimit::new(),
        }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

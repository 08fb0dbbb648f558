//! What one request's `Store` holds: an empty WASI context (no preopens, no
//! environment, no arguments, no stdio), the resource table, memory limits
//! and the plugin's grants.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::caps::Grants;

use super::Limits;

pub struct State {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) grants: Arc<Grants>,
    pub(crate) plugin: Arc<str>,
    /// Programs running now; bounded by the grant.
    pub(crate) children: u32,
    /// Epoch ticks spent running wasm code, against `cpu_budget`.
    pub(crate) cpu_ticks: u64,
    pub(crate) cpu_budget: u64,
}

impl State {
    pub fn new(plugin: Arc<str>, grants: Arc<Grants>, limits: &Limits) -> Self {
        State {
            // Deny by default: the builder's defaults give no files, no
            // environment and closed stdio; sockets are never linked.
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .instances(32)
                .tables(32)
                .memories(8)
                .trap_on_grow_failure(true)
                .build(),
            grants,
            plugin,
            children: 0,
            cpu_ticks: 0,
            cpu_budget: limits.cpu_ticks(),
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

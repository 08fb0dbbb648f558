//! The process-wide wasmtime `Engine`: Cranelift, fuel metering for the
//! CPU budget, and the pooling allocator (per-request instantiation in tens
//! of microseconds), falling back to on-demand allocation where the pool's
//! address space cannot be reserved.
//!
//! The CPU budget is fuel, not time: wasm code burns one unit per
//! instruction (roughly) and nothing while the host runs a call for it, so
//! a plugin that waits in `read` for a slow journalctl spends none of it.
//! Epoch ticks charged whole 10 ms windows to any guest that ran at all in
//! them, which ended honest, trickling streams after about `cpu-ms`.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Fuel per millisecond of budget. Measured here (2 cores, loaded): the
/// misbehave plugin's runaway loop burns 300 million in 60 to 90 ms, so
/// 4 million is about one millisecond of the fastest wasm; code that does
/// real work (loads, calls) burns less per millisecond and so gets at
/// least `cpu-ms` of CPU.
pub const FUEL_PER_MS: u64 = 4_000_000;

/// A busy plugin gives its worker thread back to tokio after this much
/// fuel (a quarter of a millisecond or more), so it cannot starve other
/// requests.
pub const YIELD_EVERY: u64 = FUEL_PER_MS / 4;

/// What a freed instance slot keeps resident and zeroes with `memset`
/// instead of handing back with `madvise`: a request's plugin touches about
/// this much, and each page handed back cost a TLB shootdown on every core
/// and a fault and a zeroed page on the slot's next use (a tenth of the
/// host's CPU at a thousand small requests a second). Only slots that were
/// used keep it.
const KEEP_RESIDENT: usize = 1 << 20;

pub fn new(max_instances: u32, max_memory_bytes: usize) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances.saturating_mul(4))
        .total_memories(max_instances.saturating_mul(2))
        .total_tables(max_instances.saturating_mul(4))
        .max_memory_size(max_memory_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT / 16);
    // Not `pagemap_scan`: in wasmtime 48 it resets only pages that are
    // present, so a dirty page swapped out would reach the slot's next
    // plugin unzeroed (bytecodealliance/wasmtime#14357).
    match Engine::new(config().allocation_strategy(InstanceAllocationStrategy::Pooling(pool))) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
            Ok(Engine::new(&config())?)
        }
    }
}

fn config() -> Config {
    let mut config = Config::new();
    config.consume_fuel(true);
    config
}

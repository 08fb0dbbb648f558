//! The process-wide wasmtime `Engine`: Cranelift, epoch interruption driven
//! by a 10 ms ticker thread, and the pooling allocator (per-request
//! instantiation in tens of microseconds), falling back to on-demand
//! allocation where the pool's address space cannot be reserved.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; the unit of a plugin's CPU budget.
pub const TICK: Duration = Duration::from_millis(10);

pub fn new(max_instances: u32, max_memory_bytes: usize) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances * 4)
        .total_memories(max_instances * 2)
        .total_tables(max_instances * 4)
        .max_memory_size(max_memory_bytes);
    let engine = match Engine::new(
        config().allocation_strategy(InstanceAllocationStrategy::Pooling(pool)),
    ) {
        Ok(engine) => engine,
        Err(e) => {
            tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
            Engine::new(&config())?
        }
    };
    start_ticker(&engine);
    Ok(engine)
}

fn config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config
}

/// The ticker holds only a weak reference, so it ends with the engine.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("nodelogd-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .expect("spawning the epoch thread");
}

//! Runs log-source plugins: one `Engine`, each plugin compiled once into an
//! `InstancePre`, and one fresh `Store` per request, so a trap, a panic or a
//! runaway loop ends that request only. Limits per store: linear memory,
//! tables and instances (`StoreLimits`), CPU spent in wasm (fuel, then a
//! trap; see `engine`), host resources (`state`) and programs running at
//! once; the caller adds the wall-clock deadline, because fuel cannot
//! interrupt a guest blocked in a host call.

pub mod bindings;
mod compile;
mod engine;
mod linker;
mod state;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::ResourceAny;
use wasmtime::{Engine, Store, Trap};

use crate::caps::Grants;
use bindings::{LogSource, LogSourcePre, Query, SourceError, SourceInfo};
pub use state::State;

/// Per-plugin resource limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub memory_bytes: usize,
    /// CPU the plugin's own code may use per request, counted in fuel
    /// (`engine::FUEL_PER_MS` a millisecond); time the host spends in its
    /// calls (waiting for a program's output, reading a file) is not
    /// charged.
    pub cpu: Duration,
}

impl Limits {
    fn fuel(&self) -> u64 {
        let ms = u64::try_from(self.cpu.as_millis()).unwrap_or(u64::MAX);
        ms.saturating_mul(engine::FUEL_PER_MS).max(1)
    }
}

/// A plugin as loaded: its code and what it is granted.
pub struct PluginSpec {
    pub name: String,
    pub wasm: Vec<u8>,
    pub grants: Grants,
    pub limits: Limits,
}

struct Plugin {
    name: Arc<str>,
    pre: LogSourcePre<State>,
    grants: Arc<Grants>,
    limits: Limits,
    /// Asked once at load time: it describes the plugin, not a request.
    info: SourceInfo,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plugin trapped: a crash, its memory or CPU limit, or a host bug.
    #[error("log source {plugin} failed: {detail}")]
    Trap { plugin: Arc<str>, detail: String },
    /// The plugin reported an error value.
    #[error("log source {plugin}: {detail}")]
    Source { plugin: Arc<str>, detail: String },
}

pub struct Runtime {
    engine: Engine,
    plugins: Vec<Plugin>,
}

impl Runtime {
    /// Compiles (or loads from `cache`) and links every plugin, then asks
    /// each for its description; fails with the plugin's name when one
    /// imports something it is not granted or cannot describe itself.
    pub async fn load(
        specs: Vec<PluginSpec>,
        cache: Option<&Path>,
        max_instances: u32,
    ) -> anyhow::Result<Self> {
        let max_memory = specs.iter().map(|s| s.limits.memory_bytes).max();
        let engine = engine::new(max_instances, max_memory.unwrap_or(64 << 20))?;
        let mut runtime = Runtime {
            engine,
            plugins: Vec::new(),
        };
        for spec in specs {
            let name = spec.name.clone();
            let plugin = runtime.load_one(spec, cache).await;
            runtime
                .plugins
                .push(plugin.map_err(|e| e.context(format!("loading plugin {name}")))?);
        }
        Ok(runtime)
    }

    async fn load_one(&self, spec: PluginSpec, cache: Option<&Path>) -> anyhow::Result<Plugin> {
        let component = compile::component(&self.engine, &spec.name, &spec.wasm, cache)?;
        let linker = linker::for_grants(&self.engine, &spec.grants)?;
        let pre = LogSourcePre::new(linker.instantiate_pre(&component)?)?;
        let name: Arc<str> = spec.name.as_str().into();
        let grants = Arc::new(spec.grants);
        let mut instance = Self::instance(&self.engine, &pre, &name, &grants, &spec.limits).await?;
        let info = instance.info().await?;
        tracing::info!(plugin = %name, version = ?info.version, description = ?info.description, "plugin loaded");
        Ok(Plugin {
            name,
            pre,
            grants,
            limits: spec.limits,
            info,
        })
    }

    /// How many plugins there are; sources are asked in index order.
    pub fn len(&self) -> usize {
        self.plugins.len()
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// What plugin `index` said about itself at load time.
    pub fn info(&self, index: usize) -> &SourceInfo {
        &self.plugins[index].info
    }

    /// A fresh instance of plugin `index` in a store of its own.
    pub async fn instantiate(&self, index: usize) -> Result<Instance, RunError> {
        let p = &self.plugins[index];
        Self::instance(&self.engine, &p.pre, &p.name, &p.grants, &p.limits).await
    }

    async fn instance(
        engine: &Engine,
        pre: &LogSourcePre<State>,
        name: &Arc<str>,
        grants: &Arc<Grants>,
        limits: &Limits,
    ) -> Result<Instance, RunError> {
        let mut store = Store::new(engine, State::new(name.clone(), grants.clone(), limits));
        store.limiter(|s| &mut s.limits);
        // The budget traps once spent; yielding to tokio every so often
        // keeps a busy plugin from holding a worker thread.
        let fuel = store
            .set_fuel(limits.fuel())
            .and_then(|()| store.fuel_async_yield_interval(Some(engine::YIELD_EVERY)));
        fuel.map_err(|e| trap(name, e))?;
        let source = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| trap(name, e))?;
        Ok(Instance {
            store,
            source,
            plugin: name.clone(),
        })
    }
}

fn trap(plugin: &Arc<str>, e: wasmtime::Error) -> RunError {
    let detail = if e.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
        "used up its CPU budget (cpu-ms)".to_string()
    } else {
        format!("{:#}", e.root_cause())
    };
    RunError::Trap {
        plugin: plugin.clone(),
        detail,
    }
}

fn source_error(plugin: &Arc<str>, e: SourceError) -> RunError {
    let detail = match e {
        SourceError::Unsupported(m) => format!("unsupported: {m}"),
        SourceError::Denied(m) => format!("denied: {m}"),
        SourceError::Io(m) => m,
    };
    RunError::Source {
        plugin: plugin.clone(),
        detail,
    }
}

/// One plugin instance, alive for one request.
pub struct Instance {
    store: Store<State>,
    source: LogSource,
    plugin: Arc<str>,
}

impl Instance {
    pub fn plugin(&self) -> &Arc<str> {
        &self.plugin
    }

    async fn info(&mut self) -> Result<SourceInfo, RunError> {
        let guest = self.source.nodelogd_plugin_source();
        guest
            .call_info(&mut self.store)
            .await
            .map_err(|e| trap(&self.plugin, e))
    }

    pub async fn serves(&mut self, services: &[String]) -> Result<Vec<bool>, RunError> {
        let guest = self.source.nodelogd_plugin_source();
        let claims = guest
            .call_serves(&mut self.store, services)
            .await
            .map_err(|e| trap(&self.plugin, e))?
            .map_err(|e| source_error(&self.plugin, e))?;
        if claims.len() != services.len() {
            let detail = format!(
                "answered for {} services out of {}",
                claims.len(),
                services.len()
            );
            return Err(RunError::Source {
                plugin: self.plugin.clone(),
                detail,
            });
        }
        Ok(claims)
    }

    pub async fn open(mut self, query: &Query) -> Result<Batches, RunError> {
        let guest = self.source.nodelogd_plugin_source();
        let stream = guest
            .call_open(&mut self.store, query)
            .await
            .map_err(|e| trap(&self.plugin, e))?
            .map_err(|e| source_error(&self.plugin, e))?;
        Ok(Batches {
            instance: self,
            stream,
        })
    }
}

/// A plugin's output, pulled batch by batch. Dropping it drops the store,
/// and with it every program and file the plugin had open.
pub struct Batches {
    instance: Instance,
    stream: ResourceAny,
}

impl Batches {
    pub async fn next(&mut self, max_bytes: u32) -> Result<Option<Vec<u8>>, RunError> {
        let Instance {
            store,
            source,
            plugin,
        } = &mut self.instance;
        let batch = source
            .nodelogd_plugin_source()
            .log_stream()
            .call_next_batch(&mut *store, self.stream, max_bytes)
            .await
            .map_err(|e| trap(plugin, e))?
            .map_err(|e| source_error(plugin, e))?;
        // The contract bounds a batch; a plugin that ignores it is broken,
        // and the host does not buffer on its behalf.
        if batch.as_ref().is_some_and(|b| b.len() > max_bytes as usize) {
            let detail = format!("returned a batch larger than {max_bytes} bytes");
            return Err(RunError::Source {
                plugin: plugin.clone(),
                detail,
            });
        }
        Ok(batch)
    }
}

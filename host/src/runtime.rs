//! Runs log-source plugins: one `Engine`, each plugin compiled once into an
//! `InstancePre`, and one fresh `Store` per request, so a trap, a panic or a
//! runaway loop ends that request only. Limits per store: linear memory,
//! tables and instances (`StoreLimits`), CPU spent in wasm (fuel, then a
//! trap; see `engine`), host resources (`state`) and programs running at
//! once; wall-clock time per call (fuel cannot interrupt a guest blocked in
//! a host call), output bytes per request and instances at once per plugin.
//! The caller adds the request's own deadline.

pub mod bindings;
mod compile;
mod engine;
pub mod inspect;
mod linker;
mod state;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::ResourceAny;
use wasmtime::{Engine, Store, Trap};

use crate::caps::Grants;
use crate::caps::journal::JournalEntries;
use bindings::nodelogd::plugin::journal::JournalError;
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
    /// Wall-clock time one call into the plugin may take.
    pub wall: Duration,
    /// Bytes one request's output may have.
    pub output_bytes: u64,
    /// Requests this plugin may serve at once.
    pub max_instances: u32,
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
    /// Service names (whole-name patterns) it may be asked about.
    pub claims: Vec<Regex>,
    /// Skipped, with an error, when it fails to load; otherwise a failure
    /// stops start-up.
    pub optional: bool,
}

struct Plugin {
    name: Arc<str>,
    pre: LogSourcePre<State>,
    grants: Arc<Grants>,
    limits: Limits,
    claims: Vec<Regex>,
    /// One permit per instance alive; `limits.max_instances` in all.
    slots: Arc<Semaphore>,
    /// Asked once at load time: it describes the plugin, not a request.
    info: SourceInfo,
    /// The `nodelogd:plugin` package version it was built against.
    wit_version: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plugin trapped: a crash, its memory or CPU limit, or a host bug.
    #[error("log source {plugin} failed: {detail}")]
    Trap {
        plugin: Arc<str>,
        detail: String,
        cause: Fault,
    },
    /// The plugin reported an error value.
    #[error("log source {plugin}: {detail}")]
    Source { plugin: Arc<str>, detail: String },
    /// The plugin broke the contract (or its output limit).
    #[error("log source {plugin}: {detail}")]
    Malformed {
        plugin: Arc<str>,
        detail: String,
        cause: Fault,
    },
    /// All of the plugin's instances are in use (`max-instances`).
    #[error("log source {plugin} is serving {max} requests already; try again later")]
    Busy { plugin: Arc<str>, max: u32 },
}

/// Why a plugin call failed, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Its CPU budget (`cpu-ms`).
    Cpu,
    /// Its wall-clock limit (`wall-ms`).
    WallTime,
    /// Its memory limit (`memory-mib`).
    Memory,
    /// A Rust panic (an `unreachable` trap).
    Panic,
    /// Any other trap.
    Trap,
    /// An answer the contract does not allow.
    Malformed,
    /// More output than its limit (`output-mib`).
    OutputLimit,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Cpu => "cpu",
            Fault::WallTime => "wall_time",
            Fault::Memory => "memory",
            Fault::Panic => "panic",
            Fault::Trap => "trap",
            Fault::Malformed => "malformed",
            Fault::OutputLimit => "output_limit",
        }
    }
}

impl RunError {
    /// The plugin and why, when the plugin is at fault (not for an error
    /// value it reports, or a busy plugin).
    pub fn fault(&self) -> Option<(&Arc<str>, &'static str)> {
        match self {
            RunError::Trap { plugin, cause, .. } | RunError::Malformed { plugin, cause, .. } => {
                Some((plugin, cause.as_str()))
            }
            RunError::Source { .. } | RunError::Busy { .. } => None,
        }
    }
}

pub struct Runtime {
    engine: Engine,
    plugins: Vec<Plugin>,
    /// Optional plugins skipped because they failed to load.
    load_failures: usize,
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
            load_failures: 0,
        };
        for spec in specs {
            let (name, optional) = (spec.name.clone(), spec.optional);
            match runtime.load_one(spec, cache).await {
                Ok(plugin) => runtime.plugins.push(plugin),
                Err(e) if optional => {
                    runtime.load_failures += 1;
                    tracing::error!(plugin = ?name, error = ?format!("{e:#}"), "optional plugin skipped")
                }
                Err(e) => return Err(e.context(format!("loading plugin {name}"))),
            }
        }
        Ok(runtime)
    }

    async fn load_one(&self, spec: PluginSpec, cache: Option<&Path>) -> anyhow::Result<Plugin> {
        let component = compile::component(&self.engine, &spec.name, &spec.wasm, cache)?;
        let wit_version = inspect::wit_version(&self.engine, &component)?;
        let linker = linker::for_grants(&self.engine, &spec.grants)?;
        let pre = LogSourcePre::new(linker.instantiate_pre(&component)?)?;
        let name: Arc<str> = spec.name.as_str().into();
        let grants = Arc::new(spec.grants);
        let slots = Arc::new(Semaphore::new(spec.limits.max_instances as usize));
        let slot = slots.clone().try_acquire_owned()?;
        let mut instance =
            Self::instance(&self.engine, &pre, &name, &grants, &spec.limits, slot).await?;
        let info = instance.info().await?;
        tracing::info!(plugin = %name, version = ?info.version, description = ?info.description, "plugin loaded");
        Ok(Plugin {
            name,
            pre,
            grants,
            limits: spec.limits,
            claims: spec.claims,
            slots,
            info,
            wit_version,
        })
    }

    /// How many plugins there are; sources are asked in index order.
    pub fn len(&self) -> usize {
        self.plugins.len()
    }

    /// How many optional plugins were skipped because they failed to load.
    pub fn load_failures(&self) -> usize {
        self.load_failures
    }

    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// What plugin `index` said about itself at load time.
    pub fn info(&self, index: usize) -> &SourceInfo {
        &self.plugins[index].info
    }

    /// The `nodelogd:plugin` version plugin `index` was built against.
    pub fn wit_version(&self, index: usize) -> &str {
        &self.plugins[index].wit_version
    }

    /// The name plugin `index` was loaded under.
    pub fn name(&self, index: usize) -> &Arc<str> {
        &self.plugins[index].name
    }

    /// Whether plugin `index` may be asked about `service`.
    pub fn claims(&self, index: usize, service: &str) -> bool {
        self.plugins[index]
            .claims
            .iter()
            .any(|c| c.is_match(service))
    }

    /// A fresh instance of plugin `index` in a store of its own.
    pub async fn instantiate(&self, index: usize) -> Result<Instance, RunError> {
        let p = &self.plugins[index];
        let slot = p
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| RunError::Busy {
                plugin: p.name.clone(),
                max: p.limits.max_instances,
            })?;
        Self::instance(&self.engine, &p.pre, &p.name, &p.grants, &p.limits, slot).await
    }

    async fn instance(
        engine: &Engine,
        pre: &LogSourcePre<State>,
        name: &Arc<str>,
        grants: &Arc<Grants>,
        limits: &Limits,
        slot: OwnedSemaphorePermit,
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
            wall: limits.wall,
            output_left: limits.output_bytes,
            _slot: slot,
        })
    }
}

/// One call into the plugin, cut off after `wall`. Dropping the call's
/// future leaves the store unusable, and the caller drops it with the
/// error.
async fn call<T>(
    plugin: &Arc<str>,
    wall: Duration,
    f: impl Future<Output = wasmtime::Result<T>>,
) -> Result<T, RunError> {
    match tokio::time::timeout(wall, f).await {
        Ok(result) => result.map_err(|e| trap(plugin, e)),
        Err(_) => Err(RunError::Trap {
            plugin: plugin.clone(),
            detail: format!("did not answer within {} ms (wall-ms)", wall.as_millis()),
            cause: Fault::WallTime,
        }),
    }
}

fn trap(plugin: &Arc<str>, e: wasmtime::Error) -> RunError {
    let root = format!("{:#}", e.root_cause());
    let (cause, detail) = match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => (Fault::Cpu, "used up its CPU budget (cpu-ms)".to_string()),
        Some(Trap::UnreachableCodeReached) => (Fault::Panic, root),
        // `StoreLimits` with `trap_on_grow_failure` fails a growth past
        // `memory-mib` with this text (wasmtime's limits.rs; pinned
        // version), not a `Trap` code.
        _ if e.chain().any(|c| c.to_string().contains("growing memory")) => (Fault::Memory, root),
        _ => (Fault::Trap, root),
    };
    RunError::Trap {
        plugin: plugin.clone(),
        detail,
        cause,
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
    wall: Duration,
    /// Output bytes this request may still produce.
    output_left: u64,
    _slot: OwnedSemaphorePermit,
}

impl Instance {
    pub fn plugin(&self) -> &Arc<str> {
        &self.plugin
    }

    async fn info(&mut self) -> Result<SourceInfo, RunError> {
        let guest = self.source.nodelogd_plugin_source();
        call(&self.plugin, self.wall, guest.call_info(&mut self.store)).await
    }

    pub async fn serves(&mut self, services: &[String]) -> Result<Vec<bool>, RunError> {
        let guest = self.source.nodelogd_plugin_source();
        let claims = call(
            &self.plugin,
            self.wall,
            guest.call_serves(&mut self.store, services),
        )
        .await;
        // A query forwards only from `open` or `next-batch`, as part of a
        // stream; one forwarded here belongs to none, and is dropped.
        self.store.data_mut().forwarded = None;
        let claims = claims?.map_err(|e| source_error(&self.plugin, e))?;
        if claims.len() != services.len() {
            let detail = format!(
                "answered for {} services out of {}",
                claims.len(),
                services.len()
            );
            return Err(RunError::Malformed {
                plugin: self.plugin.clone(),
                detail,
                cause: Fault::Malformed,
            });
        }
        Ok(claims)
    }

    async fn next_batch(
        &mut self,
        stream: ResourceAny,
        max_bytes: u32,
    ) -> Result<Option<Vec<u8>>, RunError> {
        let guest = self.source.nodelogd_plugin_source();
        let log_stream = guest.log_stream();
        let next = log_stream.call_next_batch(&mut self.store, stream, max_bytes);
        call(&self.plugin, self.wall, next)
            .await?
            .map_err(|e| source_error(&self.plugin, e))
    }

    /// Charges `batch` to the request's output limit.
    fn count(&mut self, batch: Option<Vec<u8>>) -> Result<Option<Vec<u8>>, RunError> {
        let len = batch.as_ref().map_or(0, |b| b.len() as u64);
        self.output_left =
            self.output_left
                .checked_sub(len)
                .ok_or_else(|| RunError::Malformed {
                    plugin: self.plugin.clone(),
                    detail: "produced more output than its limit (output-mib)".to_string(),
                    cause: Fault::OutputLimit,
                })?;
        Ok(batch)
    }

    pub async fn open(mut self, query: &Query) -> Result<Batches, RunError> {
        let guest = self.source.nodelogd_plugin_source();
        let stream = call(
            &self.plugin,
            self.wall,
            guest.call_open(&mut self.store, query),
        )
        .await?
        .map_err(|e| source_error(&self.plugin, e))?;
        let forwarded = self.store.data_mut().forwarded.take();
        Ok(Batches {
            instance: self,
            stream,
            forwarded,
        })
    }
}

/// A plugin's output, pulled batch by batch. Dropping it drops the store,
/// and with it every program and file the plugin had open.
pub struct Batches {
    instance: Instance,
    stream: ResourceAny,
    /// The journal query the plugin made the rest of its stream
    /// (`journal.forward`): read here, without calling the plugin.
    forwarded: Option<JournalEntries>,
}

impl Batches {
    /// Up to `max_bytes` from the plugin; a forwarded query's batches are
    /// the host's own and as large as the reader makes them.
    pub async fn next(&mut self, max_bytes: u32) -> Result<Option<Vec<u8>>, RunError> {
        if self.forwarded.is_none() {
            let batch = self.instance.next_batch(self.stream, max_bytes).await?;
            // The contract bounds a batch; a plugin that ignores it is
            // broken, and the host does not buffer on its behalf.
            if batch.as_ref().is_some_and(|b| b.len() > max_bytes as usize) {
                let detail = format!("returned a batch larger than {max_bytes} bytes");
                return Err(RunError::Malformed {
                    plugin: self.instance.plugin.clone(),
                    detail,
                    cause: Fault::Malformed,
                });
            }
            self.forwarded = self.instance.store.data_mut().forwarded.take();
            // Otherwise the plugin ended its part where the forwarded
            // query begins.
            if batch.is_some() || self.forwarded.is_none() {
                return self.instance.count(batch);
            }
        }
        let Some(entries) = self.forwarded.as_mut() else {
            return Ok(None);
        };
        let batch = read_forwarded(&self.instance.plugin, self.instance.wall, entries).await?;
        self.instance.count(batch)
    }
}

/// A batch of a forwarded journal query, bounded by the plugin's `wall` as
/// its own call would be; its errors end the stream as the plugin's `io`
/// error would.
async fn read_forwarded(
    plugin: &Arc<str>,
    wall: Duration,
    entries: &mut JournalEntries,
) -> Result<Option<Vec<u8>>, RunError> {
    let next = async { Ok::<_, wasmtime::Error>(entries.next_forwarded().await) };
    call(plugin, wall, next).await?.map_err(|e| {
        let (JournalError::Unsupported(why)
        | JournalError::Refused(why)
        | JournalError::Failed(why)) = e;
        source_error(plugin, SourceError::Io(why))
    })
}

//! The built-in plugins, compiled from `plugins/` by build.rs and embedded,
//! with their manifests. Their order is the order in which sources claim
//! services: the native sources first (journald, then winevent, which loads
//! only where the host provides `powershell`), the file fallback last.

use std::sync::Arc;
use std::time::Duration;

use crate::caps::{Grants, HostPrograms, Manifest};
use crate::logroot::LogRoot;
use crate::runtime::{Limits, PluginSpec};

pub struct Builtin {
    pub manifest: &'static str,
    pub wasm: &'static [u8],
}

pub const BUILTIN: [Builtin; 3] = [
    Builtin {
        manifest: include_str!("../../plugins/journald/nodelogd-plugin.toml"),
        wasm: include_bytes!(env!("NODELOGD_PLUGIN_JOURNALD")),
    },
    Builtin {
        manifest: include_str!("../../plugins/winevent/nodelogd-plugin.toml"),
        wasm: include_bytes!(env!("NODELOGD_PLUGIN_WINEVENT")),
    },
    Builtin {
        manifest: include_str!("../../plugins/file/nodelogd-plugin.toml"),
        wasm: include_bytes!(env!("NODELOGD_PLUGIN_FILE")),
    },
];

const DEFAULT_MEMORY_MIB: u64 = 64;
const DEFAULT_CPU_MS: u64 = 10_000;

/// Resolves each built-in plugin's grant against what the host provides.
/// A plugin whose request cannot be met is left out with a warning (a node
/// without journalctl still serves files); the rest must load.
pub fn builtin_specs(
    host: &HostPrograms,
    log_root: &Arc<LogRoot>,
) -> anyhow::Result<Vec<PluginSpec>> {
    let mut specs = Vec::new();
    for builtin in &BUILTIN {
        let manifest = Manifest::parse(builtin.manifest)?;
        let grants = match Grants::resolve(&manifest, host, log_root) {
            Ok(grants) => grants,
            Err(e) => {
                tracing::warn!("log source {} disabled: {e:#}", manifest.name);
                continue;
            }
        };
        specs.push(spec(&manifest, builtin.wasm.to_vec(), grants));
    }
    Ok(specs)
}

pub fn spec(manifest: &Manifest, wasm: Vec<u8>, grants: Grants) -> PluginSpec {
    let limits = Limits {
        memory_bytes: (manifest.limits.memory_mib.unwrap_or(DEFAULT_MEMORY_MIB) << 20) as usize,
        cpu: Duration::from_millis(manifest.limits.cpu_ms.unwrap_or(DEFAULT_CPU_MS)),
    };
    PluginSpec {
        name: manifest.name.clone(),
        wasm,
        grants,
        limits,
    }
}

//! The built-in plugins, compiled from `plugins/` by build.rs and embedded,
//! with their manifests: the native sources first (journald, then winevent,
//! which loads only where the host provides `powershell`), the file fallback
//! last.

use std::sync::Arc;

use anyhow::bail;

use super::{EffectiveLimits, Origin, Resolved, journal_grant, sha256_hex};
use crate::caps::journal::JournalAccess;
use crate::caps::{Grants, HostPrograms, Manifest};
use crate::config::Config;
use crate::logroot::LogRoot;

/// The winevent plugin's channels, in its WASI environment.
const CHANNELS_VAR: &str = "NODELOGD_WINEVENT_CHANNELS";

pub struct Builtin {
    pub manifest: &'static str,
    pub wasm: &'static [u8],
}

pub const BUILTIN: [Builtin; 3] = [
    Builtin {
        manifest: include_str!("../../../plugins/journald/nodelogd-plugin.toml"),
        wasm: include_bytes!(env!("NODELOGD_PLUGIN_JOURNALD")),
    },
    Builtin {
        manifest: include_str!("../../../plugins/winevent/nodelogd-plugin.toml"),
        wasm: include_bytes!(env!("NODELOGD_PLUGIN_WINEVENT")),
    },
    Builtin {
        manifest: include_str!("../../../plugins/file/nodelogd-plugin.toml"),
        wasm: include_bytes!(env!("NODELOGD_PLUGIN_FILE")),
    },
];

/// Resolves each built-in plugin's grant against what the host provides.
/// A plugin whose request cannot be met is left out with a warning (a node
/// without journalctl still serves files), but for journald with the
/// native reader, which then answers alone. `[plugins.NAME]` in the config
/// may only tighten a built-in's limits.
pub fn resolve(
    config: &Config,
    host: &HostPrograms,
    log_root: &Arc<LogRoot>,
) -> anyhow::Result<Vec<Resolved>> {
    let mut resolved = Vec::new();
    for builtin in &BUILTIN {
        let manifest = Manifest::parse(builtin.manifest)?;
        let grant = config.plugins.get(&manifest.name);
        if let Some(g) = grant
            && (g.sha256.is_some()
                || !g.programs.is_empty()
                || !g.read_roots.is_empty()
                || !g.journal_units.is_empty())
        {
            bail!(
                "[plugins.{}]: a built-in plugin's programs, read roots, journal units and code are fixed; only its limits may be set",
                manifest.name
            );
        }
        let journal = journal_grant(config, &manifest)?;
        let (mut grants, missing) = Grants::resolve_provided(&manifest, host, log_root)?;
        if !missing.is_empty() {
            // With the native reader, journald answers without journalctl
            // what the reader can, and where it would fall back says what
            // the kubelet says when journalctl cannot run.
            let native = journal
                .as_ref()
                .is_some_and(|j| !matches!(j.access, JournalAccess::Off));
            if !native {
                tracing::warn!(
                    "log source {} disabled: this host does not provide {missing:?}",
                    manifest.name
                );
                continue;
            }
            tracing::warn!(
                "log source {}: this host does not provide {missing:?}; only the native journal reader answers",
                manifest.name
            );
        }
        grants.journal = journal;
        if let Some(channels) = grant.and_then(|g| g.channels.as_ref()) {
            // Joined with `,`, which a channel name cannot hold (config).
            grants.guest_env = vec![(CHANNELS_VAR.into(), channels.join(","))];
        }
        resolved.push(Resolved {
            origin: Origin::Builtin,
            sha256: sha256_hex(builtin.wasm),
            limits: EffectiveLimits::new(&manifest.limits, grant.map(|g| g.limits())),
            optional: false,
            wasm: builtin.wasm.to_vec(),
            grants,
            manifest,
        });
    }
    Ok(resolved)
}

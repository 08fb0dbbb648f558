//! Which plugins run, with what, in which order. Built-in plugins are
//! embedded and granted what their manifests request (reviewed with
//! nodelogd itself); dropped-in plugins (`--plugin-dir`) get only what the
//! operator grants in the config file (`dropin`). Limits are the tightest of
//! the defaults, the manifest and the config (`limits`).
//!
//! Order, which is the order plugins are asked whether they serve a
//! service: dropped-in plugins by ascending `priority`, then name; then
//! journald; then the file fallback.

mod builtin;
mod dropin;
mod limits;
pub mod review;

use std::path::PathBuf;
use std::sync::Arc;

use regex::Regex;
use sha2::{Digest, Sha256};

pub use builtin::BUILTIN;
pub use limits::EffectiveLimits;

use crate::caps::journal::{JournalAccess, JournalGrant};
use crate::caps::journal_units::UnitGrant;
use crate::caps::{Grants, HostPrograms, Manifest, grants};
use crate::cli::JournalReader;
use crate::config::Config;
use crate::logroot::LogRoot;
use crate::runtime::PluginSpec;

/// Where a plugin came from.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    Builtin,
    Dropin(PathBuf),
}

/// A plugin whose grant is resolved, ready to load.
pub struct Resolved {
    pub origin: Origin,
    /// The manifest as granted: what it requested, all of it granted.
    pub manifest: Manifest,
    pub sha256: String,
    pub limits: EffectiveLimits,
    pub optional: bool,
    wasm: Vec<u8>,
    grants: Grants,
}

impl Resolved {
    pub fn into_spec(self) -> anyhow::Result<PluginSpec> {
        let claims = claims(&self.manifest)?;
        Ok(PluginSpec {
            name: self.manifest.name,
            wasm: self.wasm,
            grants: self.grants,
            limits: self.limits.runtime(),
            claims,
            optional: self.optional,
        })
    }
}

fn claims(manifest: &Manifest) -> anyhow::Result<Vec<Regex>> {
    manifest
        .claims
        .iter()
        .map(|c| grants::claim_pattern(c))
        .collect()
}

/// The journal grant for what `manifest` requests (its units, checked
/// against the operator's grant by the caller), over the journal the
/// host's configuration names.
fn journal_grant(config: &Config, manifest: &Manifest) -> anyhow::Result<Option<JournalGrant>> {
    let Some(request) = &manifest.journal else {
        return Ok(None);
    };
    let access = match config.journal_reader {
        JournalReader::Native => JournalAccess::new(config.journal_dir.as_deref()),
        JournalReader::Journalctl => JournalAccess::Off,
    };
    Ok(Some(JournalGrant {
        access,
        units: UnitGrant::new(&request.units)?,
    }))
}

pub fn sha256_hex(wasm: &[u8]) -> String {
    Sha256::digest(wasm)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The plugins [`resolve`] found to load, and how many optional ones it
/// skipped.
pub struct Resolution {
    pub plugins: Vec<Resolved>,
    pub skipped: usize,
}

/// Every plugin to load, in the order they are asked. A dropped-in plugin
/// that cannot be granted stops start-up (every such plugin named, with
/// every reason) unless its grant says `optional = true`; then it is
/// skipped with an error in the log, and counted.
pub fn resolve(
    config: &Config,
    host: &HostPrograms,
    log_root: &Arc<LogRoot>,
) -> anyhow::Result<Resolution> {
    let mut all = dropin::resolve(config, host, log_root)?;
    all.plugins
        .extend(builtin::resolve(config, host, log_root)?);
    Ok(all)
}

/// A plugin spec for tests and embedders: `manifest` granted as is, with
/// its own limits over the defaults.
pub fn spec(manifest: &Manifest, wasm: Vec<u8>, grants: Grants) -> PluginSpec {
    PluginSpec {
        name: manifest.name.clone(),
        wasm,
        grants,
        limits: EffectiveLimits::new(&manifest.limits, None).runtime(),
        claims: claims(manifest).unwrap_or_default(),
        optional: false,
    }
}

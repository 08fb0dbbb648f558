//! Dropped-in plugins: `NAME.wasm` with its manifest `NAME.toml` in the
//! plugin directory, each loaded only as `[plugins.NAME]` in the config
//! grants. Deny by default: a plugin without a grant, or requesting a
//! program, read root or journal unit its grant does not name, or whose
//! sha256 is not the pinned one, is refused, with every reason.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};

use super::{BUILTIN, EffectiveLimits, Origin, Resolution, Resolved, journal_grant, sha256_hex};
use crate::caps::grants::read_root;
use crate::caps::journal_units::UnitGrant;
use crate::caps::{Grants, HostPrograms, Manifest};
use crate::config::{Config, PluginGrant};
use crate::logroot::LogRoot;

/// Why one plugin is refused: every reason, not just the first.
#[derive(Debug)]
pub struct Refused {
    pub plugin: String,
    pub reasons: Vec<String>,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plugin {} refused: {}",
            self.plugin,
            self.reasons.join("; ")
        )
    }
}

impl std::error::Error for Refused {}

/// The `.wasm` files of `dir`, by name.
fn wasm_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("plugin directory {}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "wasm") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

pub fn resolve(
    config: &Config,
    host: &HostPrograms,
    log_root: &Arc<LogRoot>,
) -> anyhow::Result<Resolution> {
    let builtin_names: Vec<String> = BUILTIN
        .iter()
        .filter_map(|b| Manifest::parse(b.manifest).ok().map(|m| m.name))
        .collect();
    let files = match &config.plugin_dir {
        Some(dir) => wasm_files(dir)?,
        None => Vec::new(),
    };
    let mut resolved = Vec::new();
    let mut refused = Vec::new();
    let mut skipped = 0;
    let mut seen = Vec::new();
    for wasm in files {
        let name = wasm
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        seen.push(name.clone());
        let grant = config.plugins.get(&name);
        match load(&wasm, None, &name, config, host, log_root, &builtin_names) {
            Ok(plugin) => resolved.push((grant.map_or(0, |g| g.priority), plugin)),
            Err(r) if grant.is_some_and(|g| g.optional) => {
                skipped += 1;
                tracing::error!(plugin = ?name, reasons = ?r.reasons, "optional plugin skipped")
            }
            Err(r) => refused.push(r),
        }
    }
    // A grant for a plugin that is not there is most likely a typo.
    for (name, grant) in &config.plugins {
        if !seen.contains(name) && !builtin_names.contains(name) && !grant.optional {
            refused.push(Refused {
                plugin: name.clone(),
                reasons: vec![
                    "granted in the config, but there is no such plugin in the plugin directory"
                        .into(),
                ],
            });
        }
    }
    if !refused.is_empty() {
        let all: Vec<String> = refused.iter().map(ToString::to_string).collect();
        bail!("{}", all.join("\n"));
    }
    resolved.sort_by(|(pa, a), (pb, b)| (pa, &a.manifest.name).cmp(&(pb, &b.manifest.name)));
    Ok(Resolution {
        plugins: resolved.into_iter().map(|(_, p)| p).collect(),
        skipped,
    })
}

/// One plugin, checked against its grant. `manifest_path` defaults to
/// `NAME.toml` beside the component.
pub fn load(
    wasm_path: &Path,
    manifest_path: Option<&Path>,
    name: &str,
    config: &Config,
    host: &HostPrograms,
    log_root: &Arc<LogRoot>,
    builtin_names: &[String],
) -> Result<Resolved, Refused> {
    let grant = config.plugins.get(name);
    let mut reasons = Vec::new();
    let refuse = |reasons: Vec<String>| Refused {
        plugin: name.to_string(),
        reasons,
    };
    let manifest_path =
        manifest_path.map_or_else(|| wasm_path.with_extension("toml"), Path::to_path_buf);
    let manifest = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("manifest {}", manifest_path.display()))
        .and_then(|text| {
            Manifest::parse(&text).with_context(|| format!("manifest {}", manifest_path.display()))
        });
    let wasm = std::fs::read(wasm_path).with_context(|| format!("reading {}", wasm_path.display()));
    let (mut manifest, wasm) = match (manifest, wasm) {
        (Ok(m), Ok(w)) => (m, w),
        (m, w) => {
            reasons.extend(m.err().map(|e| format!("{e:#}")));
            reasons.extend(w.err().map(|e| format!("{e:#}")));
            return Err(refuse(reasons));
        }
    };
    if manifest.name != name {
        reasons.push(format!(
            "its manifest names it {:?}, its file {name:?}",
            manifest.name
        ));
    }
    if builtin_names.iter().any(|b| b == name) {
        reasons.push(format!("{name:?} is the name of a built-in plugin"));
    }
    let sha256 = sha256_hex(&wasm);
    let Some(grant) = grant else {
        reasons.push(format!(
            "no [plugins.{name}] grant in the config (deny by default)"
        ));
        return Err(refuse(reasons));
    };
    if let Some(pinned) = &grant.sha256
        && !pinned.eq_ignore_ascii_case(&sha256)
    {
        reasons.push(format!(
            "sha256 mismatch: the config pins {pinned}, the file is {sha256}"
        ));
    }
    reasons.extend(refused_requests(&manifest, grant, host));
    if !reasons.is_empty() {
        return Err(refuse(reasons));
    }
    let limits = EffectiveLimits::new(&manifest.limits, Some(grant.limits()));
    manifest.limits = limits.as_manifest();
    let mut grants =
        Grants::resolve(&manifest, host, log_root).map_err(|e| refuse(vec![format!("{e:#}")]))?;
    grants.journal =
        journal_grant(config, &manifest).map_err(|e| refuse(vec![format!("{e:#}")]))?;
    Ok(Resolved {
        origin: Origin::Dropin(wasm_path.to_path_buf()),
        manifest,
        sha256,
        limits,
        optional: grant.optional,
        wasm,
        grants,
    })
}

/// Each thing the manifest requests that the grant (or the host) does not
/// give.
fn refused_requests(manifest: &Manifest, grant: &PluginGrant, host: &HostPrograms) -> Vec<String> {
    let mut reasons = Vec::new();
    for program in &manifest.programs {
        if !grant.programs.contains(&program.name) {
            reasons.push(format!("program {:?} is not granted", program.name));
        } else if !host.contains_key(&program.name) {
            reasons.push(format!(
                "program {:?} is not provided by this host (add [programs.{}] to the config)",
                program.name, program.name
            ));
        }
    }
    let granted: Vec<Vec<String>> = grant
        .read_roots
        .iter()
        .filter_map(|r| read_root(r).ok())
        .collect();
    for root in &manifest.read_roots {
        let Ok(parts) = read_root(root) else { continue };
        if !granted.iter().any(|g| parts.starts_with(g)) {
            reasons.push(format!("read root {root:?} is not granted"));
        }
    }
    for root in &grant.read_roots {
        if let Err(e) = read_root(root) {
            reasons.push(format!("the config's grant: {e:#}"));
        }
    }
    reasons.extend(refused_journal(manifest, grant));
    reasons
}

/// The journal units the manifest requests that the grant does not give:
/// each must fall within one of the grant's `journal-units`.
fn refused_journal(manifest: &Manifest, grant: &PluginGrant) -> Vec<String> {
    let Some(request) = &manifest.journal else {
        return Vec::new();
    };
    if grant.journal_units.is_empty() {
        return vec![format!(
            "the journal is not granted (its manifest asks for units {}; add journal-units to [plugins.{}])",
            request.units.join(" "),
            manifest.name
        )];
    }
    match UnitGrant::new(&grant.journal_units) {
        Ok(granted) => request
            .units
            .iter()
            .filter(|u| !granted.covers(u))
            .map(|u| format!("journal unit {u:?} is not granted"))
            .collect(),
        Err(e) => vec![format!("the config's grant: {e:#}")],
    }
}

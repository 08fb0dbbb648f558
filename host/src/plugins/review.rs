//! The reviewer's view: `nodelogd plugins list` and `plugins check`. Both
//! go through the same resolution as `serve`, so what they print is what
//! would run.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use super::{BUILTIN, EffectiveLimits, Origin, Resolved, dropin};
use crate::caps::{HostPrograms, Manifest};
use crate::cli::ServeArgs;
use crate::config::Config;
use crate::runtime::inspect;

/// One plugin as a reviewer sees it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct View {
    pub name: String,
    pub origin: Origin,
    pub version: Option<String>,
    pub wit_version: Option<String>,
    pub sha256: String,
    pub claims: Vec<String>,
    pub programs: Vec<ProgramView>,
    pub read_roots: Vec<String>,
    /// The journal units it may read (`["*"]`: the whole journal); `None`:
    /// no journal.
    pub journal_units: Option<Vec<String>>,
    pub limits: EffectiveLimits,
    pub optional: bool,
}

#[derive(Debug, Serialize)]
pub struct ProgramView {
    pub name: String,
    pub path: Option<PathBuf>,
    pub args: Vec<String>,
}

impl View {
    fn new(plugin: &Resolved, host: &HostPrograms) -> Self {
        let m = &plugin.manifest;
        View {
            name: m.name.clone(),
            origin: plugin.origin.clone(),
            version: None,
            wit_version: None,
            sha256: plugin.sha256.clone(),
            claims: m.claims.clone(),
            programs: m
                .programs
                .iter()
                .map(|p| ProgramView {
                    name: p.name.clone(),
                    path: host.get(&p.name).map(|h| h.path.clone()),
                    args: p.args.clone(),
                })
                .collect(),
            read_roots: m.read_roots.clone(),
            journal_units: plugin.grants.journal.as_ref().map(|j| j.units.patterns()),
            limits: plugin.limits.clone(),
            optional: plugin.optional,
        }
    }

    fn print(&self) {
        let origin = match &self.origin {
            Origin::Builtin => "built in".to_string(),
            Origin::Dropin(path) => format!("dropped in: {}", path.display()),
        };
        let unknown = || "?".to_string();
        println!("{} ({origin})", self.name);
        println!(
            "  version {}, nodelogd:plugin@{}",
            self.version.clone().unwrap_or_else(unknown),
            self.wit_version.clone().unwrap_or_else(unknown)
        );
        println!("  sha256 {}", self.sha256);
        println!("  claims {}", self.claims.join(" "));
        for p in &self.programs {
            let path = p
                .path
                .as_ref()
                .map_or("(not provided)".into(), |p| p.display().to_string());
            println!("  program {} = {path}", p.name);
            for rule in &p.args {
                println!("    arg {rule:?}");
            }
        }
        if self.read_roots.is_empty() {
            println!("  reads nothing");
        }
        for root in &self.read_roots {
            println!("  reads {root:?} under the log root");
        }
        match self.journal_units.as_deref() {
            None => println!("  reads no journal"),
            Some([all]) if all == "*" => println!("  reads the whole journal"),
            Some(units) => {
                for unit in units {
                    println!("  reads journal unit {unit:?} (as journalctl -u)");
                }
            }
        }
        let l = &self.limits;
        println!(
            "  limits memory-mib={} cpu-ms={} wall-ms={} output-mib={} max-processes={} max-instances={}",
            l.memory_mib, l.cpu_ms, l.wall_ms, l.output_mib, l.max_processes, l.max_instances
        );
        if self.optional {
            println!("  optional: skipped if it fails to load");
        }
    }
}

fn load_config(config: Option<PathBuf>) -> anyhow::Result<Config> {
    Config::load(ServeArgs {
        config,
        ..Default::default()
    })
}

/// `plugins list`: every plugin `serve` would load, loaded, in the order
/// they are asked. Fails as `serve` would.
pub async fn list(config: Option<PathBuf>, json: bool) -> anyhow::Result<()> {
    let config = load_config(config)?;
    let log_root = crate::open_log_root(&config)?;
    let host = crate::host_programs(&config);
    let resolved = super::resolve(&config, &host, &log_root)?.plugins;
    let mut views: Vec<View> = resolved.iter().map(|p| View::new(p, &host)).collect();
    let specs = resolved
        .into_iter()
        .map(Resolved::into_spec)
        .collect::<anyhow::Result<_>>()?;
    let runtime = crate::load_runtime(&config, specs).await?;
    for index in 0..runtime.len() {
        if let Some(view) = views.iter_mut().find(|v| *v.name == **runtime.name(index)) {
            view.version = Some(runtime.info(index).version.clone());
            view.wit_version = Some(runtime.wit_version(index).to_string());
        }
    }
    // Optional plugins that failed to load are not there to list.
    views.retain(|v| v.version.is_some());
    if json {
        println!("{}", serde_json::to_string_pretty(&views)?);
    } else {
        for view in &views {
            view.print();
        }
    }
    Ok(())
}

/// What `plugins check` found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Verdict {
    pub plugin: String,
    pub allowed: Option<View>,
    pub refused: Vec<String>,
}

/// `plugins check`: whether `wasm` would load with the config's grant;
/// `Ok(false)` when it would be refused.
pub fn check(
    wasm: &Path,
    manifest: Option<&Path>,
    config: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<bool> {
    let verdict = verdict(wasm, manifest, config)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else if let Some(view) = &verdict.allowed {
        println!("plugin {} would load with:", verdict.plugin);
        view.print();
    } else {
        println!("plugin {} would be refused:", verdict.plugin);
        for reason in &verdict.refused {
            println!("  - {reason}");
        }
    }
    Ok(verdict.allowed.is_some())
}

/// What `plugins check` prints, as data.
pub fn verdict(
    wasm: &Path,
    manifest: Option<&Path>,
    config: Option<PathBuf>,
) -> anyhow::Result<Verdict> {
    let config = load_config(config)?;
    let log_root = crate::open_log_root(&config)?;
    let host = crate::host_programs(&config);
    let name = wasm
        .file_stem()
        .context("no file name")?
        .to_string_lossy()
        .into_owned();
    let builtin: Vec<String> = BUILTIN
        .iter()
        .filter_map(|b| Manifest::parse(b.manifest).ok().map(|m| m.name))
        .collect();
    let verdict = match dropin::load(wasm, manifest, &name, &config, &host, &log_root, &builtin) {
        Ok(plugin) => {
            let (wit_version, refused) = inspect::check(&plugin.wasm, Some(&plugin.grants));
            let mut view = View::new(&plugin, &host);
            view.wit_version = wit_version;
            Verdict {
                plugin: name,
                allowed: refused.is_empty().then_some(view),
                refused,
            }
        }
        Err(refused) => {
            let mut reasons = refused.reasons;
            // Still say what is wrong with the code itself.
            if let Ok(bytes) = std::fs::read(wasm) {
                reasons.extend(inspect::check(&bytes, None).1);
            }
            Verdict {
                plugin: name,
                allowed: None,
                refused: reasons,
            }
        }
    };
    Ok(verdict)
}

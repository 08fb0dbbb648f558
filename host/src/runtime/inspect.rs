//! What a component says about itself before it runs: which version of the
//! `nodelogd:plugin` package it was built against, and whether it links
//! against what a grant allows.

use anyhow::bail;
use wasmtime::Engine;
use wasmtime::component::Component;

use super::bindings::LogSourcePre;
use super::linker;
use crate::caps::Grants;

const SOURCE: &str = "nodelogd:plugin/source@";
/// The package versions this host serves: 0.1.x (additions within 0.1 are
/// backwards compatible, see wit/plugin.wit).
const SUPPORTED: &str = "0.1.";

/// The `nodelogd:plugin` version the component's `source` export is built
/// against, or why it is not a source this host can run.
pub fn wit_version(engine: &Engine, component: &Component) -> anyhow::Result<String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let Some(version) = exports.iter().find_map(|e| e.strip_prefix(SOURCE)) else {
        bail!("exports no {SOURCE}{SUPPORTED}x interface (it exports {exports:?})");
    };
    if !version.starts_with(SUPPORTED) {
        bail!("built against nodelogd:plugin@{version}; this host supports {SUPPORTED}x");
    }
    Ok(version.to_string())
}

/// Every reason `wasm` cannot run with `grants` (or at all, without
/// linking, when `None`); its WIT version if known.
pub fn check(wasm: &[u8], grants: Option<&Grants>) -> (Option<String>, Vec<String>) {
    let engine = match super::engine::new(4, 64 << 20) {
        Ok(engine) => engine,
        Err(e) => return (None, vec![format!("{e:#}")]),
    };
    let component = match Component::new(&engine, wasm) {
        Ok(c) => c,
        Err(e) => return (None, vec![format!("not a valid component: {e:#}")]),
    };
    let version = match wit_version(&engine, &component) {
        Ok(v) => v,
        Err(e) => return (None, vec![format!("{e:#}")]),
    };
    let Some(grants) = grants else {
        return (Some(version), Vec::new());
    };
    let linked = linker::for_grants(&engine, grants)
        .and_then(|l| l.instantiate_pre(&component))
        .and_then(LogSourcePre::new);
    let problems = linked.err().map(|e| format!("{e:#}")).into_iter().collect();
    (Some(version), problems)
}

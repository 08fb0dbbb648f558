//! Servers with plugins that are not built in: the hybrid-overlay example
//! from `plugins/` (built by tests/build.rs as docs/plugins.md says), each
//! over a log root of the test's own.
//!
//! Until `--plugin-dir` lands, the plugin is loaded through the library
//! API (`nodelogd::start_with`), with the manifest's grant as it stands.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use nodelogd::caps::{Grants, HostPrograms, Manifest};
use nodelogd::cli::ServeArgs;
use nodelogd::config::Config;
use nodelogd::logroot::LogRoot;
use nodelogd::runtime::PluginSpec;

use crate::fixture::runtime;

pub const HYBRID_OVERLAY_MANIFEST: &str =
    include_str!("../../plugins/hybrid-overlay/nodelogd-plugin.toml");

/// The hybrid-overlay plugin granted its manifest's request over `log_dir`.
pub fn hybrid_overlay(log_dir: &Path) -> PluginSpec {
    let manifest = Manifest::parse(HYBRID_OVERLAY_MANIFEST).unwrap();
    let root = Arc::new(LogRoot::open(log_dir).unwrap());
    let grants = Grants::resolve(&manifest, &HostPrograms::new(), &root).unwrap();
    let wasm = std::fs::read(env!("NODELOGD_TEST_PLUGIN_HYBRID_OVERLAY")).unwrap();
    nodelogd::plugins::spec(&manifest, wasm, grants)
}

/// A nodelogd on a free loopback port over `log_dir`, with `extra` plugins
/// asked first and `programs` provided to plugins; runs until the test
/// binary exits. `cache` holds compiled plugins across runs.
pub fn serve(
    log_dir: &Path,
    cache: &Path,
    deadline_seconds: u64,
    programs: HostPrograms,
    extra: Vec<PluginSpec>,
) -> SocketAddr {
    let args = ServeArgs {
        listen: Some(([127, 0, 0, 1], 0).into()),
        log_dir: Some(log_dir.into()),
        cache_dir: Some(cache.into()),
        deadline_seconds: Some(deadline_seconds),
        ..Default::default()
    };
    let mut config = Config::load(args).expect("test configuration");
    config.programs = programs;
    let running = runtime()
        .block_on(nodelogd::start_with(config, extra))
        .expect("starting nodelogd");
    let addr = running.local_addr;
    std::mem::forget(running);
    addr
}

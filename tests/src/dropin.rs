//! Servers with plugins that are not built in: the hybrid-overlay example
//! from `plugins/` (built by tests/build.rs as docs/plugins.md says), each
//! over a log root of the test's own.
//!
//! The plugin is loaded as an operator would load it, from a plugin
//! directory with a grant in the config file (docs/plugins.md, step 4).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use nodelogd::cli::{AuthorizationMode, ServeArgs};
use nodelogd::config::Config;

use crate::fixture::runtime;

pub const HYBRID_OVERLAY_MANIFEST: &str =
    include_str!("../../plugins/hybrid-overlay/nodelogd-plugin.toml");

/// A plugin directory and a config file laid out as docs/plugins.md tells
/// an operator to: `hybrid-overlay.wasm` and `hybrid-overlay.toml` in
/// `<base>/plugins`, granted by name in `<base>/config.toml`. Returns the
/// config file, which names the plugin directory.
pub fn hybrid_overlay_as_documented(base: &Path) -> PathBuf {
    let plugins = base.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(
        env!("NODELOGD_TEST_PLUGIN_HYBRID_OVERLAY"),
        plugins.join("hybrid-overlay.wasm"),
    )
    .unwrap();
    std::fs::write(plugins.join("hybrid-overlay.toml"), HYBRID_OVERLAY_MANIFEST).unwrap();
    let config = base.join("config.toml");
    let grant = format!(
        "plugin-dir = {:?}\n\n[plugins.hybrid-overlay]\nprograms = []\nread-roots = [\"hybrid-overlay\"]\n",
        plugins.display().to_string()
    );
    std::fs::write(&config, grant).unwrap();
    config
}

/// A nodelogd on a free loopback port over `log_dir`, with `extra` plugins
/// asked first and `programs` provided to plugins; runs until the test
/// binary exits. `cache` holds compiled plugins across runs.
pub fn serve(
    log_dir: &Path,
    cache: &Path,
    deadline_seconds: u64,
    programs: BTreeMap<String, PathBuf>,
    config_file: Option<PathBuf>,
) -> SocketAddr {
    let args = ServeArgs {
        config: config_file,
        listen: Some(([127, 0, 0, 1], 0).into()),
        log_dir: Some(log_dir.into()),
        cache_dir: Some(cache.into()),
        deadline_seconds: Some(deadline_seconds),
        anonymous_auth: Some(true),
        authorization_mode: Some(AuthorizationMode::AlwaysAllow),
        ..Default::default()
    };
    let mut config = Config::load(args).expect("test configuration");
    config.programs = programs;
    let running = runtime()
        .block_on(nodelogd::start(config))
        .expect("starting nodelogd");
    let addr = running.local_addr;
    std::mem::forget(running);
    addr
}

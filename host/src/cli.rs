//! Command-line interface. Every `serve` flag can also be set in the TOML
//! file given with `--config`; a flag on the command line wins.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "nodelogd",
    version,
    about = "Serves the kubelet's node log query API (/logs/) from WebAssembly-sandboxed log sources",
    long_about = "nodelogd answers `kubectl get --raw /api/v1/nodes/NODE/proxy/logs/?query=kubelet` exactly as a \
kubelet would, byte for byte, but every log source (journald, files under the log root) runs as a \
WebAssembly component that can only run the programs and read the paths its grant allows."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve /logs/ and /healthz over HTTP.
    Serve(Box<ServeArgs>),
    /// The reviewer's view of plugins: what each may do, or why it would
    /// be refused.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every plugin `serve` would load (built-in and dropped in), in the
    /// order they are asked: name, version, WIT version, sha256, claims,
    /// programs with their argument rules, read roots and limits.
    List {
        /// The configuration `serve` would use.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// JSON instead of text, for tooling.
        #[arg(long)]
        json: bool,
    },
    /// Validates a plugin without serving it: prints what it would be
    /// allowed to do, or every reason it would be refused (and exits 1).
    Check {
        /// The component.
        wasm: PathBuf,
        /// Its manifest. [default: FILE.toml beside the component]
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
        /// The configuration holding the operator's grants.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below, spelled as the flags
    /// without the dashes (`listen = "127.0.0.1:10260"`, `log-dir = ...`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on. Plain HTTP without authentication, so only
    /// loopback addresses are accepted. [default: 127.0.0.1:10260]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// The log root: what /logs/<path> serves and where the file source
    /// looks for <svc>, <svc>.log and <svc>/<svc>.log. Nothing outside it is
    /// ever read, symlinks included. [default: /var/log]
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Journal directory handed to journalctl as --directory=DIR (for
    /// example a copied or remote journal). [default: the system journal]
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,

    /// The journalctl binary. [default: found on PATH; without it the
    /// journald source is disabled and services fall back to files]
    #[arg(long, value_name = "PATH")]
    pub journalctl: Option<PathBuf>,

    /// This node's name, as the API server knows it; used in logs.
    /// [default: the host name]
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,

    /// Seconds a service query may run; its output then ends, as with the
    /// kubelet's fixed 30 s limit. [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub deadline_seconds: Option<u64>,

    /// Service queries allowed to run at once; more get 429.
    /// [default: 16]
    #[arg(long, value_name = "N")]
    pub max_concurrent_queries: Option<usize>,

    /// Directory for compiled plugins, so start-up skips recompiling them.
    /// Must be writable only by the user nodelogd runs as; "none" turns the
    /// cache off. [default: /var/cache/nodelogd as root, else
    /// $XDG_CACHE_HOME/nodelogd or ~/.cache/nodelogd]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Directory of dropped-in plugins: NAME.wasm with its manifest
    /// NAME.toml beside it. Each loads only as granted by [plugins.NAME]
    /// in the config file.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
}

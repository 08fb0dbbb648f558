//! Settings: flags over the TOML file over defaults, checked once.

mod security;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::admission::Limits;
use crate::caps::grants::ManifestLimits;
use crate::cli::{AuthorizationMode, JournalReader, ServeArgs};
pub use security::{Authentication, Authorization, Gating, Security};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    listen: Option<SocketAddr>,
    log_dir: Option<PathBuf>,
    journal_dir: Option<PathBuf>,
    journalctl: Option<PathBuf>,
    journal_reader: Option<JournalReader>,
    node_name: Option<String>,
    deadline_seconds: Option<u64>,
    max_concurrent_queries: Option<usize>,
    max_queries_per_client: Option<usize>,
    max_file_requests: Option<usize>,
    max_file_requests_per_client: Option<usize>,
    queue_wait_ms: Option<u64>,
    cache_dir: Option<PathBuf>,
    header_timeout_seconds: Option<u64>,
    idle_timeout_seconds: Option<u64>,
    send_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    response_buffer_mib: Option<usize>,
    plugin_dir: Option<PathBuf>,
    audit_log_path: Option<PathBuf>,
    metrics_open_on_loopback: Option<bool>,
    max_queries_per_user: Option<usize>,
    enable_system_log_handler: Option<bool>,
    enable_system_log_query: Option<bool>,
    feature_gates: Option<BTreeMap<String, bool>>,
    tls_cert_file: Option<PathBuf>,
    tls_private_key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    token_auth_file: Option<PathBuf>,
    authentication_token_webhook: Option<bool>,
    authentication_token_webhook_cache_ttl: Option<String>,
    anonymous_auth: Option<bool>,
    authorization_mode: Option<AuthorizationMode>,
    authorized_users: Option<Vec<String>>,
    authorized_groups: Option<Vec<String>>,
    authorization_webhook_cache_authorized_ttl: Option<String>,
    authorization_webhook_cache_unauthorized_ttl: Option<String>,
    kubeconfig: Option<PathBuf>,
    generated_token_file: Option<PathBuf>,
    #[serde(default)]
    programs: BTreeMap<String, ProgramConfig>,
    #[serde(default)]
    plugins: BTreeMap<String, PluginGrant>,
}

/// `[programs.NAME]`: a program the host provides to plugins by logical name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ProgramConfig {
    path: PathBuf,
}

/// `[plugins.NAME]`: what the operator grants plugin NAME. A dropped-in
/// plugin gets what its manifest requests only if it is granted here; the
/// limits are ceilings, the tighter of these and the manifest's applies.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginGrant {
    /// Load only a `NAME.wasm` with this SHA-256 (hex).
    pub sha256: Option<String>,
    /// Logical names of programs it may run (`[programs.NAME]`).
    #[serde(default)]
    pub programs: Vec<String>,
    #[serde(default)]
    pub read_roots: Vec<String>,
    /// Journal units it may read (names or `*` globs, `"*"` for all); its
    /// manifest's `[journal] units` must fall within them.
    #[serde(default)]
    pub journal_units: Vec<String>,
    /// Skip the plugin, with an error, when it cannot load, instead of
    /// refusing to start.
    #[serde(default)]
    pub optional: bool,
    /// Dropped-in plugins are asked in ascending priority, then by name.
    #[serde(default)]
    pub priority: i32,
    pub memory_mib: Option<u64>,
    pub cpu_ms: Option<u64>,
    pub max_processes: Option<u32>,
    pub wall_ms: Option<u64>,
    pub output_mib: Option<u64>,
    pub max_instances: Option<u32>,
    /// The winevent source's event log channels (default `Application`).
    pub channels: Option<Vec<String>>,
}

/// At most this many winevent channels; each a plain name (no `,`, the
/// separator they travel with, and no quotes).
pub const MAX_CHANNELS: usize = 16;
const MAX_CHANNEL_BYTES: usize = 255;

/// `channels` is only for winevent, 1 to `MAX_CHANNELS` plain names.
fn check_channels(plugin: &str, channels: &[String]) -> anyhow::Result<()> {
    if plugin != "winevent" {
        bail!("[plugins.{plugin}]: channels is a setting of the winevent plugin only");
    }
    if channels.is_empty() || channels.len() > MAX_CHANNELS {
        bail!("[plugins.winevent]: channels must list 1 to {MAX_CHANNELS} channels");
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || " ._/-".contains(c);
    if let Some(bad) = channels
        .iter()
        .find(|c| c.is_empty() || c.len() > MAX_CHANNEL_BYTES || !c.chars().all(valid))
    {
        bail!(
            "[plugins.winevent]: channel {bad:?} is not a channel name (1 to {MAX_CHANNEL_BYTES} of A-Z a-z 0-9 space . _ / -)"
        );
    }
    Ok(())
}

impl PluginGrant {
    pub fn limits(&self) -> ManifestLimits {
        ManifestLimits {
            memory_mib: self.memory_mib,
            cpu_ms: self.cpu_ms,
            max_processes: self.max_processes,
            wall_ms: self.wall_ms,
            output_mib: self.output_mib,
            max_instances: self.max_instances,
        }
    }
}

/// Longest accepted `deadline-seconds` and connection timeouts: a day.
/// Larger values are mistakes, and would overflow instant arithmetic.
const MAX_SECONDS: u64 = 24 * 60 * 60;

/// What one client and all clients together may hold (see `server`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnLimits {
    /// From accept to the first complete request head.
    pub header_timeout: Duration,
    /// With no request running, until the next one.
    pub idle_timeout: Duration,
    /// A response that makes no progress for this long is ended.
    pub send_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// Bytes of response data buffered at once, over all responses.
    pub response_buffer_bytes: usize,
}

/// HTTPS: the PEM files, reloaded when they change (see `server::tls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `--tls-cert-file`: the server's certificate, then its chain.
    pub cert: PathBuf,
    /// `--tls-private-key-file`.
    pub key: PathBuf,
    /// `--client-ca-file`: client certificates signed by one of these CAs
    /// authenticate; without it none are asked for.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub log_dir: PathBuf,
    pub journal_dir: Option<PathBuf>,
    /// `None` when not given and not on PATH: the journald source is off.
    pub journalctl: Option<PathBuf>,
    pub journal_reader: JournalReader,
    pub node_name: String,
    pub deadline: Duration,
    pub max_concurrent_queries: usize,
    /// Service query admission (`max_concurrent_queries` in total).
    pub queries: Limits,
    /// File request admission.
    pub files: Limits,
    pub cache_dir: Option<PathBuf>,
    pub connections: ConnLimits,
    /// Where dropped-in plugins (`NAME.wasm` + `NAME.toml`) are loaded from.
    pub plugin_dir: Option<PathBuf>,
    /// Programs provided to plugins, by logical name: absolute paths.
    pub programs: BTreeMap<String, PathBuf>,
    pub plugins: BTreeMap<String, PluginGrant>,
    /// `--audit-log-path`: a file, or `-` for stderr.
    pub audit_log_path: Option<PathBuf>,
    /// `/metrics` without authentication: plain HTTP on loopback only.
    pub metrics_open_on_loopback: bool,
    /// `None`: plain HTTP.
    pub tls: Option<TlsFiles>,
    /// TLS, authentication, authorization and gating.
    pub security: Security,
}

impl Config {
    pub fn load(mut args: ServeArgs) -> anyhow::Result<Self> {
        let mut file: FileConfig = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 10260)));
        let security = security::load(&mut args, &mut file, listen)?;
        // `security` has checked that the certificate and key come together.
        let tls = security
            .tls_cert_file
            .clone()
            .zip(security.tls_private_key_file.clone())
            .map(|(cert, key)| TlsFiles {
                cert,
                key,
                client_ca: security.client_ca_file.clone(),
            });
        let metrics_open_on_loopback = args
            .metrics_open_on_loopback
            .or(file.metrics_open_on_loopback)
            .unwrap_or(false);
        if metrics_open_on_loopback && (!listen.ip().is_loopback() || tls.is_some()) {
            bail!(
                "--metrics-open-on-loopback needs plain HTTP on a loopback --listen address \
                 (listening on {listen}{})",
                if tls.is_some() { " with TLS" } else { "" }
            );
        }
        // Programs run with `/` as their working directory, so every path
        // handed to them (or used to start them) must be absolute.
        let journalctl = match args.journalctl.or(file.journalctl) {
            Some(path) if path.is_file() => Some(absolute(&path, "journalctl")?),
            Some(path) => bail!("journalctl not found at {}", path.display()),
            None => find_on_path("journalctl"),
        };
        let journal_dir = match args.journal_dir.or(file.journal_dir) {
            Some(dir) => Some(absolute(&dir, "journal directory")?),
            None => None,
        };
        let deadline = seconds(
            "deadline-seconds",
            args.deadline_seconds.or(file.deadline_seconds),
            30,
        )?;
        let connections = ConnLimits {
            header_timeout: seconds(
                "header-timeout-seconds",
                args.header_timeout_seconds.or(file.header_timeout_seconds),
                10,
            )?,
            idle_timeout: seconds(
                "idle-timeout-seconds",
                args.idle_timeout_seconds.or(file.idle_timeout_seconds),
                30,
            )?,
            send_timeout: seconds(
                "send-timeout-seconds",
                args.send_timeout_seconds.or(file.send_timeout_seconds),
                30,
            )?,
            max_connections: count(
                "max-connections",
                args.max_connections.or(file.max_connections),
                1024,
                1 << 16,
            )?,
            max_connections_per_address: count(
                "max-connections-per-address",
                args.max_connections_per_address
                    .or(file.max_connections_per_address),
                128,
                1 << 16,
            )?,
            response_buffer_bytes: count(
                "response-buffer-mib",
                args.response_buffer_mib.or(file.response_buffer_mib),
                16,
                // Counted in bytes by a semaphore, which holds fewer than
                // 2^61 permits; a terabyte is far beyond any node anyway.
                1 << 20,
            )?
            .saturating_mul(1 << 20),
        };
        let max_concurrent_queries = args
            .max_concurrent_queries
            .or(file.max_concurrent_queries)
            .unwrap_or(16)
            .max(1);
        let queue_wait =
            Duration::from_millis(args.queue_wait_ms.or(file.queue_wait_ms).unwrap_or(1000));
        // Half per address by default: one address never takes every slot.
        let limits = |total: usize, per_client: Option<usize>| {
            Limits::new(total, per_client.unwrap_or(total / 2), queue_wait)
        };
        let queries = limits(
            max_concurrent_queries,
            args.max_queries_per_client.or(file.max_queries_per_client),
        )
        // No share of its own by default: every request through the API
        // server is one user (its kubelet-client identity), which must
        // not get only part of the slots.
        .with_per_user(
            args.max_queries_per_user
                .or(file.max_queries_per_user)
                .unwrap_or(max_concurrent_queries),
        );
        let files = limits(
            args.max_file_requests
                .or(file.max_file_requests)
                .unwrap_or(16),
            args.max_file_requests_per_client
                .or(file.max_file_requests_per_client),
        );
        let cache_dir = match args.cache_dir.or(file.cache_dir) {
            Some(dir) if dir == Path::new("none") => None,
            Some(dir) => Some(dir),
            None => default_cache_dir(),
        };
        let mut programs = BTreeMap::new();
        for (name, program) in file.programs {
            if name == "journalctl" {
                bail!("[programs.journalctl]: journalctl is set with journalctl = or --journalctl");
            }
            if !program.path.is_file() {
                bail!("[programs.{name}]: no file at {}", program.path.display());
            }
            programs.insert(name, absolute(&program.path, "program")?);
        }
        for (name, grant) in &file.plugins {
            if let Some(channels) = &grant.channels {
                check_channels(name, channels)?;
            }
        }
        Ok(Config {
            listen,
            log_dir: args
                .log_dir
                .or(file.log_dir)
                .unwrap_or_else(|| "/var/log".into()),
            journal_dir,
            journalctl,
            journal_reader: args
                .journal_reader
                .or(file.journal_reader)
                .unwrap_or_default(),
            node_name: args.node_name.or(file.node_name).unwrap_or_else(hostname),
            deadline,
            max_concurrent_queries,
            queries,
            files,
            cache_dir,
            connections,
            plugin_dir: args.plugin_dir.or(file.plugin_dir),
            programs,
            plugins: file.plugins,
            audit_log_path: args.audit_log_path.or(file.audit_log_path),
            metrics_open_on_loopback,
            tls,
            security,
        })
    }
}

/// A duration setting in whole seconds, 1 to `MAX_SECONDS`.
fn seconds(name: &str, value: Option<u64>, default: u64) -> anyhow::Result<Duration> {
    let value = count(name, value, default, MAX_SECONDS)?;
    Ok(Duration::from_secs(value))
}

/// A count setting, 1 to `max`.
fn count<T>(name: &str, value: Option<T>, default: T, max: T) -> anyhow::Result<T>
where
    T: Copy + PartialOrd + From<u8> + std::fmt::Display,
{
    let value = value.unwrap_or(default);
    if value < T::from(1) || value > max {
        bail!("{name} must be between 1 and {max}, not {value}");
    }
    Ok(value)
}

/// Absolute, but with symlinks kept as given (they are the operator's names).
fn absolute(path: &Path, what: &str) -> anyhow::Result<PathBuf> {
    std::fs::metadata(path).with_context(|| format!("{what} {}", path.display()))?;
    Ok(std::path::absolute(path)?)
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

fn default_cache_dir() -> Option<PathBuf> {
    if rustix::process::geteuid().is_root() {
        return Some("/var/cache/nodelogd".into());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("nodelogd"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_handed_to_programs_are_absolute() {
        let args = ServeArgs {
            journal_dir: Some(".".into()),
            cache_dir: Some("none".into()),
            ..Default::default()
        };
        let config = Config::load(args).unwrap();
        assert!(config.journal_dir.unwrap().is_absolute());
        assert_eq!(config.cache_dir, None);
        let args = ServeArgs {
            journal_dir: Some("no/such/dir".into()),
            ..Default::default()
        };
        let err = Config::load(args).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("journal directory no/such/dir: "),
            "{err:#}"
        );
    }

    #[test]
    fn one_address_gets_half_the_slots_by_default() {
        let config = Config::load(ServeArgs {
            max_concurrent_queries: Some(10),
            max_file_requests_per_client: Some(99),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((config.queries.total, config.queries.per_client), (10, 5));
        assert_eq!((config.files.total, config.files.per_client), (16, 16));
        assert_eq!(config.files.wait, Duration::from_secs(1));
    }
}

//! Settings: flags over the TOML file over defaults, checked once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::admission::Limits;
use crate::cli::ServeArgs;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    listen: Option<SocketAddr>,
    log_dir: Option<PathBuf>,
    journal_dir: Option<PathBuf>,
    journalctl: Option<PathBuf>,
    node_name: Option<String>,
    deadline_seconds: Option<u64>,
    max_concurrent_queries: Option<usize>,
    max_queries_per_client: Option<usize>,
    max_file_requests: Option<usize>,
    max_file_requests_per_client: Option<usize>,
    queue_wait_ms: Option<u64>,
    cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub log_dir: PathBuf,
    pub journal_dir: Option<PathBuf>,
    /// `None` when not given and not on PATH: the journald source is off.
    pub journalctl: Option<PathBuf>,
    pub node_name: String,
    pub deadline: Duration,
    pub max_concurrent_queries: usize,
    /// Service query admission (`max_concurrent_queries` in total).
    pub queries: Limits,
    /// File request admission.
    pub files: Limits,
    pub cache_dir: Option<PathBuf>,
}

impl Config {
    pub fn load(args: ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
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
        let deadline = args
            .deadline_seconds
            .or(file.deadline_seconds)
            .unwrap_or(30);
        if deadline == 0 {
            bail!("deadline-seconds must be at least 1");
        }
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
        Ok(Config {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 10260))),
            log_dir: args
                .log_dir
                .or(file.log_dir)
                .unwrap_or_else(|| "/var/log".into()),
            journal_dir,
            journalctl,
            node_name: args.node_name.or(file.node_name).unwrap_or_else(hostname),
            deadline: Duration::from_secs(deadline),
            max_concurrent_queries,
            queries,
            files,
            cache_dir,
        })
    }
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

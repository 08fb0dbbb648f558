//! Settings: flags over the TOML file over defaults, checked once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::caps::HostPrograms;
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
    pub cache_dir: Option<PathBuf>,
    /// Programs the host provides to plugins by logical name, besides
    /// journalctl (for example `powershell` for the winevent source).
    /// Empty from `load`; set through the library API.
    pub programs: HostPrograms,
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
            max_concurrent_queries: args
                .max_concurrent_queries
                .or(file.max_concurrent_queries)
                .unwrap_or(16)
                .max(1),
            cache_dir,
            programs: HostPrograms::new(),
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
}

//! Reload (SIGHUP, see `main`): the configuration read again from the same
//! flags and `--config` file, and everything a request uses built anew from
//! it (token file, authorization, plugin directory and grants, log root,
//! audit log, per-request limits), off the request path. Only when all of
//! it has loaded, the TLS files included, is the new state put in force;
//! otherwise the old one keeps serving and the caller reports why.
//!
//! Requests hold the `App` they started with, so no stream is cut: the old
//! state (its wasmtime engine and compiled plugins) is freed when its last
//! request ends. What lives in the server for the whole process (the
//! listener, connection limits, the TLS files' paths) keeps its value,
//! with a warning, when the new configuration changes it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{Mutex, watch};

use crate::cli::ServeArgs;
use crate::config::Config;
use crate::route::App;
use crate::server::{self, tls::Tls};

/// A running server; dropping it does not stop it, `shutdown` does.
pub struct Running {
    pub local_addr: SocketAddr,
    server: server::Running,
    reloader: Arc<Reloader>,
}

impl Running {
    pub(crate) fn new(server: server::Running, reloader: Reloader) -> Self {
        Running {
            local_addr: server.local_addr,
            server,
            reloader: Arc::new(reloader),
        }
    }

    /// What reloads this server's configuration, for as long as it runs.
    pub fn reloader(&self) -> Arc<Reloader> {
        self.reloader.clone()
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }

    /// Runs until `signal` resolves, then shuts down.
    pub async fn until(self, signal: impl Future<Output = ()>) {
        self.server.until(signal).await;
    }
}

pub struct Reloader {
    /// The configuration in force; locked for a whole reload, so reloads
    /// run one at a time.
    config: Mutex<Config>,
    apps: watch::Sender<Arc<App>>,
    tls: Option<Arc<Tls>>,
}

impl Reloader {
    pub(crate) fn new(
        config: Config,
        apps: watch::Sender<Arc<App>>,
        tls: Option<Arc<Tls>>,
    ) -> Self {
        Reloader {
            config: Mutex::new(config),
            apps,
            tls,
        }
    }

    /// Loads the configuration `args` name and puts it in force, or leaves
    /// the one in force untouched and says why.
    pub async fn reload(&self, args: &ServeArgs) -> anyhow::Result<()> {
        let metrics = self.apps.borrow().metrics.clone();
        let result = self.try_reload(args).await;
        // Counted before it is logged: whoever waits for the log line (an
        // operator, a test) then finds the count already taken.
        metrics.reloaded(result.is_ok());
        if result.is_ok() {
            tracing::info!("configuration reloaded");
        }
        result
    }

    async fn try_reload(&self, args: &ServeArgs) -> anyhow::Result<()> {
        let mut current = self.config.lock().await;
        let config = load(args, &current)?;
        let tls = match &self.tls {
            Some(tls) => {
                let tls = tls.clone();
                Some(tokio::task::spawn_blocking(move || tls.stage()).await??)
            }
            None => None,
        };
        let previous = (current.clone(), self.apps.borrow().clone());
        // Compiling plugins takes seconds of CPU: on a blocking thread, so
        // that the workers go on serving. On this runtime all the same,
        // since the new state's clients (webhooks) and tasks live on it.
        let handle = tokio::runtime::Handle::current();
        let (config, app) = tokio::task::spawn_blocking(move || {
            let (old_config, old_app) = previous;
            let app = handle.block_on(crate::build_app(
                &config,
                Vec::new(),
                Some((&old_config, &old_app)),
            ))?;
            anyhow::Ok((config, app))
        })
        .await
        .context("the reload stopped")??;
        if let (Some(tls), Some(staged)) = (&self.tls, tls) {
            tls.put_in_force(staged);
        }
        self.apps.send_replace(Arc::new(app));
        *current = config;
        Ok(())
    }
}

/// The configuration `args` name, with the settings that take a restart
/// kept as `running` has them (each change named in a warning).
fn load(args: &ServeArgs, running: &Config) -> anyhow::Result<Config> {
    let mut config = Config::load(args.clone())?;
    if config.listen != running.listen {
        restart_needed("listen");
        // Checked again for the address actually served: a loopback
        // address in the file must not lift what a public one requires
        // (TLS, authentication).
        let mut args = args.clone();
        args.listen = Some(running.listen);
        config = Config::load(args)?;
    }
    if config.connections != running.connections {
        restart_needed(
            "header-timeout-seconds, idle-timeout-seconds, send-timeout-seconds, \
             max-connections, max-connections-per-address or response-buffer-mib",
        );
        config.connections = running.connections.clone();
    }
    if config.tls != running.tls {
        restart_needed("tls-cert-file, tls-private-key-file or client-ca-file (which files)");
        config.tls = running.tls.clone();
    }
    Ok(config)
}

fn restart_needed(settings: &'static str) {
    tracing::warn!(
        settings,
        "changed in the configuration, but this takes a restart: keeping the running value"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &std::path::Path, file: &str) -> ServeArgs {
        let config = dir.join("config.toml");
        std::fs::write(&config, file).unwrap();
        ServeArgs {
            config: Some(config),
            cache_dir: Some("none".into()),
            ..Default::default()
        }
    }

    #[test]
    fn settings_held_by_the_server_keep_their_running_values() {
        let dir = tempfile::tempdir().unwrap();
        let running = Config::load(args(dir.path(), "")).unwrap();
        let changed = args(
            dir.path(),
            "listen = \"127.0.0.1:1\"\nidle-timeout-seconds = 5\ndeadline-seconds = 7\n",
        );
        let config = load(&changed, &running).unwrap();
        assert_eq!(config.listen, running.listen);
        assert_eq!(config.connections, running.connections);
        // Per request: taken.
        assert_eq!(config.deadline, std::time::Duration::from_secs(7));
    }

    /// Pins: checked against the file's own (loopback) address, a file
    /// that dropped authentication would have been taken by a server that
    /// still listens on every interface.
    #[test]
    fn the_address_served_is_the_one_security_is_checked_for() {
        let dir = tempfile::tempdir().unwrap();
        let mut running = Config::load(args(dir.path(), "")).unwrap();
        running.listen = ([0, 0, 0, 0], 10260).into();
        let loopback = args(
            dir.path(),
            "listen = \"127.0.0.1:10260\"\nanonymous-auth = true\nauthorization-mode = \"AlwaysAllow\"\n",
        );
        assert!(Config::load(loopback.clone()).is_ok());
        let err = load(&loopback, &running).unwrap_err();
        assert!(format!("{err:#}").contains("0.0.0.0"), "{err:#}");
    }
}

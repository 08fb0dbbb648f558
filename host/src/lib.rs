//! nodelogd: the kubelet's node log query (`/logs/`), with every log source
//! a WebAssembly component.
//!
//! One request, socket to plugin and back:
//! 1. `server` accepts the connection and hands each request to
//! 2. `route`, which lets `auth` decide who is asking and whether they
//!    may (`config` has refused every setting that would serve logs
//!    without authentication unless asked for), then parses and validates the query with `query` (pure; the
//!    kubelet's texts) and sends plain paths and single files to `files`
//!    (over `logroot`, the confined resolver), and services to
//! 3. `service_logs`, which asks the plugins in `runtime` which of them
//!    serves each service, then streams their output through
//! 4. `stream` (bounded channel, gzip) back to the client.
//!
//! Plugins reach the node only through `caps`, as their grants allow.

mod admission;
pub mod audit;
pub mod auth;
pub mod caps;
pub mod cli;
pub mod config;
mod files;
pub mod logroot;
pub mod metrics;
pub mod plugins;
mod reload;
mod reply;
mod route;
pub mod runtime;
mod server;
mod service_logs;
mod stream;

use std::sync::Arc;

use anyhow::Context;

use admission::Admission;
use auth::authenticate::Authenticator;
use auth::authorize::Authorizer;
use auth::guard::Guard;
use auth::tokens::TokenFile;
use auth::webhook::{AccessReviewer, TokenReviewer};
use caps::{HostPrograms, ProgramPolicy};
use cli::AuthorizationMode;
use config::{Config, Security};
use logroot::LogRoot;
use metrics::Metrics;
/// The query parameters, shared with the client as the `nodelogd-query` crate.
pub use nodelogd_query as query;
pub use reload::{Reloader, Running};
use route::App;
use runtime::{PluginSpec, Runtime};

/// The only environment variables journalctl gets (when set in nodelogd's
/// own environment): `LANG`, `LC_ALL`, `LC_CTYPE` and `LC_TIME`, for its
/// output's language, character set and time format. Everything else,
/// the other `LC_*` variables included, is withheld.
const JOURNALCTL_ENV: [&str; 4] = ["LANG", "LC_ALL", "LC_CTYPE", "LC_TIME"];

/// Loads the plugins and starts serving; returns once the socket is bound.
pub async fn start(config: Config) -> anyhow::Result<Running> {
    start_with(config, Vec::new()).await
}

/// [`start`], with `extra` plugins asked before the built-in ones (tests
/// use it to serve a misbehaving plugin over HTTP). A reload does not keep
/// them: it loads what the configuration names.
pub async fn start_with(config: Config, extra: Vec<PluginSpec>) -> anyhow::Result<Running> {
    // Before the plugins load (seconds): an unreadable certificate fails at once.
    let tls = config.tls.clone().map(server::tls::Tls::load).transpose()?;
    let app = Arc::new(build_app(&config, extra, None).await?);
    let (apps, current) = tokio::sync::watch::channel(app);
    let server = server::listen(
        config.listen,
        current,
        config.connections.clone(),
        tls.clone(),
    )
    .await?;
    Ok(Running::new(
        server,
        reload::Reloader::new(config, apps, tls),
    ))
}

/// The state a request uses, built from `config`: at start (`previous` is
/// `None`) and at each reload, from the state in force. What must outlive
/// a reload is carried over from `previous` here.
async fn build_app(
    config: &Config,
    extra: Vec<PluginSpec>,
    previous: Option<(&Config, &App)>,
) -> anyhow::Result<App> {
    // Before the plugins load (seconds): a bad token file fails at once.
    let guard = guard(&config.security, &config.node_name, previous).await?;
    let log_root = open_log_root(config)?;
    let host = host_programs(config);
    let mut specs = extra;
    let resolution = plugins::resolve(config, &host, &log_root)?;
    for plugin in resolution.plugins {
        specs.push(plugin.into_spec()?);
    }
    let runtime = load_runtime(config, specs).await?;
    // Once per process, so that a reload does not reset what it counts.
    let metrics = match previous {
        Some((_, app)) => app.metrics.clone(),
        None => Arc::new(Metrics::new()),
    };
    // Skipped when granted (a manifest asking more than its grant) or when
    // compiled (a component that does not link): counted alike.
    for _ in 0..resolution.skipped + runtime.load_failures() {
        metrics.plugin_load_failed();
    }
    tracing::info!(node = %config.node_name, log_dir = %log_root.path().display(), "plugins loaded");
    // Opened anew at each reload, so a rotated audit log is reopened.
    let audit = match &config.audit_log_path {
        Some(path) => audit::Log::open(path)
            .with_context(|| format!("opening the audit log {}", path.display()))?,
        None => audit::Log::off(),
    };
    // Kept while the limits stay the same: requests already running hold
    // their slots in them. New limits start counting afresh.
    let admission = |limits, kept: Option<&Arc<Admission>>| {
        kept.cloned()
            .unwrap_or_else(|| Arc::new(Admission::new(limits)))
    };
    let kept_queries = previous
        .filter(|(old, _)| old.queries == config.queries)
        .map(|(_, app)| &app.queries);
    let kept_files = previous
        .filter(|(old, _)| old.files == config.files)
        .map(|(_, app)| &app.files);
    Ok(App {
        audit,
        log_root,
        runtime,
        deadline: config.deadline,
        queries: admission(config.queries, kept_queries),
        files: admission(config.files, kept_files),
        guard,
        gating: config.security.gating,
        metrics,
        metrics_open: config.metrics_open_on_loopback,
    })
}

/// Authentication and authorization as configured: the token file read
/// (or the first-run token generated), the API server's reviewers set up.
async fn guard(
    security: &Security,
    node_name: &str,
    previous: Option<(&Config, &App)>,
) -> anyhow::Result<Guard> {
    let authn = &security.authn;
    // A reload keeps the first-run token: a new one would lock out
    // whoever read the file.
    let generated = previous
        .filter(|(old, _)| old.security.authn.generated_token_file == authn.generated_token_file)
        .and_then(|(_, app)| app.guard.authn.tokens.clone());
    let tokens = match (&authn.token_auth_file, &authn.generated_token_file) {
        (Some(path), _) => Some(TokenFile::read(path)?),
        (None, Some(_)) if generated.is_some() => generated,
        (None, Some(path)) => {
            let tokens = auth::first_run::generate(path)?;
            tracing::warn!(
                path = ?path.display(),
                user = auth::first_run::GENERATED_USER,
                "no authentication configured: a new token, accepted as \
                 `Authorization: Bearer TOKEN`, is in this file (readable by this user only)"
            );
            Some(tokens)
        }
        (None, None) => None,
    };
    let kubeconfig = || {
        // Checked by config: both webhooks need it.
        security
            .kubeconfig
            .as_deref()
            .context("a webhook needs --kubeconfig")
    };
    let webhook = match authn.token_webhook_ttl {
        Some(ttl) => Some(
            TokenReviewer::new(kubeconfig()?, ttl)
                .await
                .context("setting up --authentication-token-webhook")?,
        ),
        None => None,
    };
    let authz = &security.authz;
    let authz = match authz.mode {
        AuthorizationMode::Static => Authorizer::Static {
            users: authz.users.clone(),
            groups: authz.groups.clone(),
        },
        AuthorizationMode::AlwaysAllow => Authorizer::AlwaysAllow,
        AuthorizationMode::Webhook => Authorizer::Webhook(Box::new(
            AccessReviewer::new(kubeconfig()?, authz.authorized_ttl, authz.unauthorized_ttl)
                .await
                .context("setting up --authorization-mode=Webhook")?,
        )),
    };
    if security.open_access() {
        tracing::warn!(
            "open access: --anonymous-auth=true with --authorization-mode=AlwaysAllow lets every \
             local process and host-network pod read every log this node has"
        );
    }
    Ok(Guard {
        authn: Authenticator {
            tokens,
            webhook,
            anonymous: authn.anonymous,
        },
        authz,
        node_name: node_name.to_string(),
    })
}

pub fn open_log_root(config: &Config) -> anyhow::Result<Arc<LogRoot>> {
    Ok(Arc::new(LogRoot::open(&config.log_dir).with_context(
        || format!("opening log directory {}", config.log_dir.display()),
    )?))
}

/// Compiles and links `specs`, with room in the instance pool for every
/// plugin serving every concurrent query.
pub async fn load_runtime(config: &Config, specs: Vec<PluginSpec>) -> anyhow::Result<Runtime> {
    let max_instances = config
        .max_concurrent_queries
        .checked_mul(specs.len().max(1))
        .and_then(|n| u32::try_from(n).ok())
        .and_then(|n| n.checked_add(4))
        .with_context(|| {
            format!(
                "max-concurrent-queries {} is too large for {} plugins",
                config.max_concurrent_queries,
                specs.len()
            )
        })?;
    Runtime::load(specs, config.cache_dir.as_deref(), max_instances).await
}

/// The programs this host provides to plugins: journalctl (with the
/// journal directory and its locale variables), and each `[programs.NAME]`
/// of the config, run with an empty environment.
pub fn host_programs(config: &Config) -> HostPrograms {
    let mut host = HostPrograms::new();
    if let Some(path) = &config.journalctl {
        let leading_args = config
            .journal_dir
            .iter()
            .map(|d| format!("--directory={}", d.display()))
            .collect();
        let env_passthrough = JOURNALCTL_ENV.map(String::from).to_vec();
        host.insert(
            "journalctl".into(),
            ProgramPolicy {
                path: path.clone(),
                leading_args,
                env_passthrough,
            },
        );
    }
    for (name, path) in &config.programs {
        host.insert(
            name.clone(),
            ProgramPolicy {
                path: path.clone(),
                leading_args: Vec::new(),
                env_passthrough: Vec::new(),
            },
        );
    }
    host
}

//! Who may reach `/logs/` and how: TLS files, authentication,
//! authorization and the kubelet's gating switches, checked together so
//! that no configuration serves logs without authentication unless it
//! says so.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use super::FileConfig;
use crate::auth::first_run;
use crate::cli::{AuthorizationMode, ServeArgs};

#[derive(Debug, Clone)]
pub struct Authentication {
    pub anonymous: bool,
    pub token_auth_file: Option<PathBuf>,
    /// TokenReview answers are cached this long; `None`: no token webhook.
    pub token_webhook_ttl: Option<Duration>,
    /// Where the first-run token goes; `None` when authentication is
    /// configured.
    pub generated_token_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Authorization {
    pub mode: AuthorizationMode,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub authorized_ttl: Duration,
    pub unauthorized_ttl: Duration,
}

/// The kubelet's `enableSystemLogHandler` and `enableSystemLogQuery`.
#[derive(Debug, Clone, Copy)]
pub struct Gating {
    pub handler: bool,
    pub query: bool,
}

#[derive(Debug, Clone)]
pub struct Security {
    pub tls_cert_file: Option<PathBuf>,
    pub tls_private_key_file: Option<PathBuf>,
    pub client_ca_file: Option<PathBuf>,
    pub authn: Authentication,
    pub authz: Authorization,
    pub kubeconfig: Option<PathBuf>,
    pub gating: Gating,
}

impl Security {
    /// Anyone who can connect may read every log: accepted on loopback
    /// only, with a warning at start-up.
    pub fn open_access(&self) -> bool {
        self.authn.anonymous && self.authz.mode == AuthorizationMode::AlwaysAllow
    }

    pub fn tls(&self) -> bool {
        self.tls_cert_file.is_some()
    }
}

/// The security settings of `args` over `file`, or why they are refused.
pub(super) fn load(
    args: &mut ServeArgs,
    file: &mut FileConfig,
    listen: SocketAddr,
) -> anyhow::Result<Security> {
    let gating = gating(args, file)?;
    let tls_cert_file = args.tls_cert_file.take().or(file.tls_cert_file.take());
    let tls_private_key_file = args
        .tls_private_key_file
        .take()
        .or(file.tls_private_key_file.take());
    let client_ca_file = args.client_ca_file.take().or(file.client_ca_file.take());
    if tls_cert_file.is_some() != tls_private_key_file.is_some() {
        bail!("--tls-cert-file and --tls-private-key-file must be given together");
    }
    if client_ca_file.is_some() && tls_cert_file.is_none() {
        bail!("--client-ca-file needs TLS: --tls-cert-file and --tls-private-key-file");
    }
    let kubeconfig = args.kubeconfig.take().or(file.kubeconfig.take());
    let token_webhook = args
        .authentication_token_webhook
        .or(file.authentication_token_webhook)
        .unwrap_or(false);
    let token_webhook_ttl = match token_webhook {
        true => Some(duration(
            "authentication-token-webhook-cache-ttl",
            args.authentication_token_webhook_cache_ttl
                .take()
                .or(file.authentication_token_webhook_cache_ttl.take()),
            "2m",
        )?),
        false => None,
    };
    let mode = args
        .authorization_mode
        .or(file.authorization_mode)
        .unwrap_or(AuthorizationMode::Static);
    for (needed, what) in [
        (token_webhook, "--authentication-token-webhook"),
        (
            mode == AuthorizationMode::Webhook,
            "--authorization-mode=Webhook",
        ),
    ] {
        if needed && kubeconfig.is_none() {
            bail!("{what} needs --kubeconfig, to reach the API server");
        }
    }
    let authz = Authorization {
        mode,
        users: args
            .authorized_users
            .take()
            .or(file.authorized_users.take())
            .unwrap_or_default(),
        groups: args
            .authorized_groups
            .take()
            .or(file.authorized_groups.take())
            .unwrap_or_else(|| vec![first_run::GENERATED_GROUP.into()]),
        authorized_ttl: duration(
            "authorization-webhook-cache-authorized-ttl",
            args.authorization_webhook_cache_authorized_ttl
                .take()
                .or(file.authorization_webhook_cache_authorized_ttl.take()),
            "5m",
        )?,
        unauthorized_ttl: duration(
            "authorization-webhook-cache-unauthorized-ttl",
            args.authorization_webhook_cache_unauthorized_ttl
                .take()
                .or(file.authorization_webhook_cache_unauthorized_ttl.take()),
            "30s",
        )?,
    };
    let token_auth_file = args.token_auth_file.take().or(file.token_auth_file.take());
    let anonymous = args.anonymous_auth.or(file.anonymous_auth).unwrap_or(false);
    let authn_method = client_ca_file.is_some() || token_auth_file.is_some() || token_webhook;
    let mut security = Security {
        tls_cert_file,
        tls_private_key_file,
        client_ca_file,
        authn: Authentication {
            anonymous,
            token_auth_file,
            token_webhook_ttl,
            generated_token_file: None,
        },
        authz,
        kubeconfig,
        gating,
    };
    if !listen.ip().is_loopback() {
        if security.open_access() {
            bail!(
                "refusing to listen on {listen}: open access (--anonymous-auth=true with \
                 --authorization-mode=AlwaysAllow) is accepted on loopback addresses only"
            );
        }
        let mut missing = Vec::new();
        if !security.tls() {
            missing.push("TLS (--tls-cert-file and --tls-private-key-file)");
        }
        if !authn_method {
            missing.push(
                "an authentication method (--client-ca-file, --token-auth-file or \
                 --authentication-token-webhook)",
            );
        }
        if !missing.is_empty() {
            bail!(
                "refusing to listen on {listen}: a non-loopback address needs {}",
                missing.join(" and ")
            );
        }
    }
    if !authn_method && !anonymous {
        let path = args
            .generated_token_file
            .take()
            .or(file.generated_token_file.take())
            .or_else(first_run::default_path)
            .context(
                "no authentication is configured and there is no place for a generated token \
                 (neither XDG_RUNTIME_DIR nor HOME is set): give --generated-token-file or \
                 --token-auth-file",
            )?;
        security.authn.generated_token_file = Some(path);
    }
    Ok(security)
}

/// `--enable-system-log-handler`, `--enable-system-log-query` and the
/// `NodeLogQuery` gate, refused with the kubelet's validation errors.
fn gating(args: &mut ServeArgs, file: &mut FileConfig) -> anyhow::Result<Gating> {
    let gates = match args.feature_gates.take() {
        Some(flag) => parse_gates(&flag)?,
        None => file.feature_gates.take().unwrap_or_default(),
    };
    let mut node_log_query = true;
    for (gate, on) in gates {
        if gate != "NodeLogQuery" {
            bail!("unrecognized feature gate: {gate}");
        }
        node_log_query = on;
    }
    let gating = Gating {
        handler: args
            .enable_system_log_handler
            .or(file.enable_system_log_handler)
            .unwrap_or(true),
        query: args
            .enable_system_log_query
            .or(file.enable_system_log_query)
            .unwrap_or(true),
    };
    let mut errors = Vec::new();
    if gating.query && !node_log_query {
        // Sic: the kubelet's text names the handler, not the query.
        errors.push("invalid configuration: NodeLogQuery feature gate is required for enableSystemLogHandler");
    }
    if gating.query && !gating.handler {
        errors.push(
            "invalid configuration: enableSystemLogHandler is required for enableSystemLogQuery",
        );
    }
    // As Kubernetes' error aggregate prints one or several.
    match errors.as_slice() {
        [] => Ok(gating),
        [one] => bail!("{one}"),
        many => bail!("[{}]", many.join(", ")),
    }
}

/// `--feature-gates KEY=BOOL,...`.
fn parse_gates(flag: &str) -> anyhow::Result<BTreeMap<String, bool>> {
    let mut gates = BTreeMap::new();
    for pair in flag.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("missing bool value for {pair}"))?;
        let on = match value.trim() {
            "true" | "True" | "TRUE" | "1" | "t" | "T" => true,
            "false" | "False" | "FALSE" | "0" | "f" | "F" => false,
            _ => bail!(
                "invalid value of {key}={value}, err: strconv.ParseBool: parsing {value:?}: invalid syntax"
            ),
        };
        gates.insert(key.trim().to_string(), on);
    }
    Ok(gates)
}

/// A Go-style duration setting (`2m`, `30s`, `1h30m`), up to a day; `0`
/// turns the cache off, as for the kubelet.
fn duration(name: &str, value: Option<String>, default: &str) -> anyhow::Result<Duration> {
    let text = value.as_deref().unwrap_or(default);
    let parsed = humantime::parse_duration(text)
        .with_context(|| format!("{name}: {text:?} is not a duration such as 2m or 30s"))?;
    if parsed > Duration::from_secs(super::MAX_SECONDS) {
        bail!("{name} must be at most 24h, not {text}");
    }
    Ok(parsed)
}

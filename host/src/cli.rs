//! Command-line interface. Every `serve` flag can also be set in the TOML
//! file given with `--config`; a flag on the command line wins.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

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
    /// How log lines are written to stderr: `text` for people, `json`
    /// (one object per line) for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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

#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below, spelled as the flags
    /// without the dashes (`listen = "127.0.0.1:10260"`, `log-dir = ...`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on. A non-loopback address needs TLS and an
    /// authentication method. [default: 127.0.0.1:10260]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// The log root: what /logs/<path> serves and where the file source
    /// looks for <svc>, <svc>.log and <svc>/<svc>.log. No path or symlink
    /// leads out of it (hard links and bind mounts placed inside it are read
    /// like any file). [default: /var/log]
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Journal directory handed to journalctl as --directory=DIR (for
    /// example a copied or remote journal). [default: the system journal]
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,

    /// How the journald source reads the journal: `native` reads the
    /// files in nodelogd itself (journalctl's bytes, many times faster,
    /// journalctl for what it cannot read); `journalctl` always runs
    /// journalctl. [default: native]
    #[arg(long, value_name = "READER")]
    pub journal_reader: Option<JournalReader>,

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

    /// Service queries allowed to run at once; more wait up to
    /// --queue-wait-ms for a slot, then get 429 with Retry-After.
    /// [default: 16]
    #[arg(long, value_name = "N")]
    pub max_concurrent_queries: Option<usize>,

    /// Service queries allowed to run at once from one client address, so
    /// that one address cannot take every slot. [default: half of
    /// --max-concurrent-queries]
    #[arg(long, value_name = "N")]
    pub max_queries_per_client: Option<usize>,

    /// File requests (raw files and directory listings) allowed to run at
    /// once; more wait up to --queue-wait-ms, then get 429 with
    /// Retry-After. [default: 16]
    #[arg(long, value_name = "N")]
    pub max_file_requests: Option<usize>,

    /// File requests allowed to run at once from one client address.
    /// [default: half of --max-file-requests]
    #[arg(long, value_name = "N")]
    pub max_file_requests_per_client: Option<usize>,

    /// How long a query or file request may wait for a free slot before
    /// it gets 429. [default: 1000]
    #[arg(long, value_name = "MS")]
    pub queue_wait_ms: Option<u64>,

    /// Directory for compiled plugins, so start-up skips recompiling them.
    /// Must be writable only by the user nodelogd runs as; "none" turns the
    /// cache off. [default: /var/cache/nodelogd as root, else
    /// $XDG_CACHE_HOME/nodelogd or ~/.cache/nodelogd]
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Seconds from accepting a connection to its first complete request
    /// head; a connection that sends none in time is closed. [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub header_timeout_seconds: Option<u64>,

    /// Seconds a kept-alive connection may wait, with no request running,
    /// for its next request; it is then closed (HTTP/2: GOAWAY).
    /// [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub idle_timeout_seconds: Option<u64>,

    /// Seconds a response may make no progress (the client reads nothing)
    /// before it is ended: the connection is closed (HTTP/2: the stream is
    /// reset) and its log sources stop. [default: 30]
    #[arg(long, value_name = "SECONDS")]
    pub send_timeout_seconds: Option<u64>,

    /// Connections open at once. When all are taken, the longest-idle
    /// connection is closed to make room; busy ones are never closed for
    /// this, and when all are busy, new connections are refused.
    /// [default: 1024]
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,

    /// Connections open at once from one client address, under the same
    /// rule (the address's longest-idle connection makes room).
    /// [default: 128]
    #[arg(long, value_name = "N")]
    pub max_connections_per_address: Option<usize>,

    /// Mebibytes of response data buffered for all clients together; a
    /// response waits for room before producing more. [default: 16]
    #[arg(long, value_name = "MIB")]
    pub response_buffer_mib: Option<usize>,

    /// Directory of dropped-in plugins: NAME.wasm with its manifest
    /// NAME.toml beside it. Each loads only as granted by [plugins.NAME]
    /// in the config file.
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,

    /// Audit log: one JSON line per request to /logs, written when it
    /// ends (who, what, the decision, the sources, status, bytes, duration,
    /// outcome; never a token, certificate or log line). "-" is stderr; a
    /// new file is created readable by its owner only. Records are dropped,
    /// with a warning, when the writer falls 4096 behind.
    #[arg(long, value_name = "FILE")]
    pub audit_log_path: Option<PathBuf>,

    /// Serves /metrics without authentication or authorization, for a
    /// scraper on this host (node-exporter style). Accepted only with
    /// plain HTTP on a loopback --listen address; otherwise /metrics is
    /// authorized as the kubelet's (verb get, resource nodes, subresource
    /// metrics). [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub metrics_open_on_loopback: Option<bool>,

    /// Lets log sources serve /logs/ at all; false answers every /logs
    /// request 405 `logs endpoint is disabled.` (the kubelet's
    /// enableSystemLogHandler). [default: true]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enable_system_log_handler: Option<bool>,

    /// Node log query (query=, sinceTime=, ...) on /logs/; false serves
    /// only the files under the log root and ignores query parameters (the
    /// kubelet's enableSystemLogQuery). Needs --enable-system-log-handler
    /// and the NodeLogQuery feature gate. [default: true: nodelogd is a
    /// dedicated log agent, unlike the kubelet, whose default is false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enable_system_log_query: Option<bool>,

    /// Feature gates, as KEY=BOOL pairs separated by commas; nodelogd knows
    /// NodeLogQuery only. [default: NodeLogQuery=true]
    #[arg(long, value_name = "GATES")]
    pub feature_gates: Option<String>,

    /// PEM certificate (then its chain) to serve HTTPS with, HTTP/1.1 and
    /// HTTP/2 on the same port. Reloaded, with the key, when the files
    /// change; open connections keep the certificate they started with.
    /// [default: plain HTTP]
    #[arg(long, value_name = "FILE")]
    pub tls_cert_file: Option<PathBuf>,

    /// PEM private key of --tls-cert-file (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE")]
    pub tls_private_key_file: Option<PathBuf>,

    /// PEM bundle of CAs for client certificates: the handshake asks for
    /// one without requiring it, and a certificate signed by one of these
    /// CAs authenticates its CommonName as the user and each Organization
    /// as a group; one that does not verify fails the handshake. Reloaded
    /// when it changes.
    #[arg(long, value_name = "FILE")]
    pub client_ca_file: Option<PathBuf>,

    /// Static bearer tokens, in kube-apiserver's CSV format:
    /// token,user,uid,"group1,group2" per line.
    #[arg(long, value_name = "FILE")]
    pub token_auth_file: Option<PathBuf>,

    /// Bearer tokens not in --token-auth-file are checked with a
    /// TokenReview against the API server of --kubeconfig. [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub authentication_token_webhook: Option<bool>,

    /// How long TokenReview answers are cached. [default: 2m]
    #[arg(long, value_name = "DURATION")]
    pub authentication_token_webhook_cache_ttl: Option<String>,

    /// A request without credentials is user system:anonymous in group
    /// system:unauthenticated, instead of getting 401. [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub anonymous_auth: Option<bool>,

    /// Who may read logs: Static (--authorized-users and
    /// --authorized-groups), Webhook (a SubjectAccessReview for nodes/log
    /// through --kubeconfig) or AlwaysAllow (every authenticated user; with
    /// --anonymous-auth=true that is everyone, accepted on loopback only).
    /// [default: Static]
    #[arg(long, value_name = "MODE")]
    pub authorization_mode: Option<AuthorizationMode>,

    /// Users allowed in Static mode, separated by commas. [default: none]
    #[arg(long, value_name = "USERS", value_delimiter = ',')]
    pub authorized_users: Option<Vec<String>>,

    /// Groups whose members are allowed in Static mode, separated by
    /// commas. [default: system:masters]
    #[arg(long, value_name = "GROUPS", value_delimiter = ',')]
    pub authorized_groups: Option<Vec<String>>,

    /// How long allowed SubjectAccessReview answers are cached.
    /// [default: 5m]
    #[arg(long, value_name = "DURATION")]
    pub authorization_webhook_cache_authorized_ttl: Option<String>,

    /// How long denied SubjectAccessReview answers are cached.
    /// [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub authorization_webhook_cache_unauthorized_ttl: Option<String>,

    /// The kubeconfig naming the API server (and nodelogd's credentials)
    /// for TokenReviews and SubjectAccessReviews.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// With no authentication configured (no client CA, token file, token
    /// webhook or anonymous access), nodelogd writes a fresh random token
    /// here at each start (mode 0600) and accepts it as system:admin in
    /// system:masters. [default: $XDG_RUNTIME_DIR/nodelogd/token, or
    /// /run/nodelogd/token as root]
    #[arg(long, value_name = "FILE")]
    pub generated_token_file: Option<PathBuf>,

    /// Service queries allowed to run at once for one authenticated user
    /// (all anonymous requests are one user); more wait up to
    /// --queue-wait-ms, then get 429. Requests through the API server all
    /// carry its identity, so a cap here caps the API server too.
    /// [default: --max-concurrent-queries, no cap of its own]
    #[arg(long, value_name = "N")]
    pub max_queries_per_user: Option<usize>,
}

/// `--authorization-mode`, spelled as the kubelet's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
pub enum AuthorizationMode {
    #[value(name = "Static")]
    Static,
    #[value(name = "AlwaysAllow")]
    AlwaysAllow,
    #[value(name = "Webhook")]
    Webhook,
}

/// `--journal-reader`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalReader {
    #[default]
    Native,
    Journalctl,
}

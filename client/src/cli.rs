//! The command line. Flag names follow the krew `node-logs` plugin and
//! `oc adm node-logs` where they overlap; values that the server validates
//! are kept as text so that `nodelogd_query` words their errors exactly as
//! the server would.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser};

const EXAMPLES: &str = "\
Examples:
  # The last 20 kubelet entries of two nodes, each line prefixed with its node
  kubectl node-logs node-1 node-2 -Q kubelet --tail 20

  # Errors of the last hour from every worker, merged into one stream by time
  kubectl node-logs --role worker -Q kubelet -Q containerd -p '(?i)error' --since 1h --unify

  # A file and a directory listing under /var/log, on nodes selected by label
  kubectl node-logs -l topology.kubernetes.io/zone=eu-1a --path syslog
  kubectl node-logs -l topology.kubernetes.io/zone=eu-1a --path pods/

  # A nodelogd listening beside the kubelet on port 10260, through the API server
  kubectl node-logs node-1 --port 10260 -Q kubelet

  # Straight to nodelogd, for a node that is broken or not yet in the cluster
  kubectl node-logs --server n1=https://10.0.0.5:10260 --certificate-authority ca.crt \\
      --token \"$TOKEN\" -Q kubelet --boot -1

Exit status: 0 when every node answered, 1 when any node failed (each failure is
one line on stderr), 2 for a usage error, 130 on Ctrl-C.";

/// Read the logs of many nodes at once through the kubelet's node log query
/// API (`/logs/`), served by the kubelet or by nodelogd.
///
/// Nodes are reached through the Kubernetes API server's node proxy with
/// your kubeconfig, or straight with --server. Each node's lines are
/// printed as they arrive, prefixed with the node's name when more than one
/// node is asked.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl node-logs",
    bin_name = "kubectl node-logs",
    version,
    after_help = EXAMPLES,
    group(ArgGroup::new("nodes").required(true).multiple(true)
        .args(["node", "selector", "role", "server"])),
)]
pub struct Cli {
    /// Names of the nodes to query (API server mode).
    #[arg(value_name = "NODE", conflicts_with_all = ["selector", "role"])]
    pub node: Vec<String>,

    /// Query the nodes matching this label selector, e.g. `kubernetes.io/os=linux`.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,

    /// Query the nodes with this role: adds the selector `node-role.kubernetes.io/ROLE`
    /// (combined with --selector when both are given).
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,

    /// A service (journald unit, or a file under the log root of that name) or,
    /// when it contains `/`, one file under the log root. Repeatable, up to 4
    /// services. Sent as `query`.
    #[arg(
        short = 'Q',
        long = "query",
        visible_alias = "unit",
        visible_short_alias = 'u'
    )]
    pub query: Vec<String>,

    /// A file or directory under the node's log root (`/var/log`); a directory is
    /// printed as one entry per line. Cannot be combined with --query or filters.
    #[arg(long, value_name = "PATH", conflicts_with = "query")]
    pub path: Option<String>,

    /// Only entries matching this regular expression (Go RE2 syntax). Sent as `pattern`.
    #[arg(short = 'p', long, visible_alias = "grep", visible_short_alias = 'g')]
    pub pattern: Option<String>,

    /// Entries at or after this RFC 3339 time, e.g. 2026-11-28T08:00:00Z.
    #[arg(long, value_name = "TIME", conflicts_with = "since")]
    pub since_time: Option<String>,

    /// Entries at or before this RFC 3339 time.
    #[arg(long, value_name = "TIME", conflicts_with = "until")]
    pub until_time: Option<String>,

    /// Entries newer than a duration ago (30s, 15m, 2h, 1d) or since a timestamp
    /// (RFC 3339, or `YYYY-MM-DD[ HH:MM:SS]` in UTC). Converted to `sinceTime` here.
    #[arg(long, value_name = "DURATION|TIME")]
    pub since: Option<String>,

    /// Entries older than a duration ago, or until a timestamp; as --since.
    #[arg(long, value_name = "DURATION|TIME")]
    pub until: Option<String>,

    /// The last N entries of each node (0 to 100000; -1, the default of the krew
    /// plugin and `oc adm node-logs`, means all). Sent as `tailLines`.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub tail: Option<String>,

    /// Entries of boot N: 0 is the current boot, -1 the previous one. Sent as `boot`.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub boot: Option<String>,

    /// Print the nodes' output as it is, without node prefixes.
    #[arg(long)]
    pub raw: bool,

    /// Merge all nodes' output into one stream ordered by each entry's timestamp
    /// (journal `Nov 22 12:00:00.123456`, RFC 3339 and klog `I1122 12:00:00.123456`
    /// forms; continuation lines stay with their entry). All nodes are read at once,
    /// so their number must not exceed --max-concurrency.
    #[arg(long)]
    pub unify: bool,

    /// Nodes queried at the same time.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrency: u16,

    /// Give up on a node after this long (e.g. 30s, 5m); 0 means no limit.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Through the API server: reach a nodelogd on this port of each node
    /// (`/api/v1/nodes/https:NODE:PORT/proxy/logs/...`) instead of the kubelet.
    #[arg(long, value_name = "PORT", conflicts_with = "server")]
    pub port: Option<u16>,

    /// Straight to a nodelogd (or kubelet) at URL, without the API server.
    /// Repeatable; `NAME=URL` names the node, otherwise it is named by its host and port.
    #[arg(long, value_name = "[NAME=]URL", conflicts_with_all = ["node", "selector", "role"])]
    pub server: Vec<String>,

    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE", conflicts_with = "server")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME", conflicts_with = "server")]
    pub context: Option<String>,

    /// The kubeconfig cluster to use.
    #[arg(long, value_name = "NAME", conflicts_with = "server")]
    pub cluster: Option<String>,

    /// The kubeconfig user to use.
    #[arg(long, value_name = "NAME", conflicts_with = "server")]
    pub user: Option<String>,

    /// A PEM file of CA certificates to verify the server with (overrides the kubeconfig's).
    #[arg(long, value_name = "FILE")]
    pub certificate_authority: Option<PathBuf>,

    /// A PEM client certificate for TLS authentication (with --client-key).
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_certificate: Option<PathBuf>,

    /// The PEM private key of --client-certificate.
    #[arg(long, value_name = "FILE", requires = "client_certificate")]
    pub client_key: Option<PathBuf>,

    /// A bearer token for authentication (overrides the kubeconfig's).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "NODE_LOGS_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

/// `30s`, `15m`, `2h`, `1d`, `1h30m`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (expected e.g. 30s, 15m, 2h, 1d)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn aliases_of_oc_adm_node_logs() {
        let cli = Cli::parse_from(["k", "n1", "-u", "kubelet", "-g", "err", "--tail", "-1"]);
        assert_eq!(cli.query, ["kubelet"]);
        assert_eq!(cli.pattern.as_deref(), Some("err"));
        assert_eq!(cli.tail.as_deref(), Some("-1"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
    }
}

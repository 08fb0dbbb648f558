//! Which nodes to ask and how to reach them: through the API server's node
//! proxy with the user's kubeconfig (node names, or a label selector and
//! role listed there), or straight to each `--server` URL.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Node as KubeNode;
use kube::api::{Api, ListParams};
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use percent_encoding::utf8_percent_encode;

use crate::cli::Cli;
use crate::fetch::Node;
use crate::request::SEGMENT;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn resolve(cli: &Cli) -> anyhow::Result<Vec<Node>> {
    if cli.server.is_empty() {
        through_api_server(cli).await
    } else {
        direct(cli)
    }
}

async fn through_api_server(cli: &Cli) -> anyhow::Result<Vec<Node>> {
    let config = kubeconfig(cli).await?;
    let client = client(config, cli)?;
    let names = match selector(cli) {
        None => cli.node.clone(),
        Some(selector) => {
            let list = Api::<KubeNode>::all(client.clone())
                .list(&ListParams::default().labels(&selector))
                .await
                .with_context(|| format!("listing nodes with selector {selector:?}"))?;
            let mut names: Vec<String> = list
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect();
            if names.is_empty() {
                bail!("no nodes match the selector {selector:?}");
            }
            names.sort();
            names
        }
    };
    let mut seen = HashSet::new();
    let mut names = names;
    names.retain(|name| seen.insert(name.clone()));
    Ok(names
        .into_iter()
        .map(|name| {
            let prefix = proxy_path(&name, cli.port);
            Node::new(name, client.clone(), prefix)
        })
        .collect())
}

/// The API server's node proxy: to the kubelet, or to `https:NODE:PORT`.
fn proxy_path(name: &str, port: Option<u16>) -> String {
    let name = utf8_percent_encode(name, SEGMENT);
    match port {
        Some(port) => format!("/api/v1/nodes/https:{name}:{port}/proxy"),
        None => format!("/api/v1/nodes/{name}/proxy"),
    }
}

/// `--selector` and `--role`, both applied.
fn selector(cli: &Cli) -> Option<String> {
    let role = cli
        .role
        .as_ref()
        .map(|r| format!("node-role.kubernetes.io/{r}"));
    let parts: Vec<String> = cli.selector.iter().cloned().chain(role).collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

async fn kubeconfig(cli: &Cli) -> anyhow::Result<Config> {
    let options = KubeConfigOptions {
        context: cli.context.clone(),
        cluster: cli.cluster.clone(),
        user: cli.user.clone(),
    };
    if let Some(path) = &cli.kubeconfig {
        let file = Kubeconfig::read_from(path)
            .with_context(|| format!("reading kubeconfig {}", path.display()))?;
        return Config::from_custom_kubeconfig(file, &options)
            .await
            .with_context(|| format!("loading kubeconfig {}", path.display()));
    }
    let from_file = Config::from_kubeconfig(&options).await;
    match from_file {
        Ok(config) => Ok(config),
        // Inside a pod without a kubeconfig: its service account.
        Err(e) => Config::incluster().or(Err(e)).context("loading kubeconfig"),
    }
}

fn direct(cli: &Cli) -> anyhow::Result<Vec<Node>> {
    let mut nodes: Vec<Node> = Vec::new();
    for spec in &cli.server {
        let (name, url) = split_server(spec);
        let uri: http::Uri = url
            .parse()
            .with_context(|| format!("--server {spec:?}: not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            _ => bail!("--server {spec:?}: the URL must start with http:// or https://"),
        }
        let Some(authority) = uri.authority().map(|a| a.to_string()) else {
            bail!("--server {spec:?}: the URL has no host");
        };
        let name = name.map_or(authority, str::to_string);
        if nodes.iter().any(|n| n.name == name) {
            bail!("--server {spec:?}: the node name {name:?} is given twice");
        }
        let client = client(Config::new(uri), cli)?;
        nodes.push(Node::new(name, client, String::new()));
    }
    Ok(nodes)
}

/// `NAME=URL` or `URL`: a `=` before any `:` or `/` ends a name.
fn split_server(spec: &str) -> (Option<&str>, &str) {
    match spec.split_once('=') {
        Some((name, url)) if !name.is_empty() && !name.contains([':', '/']) => (Some(name), url),
        _ => (None, spec),
    }
}

/// The flags that override a kubeconfig (and are the whole configuration
/// with --server), then the client.
fn client(mut config: Config, cli: &Cli) -> anyhow::Result<kube::Client> {
    if let Some(ca) = &cli.certificate_authority {
        config.root_cert_file = Some(ca.clone());
    }
    let auth = &mut config.auth_info;
    if let (Some(cert), Some(key)) = (&cli.client_certificate, &cli.client_key) {
        auth.client_certificate = Some(cert.display().to_string());
        auth.client_key = Some(key.display().to_string());
        auth.client_certificate_data = None;
        auth.client_key_data = None;
    }
    if let Some(token) = &cli.token {
        auth.token = Some(token.clone().into());
        auth.token_file = None;
        auth.exec = None;
        auth.auth_provider = None;
        auth.username = None;
        auth.password = None;
    }
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    // Log streams are long; --timeout bounds a node as a whole instead.
    config.read_timeout = None;
    // Each node's status is reported as the node answered it.
    config.default_retry = false;
    kube::Client::try_from(config).context("configuring the HTTP client")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn server_names() {
        assert_eq!(
            split_server("n1=https://10.0.0.1:10260"),
            (Some("n1"), "https://10.0.0.1:10260")
        );
        assert_eq!(split_server("http://h:1/?a=b"), (None, "http://h:1/?a=b"));
    }

    #[test]
    fn proxy_paths() {
        assert_eq!(
            proxy_path("node-1.eu_a", None),
            "/api/v1/nodes/node-1.eu_a/proxy"
        );
        assert_eq!(
            proxy_path("n/1", Some(10260)),
            "/api/v1/nodes/https:n%2F1:10260/proxy"
        );
    }

    #[test]
    fn selector_and_role_are_both_applied() {
        let cli = Cli::parse_from(["k", "-l", "zone=a", "--role", "worker"]);
        assert_eq!(
            selector(&cli).as_deref(),
            Some("zone=a,node-role.kubernetes.io/worker")
        );
        let cli = Cli::parse_from(["k", "n1"]);
        assert_eq!(selector(&cli), None);
    }
}

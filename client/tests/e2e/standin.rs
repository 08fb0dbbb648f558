//! A STAND-IN for kube-apiserver, for tests only: just enough of it for
//! `kubectl node-logs` in API server mode, over HTTPS with a CA generated
//! here (rcgen).
//!
//! - Authentication: `Authorization: Bearer <token>`, or a client
//!   certificate signed by the same CA; otherwise 401 with a `Status`.
//! - `GET /api/v1/nodes?labelSelector=...`: a `NodeList`, filtered by
//!   `key=value` and `key` (exists) terms joined with commas.
//! - `GET /api/v1/nodes/{node}/proxy/{path}` and
//!   `/api/v1/nodes/https:{node}:{port}/proxy/{path}`: forwarded to that
//!   node's real nodelogd as `GET /{path}?{query}` (plain HTTP, as nodelogd
//!   has no TLS yet), the response streamed back as it comes.
//!
//! Every request line it receives is recorded, for the tests to assert the
//! exact paths and parameters the client sends. Certificates and the TLS
//! serving loop are the test crate's (`pki`, `https`), shared with the
//! review stand-in.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use nodelogd_tests::https::{self, Body, status};
use nodelogd_tests::pki::Ca;
use tokio::net::TcpStream;

use crate::support::tmp;

pub struct StandinNode {
    pub name: &'static str,
    pub labels: &'static [(&'static str, &'static str)],
    pub addr: SocketAddr,
}

pub struct Standin {
    pub url: String,
    pub token: &'static str,
    pub dir: PathBuf,
    /// `METHOD path?query` of every request, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
    _server: https::Server,
}

impl Standin {
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    pub fn client_cert(&self) -> (PathBuf, PathBuf) {
        (self.dir.join("client.crt"), self.dir.join("client.key"))
    }

    /// A kubeconfig for it, with `token` as the user's credential.
    pub fn kubeconfig(&self, token: &str) -> PathBuf {
        let path = self.dir.join(format!("kubeconfig-{token}"));
        let text = format!(
            "apiVersion: v1\nkind: Config\n\
             clusters:\n- name: standin\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
             users:\n- name: admin\n  user:\n    token: {token}\n\
             contexts:\n- name: standin\n  context:\n    cluster: standin\n    user: admin\n\
             current-context: standin\n",
            self.url,
            self.ca().display()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut self.requests.lock().unwrap())
    }
}

pub fn start(name: &str, nodes: Vec<StandinNode>) -> Standin {
    let dir = tmp().join("node-logs").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let ca = Ca::new("kube-apiserver-standin-ca");
    ca.write(&dir);
    ca.client("node-logs-client", None).write(&dir, "client");
    let token = "standin-token";
    let requests = Arc::new(Mutex::new(Vec::new()));
    let state = Arc::new(State {
        nodes,
        token,
        requests: requests.clone(),
    });
    let server = https::serve(ca.server_config(&ca.server()), move |req, has_cert| {
        let state = state.clone();
        async move { state.handle(req, has_cert).await }
    });
    Standin {
        url: server.url(),
        token,
        dir,
        requests,
        _server: server,
    }
}

struct State {
    nodes: Vec<StandinNode>,
    token: &'static str,
    requests: Arc<Mutex<Vec<String>>>,
}

impl State {
    async fn handle(&self, req: Request<Incoming>, has_cert: bool) -> Response<Body> {
        let target = req
            .uri()
            .path_and_query()
            .map_or("", |p| p.as_str())
            .to_string();
        self.requests
            .lock()
            .unwrap()
            .push(format!("{} {target}", req.method()));
        let bearer = format!("Bearer {}", self.token);
        let authenticated = has_cert
            || req
                .headers()
                .get("authorization")
                .is_some_and(|v| v == bearer.as_str());
        if !authenticated {
            return status(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        let path = req.uri().path().to_string();
        if path == "/api/v1/nodes" {
            let selector = query_value(req.uri().query(), "labelSelector").unwrap_or_default();
            return self.list(&selector);
        }
        let Some(rest) = path.strip_prefix("/api/v1/nodes/") else {
            return status(
                StatusCode::NOT_FOUND,
                "the server could not find the requested resource",
            );
        };
        let Some((target_node, proxied)) = rest.split_once("/proxy") else {
            return status(
                StatusCode::NOT_FOUND,
                "the server could not find the requested resource",
            );
        };
        // `https:NODE:PORT` names the node and a port on it.
        let name = target_node
            .strip_prefix("https:")
            .and_then(|t| t.split(':').next())
            .unwrap_or(target_node);
        let Some(node) = self.nodes.iter().find(|n| n.name == name) else {
            return status(
                StatusCode::NOT_FOUND,
                &format!("nodes \"{name}\" not found"),
            );
        };
        let upstream = match req.uri().query() {
            Some(q) => format!("{proxied}?{q}"),
            None => proxied.to_string(),
        };
        forward(node.addr, &upstream, &req).await
    }

    fn list(&self, selector: &str) -> Response<Body> {
        let items: Vec<serde_json::Value> = self
            .nodes
            .iter()
            .filter(|n| matches(n.labels, selector))
            .map(|n| {
                let labels: BTreeMap<_, _> = n.labels.iter().copied().collect();
                serde_json::json!({"metadata": {"name": n.name, "labels": labels}})
            })
            .collect();
        let list = serde_json::json!({
            "kind": "NodeList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "1"}, "items": items,
        });
        https::json(StatusCode::OK, &list)
    }
}

fn matches(labels: &[(&str, &str)], selector: &str) -> bool {
    selector
        .split(',')
        .filter(|t| !t.is_empty())
        .all(|term| match term.split_once('=') {
            Some((k, v)) => labels.contains(&(k, v)),
            None => labels.iter().any(|l| l.0 == term),
        })
}

fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

async fn forward(addr: SocketAddr, target: &str, req: &Request<Incoming>) -> Response<Body> {
    let upstream = async {
        let tcp = TcpStream::connect(addr).await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        let mut builder = Request::get(target).header("host", addr.to_string());
        for name in ["accept", "accept-encoding"] {
            if let Some(v) = req.headers().get(name) {
                builder = builder.header(name, v);
            }
        }
        let resp = sender
            .send_request(builder.body(Full::new(Bytes::new()))?)
            .await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(resp)
    };
    match upstream.await {
        Ok(resp) => resp.map(|b| b.map_err(Into::into).boxed()),
        Err(e) => status(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("error trying to reach service: {e}"),
        ),
    }
}

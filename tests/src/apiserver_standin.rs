//! A STAND-IN for kube-apiserver, for tests only: the two review APIs a
//! kubelet (and nodelogd) calls with `--authentication-token-webhook` and
//! `--authorization-mode=Webhook`, over HTTPS with a CA generated here:
//!
//! - `POST /apis/authentication.k8s.io/v1/tokenreviews`: a scripted token
//!   is authenticated as its user, any other is not;
//! - `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`: allowed
//!   for the scripted users, otherwise denied.
//!
//! The caller must present the bearer token of [`ApiServerStandin::kubeconfig`]
//! (401 otherwise). Every review it receives is recorded as sent, for
//! tests to assert its fields; [`ApiServerStandin::stop`] takes it down
//! (connections included), for the webhook-down cases.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::https::{self, Body, status};
use crate::pki::Ca;

/// The credential nodelogd's kubeconfig carries.
const CALLER_TOKEN: &str = "nodelogd-reviewer";
const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";
const ACCESS_REVIEWS: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

/// A user a scripted token stands for.
#[derive(Clone)]
struct Identity {
    name: String,
    uid: String,
    groups: Vec<String>,
}

#[derive(Default)]
struct Script {
    tokens: BTreeMap<String, Identity>,
    allowed: BTreeSet<String>,
}

#[derive(Default)]
struct State {
    script: Mutex<Script>,
    reviews: Mutex<Vec<Value>>,
}

pub struct ApiServerStandin {
    server: Mutex<Option<https::Server>>,
    url: String,
    dir: PathBuf,
    state: Arc<State>,
}

impl ApiServerStandin {
    /// Starts it, with its CA and kubeconfig in `dir`.
    pub fn start(dir: &Path) -> ApiServerStandin {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let ca = Ca::new("kube-apiserver-standin-ca");
        ca.write(dir);
        let tls = ca.server_config(&ca.server());
        let state = Arc::new(State::default());
        let state_ = state.clone();
        let server = https::serve(tls, move |req, _| {
            let state = state_.clone();
            async move { state.handle(req).await }
        });
        ApiServerStandin {
            url: server.url(),
            server: Mutex::new(Some(server)),
            dir: dir.to_path_buf(),
            state,
        }
    }

    /// A kubeconfig naming it, as nodelogd's `--kubeconfig`.
    pub fn kubeconfig(&self) -> PathBuf {
        let path = self.dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\n\
             clusters:\n- name: standin\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
             users:\n- name: nodelogd\n  user:\n    token: {CALLER_TOKEN}\n\
             contexts:\n- name: standin\n  context:\n    cluster: standin\n    user: nodelogd\n\
             current-context: standin\n",
            self.url,
            self.dir.join("ca.crt").display()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// TokenReviews of `token` authenticate it as `user` in `groups`.
    pub fn token(&self, token: &str, user: &str, uid: &str, groups: &[&str]) {
        let identity = Identity {
            name: user.into(),
            uid: uid.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        self.script().tokens.insert(token.into(), identity);
    }

    /// SubjectAccessReviews of `user` are allowed.
    pub fn allow(&self, user: &str) {
        self.script().allowed.insert(user.into());
    }

    /// Every review received since the last call, as sent.
    pub fn take_reviews(&self) -> Vec<Value> {
        std::mem::take(&mut self.state.reviews.lock().unwrap())
    }

    /// Down: no more answers, open connections closed.
    pub fn stop(&self) {
        self.server.lock().unwrap().take();
    }

    fn script(&self) -> std::sync::MutexGuard<'_, Script> {
        self.state.script.lock().unwrap()
    }
}

impl State {
    async fn handle(&self, req: Request<Incoming>) -> Response<Body> {
        let bearer = format!("Bearer {CALLER_TOKEN}");
        if req
            .headers()
            .get("authorization")
            .is_none_or(|v| v != bearer.as_str())
        {
            return status(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        let path = req.uri().path().to_string();
        if req.method() != http::Method::POST
            || ![TOKEN_REVIEWS, ACCESS_REVIEWS].contains(&path.as_str())
        {
            return status(
                StatusCode::NOT_FOUND,
                "the server could not find the requested resource",
            );
        }
        let Ok(body) = Limited::new(req.into_body(), 1 << 20).collect().await else {
            return status(StatusCode::BAD_REQUEST, "unreadable body");
        };
        let Ok(mut review) = serde_json::from_slice::<Value>(&body.to_bytes()) else {
            return status(StatusCode::BAD_REQUEST, "not JSON");
        };
        self.reviews.lock().unwrap().push(review.clone());
        let script = self.script.lock().unwrap();
        review["status"] = if path == TOKEN_REVIEWS {
            let token = review["spec"]["token"].as_str().unwrap_or_default();
            match script.tokens.get(token) {
                Some(id) => json!({"authenticated": true, "user": {
                    "username": id.name, "uid": id.uid, "groups": id.groups,
                }}),
                None => json!({"authenticated": false}),
            }
        } else {
            let user = review["spec"]["user"].as_str().unwrap_or_default();
            if script.allowed.contains(user) {
                json!({"allowed": true})
            } else {
                json!({"allowed": false, "denied": true, "reason": "not in the stand-in's script"})
            }
        };
        https::json(StatusCode::CREATED, &review)
    }
}

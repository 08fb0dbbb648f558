//! The webhook reviewers (TokenReview, SubjectAccessReview) against the
//! stand-in for kube-apiserver: the exact review the kubelet sends, the
//! caching rules, and a down API server; first the reviewers alone, then
//! nodelogd end to end over real sockets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use nodelogd::auth::webhook::{AccessReviewer, TokenReviewer};
use nodelogd::auth::{Attributes, User};
use nodelogd::cli::{AuthorizationMode, ServeArgs};
use nodelogd_tests::apiserver_standin::ApiServerStandin;
use nodelogd_tests::fixture::runtime;
use nodelogd_tests::http;
use serde_json::{Value, json};

use crate::fixture;

fn standin(name: &str) -> ApiServerStandin {
    ApiServerStandin::start(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name))
}

const LONG: Duration = Duration::from_secs(300);

fn user(name: &str, uid: &str, groups: &[&str]) -> User {
    User {
        name: name.into(),
        uid: uid.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
    }
}

fn attrs<'a>(user: &'a User, verb: &'static str) -> Attributes<'a> {
    Attributes {
        user,
        verb,
        subresource: "log",
        node: "node-1",
        path: "/logs/",
    }
}

/// Pins: the SubjectAccessReview carries the user and the kubelet's
/// resource attributes and nothing else (the skeleton sent none at all).
#[test]
fn access_review_is_the_kubelets() {
    let api = standin("webhook-sar-fields");
    api.allow("alice");
    let rt = runtime();
    let reviewer = rt
        .block_on(AccessReviewer::new(&api.kubeconfig(), LONG, LONG))
        .unwrap();
    let alice = user("alice", "uid-1", &["dev", "ops"]);
    assert!(
        rt.block_on(reviewer.allowed(&attrs(&alice, "get")))
            .unwrap()
    );
    let bob = user("bob", "", &[]);
    assert!(
        !rt.block_on(reviewer.allowed(&attrs(&bob, "create")))
            .unwrap()
    );
    let reviews = api.take_reviews();
    assert_eq!(
        reviews,
        [
            json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "metadata": {},
                "spec": {
                    "user": "alice", "uid": "uid-1", "groups": ["dev", "ops"],
                    "resourceAttributes": {
                        "verb": "get", "version": "v1", "resource": "nodes",
                        "subresource": "log", "name": "node-1",
                    },
                },
            }),
            // Empty uid and groups are left out, as Go's omitempty does.
            json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "metadata": {},
                "spec": {
                    "user": "bob",
                    "resourceAttributes": {
                        "verb": "create", "version": "v1", "resource": "nodes",
                        "subresource": "log", "name": "node-1",
                    },
                },
            }),
        ]
    );
}

/// Pins: allowed answers are cached for the allowed TTL and denied ones
/// for the denied TTL, each request inside its TTL asking nothing.
#[test]
fn access_answers_are_cached_per_ttl() {
    let api = standin("webhook-sar-cache");
    api.allow("alice");
    let rt = runtime();
    let reviewer = rt
        .block_on(AccessReviewer::new(
            &api.kubeconfig(),
            LONG,
            Duration::from_millis(300),
        ))
        .unwrap();
    let (alice, bob) = (user("alice", "", &[]), user("bob", "", &[]));
    for _ in 0..3 {
        assert!(
            rt.block_on(reviewer.allowed(&attrs(&alice, "get")))
                .unwrap()
        );
        assert!(!rt.block_on(reviewer.allowed(&attrs(&bob, "get"))).unwrap());
    }
    assert_eq!(api.take_reviews().len(), 2, "one review per user");
    // Another verb is another question.
    assert!(
        rt.block_on(reviewer.allowed(&attrs(&alice, "create")))
            .unwrap()
    );
    assert_eq!(api.take_reviews().len(), 1);

    std::thread::sleep(Duration::from_millis(400));
    api.allow("bob");
    assert!(rt.block_on(reviewer.allowed(&attrs(&bob, "get"))).unwrap());
    assert!(
        rt.block_on(reviewer.allowed(&attrs(&alice, "get")))
            .unwrap()
    );
    let reviews = api.take_reviews();
    assert_eq!(reviews.len(), 1, "only the expired denial is asked again");
    assert_eq!(reviews[0]["spec"]["user"], "bob");
}

/// Pins: a TokenReview sends the token alone, maps the answer to a user,
/// caches valid and invalid answers for the TTL, and asks again after it.
#[test]
fn token_answers_are_cached_for_the_ttl() {
    let api = standin("webhook-token");
    api.token("tok-admin", "admin", "uid-a", &["system:masters"]);
    let rt = runtime();
    let reviewer = rt
        .block_on(TokenReviewer::new(
            &api.kubeconfig(),
            Duration::from_millis(300),
        ))
        .unwrap();
    for _ in 0..2 {
        assert_eq!(
            rt.block_on(reviewer.review("tok-admin")).unwrap(),
            Some(user("admin", "uid-a", &["system:masters"]))
        );
        assert_eq!(rt.block_on(reviewer.review("tok-unknown")).unwrap(), None);
    }
    let reviews = api.take_reviews();
    assert_eq!(
        reviews[0],
        json!({
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "metadata": {}, "spec": {"token": "tok-admin"},
        })
    );
    assert_eq!(reviews.len(), 2, "{reviews:?}");

    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(rt.block_on(reviewer.review("tok-unknown")).unwrap(), None);
    assert_eq!(api.take_reviews().len(), 1);
}

/// Pins: an API server that cannot be asked is an error (the skeleton's
/// only answer was one, for every request), and errors are not cached:
/// every request asks again. Answers cached before it went down stand.
#[test]
fn a_down_api_server_is_an_error_and_not_cached() {
    let api = standin("webhook-down");
    api.allow("alice");
    api.token("tok", "alice", "", &[]);
    let rt = runtime();
    let kubeconfig = api.kubeconfig();
    let access = rt
        .block_on(AccessReviewer::new(&kubeconfig, LONG, LONG))
        .unwrap();
    let tokens = rt.block_on(TokenReviewer::new(&kubeconfig, LONG)).unwrap();
    // A connection is pooled before the stand-in goes down.
    let carol = user("carol", "", &[]);
    assert!(!rt.block_on(access.allowed(&attrs(&carol, "get"))).unwrap());
    api.stop();
    let alice = user("alice", "", &[]);
    for _ in 0..2 {
        let err = rt
            .block_on(access.allowed(&attrs(&alice, "get")))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("SubjectAccessReview failed: "),
            "{err}"
        );
        let err = rt.block_on(tokens.review("tok")).unwrap_err();
        assert!(err.to_string().starts_with("TokenReview failed: "), "{err}");
    }
    // Cached answers still stand.
    assert!(!rt.block_on(access.allowed(&attrs(&carol, "get"))).unwrap());
}

/// Pins: a kubeconfig that cannot be read fails at start-up, naming it.
#[test]
fn a_bad_kubeconfig_is_named() {
    let err = runtime()
        .block_on(TokenReviewer::new(
            std::path::Path::new("/nonexistent/kubeconfig"),
            LONG,
        ))
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .starts_with("reading kubeconfig /nonexistent/kubeconfig: "),
        "{err}"
    );
}

/// nodelogd with webhook authentication and authorization against `api`.
fn webhook_nodelogd(api: &ApiServerStandin, audit: Option<PathBuf>) -> SocketAddr {
    fixture()
        .try_serve_secured(ServeArgs {
            authentication_token_webhook: Some(true),
            authorization_mode: Some(AuthorizationMode::Webhook),
            kubeconfig: Some(api.kubeconfig()),
            node_name: Some("node-1".into()),
            audit_log_path: audit,
            ..Default::default()
        })
        .expect("starting nodelogd with webhooks")
}

fn get_as(addr: SocketAddr, target: &str, token: &str) -> http::Response {
    let bearer = format!("Bearer {token}");
    http::request(addr, "GET", target, &[("Authorization", &bearer)])
}

const TAIL: &str = "/logs/?query=kubelet&tailLines=5";

fn journal_tail() -> Vec<u8> {
    fixture().kubelet_journalctl(&["--pager-end", "--lines=5", "--unit=kubelet"])
}

/// Pins: with --authentication-token-webhook and
/// --authorization-mode=Webhook, nodelogd asks the API server as the
/// kubelet does: the bearer token is reviewed, the
/// SubjectAccessReview has the kubelet's fields, answers are cached
/// (no new review inside the TTL), a denial is the kubelet's 403, an
/// unknown token a 401.
#[test]
fn webhook_mode_end_to_end() {
    let api = standin("webhook-e2e");
    api.token("alice-token", "alice", "uid-a", &["dev"]);
    api.token("bob-token", "bob", "uid-b", &[]);
    api.allow("alice");
    let audit = fixture().base.join("webhook-e2e.audit.log");
    let _ = std::fs::remove_file(&audit);
    let addr = webhook_nodelogd(&api, Some(audit.clone()));

    // kubectl withholds a token from plain HTTP (client-go), and TLS is
    // branch tls's: the same request by hand, the token as kubectl sends it.
    let first = get_as(addr, TAIL, "alice-token");
    assert_eq!((first.status, first.body), (200, journal_tail()));
    let reviews = api.take_reviews();
    assert_eq!(
        reviews,
        [
            json!({
                "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                "metadata": {}, "spec": {"token": "alice-token"},
            }),
            json!({
                "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                "metadata": {},
                "spec": {
                    "user": "alice", "uid": "uid-a", "groups": ["dev"],
                    "resourceAttributes": {
                        "verb": "get", "version": "v1", "resource": "nodes",
                        "subresource": "log", "name": "node-1",
                    },
                },
            }),
        ]
    );

    // Inside both TTLs: no review at all.
    let again = get_as(addr, TAIL, "alice-token");
    assert_eq!((again.status, again.body), (200, journal_tail()));
    assert_eq!(api.take_reviews(), Vec::<serde_json::Value>::new());

    let denied = get_as(addr, TAIL, "bob-token");
    assert_eq!(
        (denied.status, denied.text().as_str()),
        (
            403,
            "Forbidden (user=bob, verb=get, resource=nodes, subresource=log)"
        )
    );
    let unknown = get_as(addr, TAIL, "nobody-token");
    assert_eq!(
        (unknown.status, unknown.text().as_str()),
        (401, "Unauthorized")
    );
    let none = http::get(addr, TAIL);
    assert_eq!(none.status, 401);
    assert_eq!(
        api.take_reviews().len(),
        3,
        "bob's two reviews, nobody's one"
    );

    let lines = crate::audit::audit_lines(&audit, 5);
    let seen: Vec<(&Value, &Value, &Value, &Value)> = lines
        .iter()
        .map(|l| (&l["user"], &l["authMethod"], &l["decision"], &l["status"]))
        .collect();
    let (alice, review) = (json!("alice"), json!("token-review"));
    assert_eq!(
        seen,
        [
            (&alice, &review, &json!("allowed"), &json!(200)),
            (&alice, &review, &json!("allowed"), &json!(200)),
            (&json!("bob"), &review, &json!("denied"), &json!(403)),
            (
                &Value::Null,
                &Value::Null,
                &json!("unauthenticated"),
                &json!(401)
            ),
            (
                &Value::Null,
                &Value::Null,
                &json!("unauthenticated"),
                &json!(401)
            ),
        ]
    );
    let text = std::fs::read_to_string(&audit).unwrap();
    assert!(
        !text.contains("-token"),
        "no token in the audit log: {text}"
    );
}

/// Pins: when the API server cannot be asked, the request gets the
/// kubelet's 500 and not one log byte, and the next request asks again.
#[test]
fn webhook_down_is_a_500_with_no_data() {
    let api = standin("webhook-e2e-down");
    let tokens = fixture().base.join("webhook-e2e-down.tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,1,system:masters\n").unwrap();
    let audit = fixture().base.join("webhook-e2e-down.audit.log");
    let _ = std::fs::remove_file(&audit);
    let addr = fixture()
        .try_serve_secured(ServeArgs {
            token_auth_file: Some(tokens),
            authorization_mode: Some(AuthorizationMode::Webhook),
            kubeconfig: Some(api.kubeconfig()),
            audit_log_path: Some(audit.clone()),
            ..Default::default()
        })
        .unwrap();
    api.stop();
    for _ in 0..2 {
        let resp = get_as(addr, TAIL, "admin-token");
        assert_eq!(
            (resp.status, resp.text().as_str()),
            (
                500,
                "Authorization error (user=admin, verb=get, resource=nodes, subresource=log)"
            )
        );
    }
    let lines = crate::audit::audit_lines(&audit, 2);
    for line in &lines {
        assert_eq!(
            (&line["decision"], &line["outcome"]),
            (&json!("error"), &json!("error"))
        );
        assert_eq!(line["sources"], json!([]));
    }
}

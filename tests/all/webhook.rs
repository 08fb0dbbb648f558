//! The webhook reviewers (TokenReview, SubjectAccessReview) against the
//! stand-in for kube-apiserver: the exact review the kubelet sends, the
//! caching rules, and a down API server.

use std::time::Duration;

use nodelogd::auth::webhook::{AccessReviewer, TokenReviewer};
use nodelogd::auth::{Attributes, User};
use nodelogd_tests::apiserver_standin::ApiServerStandin;
use nodelogd_tests::fixture::runtime;
use serde_json::json;

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

//! API server mode against the stand-in (`standin.rs`), which forwards to
//! real nodelogd processes. The exact paths and parameters the client sends
//! are asserted from the stand-in's record.

use crate::standin::{self, StandinNode};
use crate::support::{node, node_logs};

fn cluster(name: &str) -> standin::Standin {
    let w1 = node(&format!("{name}-w1"), 61, &[]);
    let w2 = node(&format!("{name}-w2"), 62, &[]);
    let cp = node(&format!("{name}-cp"), 63, &[]);
    standin::start(
        name,
        vec![
            StandinNode {
                name: "w1",
                labels: &[("node-role.kubernetes.io/worker", ""), ("zone", "a")],
                addr: w1.addr,
            },
            StandinNode {
                name: "w2",
                labels: &[("node-role.kubernetes.io/worker", ""), ("zone", "b")],
                addr: w2.addr,
            },
            StandinNode {
                name: "cp",
                labels: &[("node-role.kubernetes.io/control-plane", ""), ("zone", "a")],
                addr: cp.addr,
            },
        ],
    )
}

/// Pins: --role and -l are both applied (the krew plugin drops them), each
/// listed node is asked through `/api/v1/nodes/NODE/proxy/logs/` with the
/// kubelet's parameters, and its lines come back prefixed.
#[test]
fn selector_role_and_node_proxy() {
    let api = cluster("api-sel");
    let kubeconfig = api.kubeconfig(api.token);
    let kc = kubeconfig.to_str().unwrap();

    let out = node_logs(&[
        "--kubeconfig",
        kc,
        "--role",
        "worker",
        "-Q",
        "kubelet",
        "--tail",
        "2",
        "-p",
        "a+b",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let mut requests = api.take_requests();
    requests[1..].sort();
    assert_eq!(
        requests,
        [
            "GET /api/v1/nodes?&labelSelector=node-role.kubernetes.io%2Fworker",
            "GET /api/v1/nodes/w1/proxy/logs/?query=kubelet&tailLines=2&pattern=a%2Bb",
            "GET /api/v1/nodes/w2/proxy/logs/?query=kubelet&tailLines=2&pattern=a%2Bb",
        ]
    );

    let out = node_logs(&[
        "--kubeconfig",
        kc,
        "--role",
        "worker",
        "-Q",
        "kubelet",
        "--tail",
        "2",
    ]);
    assert!(
        out.lines()
            .iter()
            .all(|l| l.starts_with("w1 ") || l.starts_with("w2 ")),
        "{out:?}"
    );
    assert!(out.lines().iter().any(|l| l.starts_with("w2 ")), "{out:?}");
    api.take_requests();

    // Both filters: one node, so no prefix.
    let out = node_logs(&[
        "--kubeconfig",
        kc,
        "-l",
        "zone=a",
        "--role",
        "worker",
        "-Q",
        "kubelet",
        "--tail",
        "1",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("Nov "), "{out:?}");
    assert_eq!(
        api.take_requests(),
        [
            "GET /api/v1/nodes?&labelSelector=zone%3Da%2Cnode-role.kubernetes.io%2Fworker",
            "GET /api/v1/nodes/w1/proxy/logs/?query=kubelet&tailLines=1",
        ]
    );

    let none = node_logs(&["--kubeconfig", kc, "-l", "zone=c", "-Q", "kubelet"]);
    assert_eq!(
        (none.code, none.stderr.trim()),
        (1, "error: no nodes match the selector \"zone=c\"")
    );
}

/// Pins: --port reaches a nodelogd beside the kubelet through
/// `/api/v1/nodes/https:NODE:PORT/proxy/logs/`; a node the API server does
/// not know and a rejected token are each reported with the server's message;
/// --context and --token override the kubeconfig's choices.
#[test]
fn port_form_context_unknown_node_and_bad_token() {
    let api = cluster("api-port");
    let kc = api.kubeconfig(api.token);
    let kc = kc.to_str().unwrap();
    let out = node_logs(&[
        "--kubeconfig",
        kc,
        "w1",
        "ghost",
        "--port",
        "10260",
        "--path",
        "/",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        "error: ghost: 404 Not Found: nodes \"ghost\" not found\n"
    );
    assert!(
        out.lines().is_empty(),
        "an empty log root lists nothing: {out:?}"
    );
    let mut requests = api.take_requests();
    requests.sort();
    assert_eq!(
        requests,
        [
            "GET /api/v1/nodes/https:ghost:10260/proxy/logs/",
            "GET /api/v1/nodes/https:w1:10260/proxy/logs/",
        ]
    );

    let bad = api.kubeconfig("wrong");
    let out = node_logs(&[
        "--kubeconfig",
        bad.to_str().unwrap(),
        "w1",
        "w2",
        "-Q",
        "kubelet",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    let mut errors: Vec<&str> = out.stderr.lines().collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            "error: w1: 401 Unauthorized: Unauthorized",
            "error: w2: 401 Unauthorized: Unauthorized"
        ]
    );
    // --context picks a context other than the current one.
    let two = api.dir.join("kubeconfig-two-contexts");
    let text = std::fs::read_to_string(kc)
        .unwrap()
        .replace(
            "clusters:\n",
            "clusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:1\n",
        )
        .replace(
            "contexts:\n",
            "contexts:\n- name: broken\n  context:\n    cluster: nowhere\n    user: admin\n",
        )
        .replace("current-context: standin", "current-context: broken");
    std::fs::write(&two, text).unwrap();
    let two = two.to_str().unwrap();
    let broken = node_logs(&["--kubeconfig", two, "w1", "-Q", "kubelet", "--tail", "1"]);
    assert_eq!(broken.code, 1, "{broken:?}");
    let chosen = node_logs(&[
        "--kubeconfig",
        two,
        "--context",
        "standin",
        "w1",
        "-Q",
        "kubelet",
        "--tail",
        "1",
    ]);
    assert_eq!((chosen.code, chosen.lines().len()), (0, 1), "{chosen:?}");

    // --token overrides the kubeconfig's.
    let out = node_logs(&[
        "--kubeconfig",
        bad.to_str().unwrap(),
        "--token",
        api.token,
        "w1",
        "-Q",
        "kubelet",
        "--tail",
        "1",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
}

/// Pins: direct mode over HTTPS, verified with --certificate-authority and
/// authenticated by --token or by --client-certificate/--client-key; a
/// server whose CA is not given is a TLS error for that node.
#[test]
fn direct_https_with_ca_token_and_client_certificate() {
    let api = cluster("api-https");
    let ca = api.ca();
    let (cert, key) = api.client_cert();
    let url = format!("w2={}/api/v1/nodes/w2/proxy", api.url);
    let base = ["--server", &url, "-Q", "kubelet", "--tail", "1"];

    let out = node_logs(
        &[
            &base[..],
            &[
                "--certificate-authority",
                ca.to_str().unwrap(),
                "--token",
                api.token,
            ],
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.lines().len(), 1, "{out:?}");

    let out = node_logs(
        &[
            &base[..],
            &[
                "--certificate-authority",
                ca.to_str().unwrap(),
                "--client-certificate",
                cert.to_str().unwrap(),
                "--client-key",
                key.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(out.code, 0, "{out:?}");

    let out = node_logs(
        &[
            &base[..],
            &["--certificate-authority", ca.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(
        (out.code, out.stderr.trim()),
        (1, "error: w2: 401 Unauthorized: Unauthorized")
    );

    let out = node_logs(&[&base[..], &["--token", api.token]].concat());
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.starts_with("error: w2: ") && out.stderr.contains("certificate"),
        "{out:?}"
    );
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
}

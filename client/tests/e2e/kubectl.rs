//! Plugin discovery through the real `kubectl`: with `kubectl-node_logs`
//! on PATH, `kubectl node-logs` runs it.

use std::path::Path;
use std::process::Command;

use crate::support::{BIN, node, run};

fn kubectl(args: &[&str]) -> crate::support::Out {
    let dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(Command::new("kubectl").args(args).env("PATH", path))
}

/// Pins: the binary's name maps to `kubectl node-logs`, help and a real query work.
#[test]
fn kubectl_finds_the_plugin() {
    let help = kubectl(&["node-logs", "--help"]);
    assert_eq!(help.code, 0, "{help:?}");
    for flag in [
        "--selector",
        "--query",
        "--unify",
        "--max-concurrency",
        "--server",
        "Examples:",
    ] {
        assert!(help.stdout.contains(flag), "{flag} in {}", help.stdout);
    }
    let n = node("kubectl-plugin", 71, &[]);
    let out = kubectl(&[
        "node-logs",
        "--server",
        &n.url(),
        "-Q",
        "kubelet",
        "--tail",
        "3",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.lines().len() >= 3 && out.stdout.starts_with("Nov "),
        "{out:?}"
    );
}

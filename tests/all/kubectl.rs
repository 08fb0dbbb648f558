//! The real kubectl binary as a client, pointed straight at nodelogd (as it
//! would reach a kubelet through `kubectl get --raw`).

use std::process::Command;

use crate::fixture;

fn kubectl(raw: &str) -> std::process::Output {
    let home = fixture().base.join("kubectl-home");
    std::fs::create_dir_all(&home).unwrap();
    Command::new("kubectl")
        .env("HOME", &home)
        .env("KUBECONFIG", home.join("none"))
        .args([
            "--server",
            &format!("http://{}", fixture().addr),
            "get",
            "--raw",
            raw,
        ])
        .output()
        .expect("kubectl is installed")
}

#[test]
fn kubectl_get_raw_returns_journalctl_bytes() {
    let out = kubectl("/logs/?query=kubelet&tailLines=5");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout,
        fixture().kubelet_journalctl(&["--pager-end", "--lines=5", "--unit=kubelet"])
    );
}

#[test]
fn kubectl_sees_the_kubelet_error_and_fails() {
    let out = kubectl("/logs/?query=kubelet&tailLines=-1");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tailLines: Invalid value: -1: must be between 0 and 100000, inclusive"),
        "{stderr}"
    );
}

#[test]
fn kubectl_lists_the_log_root() {
    let out = kubectl("/logs/");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("<a href=\"containers/\">containers/</a>")
    );
}

//! What `nodelogd_build_info` reports besides the crate version, read at
//! build time from the sources that decide it, so it cannot go stale: the
//! wasmtime version from the workspace's `Cargo.lock` (the version linked),
//! and the `nodelogd:plugin` package version from `wit/plugin.wit`.

use std::path::Path;

/// Emits `NODELOGD_WASMTIME_VERSION` and `NODELOGD_WIT_VERSION` for
/// `env!`.
pub fn emit(workspace: &Path) {
    let lock = workspace.join("Cargo.lock");
    let wit = workspace.join("wit/plugin.wit");
    for watched in [&lock, &wit] {
        println!("cargo:rerun-if-changed={}", watched.display());
    }
    let lock = std::fs::read_to_string(&lock).expect("reading Cargo.lock");
    let wit = std::fs::read_to_string(&wit).expect("reading wit/plugin.wit");
    println!(
        "cargo:rustc-env=NODELOGD_WASMTIME_VERSION={}",
        locked_version(&lock, "wasmtime").expect("wasmtime is in Cargo.lock")
    );
    println!(
        "cargo:rustc-env=NODELOGD_WIT_VERSION={}",
        wit_version(&wit).expect("wit/plugin.wit declares `package nodelogd:plugin@VERSION;`")
    );
}

/// The version of `[[package]] name = "<name>"` in a lock file.
fn locked_version<'a>(lock: &'a str, name: &str) -> Option<&'a str> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    lines.find(|l| l.trim() == wanted)?;
    lines
        .next()?
        .trim()
        .strip_prefix("version = \"")?
        .strip_suffix('"')
}

/// `X.Y.Z` of `package nodelogd:plugin@X.Y.Z;`.
fn wit_version(wit: &str) -> Option<&str> {
    wit.lines()
        .find_map(|l| l.trim().strip_prefix("package nodelogd:plugin@"))?
        .strip_suffix(';')
}

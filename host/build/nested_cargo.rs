//! Builds a workspace of wasm32-wasip2 components with a nested cargo.
//! Shared by host/build.rs (the default plugins) and tests/build.rs (the
//! test plugins).
//!
//! The nested build uses its own target directory: sharing the outer one
//! deadlocks on cargo's artifact lock during `--release` builds.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `workspace` (a directory with Cargo.toml and Cargo.lock) and
/// returns the directory holding its `.wasm` files.
pub fn build_components(workspace: &Path, target_name: &str) -> PathBuf {
    for watched in ["Cargo.toml", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<crate>/out: one nested target
    // directory per workspace, shared by all profiles, beside the outer one.
    let target_dir = out.ancestors().nth(4).unwrap().join(target_name);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Host flags and wrappers (coverage, clippy-driver, target-cpu) must
        // not leak into the wasm build.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        .env_remove("CARGO_LLVM_COV")
        .env_remove("LLVM_PROFILE_FILE")
        .status()
        .expect("running cargo for the wasm components");
    assert!(
        status.success(),
        "building the wasm components in {} failed; if the target is missing, run `rustup target add wasm32-wasip2`",
        workspace.display()
    );
    target_dir.join("wasm32-wasip2/release")
}

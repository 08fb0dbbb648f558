//! Builds the default plugins (`../plugins`, target wasm32-wasip2) with a
//! nested cargo and embeds them: a fresh clone needs no prebuilt wasm.
//!
//! The nested build uses its own target directory: sharing the outer one
//! deadlocks on cargo's artifact lock during `--release` builds. Set
//! `NODELOGD_PLUGINS_DIR` to a directory holding `nodelogd_plugin_<name>.wasm`
//! files to embed those instead (packaging, or tools that run build scripts
//! often).

use std::path::{Path, PathBuf};
use std::process::Command;

const PLUGINS: [&str; 2] = ["journald", "file"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let plugins = manifest_dir.join("../plugins");
    for watched in ["Cargo.toml", "Cargo.lock", "journald", "file"] {
        println!("cargo:rerun-if-changed={}", plugins.join(watched).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../wit").display()
    );
    println!("cargo:rerun-if-env-changed=NODELOGD_PLUGINS_DIR");

    let wasm_dir = match std::env::var_os("NODELOGD_PLUGINS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => build(&plugins),
    };
    for name in PLUGINS {
        let wasm = wasm_dir.join(format!("nodelogd_plugin_{name}.wasm"));
        assert!(wasm.exists(), "{} is missing", wasm.display());
        println!(
            "cargo:rustc-env=NODELOGD_PLUGIN_{}={}",
            name.to_uppercase(),
            wasm.display()
        );
    }
}

fn build(plugins: &Path) -> PathBuf {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    // OUT_DIR is <target>/<profile>/build/<crate>/out: share one nested
    // target directory across profiles, beside (never inside) the outer one.
    let target_dir = out.ancestors().nth(4).unwrap().join("wasm-plugins");
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
        .arg(plugins.join("Cargo.toml"))
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
        .expect("running cargo for the plugins");
    assert!(
        status.success(),
        "building the wasm plugins failed; if the target is missing, run `rustup target add wasm32-wasip2`"
    );
    target_dir.join("wasm32-wasip2/release")
}

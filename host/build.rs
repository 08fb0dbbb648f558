//! Builds the default plugins (`../plugins`, target wasm32-wasip2) and
//! embeds them: a fresh clone needs no prebuilt wasm. Set
//! `NODELOGD_PLUGINS_DIR` to a directory holding
//! `nodelogd_plugin_<name>.wasm` to embed those instead (packaging, or
//! tools that run build scripts often).

#[path = "build/build_info.rs"]
mod build_info;
#[path = "build/nested_cargo.rs"]
mod nested_cargo;

use std::path::PathBuf;

const PLUGINS: [&str; 3] = ["journald", "winevent", "file"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    build_info::emit(&manifest_dir.join(".."));
    let plugins = manifest_dir.join("../plugins");
    for watched in PLUGINS.iter().chain(&["sdk"]) {
        println!("cargo:rerun-if-changed={}", plugins.join(watched).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../wit").display()
    );
    println!("cargo:rerun-if-env-changed=NODELOGD_PLUGINS_DIR");

    let wasm_dir = match std::env::var_os("NODELOGD_PLUGINS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => nested_cargo::build_components(&plugins, "wasm-plugins"),
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

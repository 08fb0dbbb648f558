//! Builds the test plugins (`plugins/`, wasm32-wasip2) for the sandbox
//! tests; their paths reach the tests as `NODELOGD_TEST_PLUGIN_<NAME>`.

#[path = "../host/build/nested_cargo.rs"]
mod nested_cargo;

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let plugins = manifest_dir.join("plugins");
    for plugin in ["misbehave", "unit-reader"] {
        println!("cargo:rerun-if-changed={}", plugins.join(plugin).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../wit").display()
    );
    let dir = nested_cargo::build_components(&plugins, "wasm-test-plugins");
    println!(
        "cargo:rustc-env=NODELOGD_TEST_PLUGIN_MISBEHAVE={}",
        dir.join("misbehave.wasm").display()
    );
    println!(
        "cargo:rustc-env=NODELOGD_TEST_PLUGIN_UNIT_READER={}",
        dir.join("unit_reader.wasm").display()
    );
    // The drop-in examples in ../plugins (not embedded in nodelogd), built
    // as docs/plugins.md tells operators to; the same nested target as
    // host/build.rs, so the shared members compile once.
    let examples = manifest_dir.join("../plugins");
    println!(
        "cargo:rerun-if-changed={}",
        examples.join("hybrid-overlay").display()
    );
    println!("cargo:rerun-if-changed={}", examples.join("sdk").display());
    let dir = nested_cargo::build_components(&examples, "wasm-plugins");
    println!(
        "cargo:rustc-env=NODELOGD_TEST_PLUGIN_HYBRID_OVERLAY={}",
        dir.join("hybrid_overlay.wasm").display()
    );
}

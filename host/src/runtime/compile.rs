//! Turns plugin bytes into a `Component`, through an on-disk cache of
//! precompiled code: Cranelift needs ~0.1 s per plugin in a release build
//! (1.5 s in a debug one), loading a cached `.cwasm` under a millisecond.
//!
//! The cache key covers the plugin's bytes and the engine's compatibility
//! hash (wasmtime version, settings, CPU features), so a stale entry is
//! never loaded. Loading precompiled code trusts the file, so a cache
//! directory that anyone but nodelogd's own user can write to is not used.

use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

pub fn component(
    engine: &Engine,
    name: &str,
    wasm: &[u8],
    cache: Option<&Path>,
) -> anyhow::Result<Component> {
    let Some(dir) = cache.filter(|dir| usable(dir)) else {
        return Ok(Component::new(engine, wasm)?);
    };
    let path = cache_path(engine, dir, name, wasm);
    if path.exists() {
        // SAFETY: the file was written by `precompile_component` of an
        // engine with the same compatibility hash (it is in the name), into
        // a directory that only nodelogd's user may write (documented).
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable cache entry: {e:#}")
            }
        }
    }
    let compiled = engine.precompile_component(wasm)?;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating cache directory {}", dir.display()))?;
    // Unique per process and per call: servers started at once in one
    // process (the tests do) compile the same plugin into the same cache.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}.{n}", std::process::id()));
    std::fs::write(&tmp, &compiled)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("writing {}", path.display()))?;
    // SAFETY: `compiled` was produced just now by this engine.
    Ok(unsafe { Component::deserialize(engine, &compiled) }?)
}

/// Creates the directory (mode 0700) if needed; refuses it, with a warning,
/// when its owner is another user or others may write to it.
fn usable(dir: &Path) -> bool {
    if let Err(e) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        tracing::warn!(dir = %dir.display(), "plugin cache disabled: {e}");
        return false;
    }
    let trusted = trusted(dir);
    if !trusted {
        tracing::warn!(dir = %dir.display(), "plugin cache disabled: the directory is writable by other users");
    }
    trusted
}

fn trusted(dir: &Path) -> bool {
    std::fs::metadata(dir).is_ok_and(|m| {
        m.is_dir() && m.uid() == rustix::process::geteuid().as_raw() && m.mode() & 0o022 == 0
    })
}

fn cache_path(engine: &Engine, dir: &Path, name: &str, wasm: &[u8]) -> PathBuf {
    let digest = Sha256::digest(wasm);
    let mut compat = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut compat);
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("{name}-{hex}-{:016x}.cwasm", compat.finish()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn only_private_directories_are_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        assert!(usable(&cache));
        assert_eq!(std::fs::metadata(&cache).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!usable(&cache));
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(usable(&cache));
    }
}

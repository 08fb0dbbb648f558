//! The secure default for a first run: with no authentication configured,
//! nodelogd makes up a random token, writes it to a file only its own user
//! can read, and accepts it as `system:admin` in `system:masters` (as a
//! notebook server does). Whoever can read that file may read the logs;
//! nobody else can, even on loopback.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::User;
use super::tokens::TokenFile;

pub const GENERATED_USER: &str = "system:admin";
pub const GENERATED_GROUP: &str = "system:masters";

/// Random bytes in a generated token (hex-encoded, so 64 characters).
const TOKEN_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum FirstRunError {
    #[error("creating {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} must be a directory owned by the user nodelogd runs as and writable by no one else"
    )]
    UnsafeDir { path: PathBuf },
    #[error("no randomness for the token: {0}")]
    Random(getrandom::Error),
}

/// Where the token goes when `--generated-token-file` is not given:
/// `$XDG_RUNTIME_DIR/nodelogd/token`, `/run/nodelogd/token` as root, else
/// `$XDG_STATE_HOME/nodelogd/token` or `~/.local/state/nodelogd/token`.
pub fn default_path() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).map(PathBuf::from);
    let base = var("XDG_RUNTIME_DIR")
        .or_else(|| rustix::process::geteuid().is_root().then(|| "/run".into()))
        .or_else(|| var("XDG_STATE_HOME"))
        .or_else(|| var("HOME").map(|h| h.join(".local/state")))?;
    Some(base.join("nodelogd").join("token"))
}

/// A fresh token in `path` (replacing any earlier one, so a token that
/// leaked dies with the restart), mode 0600 in a directory only this user
/// may write; the tokens it accepts.
pub fn generate(path: &Path) -> Result<TokenFile, FirstRunError> {
    let io = |source| FirstRunError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io)?;
        let meta = std::fs::symlink_metadata(dir).map_err(io)?;
        let owner = rustix::process::geteuid().as_raw();
        if !meta.is_dir() || meta.uid() != owner || meta.mode() & 0o022 != 0 {
            return Err(FirstRunError::UnsafeDir {
                path: dir.to_path_buf(),
            });
        }
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(FirstRunError::Random)?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written beside the target and renamed over it: a second nodelogd
    // starting at the same moment cannot make this one fail, and readers
    // never see a half-written token. create_new and O_NOFOLLOW: never
    // through a link someone planted.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || {
        // Left by a crashed run with this pid, perhaps; a link is removed,
        // never followed.
        let _ = std::fs::remove_file(&tmp);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        file.write_all(format!("{token}\n").as_bytes())?;
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    let user = User {
        name: GENERATED_USER.into(),
        uid: String::new(),
        groups: vec![GENERATED_GROUP.into()],
    };
    Ok(TokenFile::single(&token, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn token_file_is_private_and_fresh_each_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nodelogd/token");
        let tokens = generate(&path).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let user = tokens.user(first.trim()).unwrap();
        assert_eq!(user.groups, [GENERATED_GROUP]);
        generate(&path).unwrap();
        assert_ne!(std::fs::read_to_string(&path).unwrap(), first);
        std::fs::set_permissions(path.parent().unwrap(), PermissionsExt::from_mode(0o777)).unwrap();
        assert!(matches!(
            generate(&path),
            Err(FirstRunError::UnsafeDir { .. })
        ));
    }
}

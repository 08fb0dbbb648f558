//! `LogRoot::open_entry` over random trees of real directories, files and
//! symlinks (relative, absolute, into and out of the root, loops), asked
//! for random paths of names, `.`, `..` and `/`.
//!
//! Whatever it opens must (1) lie inside the root, judged by the kernel's
//! own name for the opened descriptor, and (2) be what the kernel itself
//! resolves the same path to: confinement may refuse, never redirect.

use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};

use nodelogd::logroot::{Entry, LogRoot};
use proptest::prelude::*;

/// Names in the tree; links are made at some of them.
const NAMES: [&str; 6] = ["a", "b", "c", "f", "g", "h"];

/// One component of a path or of a relative link target.
fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(&NAMES[..]).prop_map(String::from),
        2 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => Just(String::new()),
        1 => Just("outside".to_string()),
    ]
}

fn relative_path() -> impl Strategy<Value = String> {
    proptest::collection::vec(component(), 1..6).prop_map(|c| c.join("/"))
}

/// Where a link points.
#[derive(Debug, Clone)]
enum Target {
    Relative(String),
    /// `ROOT/...`: absolute, inside the root.
    UnderRoot(String),
    /// `TOP/...`: absolute, next to the root (the secret's directory).
    UnderTop(String),
    /// An absolute path elsewhere on the host.
    Host(&'static str),
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        3 => relative_path().prop_map(Target::Relative),
        2 => relative_path().prop_map(Target::UnderRoot),
        1 => relative_path().prop_map(Target::UnderTop),
        1 => proptest::sample::select(&["/", "/etc", "/etc/hostname", "/proc/self"][..])
            .prop_map(Target::Host),
    ]
}

/// A link: the directory it is placed in (relative to the root, "" is the
/// root), its name and its target.
#[derive(Debug, Clone)]
struct Link {
    dir: &'static str,
    name: &'static str,
    target: Target,
}

fn link() -> impl Strategy<Value = Link> {
    (
        proptest::sample::select(&["", "a", "a/b", "c"][..]),
        proptest::sample::select(&["g", "h", "l"][..]),
        target(),
    )
        .prop_map(|(dir, name, target)| Link { dir, name, target })
}

/// TOP/secret and TOP/outside/ beside ROOT=TOP/log, which holds a/b/,
/// c/, f and a/f, a/b/f, then the links (a name already taken is skipped).
fn build(top: &Path, links: &[Link]) -> PathBuf {
    let root = top.join("log");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::create_dir_all(root.join("c")).unwrap();
    std::fs::create_dir_all(top.join("outside")).unwrap();
    for file in ["f", "a/f", "a/b/f"] {
        std::fs::write(root.join(file), file).unwrap();
    }
    std::fs::write(top.join("secret"), "secret").unwrap();
    std::fs::write(top.join("outside/f"), "secret").unwrap();
    for l in links {
        let to = match &l.target {
            Target::Relative(p) => PathBuf::from(p),
            Target::UnderRoot(p) => root.join(p),
            Target::UnderTop(p) => top.join(p),
            Target::Host(p) => PathBuf::from(p),
        };
        let at = root.join(l.dir).join(l.name);
        // A link to "" cannot be made (ENOENT).
        if !to.as_os_str().is_empty() && at.symlink_metadata().is_err() {
            symlink(to, at).unwrap();
        }
    }
    root
}

/// The kernel's name for an open descriptor.
fn fd_path(fd: impl AsFd) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())).unwrap()
}

proptest! {
    #[test]
    fn nothing_outside_the_root_and_nothing_but_the_kernels_answer(
        links in proptest::collection::vec(link(), 0..8),
        path in relative_path(),
        leading_slash in any::<bool>(),
    ) {
        let top = tempfile::tempdir().unwrap();
        let root_path = build(&top.path().canonicalize().unwrap(), &links);
        let root = LogRoot::open(&root_path).unwrap();
        let root_path = root.path().to_path_buf();
        let asked = if leading_slash { format!("/{path}") } else { path.clone() };

        let opened = match root.open_entry(&asked) {
            Ok(Entry::File(f)) => fd_path(&f),
            Ok(Entry::Dir(d)) => fd_path(&d),
            // Refusing is always allowed; only what is opened is judged.
            Err(_) => return Ok(()),
        };
        prop_assert!(
            opened.starts_with(&root_path),
            "{asked:?} opened {} outside {} (links {links:?})",
            opened.display(),
            root_path.display()
        );
        // A trailing `/` or `/.` after a file's name is ignored here (the
        // route redirects such paths), where the kernel says ENOTDIR.
        let mut plain = path.trim_start_matches('/');
        while let Some(rest) = plain.strip_suffix('/').or_else(|| plain.strip_suffix("/.")) {
            plain = rest;
        }
        let kernel = std::fs::metadata(root_path.join(plain));
        let kernel = kernel.map(|m| (m.dev(), m.ino()));
        let ours = std::fs::metadata(&opened).map(|m| (m.dev(), m.ino()));
        prop_assert_eq!(
            ours.ok(),
            kernel.ok(),
            "{:?} opened {} but the kernel resolves it elsewhere (links {:?})",
            asked,
            opened.display(),
            links
        );
    }
}

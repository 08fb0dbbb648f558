//! Confined, read-only access to the log root.
//!
//! Every path is resolved here, one component at a time, with
//! `openat(O_PATH | O_NOFOLLOW)` relative to a directory descriptor already
//! held, so a concurrent rename or symlink swap can never lead outside.
//! Symlinks are followed by the host itself:
//! - a relative link continues from the directory that holds it;
//! - an absolute link must point under the root's own absolute path, for
//!   example `/var/log/containers/x.log -> /var/log/pods/ns_pod/c/0.log`
//!   (WASI preopens and Go's `os.Root` refuse those; kubelets need them);
//! - `..` may not climb above the root, and more than 40 links is a loop.
//!
//! Anything else is refused.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

/// Linux's own limit for symlinks followed in one lookup.
const MAX_LINKS: u32 = 40;

#[derive(Debug, thiserror::Error)]
pub enum RootError {
    #[error("no such file or directory")]
    NotFound,
    #[error("path escapes from parent")]
    Escapes,
    #[error("too many levels of symbolic links")]
    Loop,
    #[error("not a regular file or directory")]
    Special,
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// An opened entry under the root.
#[derive(Debug)]
pub enum Entry {
    File(File),
    Dir(OwnedFd),
}

/// A directory's entries sorted by name, packed in one buffer: a
/// 100,000-entry directory costs its names plus 8 bytes an entry.
#[derive(Debug, Default)]
pub struct Listing {
    names: Vec<u8>,
    items: Vec<Item>,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    start: u32,
    len: u16,
    is_dir: bool,
}

/// Listing a directory failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("more than {} MiB of names", .0 >> 20)]
    TooLarge(usize),
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Listing {
    /// Names (raw bytes, as on disk) and whether each is a directory.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], bool)> {
        self.items.iter().map(|item| (self.name(item), item.is_dir))
    }

    fn name(&self, item: &Item) -> &[u8] {
        let start = item.start as usize;
        &self.names[start..start + usize::from(item.len)]
    }

    /// Bytes held: what the size cap counts.
    fn size(&self) -> usize {
        self.names.len() + self.items.len() * std::mem::size_of::<Item>()
    }
}

#[derive(Debug)]
pub struct LogRoot {
    dir: OwnedFd,
    /// Canonical absolute path; absolute symlink targets are judged by it.
    path: PathBuf,
}

impl LogRoot {
    pub fn open(path: &Path) -> io::Result<Self> {
        let path = path.canonicalize()?;
        let dir = rustix::fs::open(
            &path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(LogRoot { dir, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `path`, taken relative to the root (a leading `/` means the
    /// root). Regular files open for reading; directories for listing.
    pub fn open_entry(&self, path: impl AsRef<[u8]>) -> Result<Entry, RootError> {
        let mut pending: VecDeque<Vec<u8>> = components(path.as_ref());
        // A trailing `/` or `/.` of the path asked for is ignored, also
        // after a file's name (the route redirects such paths); within a
        // link's target the kernel's rule holds (below).
        while pending.back().is_some_and(|c| c.is_empty() || c == b".") && pending.len() > 1 {
            pending.pop_back();
        }
        // Directories walked so far below the root; popping one is `..`.
        let mut walked: Vec<OwnedFd> = Vec::new();
        let mut links = 0;
        while let Some(name) = pending.pop_front() {
            match name.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    walked.pop().ok_or(RootError::Escapes)?;
                    continue;
                }
                _ => {}
            }
            let parent = walked.last().map_or(self.dir.as_fd(), AsFd::as_fd);
            let fd = openat(parent, &name, OFlags::PATH | OFlags::NOFOLLOW)?;
            let kind =
                FileType::from_raw_mode(rustix::fs::fstat(&fd).map_err(io::Error::from)?.st_mode);
            if kind == FileType::Symlink {
                links += 1;
                if links > MAX_LINKS {
                    return Err(RootError::Loop);
                }
                let target = rustix::fs::readlinkat(parent, name.as_slice(), Vec::new())
                    .map_err(io::Error::from)?;
                let target = target.as_bytes();
                let mut next = if target.starts_with(b"/") {
                    walked.clear();
                    self.below_root(target)?
                } else {
                    components(target)
                };
                next.extend(pending);
                pending = next;
                continue;
            }
            // As for the kernel, a file ends a path: a link's target
            // `f/` or `f/.` is ENOTDIR.
            let last = pending.is_empty();
            match kind {
                FileType::Directory => walked.push(openat(
                    parent,
                    &name,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW,
                )?),
                FileType::RegularFile if last => {
                    let file = openat(
                        parent,
                        &name,
                        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY,
                    )?;
                    // The name may have been swapped since the check above:
                    // judge what was opened, not the path.
                    let opened = rustix::fs::fstat(&file).map_err(io::Error::from)?;
                    if FileType::from_raw_mode(opened.st_mode) != FileType::RegularFile {
                        return Err(RootError::Special);
                    }
                    return Ok(Entry::File(File::from(file)));
                }
                FileType::RegularFile => return Err(RootError::NotFound),
                _ => return Err(RootError::Special),
            }
        }
        let dir = walked.last().map_or(self.dir.as_fd(), AsFd::as_fd);
        Ok(Entry::Dir(openat(
            dir,
            b".",
            OFlags::RDONLY | OFlags::DIRECTORY,
        )?))
    }

    /// The directory `rel` (resolved like any path here) as a root of its
    /// own: nothing below it, `..` and symlinks included, can leave it.
    pub fn subroot(&self, rel: &str) -> Result<LogRoot, RootError> {
        match self.open_entry(rel)? {
            Entry::Dir(dir) => Ok(LogRoot {
                dir,
                path: self.path.join(rel.trim_start_matches('/')),
            }),
            Entry::File(_) => Err(RootError::NotFound),
        }
    }

    /// The components of an absolute link target below the root, or
    /// `Escapes` when it points elsewhere.
    fn below_root(&self, target: &[u8]) -> Result<VecDeque<Vec<u8>>, RootError> {
        let target = Path::new(OsStr::from_bytes(target));
        let rest = target
            .strip_prefix(&self.path)
            .map_err(|_| RootError::Escapes)?;
        Ok(rest
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.as_bytes().to_vec()),
                Component::ParentDir => Some(b"..".to_vec()),
                _ => None,
            })
            .collect())
    }
}

/// The entries of a directory opened by [`LogRoot::open_entry`], sorted by
/// name (bytes, as Go compares strings), refused once they hold more than
/// `max_bytes`. Symlinks are listed as what they are (not directories), as
/// Go's file server does. Blocks: run it off the async workers.
pub fn list(dir: OwnedFd, max_bytes: usize) -> Result<Listing, ListError> {
    let mut listing = Listing::default();
    for entry in rustix::fs::Dir::new(dir).map_err(io::Error::from)? {
        let entry = entry.map_err(io::Error::from)?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let (Ok(start), Ok(len)) = (
            u32::try_from(listing.names.len()),
            u16::try_from(name.len()),
        ) else {
            return Err(ListError::TooLarge(max_bytes));
        };
        listing.names.extend_from_slice(name);
        listing.items.push(Item {
            start,
            len,
            is_dir: entry.file_type() == FileType::Directory,
        });
        if listing.size() > max_bytes {
            return Err(ListError::TooLarge(max_bytes));
        }
    }
    let Listing { names, items } = &mut listing;
    items.sort_unstable_by(|a, b| {
        let name = |i: &Item| &names[i.start as usize..i.start as usize + usize::from(i.len)];
        name(a).cmp(name(b))
    });
    Ok(listing)
}

fn components(path: &[u8]) -> VecDeque<Vec<u8>> {
    path.split(|b| *b == b'/').map(<[u8]>::to_vec).collect()
}

fn openat(dir: BorrowedFd<'_>, name: &[u8], flags: OFlags) -> Result<OwnedFd, RootError> {
    rustix::fs::openat(dir, name, flags | OFlags::CLOEXEC, Mode::empty()).map_err(|e| match e {
        // A name longer than the file system allows cannot exist either
        // (Go's file server answers 500 for it; bad input is not a 500).
        rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR | rustix::io::Errno::NAMETOOLONG => {
            RootError::NotFound
        }
        rustix::io::Errno::LOOP => RootError::Loop,
        e => RootError::Io(e.into()),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::symlink;

    use super::*;

    struct Tree {
        top: tempfile::TempDir,
    }

    impl Tree {
        fn new() -> Self {
            let top = tempfile::tempdir().unwrap();
            let root = top.path().join("log");
            std::fs::create_dir_all(root.join("pods/ns_pod/c")).unwrap();
            std::fs::create_dir_all(root.join("containers")).unwrap();
            std::fs::write(root.join("pods/ns_pod/c/0.log"), "pod line\n").unwrap();
            std::fs::write(root.join("plain.log"), "plain\n").unwrap();
            std::fs::write(top.path().join("secret"), "secret\n").unwrap();
            Tree { top }
        }
        fn root(&self) -> PathBuf {
            self.top.path().join("log")
        }
        fn link(&self, at: &str, to: impl AsRef<Path>) {
            symlink(to, self.root().join(at)).unwrap();
        }
        fn read(&self, path: &str) -> Result<String, RootError> {
            match LogRoot::open(&self.root()).unwrap().open_entry(path)? {
                Entry::File(mut f) => {
                    let mut s = String::new();
                    f.read_to_string(&mut s).unwrap();
                    Ok(s)
                }
                Entry::Dir(_) => Ok("<dir>".into()),
            }
        }
    }

    #[test]
    fn plain_paths() {
        let t = Tree::new();
        assert_eq!(t.read("plain.log").unwrap(), "plain\n");
        assert_eq!(t.read("/plain.log").unwrap(), "plain\n");
        assert_eq!(t.read("pods/./ns_pod/c/0.log").unwrap(), "pod line\n");
        assert_eq!(t.read("").unwrap(), "<dir>");
        assert!(matches!(t.read("missing"), Err(RootError::NotFound)));
        assert!(matches!(t.read("plain.log/x"), Err(RootError::NotFound)));
    }

    #[test]
    fn in_root_links_work_absolute_and_relative() {
        let t = Tree::new();
        t.link("containers/abs.log", t.root().join("pods/ns_pod/c/0.log"));
        t.link("containers/rel.log", "../pods/ns_pod/c/0.log");
        t.link("podsdir", t.root().join("pods"));
        assert_eq!(t.read("containers/abs.log").unwrap(), "pod line\n");
        assert_eq!(t.read("containers/rel.log").unwrap(), "pod line\n");
        assert_eq!(t.read("podsdir/ns_pod/c/0.log").unwrap(), "pod line\n");
    }

    #[test]
    fn escapes_and_loops_are_refused() {
        let t = Tree::new();
        t.link("abs-out", t.top.path().join("secret"));
        t.link("rel-out", "../secret");
        t.link("etc", "/etc");
        t.link("sneaky", t.root().join("pods/../../secret"));
        t.link("loop-a", "loop-b");
        t.link("loop-b", "loop-a");
        assert!(matches!(t.read("abs-out"), Err(RootError::Escapes)));
        assert!(matches!(t.read("rel-out"), Err(RootError::Escapes)));
        assert!(matches!(t.read("etc/passwd"), Err(RootError::Escapes)));
        assert!(matches!(t.read("sneaky"), Err(RootError::Escapes)));
        assert!(matches!(t.read("../secret"), Err(RootError::Escapes)));
        assert!(matches!(
            t.read("pods/../../secret"),
            Err(RootError::Escapes)
        ));
        assert!(matches!(t.read("loop-a"), Err(RootError::Loop)));
    }

    #[test]
    fn listing_is_sorted_and_marks_directories() {
        let t = Tree::new();
        t.link("zlink", "pods");
        let Entry::Dir(fd) = LogRoot::open(&t.root()).unwrap().open_entry("/").unwrap() else {
            panic!()
        };
        let listing = list(fd, 1 << 20).unwrap();
        let names: Vec<(&[u8], bool)> = listing.iter().collect();
        assert_eq!(
            names,
            [
                (&b"containers"[..], true),
                (b"plain.log", false),
                (b"pods", true),
                (b"zlink", false)
            ]
        );
    }

    #[test]
    fn a_listing_over_its_size_cap_is_refused() {
        let t = Tree::new();
        let root = LogRoot::open(&t.root()).unwrap();
        let Entry::Dir(fd) = root.open_entry("/").unwrap() else {
            panic!()
        };
        // Four entries: 4 x 8 bytes of index plus their names.
        assert!(matches!(list(fd, 40), Err(ListError::TooLarge(40))));
    }
}

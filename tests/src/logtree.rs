//! A log root laid out like a node's /var/log: plain files, the
//! containers -> pods absolute symlinks, a rotated file, and the hostile
//! cases (links out of the root, a loop). A `secret` file sits beside the
//! root, never inside it.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

pub const SECRET: &str = "TOP SECRET: outside the log root\n";
pub const POD_LOG: &str = "2024-11-22T00:00:00.000000000Z stdout F pod says hi\n";
pub const FILELOGGED: &str = "I1122 00:00:00.000000 1 filelogged.go:1] only in a file\n";

pub struct LogTree {
    pub root: PathBuf,
    pub secret: PathBuf,
}

pub fn build(top: &Path) -> std::io::Result<LogTree> {
    let root = top.join("log");
    let secret = top.join("secret");
    std::fs::write(&secret, SECRET)?;
    for dir in [
        "pods/default_web-1_uid/app",
        "containers",
        "journal",
        "svcdir",
        "onlydir",
    ] {
        std::fs::create_dir_all(root.join(dir))?;
    }
    std::fs::write(root.join("pods/default_web-1_uid/app/0.log"), POD_LOG)?;
    std::fs::write(root.join("filelogged.log"), FILELOGGED)?;
    std::fs::write(root.join("svcdir/svcdir.log"), "from svcdir/svcdir.log\n")?;
    std::fs::write(root.join("plainname"), "from plainname\n")?;
    std::fs::write(
        root.join("syslog.1.gz"),
        [
            0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    )?;
    std::fs::write(root.join("odd name?#.log"), "odd\n")?;
    // In-root links, absolute (as the kubelet makes them) and relative.
    symlink(
        root.join("pods/default_web-1_uid/app/0.log"),
        root.join("containers/web-1_default_app-abc.log"),
    )?;
    symlink(
        "../pods/default_web-1_uid/app/0.log",
        root.join("containers/relative.log"),
    )?;
    symlink(root.join("pods/default_web-1_uid"), root.join("podlink"))?;
    // Hostile links.
    symlink(&secret, root.join("abs-escape.log"))?;
    symlink("../secret", root.join("rel-escape.log"))?;
    symlink("/etc", root.join("etc"))?;
    symlink("loop-b", root.join("loop-a"))?;
    symlink("loop-a", root.join("loop-b"))?;
    symlink(&secret, root.join("escapee.log"))?;
    Ok(LogTree { root, secret })
}

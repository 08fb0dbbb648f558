//! The shared fixture: one generated journal, one log tree and one
//! nodelogd serving both, started in-process once per test binary and
//! reused by every test. Other configurations get servers of their own.

use std::io::Read;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use nodelogd::cli::{AuthorizationMode, JournalReader, ServeArgs};
use nodelogd::config::Config;
use nodelogd::runtime::PluginSpec;

use crate::journal;
use crate::logtree::{self, LogTree};

/// Large enough that a full query outgrows socket buffers (backpressure and
/// deadline tests), small enough to build in a couple of seconds.
pub const ENTRIES: usize = 30_000;

pub struct Fixture {
    pub base: PathBuf,
    pub journal_dir: PathBuf,
    pub logs: LogTree,
    pub addr: SocketAddr,
}

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
static SHARED: OnceLock<Fixture> = OnceLock::new();
static READERS: OnceLock<[(&str, SocketAddr); 2]> = OnceLock::new();

pub fn runtime() -> &'static tokio::runtime::Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

impl Fixture {
    /// `tmp` is the test binary's scratch directory (`CARGO_TARGET_TMPDIR`).
    pub fn shared(tmp: &Path) -> &'static Fixture {
        SHARED.get_or_init(|| {
            let base = tmp.join("nodelogd-fixture");
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(&base).unwrap();
            let journal_dir = base.join("journal");
            journal::build(&journal_dir, ENTRIES, 42).expect("building the test journal");
            let logs = logtree::build(&base).expect("building the log tree");
            let mut f = Fixture {
                base,
                journal_dir,
                logs,
                addr: ([127, 0, 0, 1], 0).into(),
            };
            f.addr = f.serve(ServeArgs::default());
            f
        })
    }

    /// Two more servers over the same data, one per journal reader, for
    /// the parity tests: `native`, whose journalctl is a script that
    /// prints `NOT-NATIVE` (so an answer that the native reader left to
    /// journalctl cannot pass for its own), and `journalctl`
    /// (`--journal-reader=journalctl`).
    pub fn reader_addrs(&self) -> &'static [(&'static str, SocketAddr); 2] {
        READERS.get_or_init(|| {
            let fake = self.base.join("not-native-journalctl");
            std::fs::write(&fake, "#!/bin/sh\necho NOT-NATIVE\n").unwrap();
            std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let native = self.serve(ServeArgs {
                journalctl: Some(fake),
                ..ServeArgs::default()
            });
            let journalctl = self.serve(ServeArgs {
                journal_reader: Some(JournalReader::Journalctl),
                ..ServeArgs::default()
            });
            [("native", native), ("journalctl", journalctl)]
        })
    }

    /// Starts another nodelogd over the same data; `args` may change any
    /// setting but the paths.
    pub fn serve(&self, args: ServeArgs) -> SocketAddr {
        self.serve_with(args, Vec::new())
    }

    /// [`Fixture::serve`] with `extra` plugins asked before the built-ins.
    pub fn serve_with(&self, args: ServeArgs, extra: Vec<PluginSpec>) -> SocketAddr {
        self.try_serve_with(args, extra).expect("starting nodelogd")
    }

    /// [`Fixture::serve`] over another log root.
    pub fn serve_root(&self, root: &Path, args: ServeArgs) -> SocketAddr {
        self.serve_in(root, open_access(args), Vec::new())
            .expect("starting nodelogd")
    }

    /// [`Fixture::serve_with`], returning why nodelogd would not start.
    pub fn try_serve_with(
        &self,
        args: ServeArgs,
        extra: Vec<PluginSpec>,
    ) -> anyhow::Result<SocketAddr> {
        self.serve_in(&self.logs.root, open_access(args), extra)
    }

    /// A nodelogd with exactly the security settings of `args` (the other
    /// ways to start one default to open access), or why it would not
    /// start.
    pub fn try_serve_secured(&self, args: ServeArgs) -> anyhow::Result<SocketAddr> {
        self.serve_in(&self.logs.root, args, Vec::new())
    }

    fn serve_in(
        &self,
        root: &Path,
        mut args: ServeArgs,
        extra: Vec<PluginSpec>,
    ) -> anyhow::Result<SocketAddr> {
        args.listen = Some(([127, 0, 0, 1], 0).into());
        args.log_dir = Some(root.to_path_buf());
        args.journal_dir.get_or_insert(self.journal_dir.clone());
        // Persist compiled plugins across runs: debug hosts compile slowly.
        args.cache_dir = Some(self.base.parent().unwrap().join("plugin-cache"));
        let config = Config::load(args)?;
        let running = runtime().block_on(nodelogd::start_with(config, extra))?;
        let addr = running.local_addr;
        // Runs until the test binary exits.
        std::mem::forget(running);
        Ok(addr)
    }

    /// The journal through a symlink named `name`, and the argument that
    /// tells the journalctl processes reading it from every other test's.
    pub fn own_journal(&self, name: &str) -> (PathBuf, String) {
        let link = self.base.join(name);
        if !link.exists() {
            std::os::unix::fs::symlink(&self.journal_dir, &link).unwrap();
        }
        let needle = format!("--directory={}", link.display());
        (link, needle)
    }

    /// What `journalctl --directory=<journal> ARGS` prints, stdout and
    /// stderr through one pipe, as the kubelet collects it.
    pub fn journalctl(&self, args: &[&str]) -> Vec<u8> {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut child = Command::new("journalctl")
            .arg(format!("--directory={}", self.journal_dir.display()))
            .args(args)
            .stdin(Stdio::null())
            .stderr(writer.try_clone().unwrap())
            .stdout(OwnedFd::from(writer))
            .spawn()
            .expect("running journalctl");
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        child.wait().unwrap();
        out
    }

    /// The kubelet's own argv for `-u` queries, the base of most expectations.
    pub fn kubelet_journalctl(&self, extra: &[&str]) -> Vec<u8> {
        let mut args = vec!["--utc", "--no-pager", "--output=short-precise"];
        args.extend_from_slice(extra);
        self.journalctl(&args)
    }
}

/// Open access (anonymous users, all allowed), unless `args` say otherwise:
/// what the tests of log sources and limits run with, said explicitly as
/// the README's development command says it. Loopback only.
fn open_access(mut args: ServeArgs) -> ServeArgs {
    args.anonymous_auth.get_or_insert(true);
    args.authorization_mode
        .get_or_insert(AuthorizationMode::AlwaysAllow);
    args
}

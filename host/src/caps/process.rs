//! The `process` capability: granted programs, argv elements only (no
//! shell), cleared environment, stdin closed, working directory `/`, and
//! stdout and stderr on one pipe (the kubelet hands journalctl the same
//! writer for both, so its error text lands in the body in order).
//!
//! Each program also starts with no descriptor but its stdio (whatever
//! nodelogd inherited without close-on-exec stays behind), in a process
//! group of its own that is killed as a whole, and with `PR_SET_PDEATHSIG`
//! so it dies with nodelogd. The death signal is tied to the thread that
//! started it, a tokio worker, which lives as long as nodelogd's runtime.

use std::io;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::atomic::{AtomicI64, Ordering};

use rustix::process::{Pid, Signal};

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use wasmtime::component::Resource;

use super::grants::{Denied, Program};
use crate::runtime::State;
use crate::runtime::bindings::nodelogd::plugin::process;

/// Programs started and not yet dropped, in this process: every server's
/// plugins together (`nodelogd_programs_running`).
static RUNNING: AtomicI64 = AtomicI64::new(0);

/// How many programs plugins have running now.
pub fn running() -> i64 {
    RUNNING.load(Ordering::Relaxed)
}

/// A running program. Dropping it (the plugin dropped its handle, or the
/// request's store went away) kills the program and reaps it.
pub struct ChildProc {
    child: Option<tokio::process::Child>,
    /// The program's process group (its pid), until it is killed.
    group: Option<Pid>,
    output: pipe::Receiver,
}

impl ChildProc {
    /// Kills the program's group: also what the program started itself.
    /// Done once, while the group's id is still reserved: before the
    /// program is reaped, or at once after `wait` reaped it (the id could
    /// be reused by another group later).
    fn kill_group(&mut self) {
        if let Some(group) = self.group.take() {
            // Fails harmlessly when the whole group is already gone.
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::Relaxed);
        self.kill_group();
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = child.start_kill();
        // Reap in the background so no zombie outlives the request.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

/// Where to stop marking descriptors one by one when the kernel lacks
/// `close_range(CLOSE_RANGE_CLOEXEC)` (before Linux 5.11): the descriptor
/// limit, bounded so a huge limit cannot stall every spawn.
fn fd_scan_limit() -> i32 {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    limit.map_or(1 << 16, |n| n.min(1 << 16)) as i32
}

/// Runs in the child between fork and exec, so only async-signal-safe
/// calls: no allocation, no locks.
fn confine_child(parent: Option<Pid>, fd_limit: i32) -> io::Result<()> {
    // Mark every descriptor above stdio close-on-exec rather than closing
    // it: the standard library still needs its own (already close-on-exec)
    // pipe to report a failed exec.
    // SAFETY: close_range and fcntl only change descriptor flags.
    let marked = unsafe { libc::close_range(3, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if marked != 0 {
        for fd in 3..fd_limit {
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) };
            }
        }
    }
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
    // nodelogd may have died before the line above; then nothing would
    // ever send the signal.
    if rustix::process::getppid() != parent {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

fn start(program: &Program, args: &[String], env: &[(String, String)]) -> io::Result<ChildProc> {
    let (reader, writer) = io::pipe()?;
    let mut cmd = tokio::process::Command::new(&program.policy.path);
    cmd.args(&program.policy.leading_args)
        .args(args)
        .env_clear()
        .envs(program.env())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .stderr(writer.try_clone()?)
        .stdout(writer)
        .process_group(0)
        .kill_on_drop(true);
    let (parent, fd_limit) = (Some(rustix::process::getpid()), fd_scan_limit());
    // SAFETY: `confine_child` is async-signal-safe (see there).
    unsafe {
        cmd.pre_exec(move || confine_child(parent, fd_limit));
    }
    let child = cmd.spawn()?;
    let group = child.id().and_then(|id| Pid::from_raw(id.try_into().ok()?));
    // `cmd` holds our copies of the pipe's write end; drop them so the
    // reader sees end-of-file when the program exits.
    drop(cmd);
    let output = pipe::Receiver::from_owned_fd(OwnedFd::from(reader))?;
    RUNNING.fetch_add(1, Ordering::Relaxed);
    Ok(ChildProc {
        child: Some(child),
        group,
        output,
    })
}

impl process::Host for State {
    async fn spawn(
        &mut self,
        program: String,
        args: Vec<String>,
    ) -> wasmtime::Result<Result<Resource<ChildProc>, String>> {
        self.spawn_with_env(program, args, Vec::new()).await
    }

    async fn spawn_with_env(
        &mut self,
        program: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
    ) -> wasmtime::Result<Result<Resource<ChildProc>, String>> {
        let grants = self.grants.clone();
        let granted = match grants.allow_exec_with_env(&program, &args, &env) {
            Ok(p) => p,
            Err(denied) => {
                tracing::warn!(plugin = %self.plugin, ?denied, "refused a program");
                return Ok(Err(denied.to_string()));
            }
        };
        if self.children >= self.grants.max_processes {
            return Ok(Err(
                Denied::TooManyProcesses(self.grants.max_processes).to_string()
            ));
        }
        match start(granted, &args, &env) {
            Ok(child) => {
                self.children += 1;
                Ok(Ok(self.table.push(child)?))
            }
            Err(e) => Ok(Err(format!("starting {program}: {e}"))),
        }
    }
}

impl process::HostChild for State {
    async fn read(
        &mut self,
        child: Resource<ChildProc>,
        max_bytes: u32,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, String>> {
        let child = self.table.get_mut(&child)?;
        let mut buf = super::read_buffer(max_bytes);
        let read = child.output.read(&mut buf).await;
        Ok(super::read_result(buf, read))
    }

    async fn wait(&mut self, child: Resource<ChildProc>) -> wasmtime::Result<Result<i32, String>> {
        let entry = self.table.get_mut(&child)?;
        let proc = entry.child.as_mut().expect("a child is only taken in drop");
        let status = proc.wait().await;
        entry.kill_group();
        Ok(status
            .map(|s| s.code().unwrap_or(-1))
            .map_err(|e| e.to_string()))
    }

    async fn drop(&mut self, child: Resource<ChildProc>) -> wasmtime::Result<()> {
        self.table.delete(child)?;
        self.children -= 1;
        Ok(())
    }
}

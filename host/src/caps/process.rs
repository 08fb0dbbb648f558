//! The `process` capability: granted programs, argv elements only (no
//! shell), cleared environment, stdin closed, working directory `/`, and
//! stdout and stderr on one pipe (the kubelet hands journalctl the same
//! writer for both, so its error text lands in the body in order).

use std::os::fd::OwnedFd;
use std::process::Stdio;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use wasmtime::component::Resource;

use super::grants::{Denied, Program};
use crate::runtime::State;
use crate::runtime::bindings::nodelogd::plugin::process;

/// A running program. Dropping it (the plugin dropped its handle, or the
/// request's store went away) kills the program and reaps it.
pub struct ChildProc {
    child: Option<tokio::process::Child>,
    output: pipe::Receiver,
}

impl Drop for ChildProc {
    fn drop(&mut self) {
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

fn start(program: &Program, args: &[String]) -> std::io::Result<ChildProc> {
    let (reader, writer) = std::io::pipe()?;
    let mut cmd = tokio::process::Command::new(&program.policy.path);
    cmd.args(&program.policy.leading_args)
        .args(args)
        .env_clear()
        .envs(program.env())
        .current_dir("/")
        .stdin(Stdio::null())
        .stderr(writer.try_clone()?)
        .stdout(writer)
        .kill_on_drop(true);
    let child = cmd.spawn()?;
    // `cmd` holds our copies of the pipe's write end; drop them so the
    // reader sees end-of-file when the program exits.
    drop(cmd);
    let output = pipe::Receiver::from_owned_fd(OwnedFd::from(reader))?;
    Ok(ChildProc {
        child: Some(child),
        output,
    })
}

impl process::Host for State {
    async fn spawn(
        &mut self,
        program: String,
        args: Vec<String>,
    ) -> wasmtime::Result<Result<Resource<ChildProc>, String>> {
        let granted = match self.grants.allow_exec(&program, &args) {
            Ok(p) => p,
            Err(denied) => {
                tracing::warn!(plugin = %self.plugin, %denied, "refused a program");
                return Ok(Err(denied.to_string()));
            }
        };
        if self.children >= self.grants.max_processes {
            return Ok(Err(
                Denied::TooManyProcesses(self.grants.max_processes).to_string()
            ));
        }
        match start(granted, &args) {
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
        let proc = self
            .table
            .get_mut(&child)?
            .child
            .as_mut()
            .expect("a child is only taken in drop");
        Ok(proc
            .wait()
            .await
            .map(|s| s.code().unwrap_or(-1))
            .map_err(|e| e.to_string()))
    }

    async fn drop(&mut self, child: Resource<ChildProc>) -> wasmtime::Result<()> {
        self.table.delete(child)?;
        self.children -= 1;
        Ok(())
    }
}

//! Running a program the plugin's grant names (never a shell, never a
//! path), and reading its output.

use crate::SourceError;
use crate::process::{Child, spawn, spawn_with_env};

/// Starts `program` with `args` and, when not empty, `env` set for this
/// run only. A refusal is `denied`: the grant does not allow this.
pub fn start(
    program: &str,
    args: &[String],
    env: &[(String, String)],
) -> Result<Child, SourceError> {
    let started = if env.is_empty() {
        spawn(program, args)
    } else {
        spawn_with_env(program, args, env)
    };
    started.map_err(|e| SourceError::Denied(format!("{program}: {e}")))
}

/// All of a program's output, up to `max_bytes` (more is an error: the
/// caller's bound is on what it is willing to hold).
pub fn output(child: &Child, max_bytes: usize) -> Result<Vec<u8>, SourceError> {
    let mut out = Vec::new();
    while let Some(chunk) = child.read(64 << 10).map_err(SourceError::Io)? {
        if out.len() + chunk.len() > max_bytes {
            return Err(SourceError::Io(format!(
                "program printed more than {max_bytes} bytes"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A program's output as the stream's batches, untouched.
pub struct Output(pub Child);

impl crate::GuestLogStream for Output {
    fn next_batch(&self, max_bytes: u32) -> Result<Option<Vec<u8>>, SourceError> {
        self.0.read(max_bytes).map_err(SourceError::Io)
    }
}

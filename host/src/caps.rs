//! Capabilities: the only ways a plugin can reach outside its sandbox.
//! `grants` is the data (what a plugin may do) and the checks; `process`,
//! `logfile`, `journal` and `log` implement the WIT imports, and each asks the grants
//! first. A refusal is an error value the plugin sees, never a trap.

pub mod grants;
pub mod journal;
mod journal_dirs;
pub mod journal_units;
pub(crate) mod log;
pub mod logfile;
pub mod process;

pub use grants::{Denied, Grants, HostPrograms, Manifest, ProgramPolicy};

/// The host allocates what a guest asks for; this bounds one read.
const MAX_READ: u32 = 1 << 20;

/// A buffer for one read of at most `max_bytes` (at least 1, at most
/// `MAX_READ`).
fn read_buffer(max_bytes: u32) -> Vec<u8> {
    vec![0; max_bytes.clamp(1, MAX_READ) as usize]
}

/// A read's result as the WIT `read` functions return it: `none` at end of
/// input, the bytes read otherwise.
fn read_result(mut buf: Vec<u8>, read: std::io::Result<usize>) -> Result<Option<Vec<u8>>, String> {
    match read {
        Ok(0) => Ok(None),
        Ok(n) => {
            buf.truncate(n);
            Ok(Some(buf))
        }
        Err(e) => Err(e.to_string()),
    }
}

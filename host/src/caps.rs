//! Capabilities: the only ways a plugin can reach outside its sandbox.
//! `grants` is the data (what a plugin may do) and the checks; `process`,
//! `logfile` and `log` implement the WIT imports, and each asks the grants
//! first. A refusal is an error value the plugin sees, never a trap.

pub mod grants;
mod log;
pub mod logfile;
pub mod process;

pub use grants::{Denied, Grants, HostPrograms, Manifest, ProgramPolicy};

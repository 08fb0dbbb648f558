//! The reader's errors. `Unsupported` means "journalctl would answer this,
//! we cannot do so byte for byte": a caller falls back to journalctl.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A page of the file was gone when read (see `map`).
    #[error("{0}: the file shrank or could not be read while mapped; read no further")]
    Faulted(PathBuf),
    #[error("corrupt journal file: {what} at offset {offset}")]
    Corrupt { what: &'static str, offset: u64 },
    #[error("not supported by the native reader: {0}")]
    Unsupported(String),
    #[error("Data from the specified boot ({0:+}) is not available: No such boot ID in journal")]
    NoSuchBoot(i32),
    #[error("--since= must be before --until=.")]
    SinceAfterUntil,
    #[error("Failed to add unit filter for {0:?}: Invalid argument")]
    BadUnit(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn corrupt<T>(what: &'static str, offset: u64) -> Result<T> {
    Err(Error::Corrupt { what, offset })
}

//! Capability errors as the `source-error`s a plugin returns.

use crate::SourceError;
use crate::logfile::OpenError;

/// Opening `path` failed: `denied` when the host refused it, `io`
/// otherwise (a missing file included: the caller decides whether that is
/// an error, usually before calling this).
pub fn open_error(path: &str, e: OpenError) -> SourceError {
    match e {
        OpenError::NotFound => SourceError::Io(format!("{path}: not found")),
        OpenError::IsDirectory => SourceError::Io(format!("{path}: is a directory")),
        OpenError::Denied(why) => SourceError::Denied(format!("{path}: {why}")),
        OpenError::Io(why) => SourceError::Io(format!("{path}: {why}")),
    }
}

/// A read of `path` failed.
pub fn read_error(path: &str, why: impl std::fmt::Display) -> SourceError {
    SourceError::Io(format!("reading {path}: {why}"))
}

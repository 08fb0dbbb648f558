//! The plain file server over the log root: what the kubelet's
//! `http.FileServer(http.Dir("/var/log/"))` answers for `/logs/<path>` and
//! for a single `query=<file>`, with Go's redirects, listing and status
//! codes. The difference: every path goes through `LogRoot`, so a symlink
//! that leaves the root is refused (403) where Go would follow it.

mod listing;
mod mime;

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

use http::{HeaderValue, Response, StatusCode, header};

use crate::logroot::{Entry, LogRoot, RootError};
use crate::reply;
use crate::stream::{self, Body};

/// Raw file bodies are read in chunks of this size.
const CHUNK: usize = 256 << 10;

/// Serves `path` (percent-decoded, relative to the root), as Go's
/// `FileServer` does after `StripPrefix("/logs/")`.
pub fn serve(root: &LogRoot, path: &str, query: Option<&str>) -> Response<Body> {
    let url = rooted(path);
    if url.ends_with("/index.html") {
        return reply::redirect("./", query);
    }
    let name = clean(&url);
    match root.open_entry(&name) {
        Ok(entry) => respond(root, &url, &name, entry, query),
        Err(RootError::NotFound) => reply::not_found(),
        Err(RootError::Io(e)) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            reply::error(StatusCode::FORBIDDEN, "403 Forbidden")
        }
        Err(RootError::Io(_)) => reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 Internal Server Error",
        ),
        Err(refused) => {
            tracing::warn!(path = %name, %refused, "refused a path outside the log root");
            reply::error(StatusCode::FORBIDDEN, "403 Forbidden")
        }
    }
}

/// Serves a single `query=<file>` from the entry its validation already
/// opened, so the file checked is the file served.
pub fn serve_opened(
    root: &LogRoot,
    path: &str,
    entry: Entry,
    query: Option<&str>,
) -> Response<Body> {
    let url = rooted(path);
    if url.ends_with("/index.html") {
        return reply::redirect("./", query);
    }
    respond(root, &url, &clean(&url), entry, query)
}

/// Go's redirects for a directory without its trailing slash and a file
/// with one, then the listing (or `index.html`) or the file itself.
fn respond(
    root: &LogRoot,
    url: &str,
    name: &str,
    entry: Entry,
    query: Option<&str>,
) -> Response<Body> {
    let base = name.rsplit('/').next().unwrap_or_default();
    match entry {
        Entry::Dir(_) if !url.ends_with('/') => reply::redirect(&format!("{base}/"), query),
        Entry::File(_) if url.ends_with('/') => reply::redirect(&format!("../{base}"), query),
        Entry::Dir(dir) => match root.open_entry(&format!("{name}/index.html")) {
            Ok(Entry::File(index)) => file("index.html", index),
            _ => listing::respond(dir),
        },
        Entry::File(f) => file(base, f),
    }
}

fn rooted(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// Streams a regular file, with Go's headers (type by extension, else
/// sniffed from the first 512 bytes; length; modification time).
fn file(name: &str, mut f: std::fs::File) -> Response<Body> {
    let meta = f.metadata().ok();
    let mut head = [0u8; 512];
    let sniffed = f.read_at(&mut head, 0).unwrap_or(0);
    let body = stream::spawn(false, move |mut sink| async move {
        let mut buf = vec![0u8; CHUNK];
        // Plain reads on the task: see `caps::logfile` for why.
        while let Ok(n @ 1..) = f.read(&mut buf) {
            if sink.send(&buf[..n]).await.is_err() {
                break;
            }
        }
        sink
    });
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(mime::content_type(name, &head[..sniffed])),
    );
    if let Some(meta) = &meta {
        headers.insert(header::CONTENT_LENGTH, meta.len().into());
        if let Some(modified) = meta.modified().ok().and_then(http_date) {
            headers.insert(header::LAST_MODIFIED, modified);
        }
    }
    resp
}

fn http_date(t: SystemTime) -> Option<HeaderValue> {
    let t: chrono::DateTime<chrono::Utc> = t.into();
    HeaderValue::try_from(t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
}

/// Go's `path.Clean` for a rooted path: `.` and `..` resolved lexically
/// (clamped at `/`), repeated slashes folded.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn clean_like_go() {
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("/a//b/./c/.."), "/a/b");
        assert_eq!(clean("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(clean("/a/"), "/a");
    }
}

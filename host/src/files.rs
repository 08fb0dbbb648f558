//! The plain file server over the log root: what the kubelet's
//! `http.FileServer(http.Dir("/var/log/"))` answers for `/logs/<path>` and
//! for a single `query=<file>`, with Go's redirects, listing and status
//! codes. The differences: every path goes through `LogRoot`, so a symlink
//! that leaves the root is refused (403) where Go would follow it; a
//! redirect's `Location` is percent-escaped; and in query mode redirects
//! lead to the path-mode URL, which works, not to a 406.
//!
//! All file-system work (open, stat, read, list) runs on tokio's blocking
//! threads, never on the async workers, so a slow disk or a huge directory
//! cannot stall other requests (or `/healthz`). The caller admits each
//! request first (`admission`); its permit is held until the body ends.

mod escape;
mod listing;
mod mime;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::SystemTime;

use http::{HeaderValue, Response, StatusCode, header};

use crate::admission::Permit;
use crate::logroot::{self, Entry, ListError, Listing, LogRoot, RootError};
use crate::metrics::Kind;
use crate::reply;
use crate::stream::{self, Body, Closed};

/// Raw file bodies are read in chunks of this size. A stalled response
/// holds about four chunks of the response budget (one in hyper, two in
/// the channel, one being sent): at 64 KiB, every file and query slot
/// stalled at once holds 8 MiB, half the default budget, so stalled file
/// readers cannot starve service queries of it (at 256 KiB, 13 did).
const CHUNK: usize = 64 << 10;

/// A directory whose listing would hold more than this (names plus 8 bytes
/// an entry; about 400,000 entries of 32-byte names) is refused with a 500:
/// with the file-request limit this bounds listing memory.
const MAX_LISTING_BYTES: usize = 16 << 20;

/// How the client named the file, which decides where redirects point.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    /// `/logs/<path>`: Go's relative redirects, the query string kept.
    Path { query: Option<&'a str> },
    /// `/logs/?query=<file>`: the page is the log root, so a redirect names
    /// the path-mode URL of the cleaned name, relative to the page, without
    /// the query (which would make it a 406). `root` leads from the page
    /// to the log root: `""` from `/logs/`, `"logs/"` from `/logs`.
    Query { root: &'static str },
}

/// What the blocking half found; the async half answers it.
enum Prepared {
    /// A directory named without a trailing slash (or, in query mode, any
    /// directory but the root), or a file named with one.
    Redirect {
        dir: bool,
    },
    File(Opened),
    Listing(Listing),
    Open(RootError),
    List(ListError),
}

struct Opened {
    file: File,
    content_type: &'static str,
    len: Option<u64>,
    modified: Option<SystemTime>,
    /// The whole file, read with the checks when it is no longer than a
    /// chunk: its body then needs no second trip to a blocking thread, no
    /// producer task and no channel, which were most of a small file's
    /// cost (thread wake-ups, in a profile under wrk).
    whole: Option<Vec<u8>>,
}

/// Runs blocking file-system work on tokio's blocking threads.
pub async fn off_worker<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// [`LogRoot::open_entry`], off the async workers.
pub async fn open(root: &Arc<LogRoot>, path: String) -> Result<Entry, RootError> {
    let root = root.clone();
    off_worker(move || root.open_entry(path)).await
}

/// Serves `path` (percent-decoded bytes, relative to the root), as Go's
/// `FileServer` does after `StripPrefix("/logs/")`.
pub async fn serve(
    root: Arc<LogRoot>,
    path: Vec<u8>,
    via: Via<'_>,
    permit: Permit,
) -> Response<Body> {
    let url = rooted(path);
    if let Some(resp) = index_redirect(&url, via) {
        return resp;
    }
    let name = clean(&url);
    if name.contains(&0) {
        // No name on disk holds a NUL. Go's open fails with EINVAL and
        // answers 500; it is the client's error, and names nothing: 404.
        return reply::not_found();
    }
    let named = Named::new(&url, &name, via);
    let prepared = {
        let name = name.clone();
        off_worker(move || match root.open_entry(&name) {
            Ok(entry) => prepare(&root, &name, named, entry),
            Err(e) => Prepared::Open(e),
        })
        .await
    };
    respond(prepared, &name, via, permit).await
}

/// Serves a single `query=<file>` from the entry its validation already
/// opened, so the file checked is the file served.
pub async fn serve_opened(
    root: Arc<LogRoot>,
    path: &str,
    entry: Entry,
    via: Via<'_>,
    permit: Permit,
) -> Response<Body> {
    let url = rooted(path.as_bytes().to_vec());
    if let Some(resp) = index_redirect(&url, via) {
        return resp;
    }
    let name = clean(&url);
    let named = Named::new(&url, &name, via);
    let prepared = {
        let name = name.clone();
        off_worker(move || prepare(&root, &name, named, entry)).await
    };
    respond(prepared, &name, via, permit).await
}

/// How the URL named the entry, for Go's redirects.
#[derive(Debug, Clone, Copy)]
struct Named {
    /// A directory may be listed at this URL (else it is redirected to one
    /// where it may): the listing's relative `href`s must resolve.
    listable: bool,
    /// With a trailing slash, which a file's URL must not have.
    with_slash: bool,
}

impl Named {
    fn new(url: &[u8], name: &[u8], via: Via<'_>) -> Self {
        let with_slash = url.ends_with(b"/");
        let listable = match via {
            Via::Path { .. } => with_slash,
            Via::Query { .. } => name == b"/",
        };
        Named {
            listable,
            with_slash,
        }
    }
}

/// Blocking: Go's checks of the opened entry, then what to send.
fn prepare(root: &LogRoot, name: &[u8], named: Named, entry: Entry) -> Prepared {
    match entry {
        Entry::Dir(_) if !named.listable => Prepared::Redirect { dir: true },
        Entry::File(_) if named.with_slash => Prepared::Redirect { dir: false },
        Entry::Dir(dir) => match root.open_entry([name, b"/index.html"].concat()) {
            Ok(Entry::File(index)) => Prepared::File(opened(b"index.html", index)),
            _ => match logroot::list(dir, MAX_LISTING_BYTES) {
                Ok(listing) => Prepared::Listing(listing),
                Err(e) => Prepared::List(e),
            },
        },
        Entry::File(f) => Prepared::File(opened(base(name), f)),
    }
}

/// Blocking: Go's headers for a file (type by extension, else sniffed from
/// the first 512 bytes; length; modification time), and a small file's
/// bytes: as many as its length says, as Go's `ServeContent` copies (what
/// was read before an error is sent, as a streamed body sends it).
fn opened(name: &[u8], file: File) -> Opened {
    let meta = file.metadata().ok();
    let len = meta.as_ref().map(|m| m.len());
    let whole = len.filter(|&len| len <= CHUNK as u64).map(|len| {
        let mut buf = Vec::with_capacity(len as usize);
        let _ = (&file).take(len).read_to_end(&mut buf);
        buf
    });
    let mut head = [0u8; 512];
    let head = match &whole {
        Some(bytes) => &bytes[..bytes.len().min(head.len())],
        None => {
            let sniffed = file.read_at(&mut head, 0).unwrap_or(0);
            &head[..sniffed]
        }
    };
    Opened {
        content_type: mime::content_type(&String::from_utf8_lossy(name), head),
        len,
        modified: meta.and_then(|m| m.modified().ok()),
        whole,
        file,
    }
}

async fn respond(prepared: Prepared, name: &[u8], via: Via<'_>, permit: Permit) -> Response<Body> {
    match prepared {
        Prepared::Redirect { dir } => redirect(via, name, dir),
        Prepared::File(opened) => file(opened, permit).await,
        Prepared::Listing(listing) => {
            let body = blocking_body(permit, move |send| {
                let _ = listing::render(&listing, send);
            });
            let mut resp = Response::new(body);
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            resp.extensions_mut().insert(Kind::Listing);
            resp
        }
        Prepared::Open(e) => open_failed(name, e),
        Prepared::List(e) => {
            tracing::warn!(path = ?String::from_utf8_lossy(name), error = %e, "listing failed");
            reply::error(StatusCode::INTERNAL_SERVER_ERROR, "Error reading directory")
        }
    }
}

/// Go's `toHTTPError`, plus 403 for a path that leaves the root.
fn open_failed(name: &[u8], e: RootError) -> Response<Body> {
    match e {
        RootError::NotFound => reply::not_found(),
        RootError::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            reply::error(StatusCode::FORBIDDEN, "403 Forbidden")
        }
        RootError::Io(_) => reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 Internal Server Error",
        ),
        refused => {
            // Escaped (Debug): the name comes from the URL.
            tracing::warn!(path = ?String::from_utf8_lossy(name), %refused, "refused a path outside the log root");
            reply::error(StatusCode::FORBIDDEN, "403 Forbidden")
        }
    }
}

/// Go redirects `…/index.html` to its directory before opening anything.
fn index_redirect(url: &[u8], via: Via<'_>) -> Option<Response<Body>> {
    let dir = url.strip_suffix(b"/index.html")?;
    Some(match via {
        Via::Path { query } => reply::redirect("./", query),
        Via::Query { .. } => redirect(via, &clean(dir), true),
    })
}

/// A 301 to `name` (cleaned) as a directory or a file, its `Location`
/// percent-escaped as Go escapes `href`s: Go sends the raw name, which
/// breaks on `?`, `#`, newlines (dropped from the header) and non-UTF-8.
fn redirect(via: Via<'_>, name: &[u8], dir: bool) -> Response<Body> {
    let mut location = Vec::new();
    let query = match via {
        Via::Path { query } if dir => {
            escape::url_path(base(name), &mut location);
            location.push(b'/');
            query
        }
        Via::Path { query } => {
            location.extend_from_slice(b"../");
            escape::escape_path(base(name), &mut location);
            query
        }
        Via::Query { root } => {
            let relative = name.strip_prefix(b"/").unwrap_or(name);
            location.extend_from_slice(root.as_bytes());
            escape::url_path(relative, &mut location);
            if dir && !relative.is_empty() {
                location.push(b'/');
            }
            if location.is_empty() {
                location.extend_from_slice(b"./");
            }
            None
        }
    };
    // Escaped, so ASCII: the conversion never replaces anything.
    reply::redirect(&String::from_utf8_lossy(&location), query)
}

async fn file(opened: Opened, permit: Permit) -> Response<Body> {
    let Opened {
        mut file,
        content_type,
        len,
        modified,
        whole,
    } = opened;
    let (body, len) = match whole {
        // The length of what is sent: the file may have shrunk since.
        Some(bytes) => {
            let len = bytes.len() as u64;
            (stream::whole(bytes, permit).await, Some(len))
        }
        None => {
            let body = blocking_body(permit, move |send| {
                // A fresh buffer per chunk, which the body then owns: no
                // copy between the file and the socket's writes.
                loop {
                    let mut buf = Vec::with_capacity(CHUNK);
                    // What was read before an error is in `buf`, and is sent.
                    let read = (&mut file).take(CHUNK as u64).read_to_end(&mut buf);
                    if buf.is_empty() || send(buf).is_err() || !matches!(read, Ok(CHUNK)) {
                        break;
                    }
                }
            });
            (body, len)
        }
    };
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(len) = len {
        headers.insert(header::CONTENT_LENGTH, len.into());
    }
    if let Some(modified) = modified.and_then(http_date) {
        headers.insert(header::LAST_MODIFIED, modified);
    }
    resp
}

/// A body that `produce` writes on a blocking thread, through a `send` that
/// waits while the client is behind and fails once it has gone. The
/// request's permit is held until then.
fn blocking_body<F>(permit: Permit, produce: F) -> Body
where
    F: FnOnce(&mut dyn FnMut(Vec<u8>) -> Result<(), Closed>) + Send + 'static,
{
    let runtime = tokio::runtime::Handle::current();
    stream::spawn(false, move |mut sink| async move {
        off_worker(move || {
            let _permit = permit;
            produce(&mut |chunk| runtime.block_on(sink.send(chunk)));
            sink
        })
        .await
    })
}

fn http_date(t: SystemTime) -> Option<HeaderValue> {
    let t: chrono::DateTime<chrono::Utc> = t.into();
    HeaderValue::try_from(t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).ok()
}

fn rooted(path: Vec<u8>) -> Vec<u8> {
    if path.starts_with(b"/") {
        path
    } else {
        [&b"/"[..], &path].concat()
    }
}

/// The last component of a cleaned path.
fn base(name: &[u8]) -> &[u8] {
    name.rsplit(|&b| b == b'/').next().unwrap_or_default()
}

/// Go's `path.Clean` for a rooted path: `.` and `..` resolved lexically
/// (clamped at `/`), repeated slashes folded.
pub fn clean(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = Vec::with_capacity(path.len() + 1);
    for part in &parts {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn a_refused_path_is_logged_escaped() {
        // Pins: the decoded path was logged raw (Display), so `%0A`, ESC
        // and NUL in a URL forged lines in nodelogd's own log.
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = {
            let log = log.clone();
            move || Capture(log.clone())
        };
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .finish();
        let resp = tracing::subscriber::with_default(subscriber, || {
            open_failed(b"/x\nFAKE\x1b[31m\0", RootError::Escapes)
        });
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        let log = String::from_utf8(log.lock().unwrap().clone()).unwrap();
        assert!(log.contains(r#"path="/x\nFAKE\u{1b}[31m\0""#), "{log}");
        assert_eq!(log.lines().count(), 1, "{log}");
    }

    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn clean_like_go() {
        assert_eq!(clean(b"/"), b"/");
        assert_eq!(clean(b"/a//b/./c/.."), b"/a/b");
        assert_eq!(clean(b"/../../etc/passwd"), b"/etc/passwd");
        assert_eq!(clean(b"/a/"), b"/a");
        assert_eq!(clean(b"/caf\xe9/"), b"/caf\xe9");
    }
}

//! The file server over the log root, and every way out of it: `..`,
//! encoded `..`, symlinks out (absolute and relative), link loops. Links
//! that stay inside, absolute ones included, must keep working. Names that
//! are not UTF-8 or hold a newline, in a log root of their own.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use nodelogd::cli::ServeArgs;
use nodelogd_tests::http;
use nodelogd_tests::logtree::{FILELOGGED, POD_LOG, SECRET};

use crate::fixture;

#[track_caller]
fn refused(target: &str, status: u16) {
    let resp = http::get(fixture().addr, target);
    assert_eq!(resp.status, status, "{target}: {}", resp.text());
    assert!(
        !resp.text().contains(SECRET.trim()),
        "{target} leaked the secret"
    );
}

#[test]
fn listing_is_go_markup_sorted_with_escaped_names() {
    let resp = http::get(fixture().addr, "/logs/");
    assert_eq!(
        resp.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        resp.text(),
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n\
         <a href=\"abs-escape.log\">abs-escape.log</a>\n\
         <a href=\"containers/\">containers/</a>\n\
         <a href=\"escapee.log\">escapee.log</a>\n\
         <a href=\"etc\">etc</a>\n\
         <a href=\"filelogged.log\">filelogged.log</a>\n\
         <a href=\"journal/\">journal/</a>\n\
         <a href=\"loop-a\">loop-a</a>\n\
         <a href=\"loop-b\">loop-b</a>\n\
         <a href=\"odd%20name%3F%23.log\">odd name?#.log</a>\n\
         <a href=\"onlydir/\">onlydir/</a>\n\
         <a href=\"plainname\">plainname</a>\n\
         <a href=\"podlink\">podlink</a>\n\
         <a href=\"pods/\">pods/</a>\n\
         <a href=\"rel-escape.log\">rel-escape.log</a>\n\
         <a href=\"svcdir/\">svcdir/</a>\n\
         <a href=\"syslog.1.gz\">syslog.1.gz</a>\n\
         </pre>\n"
    );
    assert_eq!(
        http::get(fixture().addr, "/logs").text(),
        resp.text(),
        "/logs is /logs/"
    );
    let escaped = http::get(fixture().addr, "/logs/odd%20name%3F%23.log");
    assert_eq!(escaped.text(), "odd\n");
}

#[test]
fn raw_files_with_types_and_redirects() {
    let resp = http::get(fixture().addr, "/logs/filelogged.log");
    assert_eq!((resp.status, resp.text().as_str()), (200, FILELOGGED));
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        resp.header("content-length"),
        Some(FILELOGGED.len().to_string().as_str())
    );
    assert!(
        resp.header("last-modified")
            .is_some_and(|v| v.ends_with(" GMT"))
    );
    assert_eq!(
        http::get(fixture().addr, "/logs/syslog.1.gz").header("content-type"),
        Some("application/gzip")
    );

    let resp = http::get(fixture().addr, "/logs/containers");
    assert_eq!(
        (resp.status, resp.header("location")),
        (301, Some("containers/"))
    );
    let resp = http::get(fixture().addr, "/logs/filelogged.log/");
    assert_eq!(
        (resp.status, resp.header("location")),
        (301, Some("../filelogged.log"))
    );
    assert!(
        http::get(fixture().addr, "/logs/containers/")
            .text()
            .contains("<a href=\"relative.log\">relative.log</a>")
    );
}

#[test]
fn in_root_symlinks_work_absolute_and_relative() {
    let abs = fixture()
        .logs
        .root
        .join("containers/web-1_default_app-abc.log");
    assert!(std::fs::read_link(&abs).unwrap().is_absolute());
    for target in [
        "/logs/containers/web-1_default_app-abc.log",
        "/logs/containers/relative.log",
        "/logs/?query=/containers/web-1_default_app-abc.log",
        "/logs/?query=containers/relative.log",
    ] {
        let resp = http::get(fixture().addr, target);
        assert_eq!(
            (resp.status, resp.text().as_str()),
            (200, POD_LOG),
            "{target}"
        );
    }
}

#[test]
fn a_file_query_serves_the_file_it_checked() {
    // `..` after a symlinked directory climbs from the link's target, as the
    // check resolved it, not from where the link sits.
    let resp = http::get(
        fixture().addr,
        "/logs/?query=/podlink/../default_web-1_uid/app/0.log",
    );
    assert_eq!((resp.status, resp.text().as_str()), (200, POD_LOG));
}

#[test]
fn paths_cannot_leave_the_root() {
    assert!(fixture().logs.secret.exists());
    // Lexical `..` is clamped at the root, as Go's file server does: these
    // name <root>/secret, which does not exist.
    refused("/logs/../secret", 404);
    refused("/logs/%2e%2e/secret", 404);
    refused("/logs/..%2fsecret", 404);
    refused("/logs/pods/%2E%2E/%2E%2E/%2E%2E/secret", 404);
    // ...and this one lands on the root's `etc -> /etc` link: refused.
    refused("/logs/pods/%2E%2E/%2E%2E/%2E%2E/etc/passwd", 403);
    // Links out of the root are refused outright.
    refused("/logs/abs-escape.log", 403);
    refused("/logs/rel-escape.log", 403);
    refused("/logs/etc/passwd", 403);
    refused("/logs/loop-a", 403);
    let root = fixture().logs.root.display().to_string();
    let resp = http::get(fixture().addr, "/logs/?query=/abs-escape.log");
    assert_eq!(
        (resp.status, resp.text()),
        (
            406,
            format!(
                "query: Invalid value: [\"/abs-escape.log\"]: stat {root}/abs-escape.log: path escapes from parent\n"
            )
        )
    );
    let resp = http::get(fixture().addr, "/logs/?query=/../secret");
    assert_eq!(resp.status, 406);
    assert!(
        resp.text().ends_with("path escapes from parent\n"),
        "{}",
        resp.text()
    );
    let resp = http::get(fixture().addr, "/logs/?query=/loop-a");
    assert!(
        resp.text().ends_with("too many levels of symbolic links\n"),
        "{}",
        resp.text()
    );
    // The service fallback goes through the same resolver.
    let resp = http::get(fixture().addr, "/logs/?query=escapee");
    assert_eq!(
        resp.text(),
        "\nerror getting log for escapee: path escapes from parent\n"
    );
}

#[test]
fn health_and_unknown_paths() {
    let resp = http::get(fixture().addr, "/healthz");
    assert_eq!((resp.status, resp.text().as_str()), (200, "ok"));
    assert_eq!(http::get(fixture().addr, "/logsx").status, 404);
    assert_eq!(
        http::get(fixture().addr, "/stats/summary").text(),
        "404 page not found\n"
    );
}

pub const LATIN1: &[u8] = b"caf\xe9.log";
pub const LATIN1_TEXT: &str = "written in latin-1\n";
/// Pins: a file no longer than a body chunk (64 KiB) is read with its
/// checks and sent whole, a longer one is streamed in chunks; either way
/// the bytes, the length and the type sniffed from the first 512 bytes
/// (text, or binary at any of them) are the file's, at every size around
/// both edges.
#[test]
fn files_of_every_size_around_a_chunk_are_served_whole() {
    let root = fixture().base.join("sizes-log");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let sizes = [
        0,
        1,
        511,
        512,
        513,
        (64 << 10) - 1,
        64 << 10,
        (64 << 10) + 1,
        200_000,
    ];
    let text = |n: usize| -> Vec<u8> { (0..n).map(|i| b'a' + (i % 26) as u8).collect() };
    for n in sizes {
        std::fs::write(root.join(format!("text-{n}")), text(n)).unwrap();
        let mut binary = text(n);
        if let Some(last) = binary.get_mut(n.min(512).saturating_sub(1)) {
            *last = 0;
        }
        std::fs::write(root.join(format!("binary-{n}")), binary).unwrap();
    }
    let addr = fixture().serve_root(&root, ServeArgs::default());
    for n in sizes {
        for kind in ["text", "binary"] {
            let resp = http::get(addr, &format!("/logs/{kind}-{n}"));
            let want = std::fs::read(root.join(format!("{kind}-{n}"))).unwrap();
            assert_eq!(resp.status, 200, "{kind}-{n}");
            assert!(resp.body == want, "{kind}-{n}: {} bytes", resp.body.len());
            assert_eq!(
                resp.header("content-length"),
                Some(n.to_string().as_str()),
                "{kind}-{n}"
            );
            let binary = kind == "binary" && n > 0;
            let sniffed = if binary {
                "application/octet-stream"
            } else {
                "text/plain; charset=utf-8"
            };
            assert_eq!(resp.header("content-type"), Some(sniffed), "{kind}-{n}");
        }
    }
}

/// A sparse file, larger than loopback socket buffers: a client that does
/// not read keeps its request running.
pub const BIG: &str = "big.bin";

/// A log root with awkward names, and a server over it.
pub fn odd() -> &'static (PathBuf, std::net::SocketAddr) {
    static ODD: OnceLock<(PathBuf, std::net::SocketAddr)> = OnceLock::new();
    ODD.get_or_init(|| {
        let root = fixture().base.join("odd-log");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("new\nline")).unwrap();
        std::fs::write(root.join(std::ffi::OsStr::from_bytes(LATIN1)), LATIN1_TEXT).unwrap();
        std::fs::File::create(root.join(BIG))
            .unwrap()
            .set_len(64 << 20)
            .unwrap();
        let addr = fixture().serve_root(&root, ServeArgs::default());
        (root, addr)
    })
}

#[test]
fn names_that_are_not_utf8_are_listed_and_served() {
    // Pins: paths were decoded as lossy UTF-8 (404, and hrefs of U+FFFD).
    let addr = odd().1;
    let listing = http::get(addr, "/logs/");
    assert_eq!(listing.status, 200);
    let line = b"<a href=\"caf%E9.log\">caf\xe9.log</a>\n";
    assert!(
        listing.body.windows(line.len()).any(|w| w == line),
        "{}",
        listing.text()
    );
    let resp = http::get(addr, "/logs/caf%E9.log");
    assert_eq!((resp.status, resp.text().as_str()), (200, LATIN1_TEXT));
}

#[test]
fn a_redirect_location_is_escaped() {
    // Pins: a newline in the name left the 301 without a Location.
    let addr = odd().1;
    let resp = http::get(addr, "/logs/new%0Aline");
    assert_eq!(
        (resp.status, resp.header("location")),
        (301, Some("new%0Aline/"))
    );
    assert_eq!(http::get(addr, "/logs/new%0Aline/").status, 200);
    let resp = http::get(addr, "/logs/caf%E9.log/?x=1");
    assert_eq!(
        (resp.status, resp.header("location")),
        (301, Some("../caf%E9.log?x=1"))
    );
}

#[test]
fn a_file_query_for_a_directory_redirects_to_its_listing() {
    // Pins: the redirect kept `?query=/containers`, so its target was a 406.
    for (target, location) in [
        ("/logs/?query=/containers", "containers/"),
        ("/logs?query=/containers", "logs/containers/"),
        ("/logs/?query=/podlink/", "podlink/"),
        (
            "/logs/?query=pods/default_web-1_uid",
            "pods/default_web-1_uid/",
        ),
        ("/logs/?query=/filelogged.log/", "filelogged.log"),
    ] {
        let resp = http::get(fixture().addr, target);
        assert_eq!(
            (resp.status, resp.header("location")),
            (301, Some(location)),
            "{target}"
        );
    }
    let followed = http::get(fixture().addr, "/logs/containers/");
    assert_eq!(followed.status, 200);
    assert!(followed.text().contains("relative.log"));
    // The root itself is listed where it is asked for.
    let resp = http::get(fixture().addr, "/logs/?query=/");
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[test]
fn a_nul_in_a_path_is_not_found() {
    // Pins: `%00` reached open(2) and answered 500.
    for target in ["/logs/a%00b", "/logs/containers/%00", "/logs/%00/x"] {
        let resp = http::get(fixture().addr, target);
        assert_eq!(
            (resp.status, resp.text().as_str()),
            (404, "404 page not found\n"),
            "{target}"
        );
    }
}

/// `count` entries (symlinks, one syscall each; every 1000th a directory)
/// named so that creation order is not name order.
pub fn many_entries(dir: &Path, count: usize) -> Vec<(Vec<u8>, bool)> {
    std::fs::create_dir_all(dir).unwrap();
    let mut names: Vec<(Vec<u8>, bool)> = (0..count)
        .map(|i| {
            let name = format!("{:05}-{}.log", (i * 7919) % count, i % 3);
            let is_dir = i % 1000 == 0;
            let path = dir.join(&name);
            if is_dir {
                std::fs::create_dir(&path).unwrap();
            } else {
                std::os::unix::fs::symlink("target", &path).unwrap();
            }
            (name.into_bytes(), is_dir)
        })
        .collect();
    names.sort();
    names
}

/// Go's markup for `names` (sorted; plain names).
pub fn go_listing(names: &[(Vec<u8>, bool)]) -> Vec<u8> {
    let mut out =
        b"<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n"
            .to_vec();
    for (name, is_dir) in names {
        let slash: &[u8] = if *is_dir { b"/" } else { b"" };
        for part in [
            &b"<a href=\""[..],
            name,
            slash,
            b"\">",
            name,
            slash,
            b"</a>\n",
        ] {
            out.extend_from_slice(part);
        }
    }
    out.extend_from_slice(b"</pre>\n");
    out
}

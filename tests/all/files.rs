//! The file server over the log root, and every way out of it: `..`,
//! encoded `..`, symlinks out (absolute and relative), link loops. Links
//! that stay inside, absolute ones included, must keep working.

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
    let resp = http::get(fixture().addr, "/logs/?query=/containers");
    assert_eq!(
        (resp.status, resp.header("location")),
        (301, Some("containers/?query=/containers"))
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
        http::get(fixture().addr, "/metrics").text(),
        "404 page not found\n"
    );
}

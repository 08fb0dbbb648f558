//! Go 1.23+'s `dirList` markup, byte for byte: clients (`kubectl
//! node-logs`, `oc adm node-logs`) scrape its `href`s.

use std::os::fd::OwnedFd;

use http::{Response, StatusCode};

use crate::logroot;
use crate::reply;
use crate::stream::Body;

pub fn respond(dir: OwnedFd) -> Response<Body> {
    match logroot::list(dir) {
        Ok(items) => reply::full(StatusCode::OK, "text/html; charset=utf-8", render(&items)),
        Err(_) => reply::error(StatusCode::INTERNAL_SERVER_ERROR, "Error reading directory"),
    }
}

fn render(items: &[logroot::DirItem]) -> String {
    let mut out = String::from(
        "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n",
    );
    for item in items {
        let name = if item.is_dir {
            format!("{}/", item.name)
        } else {
            item.name.clone()
        };
        out.push_str(&format!(
            "<a href=\"{}\">{}</a>\n",
            url_path(&name),
            html_escape(&name)
        ));
    }
    out.push_str("</pre>\n");
    out
}

/// `url.URL{Path: name}.String()`: escape all but unreserved characters and
/// `$&+,/:;=@`, and prefix `./` when the first segment has a colon (so it
/// cannot read as a scheme).
fn url_path(name: &str) -> String {
    let mut out = String::new();
    let first = name.split('/').next().unwrap_or_default();
    if first.contains(':') {
        out.push_str("./");
    }
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use logroot::DirItem;

    #[test]
    fn markup_matches_go() {
        let items = [
            DirItem {
                name: "a b?.log".into(),
                is_dir: false,
            },
            DirItem {
                name: "c:d".into(),
                is_dir: false,
            },
            DirItem {
                name: "pods".into(),
                is_dir: true,
            },
            DirItem {
                name: "<x>&'\"".into(),
                is_dir: false,
            },
        ];
        assert_eq!(
            render(&items),
            "<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n\
             <a href=\"a%20b%3F.log\">a b?.log</a>\n\
             <a href=\"./c:d\">c:d</a>\n\
             <a href=\"pods/\">pods/</a>\n\
             <a href=\"%3Cx%3E&%27%22\">&lt;x&gt;&amp;&#39;&#34;</a>\n\
             </pre>\n"
        );
    }
}

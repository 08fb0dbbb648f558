//! A directory listing (the Go file server's HTML, which both the kubelet
//! and nodelogd send) printed as one entry per line.

/// Whether a response is a listing: HTML that starts as Go's `dirList` does
/// (`<!doctype html>` since Go 1.21, a bare `<pre>` before).
pub fn is_listing(content_type: &str, first_bytes: &[u8]) -> bool {
    content_type.starts_with("text/html")
        && (first_bytes.starts_with(b"<!doctype html>") || first_bytes.starts_with(b"<pre>"))
}

/// The entry named by one listing line, `<a href="URL">NAME</a>`, unescaped;
/// `None` for the markup around the entries.
pub fn entry(line: &[u8]) -> Option<Vec<u8>> {
    let rest = line.strip_prefix(b"<a href=\"")?;
    let start = rest.windows(2).position(|w| w == b"\">")? + 2;
    let name = &rest[start..];
    let end = name.windows(4).rposition(|w| w == b"</a>")?;
    Some(unescape_html(&name[..end]))
}

/// The inverse of Go's `htmlReplacer`, the only escaping `dirList` applies
/// to names.
fn unescape_html(s: &[u8]) -> Vec<u8> {
    const ENTITIES: [(&[u8], u8); 5] = [
        (b"&amp;", b'&'),
        (b"&lt;", b'<'),
        (b"&gt;", b'>'),
        (b"&#34;", b'"'),
        (b"&#39;", b'\''),
    ];
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    'outer: while i < s.len() {
        if s[i] == b'&' {
            for (entity, c) in ENTITIES {
                if s[i..].starts_with(entity) {
                    out.push(c);
                    i += entity.len();
                    continue 'outer;
                }
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_listing_lines() {
        assert!(is_listing(
            "text/html; charset=utf-8",
            b"<!doctype html>\n<meta"
        ));
        assert!(is_listing("text/html; charset=utf-8", b"<pre>\n"));
        assert!(!is_listing("text/plain; charset=utf-8", b"<pre>\n"));
        assert_eq!(entry(b"<a href=\"pods/\">pods/</a>\n").unwrap(), b"pods/");
        assert_eq!(
            entry(b"<a href=\"%3Cx%3E&%27%22\">&lt;x&gt;&amp;&#39;&#34;</a>\n").unwrap(),
            b"<x>&'\""
        );
        assert_eq!(entry(b"<pre>\n"), None);
        assert_eq!(entry(b"</pre>\n"), None);
    }
}

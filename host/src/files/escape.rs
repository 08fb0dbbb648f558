//! Go's escaping of names for URLs and HTML, on raw bytes: names on disk
//! need not be UTF-8, and Go passes their bytes through unchanged. Written
//! straight into the output: a listing escapes every name it holds.

/// `url.URL{Path: name}.String()`: escape all but unreserved characters and
/// `$&+,/:;=@`, and prefix `./` when the first segment has a colon (so it
/// cannot read as a scheme).
pub fn url_path(name: &[u8], out: &mut Vec<u8>) {
    let first = name.split(|&b| b == b'/').next().unwrap_or_default();
    if first.contains(&b':') {
        out.extend_from_slice(b"./");
    }
    escape_path(name, out);
}

/// The escaping of [`url_path`] alone.
pub fn escape_path(name: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in name {
        if b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// Go's `htmlReplacer`.
pub fn html(name: &[u8], out: &mut Vec<u8>) {
    for &b in name {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&#34;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            b => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(name: &[u8]) -> String {
        let mut out = Vec::new();
        url_path(name, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn like_go() {
        assert_eq!(url(b"a b?.log"), "a%20b%3F.log");
        assert_eq!(url(b"c:d/"), "./c:d/");
        assert_eq!(url(b"caf\xe9\n.log"), "caf%E9%0A.log");
        let mut out = Vec::new();
        escape_path(b"c:d", &mut out);
        assert_eq!(out, b"c:d");
        let mut out = Vec::new();
        html(b"<x>&'\"\xff", &mut out);
        assert_eq!(out, b"&lt;x&gt;&amp;&#39;&#34;\xff");
    }
}

//! Go 1.23+'s `dirList` markup, byte for byte: clients (`kubectl
//! node-logs`, `oc adm node-logs`) scrape its `href`s. The markup is
//! rendered as it is sent, a chunk at a time, so a large directory costs its
//! packed names (`logroot::Listing`), not its markup.

use super::escape;
use crate::logroot::Listing;
use crate::stream::Closed;

const HEAD: &[u8] =
    b"<!doctype html>\n<meta name=\"viewport\" content=\"width=device-width\">\n<pre>\n";
const TAIL: &[u8] = b"</pre>\n";
/// Markup is sent in chunks of about this size.
const CHUNK: usize = 64 << 10;

/// Writes the listing's markup through `send`, chunk by chunk.
pub fn render(
    listing: &Listing,
    send: &mut dyn FnMut(Vec<u8>) -> Result<(), Closed>,
) -> Result<(), Closed> {
    let mut out = Vec::with_capacity(CHUNK + 1024);
    out.extend_from_slice(HEAD);
    for (name, is_dir) in listing.iter() {
        entry(name, is_dir, &mut out);
        if out.len() >= CHUNK {
            send(std::mem::replace(
                &mut out,
                Vec::with_capacity(CHUNK + 1024),
            ))?;
        }
    }
    out.extend_from_slice(TAIL);
    send(out)
}

/// One `<a>` line; a directory's name gets a trailing slash in both places.
fn entry(name: &[u8], is_dir: bool, out: &mut Vec<u8>) {
    let slash: &[u8] = if is_dir { b"/" } else { b"" };
    out.extend_from_slice(b"<a href=\"");
    escape::url_path(name, out);
    out.extend_from_slice(slash);
    out.extend_from_slice(b"\">");
    escape::html(name, out);
    out.extend_from_slice(slash);
    out.extend_from_slice(b"</a>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_matches_go() {
        let mut out = Vec::new();
        for (name, is_dir) in [
            (&b"a b?.log"[..], false),
            (b"c:d", false),
            (b"pods", true),
            (b"<x>&'\"", false),
            (b"caf\xe9.log", false),
        ] {
            entry(name, is_dir, &mut out);
        }
        assert_eq!(
            out,
            b"<a href=\"a%20b%3F.log\">a b?.log</a>\n\
              <a href=\"./c:d\">c:d</a>\n\
              <a href=\"pods/\">pods/</a>\n\
              <a href=\"%3Cx%3E&%27%22\">&lt;x&gt;&amp;&#39;&#34;</a>\n\
              <a href=\"caf%E9.log\">caf\xe9.log</a>\n"
        );
    }
}

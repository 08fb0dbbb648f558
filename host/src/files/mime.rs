//! `Content-Type` for raw files: Go's built-in extension table (plus `.gz`
//! and `.txt`, which Debian's mime.types gives Go), else a sniff of the
//! first bytes reduced to what log directories hold: text, gzip, binary.

pub fn content_type(name: &str, head: &[u8]) -> &'static str {
    by_extension(name).unwrap_or_else(|| sniff(head))
}

fn by_extension(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "avif" => "image/avif",
        "css" => "text/css; charset=utf-8",
        "gif" => "image/gif",
        "htm" | "html" => "text/html; charset=utf-8",
        "jpeg" | "jpg" => "image/jpeg",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "wasm" => "application/wasm",
        "webp" => "image/webp",
        "xml" => "text/xml; charset=utf-8",
        "gz" => "application/gzip",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// Go's `DetectContentType` for the cases that occur in log directories.
fn sniff(head: &[u8]) -> &'static str {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        return "application/x-gzip";
    }
    let binary = |b: &u8| matches!(b, 0x00..=0x08 | 0x0b | 0x0e..=0x1a | 0x1c..=0x1f);
    if head.iter().any(binary) {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types() {
        assert_eq!(by_extension("kubelet.log.1.gz"), Some("application/gzip"));
        assert_eq!(by_extension("kubelet.log"), None);
        assert_eq!(
            sniff(b"I1122 12:00:00 hello\n"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(sniff(b""), "text/plain; charset=utf-8");
        assert_eq!(sniff(&[0x1f, 0x8b, 0x08, 0]), "application/x-gzip");
        assert_eq!(sniff(&[0, 1, 2]), "application/octet-stream");
    }
}

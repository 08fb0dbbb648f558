//! Go's `url.ParseQuery`, which is what the kubelet sees: pairs split on
//! `&`, `+` is a space, a pair with `;` or a bad escape is dropped.

use percent_encoding::percent_decode;

#[derive(Debug, Default)]
pub struct QueryValues(Vec<(String, String)>);

impl QueryValues {
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty() && !p.contains(';'))
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Some((unescape(k)?, unescape(v)?))
            })
            .collect();
        QueryValues(pairs)
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Go's `Values.Get`: the first value, or none.
    pub fn first(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Go's `QueryUnescape`: `None` for a malformed `%` escape. Invalid UTF-8 is
/// replaced, since every consumer of these values needs text.
fn unescape(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
        }
    }
    let plus_as_space = s.replace('+', " ");
    Some(
        percent_decode(plus_as_space.as_bytes())
            .decode_utf8_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_go_parse_query() {
        let v = QueryValues::parse("a=1&a=2&b&c=x+y%2Bz&bad=%zz&semi=1;2&&d=");
        assert_eq!(v.all("a"), ["1", "2"]);
        assert!(v.has("b") && v.has("d"));
        assert_eq!(v.first("c"), Some("x y+z"));
        assert!(!v.has("bad") && !v.has("semi"));
    }
}

//! `journalctl -u`: systemd 252's `unit_name_mangle` and the match branches
//! of `add_matches_for_unit`.

use crate::error::{Error, Result};
use crate::matches::Expr;

const UNIT_TYPES: [&str; 11] = [
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

fn valid_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b":-_.\\".contains(&c)
}

fn unit_type_of(name: &[u8]) -> Option<&str> {
    let dot = name.iter().rposition(|&c| c == b'.')?;
    let suffix = std::str::from_utf8(&name[dot + 1..]).ok()?;
    UNIT_TYPES.iter().copied().find(|t| *t == suffix)
}

/// `unit_name_is_valid(name, UNIT_NAME_ANY)`.
fn is_valid(name: &[u8]) -> bool {
    let Some(dot) = name.iter().rposition(|&c| c == b'.') else {
        return false;
    };
    if name.len() >= 256 || dot == 0 || unit_type_of(name).is_none() {
        return false;
    }
    let prefix = &name[..dot];
    prefix.iter().all(|&c| valid_char(c) || c == b'@') && prefix[0] != b'@'
}

fn is_glob(name: &[u8]) -> bool {
    name.iter().any(|c| b"*?[".contains(c))
}

/// `unit_name_mangle(name, UNIT_NAME_MANGLE_GLOB)` with the `.service`
/// suffix: `kubelet` becomes `kubelet.service`, invalid characters are
/// `\xNN`-escaped. Globs and paths (which journalctl expands against the
/// journal or the file system) are not supported.
pub fn mangle(name: &str) -> Result<String> {
    let b = name.as_bytes();
    if b.is_empty() {
        return Err(Error::BadUnit(name.into()));
    }
    if is_valid(b) {
        return Ok(name.into());
    }
    if is_glob(b) || b[0] == b'/' {
        return Err(Error::Unsupported(format!(
            "unit {name:?}: globs and paths are expanded only by journalctl"
        )));
    }
    let mut s = String::with_capacity(name.len() + 8);
    for &c in b {
        if c == b'/' {
            s.push('-');
        } else if valid_char(c) || c == b'@' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    if unit_type_of(s.as_bytes()).is_none() {
        s.push_str(".service");
    }
    if s.len() >= 256 {
        return Err(Error::BadUnit(name.into()));
    }
    Ok(s)
}

fn field(name: &str, value: &str) -> Expr {
    Expr::Field(format!("{name}={value}").into_bytes())
}

/// The entries `-u unit` selects (after mangling).
pub fn unit_expr(unit: &str) -> Expr {
    let mut branches = vec![
        field("_SYSTEMD_UNIT", unit),
        Expr::And(vec![
            field("MESSAGE_ID", "fc2e22bc6ee647b6b90729ab34a250b1"),
            field("_UID", "0"),
            field("COREDUMP_UNIT", unit),
        ]),
        Expr::And(vec![field("_PID", "1"), field("UNIT", unit)]),
        Expr::And(vec![field("_UID", "0"), field("OBJECT_SYSTEMD_UNIT", unit)]),
    ];
    if unit.ends_with(".slice") {
        branches.push(field("_SYSTEMD_SLICE", unit));
    }
    Expr::Or(branches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangles_like_systemd() {
        assert_eq!(mangle("kubelet").unwrap(), "kubelet.service");
        assert_eq!(mangle("kubelet.service").unwrap(), "kubelet.service");
        assert_eq!(mangle("foo.bar").unwrap(), "foo.bar.service");
        assert_eq!(mangle("user.slice").unwrap(), "user.slice");
        assert_eq!(mangle("getty@tty1.service").unwrap(), "getty@tty1.service");
        assert_eq!(mangle("a b").unwrap(), "a\\x20b.service");
        assert_eq!(mangle("@b").unwrap(), "@b.service");
        assert!(matches!(mangle("kube*"), Err(Error::Unsupported(_))));
        assert!(matches!(mangle(""), Err(Error::BadUnit(_))));
    }
}

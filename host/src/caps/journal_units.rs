//! Unit-level journal grants: which units' entries a plugin may read.
//!
//! A grant is a list of unit names or globs (`*` is any run of characters,
//! everything else literal), reviewed as data like claims. A literal name
//! is mangled as `journalctl -u` mangles it (`kubelet` is
//! `kubelet.service`), and a query's units are mangled the same way before
//! they are matched, so a grant to unit X means exactly the entries
//! `journalctl -u X` prints (which include systemd's own messages about X:
//! `_PID=1` with `UNIT=X`, `COREDUMP_UNIT=X`, `OBJECT_SYSTEMD_UNIT=X`).
//! The check is on the requested names, never a filter over output.
//! `"*"` grants every unit, and with it the whole journal.

use anyhow::bail;
use regex::Regex;

/// The longest unit name systemd accepts is 255 bytes; a glob a little
/// more, for its `*`s.
const MAX_PATTERN_BYTES: usize = 512;

#[derive(Debug, Clone)]
pub enum UnitGrant {
    /// `"*"`: every unit, and queries without one (the whole journal).
    All,
    /// These units only, each pattern as written (for reviewers) and as a
    /// whole-name regex.
    Only(Vec<(String, Regex)>),
}

/// A unit pattern as a regex over whole (mangled) unit names. Only the
/// characters of a unit name (with `\` of its `\xNN` escapes) and `*`.
fn unit_pattern(pattern: &str) -> anyhow::Result<Regex> {
    let valid = |c: char| c.is_ascii_alphanumeric() || ":-_.\\@*".contains(c);
    if pattern.is_empty() || pattern.len() > MAX_PATTERN_BYTES || !pattern.chars().all(valid) {
        bail!("journal unit {pattern:?} is not a unit name or a glob of one");
    }
    let name = if pattern.contains('*') {
        pattern.to_string()
    } else {
        nodelogd_journal::mangle(pattern)?
    };
    let literal: Vec<String> = name.split('*').map(regex::escape).collect();
    Ok(Regex::new(&format!("^(?:{})$", literal.join(".*")))?)
}

impl UnitGrant {
    /// The grant for these patterns; an empty list is an error (a plugin
    /// that reads no unit needs no journal).
    pub fn new(patterns: &[String]) -> anyhow::Result<Self> {
        if patterns.is_empty() {
            bail!("journal units: an empty list grants nothing; leave the journal out instead");
        }
        let compiled = patterns
            .iter()
            .map(|p| Ok((p.clone(), unit_pattern(p)?)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if patterns.iter().any(|p| p == "*") {
            return Ok(UnitGrant::All);
        }
        Ok(UnitGrant::Only(compiled))
    }

    pub fn is_all(&self) -> bool {
        matches!(self, UnitGrant::All)
    }

    /// Whether the grant holds `unit`, a mangled unit name.
    pub fn allows(&self, unit: &str) -> bool {
        match self {
            UnitGrant::All => true,
            UnitGrant::Only(units) => units.iter().any(|(_, re)| re.is_match(unit)),
        }
    }

    /// Whether every unit `pattern` names is in this grant: the operator's
    /// grant covering a manifest's request. A glob whose text (its `*`s
    /// taken as characters) one of ours matches names a subset of it,
    /// since our only wildcard, `*`, also absorbs whatever its `*`s stand
    /// for.
    pub fn covers(&self, pattern: &str) -> bool {
        let name = if pattern.contains('*') {
            Some(pattern.to_string())
        } else {
            nodelogd_journal::mangle(pattern).ok()
        };
        name.is_some_and(|n| self.allows(&n))
    }

    /// The patterns as written, for reviewers.
    pub fn patterns(&self) -> Vec<String> {
        match self {
            UnitGrant::All => vec!["*".into()],
            UnitGrant::Only(units) => units.iter().map(|(p, _)| p.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(patterns: &[&str]) -> UnitGrant {
        UnitGrant::new(&patterns.iter().map(ToString::to_string).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn names_are_mangled_as_journalctl_mangles_them() {
        let g = grant(&["kubelet", "ovs-*.service"]);
        assert!(g.allows("kubelet.service"));
        assert!(!g.allows("kubelet"));
        assert!(g.allows("ovs-vswitchd.service"));
        assert!(!g.allows("ovs-vswitchd.socket"));
        assert!(!g.allows("kubelet.service.bak"));
        assert!(!g.is_all());
        assert!(grant(&["kubelet", "*"]).is_all());
    }

    #[test]
    fn a_grant_covers_what_is_inside_it() {
        let g = grant(&["ovs-*", "kubelet.service"]);
        assert!(g.covers("ovs-vswitchd.service"));
        assert!(g.covers("ovs-*.service"));
        assert!(g.covers("kubelet"));
        assert!(!g.covers("*"));
        assert!(!g.covers("ov*"));
        assert!(!g.covers("containerd"));
        assert!(grant(&["*"]).covers("*"));
    }

    #[test]
    fn patterns_are_unit_names() {
        for bad in ["", "a b", "ovs-[a-z]", "kube?", "a/b", &"a".repeat(600)] {
            assert!(UnitGrant::new(&[bad.to_string()]).is_err(), "{bad:?}");
        }
        assert!(UnitGrant::new(&[]).is_err());
    }
}

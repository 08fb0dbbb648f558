//! What a plugin may do, as data. A plugin's manifest *requests* programs
//! (by logical name, with argument rules) and read roots (directories under
//! the log root, `"/"` for all of it); the host's
//! configuration *provides* programs (absolute path, fixed leading
//! arguments, environment pass-through). The grant is their intersection,
//! resolved once at load time; a request the host cannot satisfy fails the
//! load with a message naming it.
//!
//! Argument rules: every argv element the plugin passes must match one of
//! the program's rules, each a regular expression matched against the
//! whole element. The journald plugin's manifest therefore allows
//! `--unit=<name>` but no `--file=`, `--directory=` or `--root=`. A rule is
//! matched as `^(?:rule)$`, and must parse as a regular expression on its
//! own first, so it cannot close the group and escape the anchors (as
//! `--unit=[a-z]+)|(.*` would, matching anything); such rules fail the load.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::caps::journal::JournalGrant;
use crate::caps::journal_units::UnitGrant;
use crate::logroot::LogRoot;

/// A plugin's manifest (`nodelogd-plugin.toml`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Service names, or globs with `*` (`ovn-*`), the host may ask this
    /// plugin about; others never reach it.
    #[serde(default)]
    pub claims: Vec<String>,
    #[serde(default)]
    pub programs: Vec<ProgramRequest>,
    /// Directories under the log root the plugin may read (`logfile`
    /// interface), relative to it; `"/"` is the whole root.
    #[serde(default)]
    pub read_roots: Vec<String>,
    /// The `journal` interface: the host's journal, read natively, for
    /// these units only (`journal_units`). The directories are the host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<JournalRequest>,
    #[serde(default)]
    pub limits: ManifestLimits,
}

/// `[journal]` in a manifest.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct JournalRequest {
    /// Unit names or globs (`ovs-*.service`); `["*"]` is the whole journal.
    pub units: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProgramRequest {
    pub name: String,
    pub args: Vec<String>,
    /// Rules for the names of variables the plugin may set per run
    /// (`spawn-with-env`), each matched against the whole name.
    #[serde(default)]
    pub env: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ManifestLimits {
    pub memory_mib: Option<u64>,
    pub cpu_ms: Option<u64>,
    pub max_processes: Option<u32>,
    /// Wall-clock time one call into the plugin may take.
    pub wall_ms: Option<u64>,
    /// Output one request may produce.
    pub output_mib: Option<u64>,
    /// Instances (requests) of this plugin running at once.
    pub max_instances: Option<u32>,
}

impl Manifest {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let manifest: Manifest = toml::from_str(text)?;
        for root in &manifest.read_roots {
            read_root(root)?;
        }
        for claim in &manifest.claims {
            claim_pattern(claim)?;
        }
        if let Some(journal) = &manifest.journal {
            UnitGrant::new(&journal.units)?;
        }
        Ok(manifest)
    }
}

/// A read root's components; none for the whole root. Only plain names:
/// a root is a place, not a path to resolve.
pub fn read_root(root: &str) -> anyhow::Result<Vec<String>> {
    let parts: Vec<&str> = root.trim_matches('/').split('/').collect();
    if parts == [""] {
        return Ok(Vec::new());
    }
    if parts.iter().any(|p| matches!(*p, "" | "." | "..")) {
        bail!("read root {root:?} must be plain directory names below the log root");
    }
    Ok(parts.into_iter().map(String::from).collect())
}

/// A claim as a regex over whole service names: `*` is any run of
/// characters, everything else literal. A claim may only use the
/// characters of a service name.
pub fn claim_pattern(claim: &str) -> anyhow::Result<Regex> {
    let valid = |c: char| c.is_ascii_alphanumeric() || "._:@-*".contains(c);
    if claim.is_empty() || !claim.chars().all(valid) {
        bail!("claim {claim:?} is not a service name or a glob of one");
    }
    let literal: Vec<String> = claim.split('*').map(regex::escape).collect();
    Ok(Regex::new(&format!("^(?:{})$", literal.join(".*")))?)
}

/// How the host runs a program it provides.
#[derive(Debug, Clone)]
pub struct ProgramPolicy {
    pub path: PathBuf,
    /// Prepended to every invocation, out of the plugin's reach (for
    /// example `--directory=DIR` for journalctl).
    pub leading_args: Vec<String>,
    /// Variables copied from nodelogd's environment; all others are cleared.
    pub env_passthrough: Vec<String>,
}

/// Programs the host provides, by logical name.
pub type HostPrograms = HashMap<String, ProgramPolicy>;

/// A program as granted: the host's policy plus the manifest's rules.
#[derive(Debug, Clone)]
pub struct Program {
    pub policy: ProgramPolicy,
    rules: Vec<Regex>,
    env_rules: Vec<Regex>,
}

/// Bounds on the variables one `spawn-with-env` may set: a few named user
/// values, each well above a long pattern or a 10 KB value, and far below
/// Linux's 128 KiB limit for one environment string.
pub const MAX_ENV_VARS: usize = 16;
pub const MAX_ENV_NAME_BYTES: usize = 64;
pub const MAX_ENV_VALUE_BYTES: usize = 32 << 10;
pub const MAX_ENV_TOTAL_BYTES: usize = 128 << 10;

impl Program {
    /// The environment the program gets: the pass-through variables that
    /// are set in nodelogd's own environment, nothing else.
    pub fn env(&self) -> Vec<(String, OsString)> {
        let names = &self.policy.env_passthrough;
        names
            .iter()
            .filter_map(|n| Some((n.clone(), std::env::var_os(n)?)))
            .collect()
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Denied {
    #[error("program {0:?} is not granted to this plugin")]
    Program(String),
    #[error("argument {arg:?} is not allowed for {program}")]
    Argument { program: String, arg: String },
    #[error("at most {0} programs may run at once")]
    TooManyProcesses(u32),
    #[error("reading the log root is not granted to this plugin")]
    LogRoot,
    #[error("{0:?} is outside this plugin's read roots")]
    OutsideReadRoots(String),
    #[error("environment variable {name:?} is not allowed for {program}")]
    EnvName { program: String, name: String },
    #[error("environment too large: {0}")]
    EnvSize(String),
}

/// The directories a plugin may read: a read root, and the path below it.
#[derive(Debug)]
struct ReadRoots {
    root: Arc<LogRoot>,
    /// Each root's components; an empty one is the whole log root.
    roots: Vec<Vec<String>>,
}

/// Where a granted read goes: `below` resolved inside `root_dir` (a
/// directory under the log root, `""` for the root itself), so that
/// neither `..` nor a symlink in `below` can leave the read root.
#[derive(Debug, PartialEq)]
pub struct ReadTarget {
    pub root_dir: String,
    pub below: String,
}

#[derive(Debug, Default)]
pub struct Grants {
    programs: HashMap<String, Program>,
    exec_requested: bool,
    files: Option<ReadRoots>,
    pub max_processes: u32,
    /// The plugin's own WASI environment: operator settings it reads as
    /// data (winevent's channels), empty for every other plugin.
    pub guest_env: Vec<(String, String)>,
    /// The journal, when granted (`None`: the interface is not linked).
    pub journal: Option<JournalGrant>,
}

/// Default for `max-processes`: the journald plugin needs two at once at
/// most (the cursor scan ends before the print starts).
pub const DEFAULT_MAX_PROCESSES: u32 = 2;

impl Grants {
    pub fn resolve(
        manifest: &Manifest,
        host: &HostPrograms,
        log_root: &Arc<LogRoot>,
    ) -> anyhow::Result<Self> {
        let (grants, missing) = Self::resolve_provided(manifest, host, log_root)?;
        if let Some(name) = missing.first() {
            bail!(
                "plugin {} requests program {name:?}, which this host does not provide",
                manifest.name
            );
        }
        Ok(grants)
    }

    /// `resolve`, granting of the requested programs those the host
    /// provides; the names of the others. The `process` interface stays
    /// linked, so a plugin that can do without a program (the journald
    /// plugin with the native reader, without journalctl) still loads and
    /// is told `not granted` when it tries to run one.
    pub fn resolve_provided(
        manifest: &Manifest,
        host: &HostPrograms,
        log_root: &Arc<LogRoot>,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        let mut programs = HashMap::new();
        let mut missing = Vec::new();
        for request in &manifest.programs {
            let Some(policy) = host.get(&request.name) else {
                missing.push(request.name.clone());
                continue;
            };
            let compile = |rules: &[String], kind: &str| {
                rules
                    .iter()
                    .map(|r| {
                        whole_element_rule(r)
                            .with_context(|| format!("plugin {}: {kind} rule {r:?}", manifest.name))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            };
            programs.insert(
                request.name.clone(),
                Program {
                    policy: policy.clone(),
                    rules: compile(&request.args, "argument")?,
                    env_rules: compile(&request.env, "environment")?,
                },
            );
        }
        let grants = Grants {
            programs,
            exec_requested: !manifest.programs.is_empty(),
            files: (!manifest.read_roots.is_empty())
                .then(|| -> anyhow::Result<_> {
                    Ok(ReadRoots {
                        root: log_root.clone(),
                        roots: manifest
                            .read_roots
                            .iter()
                            .map(|r| read_root(r))
                            .collect::<anyhow::Result<_>>()?,
                    })
                })
                .transpose()?,
            max_processes: manifest
                .limits
                .max_processes
                .unwrap_or(DEFAULT_MAX_PROCESSES),
            guest_env: Vec::new(),
            journal: None,
        };
        Ok((grants, missing))
    }

    /// Whether the `process` interface is linked: the manifest requested
    /// programs (granted or not: see `resolve_provided`).
    pub fn may_exec(&self) -> bool {
        self.exec_requested
    }

    pub fn may_read_logs(&self) -> bool {
        self.files.is_some()
    }

    pub fn allow_exec(&self, name: &str, args: &[String]) -> Result<&Program, Denied> {
        let program = self
            .programs
            .get(name)
            .ok_or_else(|| Denied::Program(name.to_string()))?;
        if let Some(arg) = args
            .iter()
            .find(|a| !program.rules.iter().any(|r| r.is_match(a)))
        {
            return Err(Denied::Argument {
                program: name.to_string(),
                arg: arg.clone(),
            });
        }
        Ok(program)
    }

    /// The log root and where `path` (relative to it) is to be resolved:
    /// inside the first read root that is a prefix of it, by name. Only
    /// the read root's own name is matched here; what follows is resolved
    /// with the read root as the root, so it cannot climb out.
    pub fn allow_read(&self, path: &str) -> Result<(&Arc<LogRoot>, ReadTarget), Denied> {
        let files = self.files.as_ref().ok_or(Denied::LogRoot)?;
        let parts: Vec<&str> = path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        files
            .roots
            .iter()
            .find(|root| parts.len() >= root.len() && parts.iter().zip(*root).all(|(p, r)| p == r))
            .map(|root| {
                let target = ReadTarget {
                    root_dir: root.join("/"),
                    below: parts[root.len()..].join("/"),
                };
                (&files.root, target)
            })
            .ok_or_else(|| Denied::OutsideReadRoots(path.to_string()))
    }

    /// `allow_exec`, and each variable's name matches one of the program's
    /// environment rules (and is a valid name), within the size bounds.
    pub fn allow_exec_with_env(
        &self,
        name: &str,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<&Program, Denied> {
        let program = self.allow_exec(name, args)?;
        if env.len() > MAX_ENV_VARS {
            return Err(Denied::EnvSize(format!(
                "more than {MAX_ENV_VARS} variables"
            )));
        }
        let mut total = 0;
        for (var, value) in env {
            let valid = !var.is_empty()
                && var.len() <= MAX_ENV_NAME_BYTES
                && !var.contains(['=', '\0'])
                && program.env_rules.iter().any(|r| r.is_match(var));
            if !valid {
                return Err(Denied::EnvName {
                    program: name.to_string(),
                    name: var.clone(),
                });
            }
            if value.len() > MAX_ENV_VALUE_BYTES || value.contains('\0') {
                return Err(Denied::EnvSize(format!(
                    "{var:?} is longer than {MAX_ENV_VALUE_BYTES} bytes or holds NUL"
                )));
            }
            total += var.len() + value.len();
        }
        if total > MAX_ENV_TOTAL_BYTES {
            return Err(Denied::EnvSize(format!(
                "more than {MAX_ENV_TOTAL_BYTES} bytes in all"
            )));
        }
        Ok(program)
    }
}

/// A rule as a regex that matches whole elements only. Parsed alone first:
/// a rule that is not a complete expression by itself (an unbalanced `)`,
/// a trailing `\`) could otherwise break out of the wrapper. A rule that
/// parses alone cannot: the wrapper's `)$` then closes the wrapper's own
/// group, or (after an `(?x)` comment) makes the whole fail to compile.
fn whole_element_rule(rule: &str) -> anyhow::Result<Regex> {
    regex_syntax::Parser::new()
        .parse(rule)
        .context("not a complete regular expression on its own")?;
    Ok(Regex::new(&format!("^(?:{rule})$"))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOURNALD: &str = include_str!("../../../plugins/journald/nodelogd-plugin.toml");

    fn journald_grants() -> Grants {
        let root = Arc::new(LogRoot::open(&std::env::temp_dir()).unwrap());
        let policy = ProgramPolicy {
            path: "/bin/true".into(),
            leading_args: vec![],
            env_passthrough: vec![],
        };
        let host = HostPrograms::from([("journalctl".to_string(), policy)]);
        Grants::resolve(&Manifest::parse(JOURNALD).unwrap(), &host, &root).unwrap()
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn journald_may_run_the_kubelet_argv() {
        let g = journald_grants();
        let ok = args(&[
            "--utc",
            "--no-pager",
            "--output=short-precise",
            "--since=@1732233600",
            "--until=@1732237200.5",
            "--pager-end",
            "--lines=100000",
            "--unit=kubelet",
            "--unit=snap.k8s:x@1",
            "--grep=(?i)err\nor",
            "--boot",
            "-2",
        ]);
        assert!(g.allow_exec("journalctl", &ok).is_ok());
        assert!(
            g.allow_exec("journalctl", &args(&["--field", "_SYSTEMD_UNIT"]))
                .is_ok()
        );
        assert!(
            g.allow_exec(
                "journalctl",
                &args(&["--reverse", "--output=json", "--output-fields=_BOOT_ID"])
            )
            .is_ok()
        );
        assert!(
            g.allow_exec(
                "journalctl",
                &args(&["--cursor=s=0ef2;i=bb3;b=7cd3;m=1dfe;t=627d;x=231e"])
            )
            .is_ok()
        );
        assert!(!g.may_read_logs());
    }

    #[test]
    fn journald_may_not_read_other_files_or_run_other_programs() {
        let g = journald_grants();
        for bad in [
            "--file=/etc/shadow",
            "--directory=/",
            "-D/",
            "--root=/",
            "--merge",
            "-M",
            "--unit=../x",
            "/etc/shadow",
            "--output=export",
            "--lines=1 --file=/x",
        ] {
            assert_eq!(
                g.allow_exec("journalctl", &args(&["--utc", bad]))
                    .unwrap_err(),
                Denied::Argument {
                    program: "journalctl".into(),
                    arg: bad.into()
                },
                "{bad}"
            );
        }
        assert_eq!(
            g.allow_exec("sh", &[]).unwrap_err(),
            Denied::Program("sh".into())
        );
    }

    #[test]
    fn a_request_the_host_cannot_meet_fails_the_load() {
        let root = Arc::new(LogRoot::open(&std::env::temp_dir()).unwrap());
        let err = Grants::resolve(
            &Manifest::parse(JOURNALD).unwrap(),
            &HostPrograms::new(),
            &root,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("requests program \"journalctl\""),
            "{err}"
        );
        assert!(Manifest::parse("name = \"x\"\nfoo = 1").is_err());
    }

    /// Pins the anchor escape: `^(?:--unit=[a-z]+)|(.*)$` matched
    /// `--file=/etc/shadow` with the old wrapper.
    #[test]
    fn a_rule_that_escapes_its_anchors_fails_the_load() {
        let root = Arc::new(LogRoot::open(&std::env::temp_dir()).unwrap());
        let policy = ProgramPolicy {
            path: "/bin/true".into(),
            leading_args: vec![],
            env_passthrough: vec![],
        };
        let host = HostPrograms::from([("journalctl".to_string(), policy)]);
        for rule in [
            r"--unit=[a-z]+)|(.*",
            r"--unit=x\",
            r"(?x)--unit=x#",
            "a)(b",
        ] {
            let text = format!(
                "name = \"evil\"\n[[programs]]\nname = \"journalctl\"\nargs = [{rule:?}]\n"
            );
            let manifest = Manifest::parse(&text).unwrap();
            let err = Grants::resolve(&manifest, &host, &root).unwrap_err();
            assert!(
                format!("{err:#}").starts_with("plugin evil: argument rule"),
                "{rule}: {err:#}"
            );
        }
        let text = "name = \"ok\"\n[[programs]]\nname = \"journalctl\"\nargs = [\"(?x) --unit= [a-z]+ # comment\"]\n";
        let g = Grants::resolve(&Manifest::parse(text).unwrap(), &host, &root);
        assert!(g.is_err(), "a trailing comment swallows the wrapper's `)$`");
        let text = "name = \"ok\"\n[[programs]]\nname = \"journalctl\"\nargs = [\"(--unit=[a-z]+)|(--user)\"]\n";
        let g = Grants::resolve(&Manifest::parse(text).unwrap(), &host, &root).unwrap();
        assert!(
            g.allow_exec("journalctl", &args(&["--unit=abc", "--user"]))
                .is_ok()
        );
        assert!(
            g.allow_exec("journalctl", &args(&["--file=/etc/shadow"]))
                .is_err()
        );
        assert!(
            g.allow_exec("journalctl", &args(&["--unit=abc--user"]))
                .is_err()
        );
    }

    #[test]
    fn claims_match_whole_names_or_globs() {
        let ovn = claim_pattern("ovn-*").unwrap();
        assert!(ovn.is_match("ovn-controller") && ovn.is_match("ovn-"));
        assert!(!ovn.is_match("xovn-a") && !ovn.is_match("ovn"));
        let dotted = claim_pattern("a.b").unwrap();
        assert!(dotted.is_match("a.b") && !dotted.is_match("axb"));
        for bad in ["", "a/b", "(x)", "a b"] {
            assert!(claim_pattern(bad).is_err(), "{bad:?}");
        }
    }

    /// A path is matched to a read root by whole names; what follows is
    /// left for the read root's own resolver (which refuses `..` above it).
    #[test]
    fn reads_are_matched_to_a_read_root_by_name() {
        let root = Arc::new(LogRoot::open(&std::env::temp_dir()).unwrap());
        let text = "name = \"r\"\nread-roots = [\"hybrid-overlay/\", \"/a/b\"]";
        let g =
            Grants::resolve(&Manifest::parse(text).unwrap(), &HostPrograms::new(), &root).unwrap();
        let target = |path: &str| g.allow_read(path).map(|(_, t)| (t.root_dir, t.below));
        assert_eq!(
            target("hybrid-overlay/x.log"),
            Ok(("hybrid-overlay".into(), "x.log".into()))
        );
        assert_eq!(target("/a/./b/../c"), Ok(("a/b".into(), "../c".into())));
        for outside in [
            "hybrid-overlay-evil/x",
            "a/bc/x",
            "x.log",
            "/etc/passwd",
            "../a/b/x",
        ] {
            assert_eq!(
                target(outside),
                Err(Denied::OutsideReadRoots(outside.into())),
                "{outside}"
            );
        }
        for bad in ["..", "a/../b", "a//b", "./a"] {
            assert!(
                Manifest::parse(&format!("name = \"r\"\nread-roots = [{bad:?}]")).is_err(),
                "{bad}"
            );
        }
        assert_eq!(read_root("/").unwrap(), Vec::<String>::new());
    }

    /// Pins the per-run environment's checks (the winevent grant): only
    /// names the manifest's rules allow, within the size bounds.
    #[test]
    fn per_run_environment_names_and_sizes_are_checked() {
        let root = Arc::new(LogRoot::open(&std::env::temp_dir()).unwrap());
        let policy = ProgramPolicy {
            path: "/bin/true".into(),
            leading_args: vec![],
            env_passthrough: vec![],
        };
        let host = HostPrograms::from([("powershell".to_string(), policy)]);
        let text = include_str!("../../../plugins/winevent/nodelogd-plugin.toml");
        let g = Grants::resolve(&Manifest::parse(text).unwrap(), &host, &root).unwrap();
        let argv = args(&[
            "-NonInteractive",
            "-Command",
            "Get-WinEvent -ListProvider $Env:kubelet_provider0 | Format-Table -AutoSize",
        ]);
        let var = |k: &str, v: &str| (k.to_string(), v.to_string());
        let ok = [
            var("kubelet_provider0", "x';$(calc)"),
            var("kubelet_pattern", &"a".repeat(MAX_ENV_VALUE_BYTES)),
        ];
        assert!(g.allow_exec_with_env("powershell", &argv, &ok).is_ok());
        for bad in [
            "PATH",
            "kubelet_provider4",
            "kubelet_pattern=x",
            "",
            "LD_PRELOAD",
        ] {
            let err = g
                .allow_exec_with_env("powershell", &argv, &[var(bad, "v")])
                .unwrap_err();
            assert!(matches!(err, Denied::EnvName { .. }), "{bad}: {err}");
        }
        let too_long = [var("kubelet_pattern", &"a".repeat(MAX_ENV_VALUE_BYTES + 1))];
        let nul = [var("kubelet_pattern", "a\0b")];
        let many = vec![var("kubelet_pattern", "a"); MAX_ENV_VARS + 1];
        for bad in [&too_long[..], &nul[..], &many[..]] {
            let err = g.allow_exec_with_env("powershell", &argv, bad).unwrap_err();
            assert!(matches!(err, Denied::EnvSize(_)), "{err}");
        }
        let command = args(&["-Command", "Get-WinEvent -ListProvider x; calc"]);
        assert!(g.allow_exec_with_env("powershell", &command, &[]).is_err());

        // The query's channels: upstream's literal, or the operator's by
        // environment; no other text fits where the channel goes.
        let query = |channels: &str| {
            let cmd = format!(
                "Get-WinEvent -FilterHashtable @{{LogName={channels}}} | Sort-Object TimeCreated | Format-Table -AutoSize -Wrap"
            );
            args(&["-Command", &cmd])
        };
        for ok in ["'Application'", "($Env:kubelet_logNames -split ',')"] {
            assert!(g.allow_exec("powershell", &query(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "'System'",
            "$Env:kubelet_logNames",
            "($Env:kubelet_logNames -split ','); calc",
        ] {
            assert!(g.allow_exec("powershell", &query(bad)).is_err(), "{bad}");
        }
    }
}

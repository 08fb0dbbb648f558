//! The config file (`Config::load`) and plugin manifests
//! (`Manifest::parse`) on arbitrary text and on TOML-shaped text made of
//! their own keys with values of every type and range: an error with a
//! message, never a panic.

use nodelogd::caps::Manifest;
use nodelogd::cli::ServeArgs;
use nodelogd::config::Config;
use proptest::prelude::*;

/// Keys of the config file, of its `[plugins.NAME]` and `[programs.NAME]`
/// tables, and of manifests, with a few that are none of these.
const KEYS: [&str; 40] = [
    "listen",
    "log-dir",
    "journal-dir",
    "journalctl",
    "node-name",
    "deadline-seconds",
    "max-concurrent-queries",
    "max-queries-per-client",
    "max-file-requests",
    "max-file-requests-per-client",
    "queue-wait-ms",
    "cache-dir",
    "header-timeout-seconds",
    "idle-timeout-seconds",
    "send-timeout-seconds",
    "max-connections",
    "max-connections-per-address",
    "response-buffer-mib",
    "plugin-dir",
    "path",
    "sha256",
    "programs",
    "read-roots",
    "memory-mib",
    "cpu-ms",
    "wall-ms",
    "output-mib",
    "max-processes",
    "max-instances",
    "priority",
    "optional",
    "channels",
    "name",
    "description",
    "claims",
    "args",
    "env",
    "limits",
    "bogus",
    "",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => proptest::sample::select(&KEYS[..]).prop_map(String::from),
        1 => "[a-z\"'. -]{0,10}",
    ]
}

/// Values of every TOML type, at and beyond the ranges the loaders take.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        proptest::sample::select(
            &[
                "0",
                "1",
                "-1",
                "65536",
                "4294967296",
                "18446744073709551616"
            ][..]
        )
        .prop_map(String::from),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        "\"[ -~]{0,20}\"",
        proptest::sample::select(
            &[
                "\"127.0.0.1:10260\"",
                "\"[::1]:0\"",
                "\"0.0.0.0:1\"",
                "\"/\"",
                "\"/tmp\"",
                "\"none\"",
                "\"..\"",
                "\"/dev/null\"",
                "\"a*b\"",
                "\"*\"",
                "\"--output=json\"",
                "1979-05-27T07:32:00Z",
                "inf",
                "nan",
            ][..]
        )
        .prop_map(String::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(", "))),
            proptest::collection::vec((key(), inner), 0..3).prop_map(|kv| {
                let pairs: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\" = {v}")).collect();
                format!("{{ {} }}", pairs.join(", "))
            }),
        ]
    })
}

/// A line: a table header, an array-of-tables header or a key/value.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => proptest::sample::select(&[
            "[plugins.journald]", "[plugins.file]", "[plugins.winevent]", "[plugins.x]",
            "[programs.powershell]", "[programs.journalctl]", "[[programs]]", "[limits]",
            "[plugins]", "[[plugins.x]]",
        ][..])
        .prop_map(String::from),
        5 => (key(), value()).prop_map(|(k, v)| format!("\"{k}\" = {v}")),
        1 => "[ -~]{0,30}",
    ]
}

fn toml_ish() -> impl Strategy<Value = String> {
    proptest::collection::vec(line(), 0..12).prop_map(|lines| lines.join("\n"))
}

fn load_config(text: &str) -> anyhow::Result<Config> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text)?;
    Config::load(ServeArgs {
        config: Some(path),
        ..ServeArgs::default()
    })
}

proptest! {
    #[test]
    fn config_files_never_panic(text in toml_ish()) {
        if let Err(e) = load_config(&text) {
            let message = format!("{e:#}");
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn config_text_never_panics(text in "\\PC{0,200}") {
        let _ = load_config(&text);
    }

    #[test]
    fn manifests_never_panic(text in toml_ish()) {
        if let Err(e) = Manifest::parse(&text) {
            let message = format!("{e:#}");
            prop_assert!(!message.is_empty());
        }
    }

    #[test]
    fn manifest_text_never_panics(text in "\\PC{0,200}") {
        let _ = Manifest::parse(&text);
    }
}

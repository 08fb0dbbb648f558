//! The journal for dropped-in plugins, unit by unit: the manifest asks for
//! units, the operator's `[plugins.NAME] journal-units` grants them, and
//! the host refuses any query outside them. Before, a dropped-in plugin
//! could not have the journal at all (only the built-in journald could),
//! and the journal capability had no notion of units: whoever held it
//! read everything.

use nodelogd::plugins::review;

use crate::dropin::{get, refusal, setup};
use crate::fixture;

const UNIT_READER: &str = env!("NODELOGD_TEST_PLUGIN_UNIT_READER");
const CLAIMS: &str = "claims = [\"unit.*\", \"forward.*\", \"whole\", \"fields.*\"]\n";

fn unit_reader() -> Vec<u8> {
    std::fs::read(UNIT_READER).unwrap()
}

/// A manifest asking for `units`.
fn asking(units: &str) -> String {
    format!("{CLAIMS}[journal]\nunits = {units}\n")
}

/// `journalctl --field _SYSTEMD_UNIT` over the fixture, sorted.
fn all_units() -> Vec<String> {
    let out = fixture().journalctl(&["--field", "_SYSTEMD_UNIT"]);
    let mut units: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    units.sort();
    units
}

#[test]
fn a_unit_grant_reads_its_units_and_nothing_else() {
    let wasm = unit_reader();
    let manifest = asking("[\"kubelet\", \"containerd.service\"]");
    let config = "[plugins.reader]\njournal-units = [\"kubelet.service\", \"container*\"]\n";
    let addr = fixture().serve(setup("unit-grant", &[("reader", &manifest, &wasm)], config));

    // Its units: journalctl's bytes, mangled names or not, read through
    // the plugin or forwarded by it to the host (`journal.forward`).
    let kubelet = fixture().kubelet_journalctl(&["--unit=kubelet"]);
    assert!(kubelet.len() > 100, "the fixture has kubelet entries");
    for service in ["unit.kubelet", "unit.kubelet.service", "forward.kubelet"] {
        let resp = get(addr, service);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, kubelet, "{service}");
    }
    // Any other unit, and the whole journal, are refused by the host.
    let body = get(addr, "unit.sshd").text();
    assert!(
        body.starts_with(
            "JournalError::Refused(\"unit \\\"sshd.service\\\" is not granted to this plugin"
        ),
        "{body}"
    );
    let body = get(addr, "forward.sshd").text();
    assert!(
        body.starts_with("JournalError::Refused(\"unit \\\"sshd.service\\\" is not granted"),
        "{body}"
    );
    let body = get(addr, "whole").text();
    assert!(
        body.starts_with("JournalError::Refused(\"this plugin may read only the journal units kubelet containerd.service, not the whole journal"),
        "{body}"
    );
    // The unit list holds its own units only; other fields are refused.
    let units = all_units();
    assert!(units.contains(&"sshd.service".to_string()), "{units:?}");
    let own: String = units
        .iter()
        .filter(|u| ["kubelet.service", "containerd.service"].contains(&u.as_str()))
        .map(|u| format!("{u}\n"))
        .collect();
    assert_eq!(own.lines().count(), 2, "{units:?}");
    assert_eq!(get(addr, "fields._SYSTEMD_UNIT").text(), own);
    let body = get(addr, "fields._COMM").text();
    assert!(
        body.starts_with(
            "JournalError::Refused(\"field \\\"_COMM\\\": a plugin granted only some units"
        ),
        "{body}"
    );
}

#[test]
fn every_unit_is_the_whole_journal() {
    let wasm = unit_reader();
    let manifest = asking("[\"*\"]");
    let config = "[plugins.reader]\njournal-units = [\"*\"]\n";
    let addr = fixture().serve(setup("all-units", &[("reader", &manifest, &wasm)], config));
    assert_eq!(
        get(addr, "unit.sshd").body,
        fixture().kubelet_journalctl(&["--unit=sshd"])
    );
    let all: String = all_units().iter().map(|u| format!("{u}\n")).collect();
    assert_eq!(get(addr, "fields._SYSTEMD_UNIT").text(), all);
}

#[test]
fn the_journal_needs_the_operators_grant() {
    let wasm = unit_reader();
    let manifest = asking("[\"kubelet\", \"ovs-*.service\"]");
    let plugins: [(&str, &str, &[u8]); 1] = [("reader", &manifest, &wasm)];

    let err = refusal(setup("no-journal-grant", &plugins, "[plugins.reader]\n"));
    assert!(
        err.contains("plugin reader refused: the journal is not granted (its manifest asks for units kubelet ovs-*.service; add journal-units to [plugins.reader])"),
        "{err}"
    );
    let config = "[plugins.reader]\njournal-units = [\"kubelet.service\", \"ovs-v*\"]\n";
    let err = refusal(setup("too-few-units", &plugins, config));
    assert!(
        err.contains("plugin reader refused: journal unit \"ovs-*.service\" is not granted"),
        "{err}"
    );

    // `plugins check` shows reviewers the units a plugin would read.
    let config = "[plugins.reader]\njournal-units = [\"kubelet.service\", \"ovs-*\"]\n";
    let args = setup("reviewed", &plugins, config);
    let wasm_path = fixture().base.join("dropin/reviewed/plugins/reader.wasm");
    let verdict = review::verdict(&wasm_path, None, args.config).unwrap();
    assert_eq!(verdict.refused, Vec::<String>::new());
    let view = verdict.allowed.unwrap();
    assert_eq!(
        view.journal_units,
        Some(vec!["kubelet".to_string(), "ovs-*.service".to_string()])
    );
}

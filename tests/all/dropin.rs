//! Dropped-in plugins, loaded from a plugin directory as the operator's
//! config grants: the misbehaving test plugin copied in under other names,
//! with manifests written here. Deny by default (every refusal names the
//! plugin and each reason), routing by claims and order, read roots, and
//! every limit and fault over HTTP, each followed by a request that works.
//! None of this existed before: the old host loaded only the built-ins.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nodelogd::caps::{Grants, HostPrograms, Manifest, ProgramPolicy};
use nodelogd::cli::ServeArgs;
use nodelogd::logroot::LogRoot;
use nodelogd::runtime::Runtime;
use nodelogd_tests::fixture::runtime;
use nodelogd_tests::{http, procs};

use crate::fixture;
use crate::sandbox::{plugin_cache, run_on};

const MISBEHAVE: &str = env!("NODELOGD_TEST_PLUGIN_MISBEHAVE");
/// What misbehave imports, requested (after its claims) and granted (after
/// `[plugins.NAME]`): a plugin that imports an ungranted capability does
/// not link.
const NEEDS: &str =
    "read-roots = [\"containers\"]\n[[programs]]\nname = \"sleep\"\nargs = [\"[0-9]{1,7}\"]\n";
const GRANTED: &str = "programs = [\"sleep\"]\nread-roots = [\"containers\"]\n";

fn sleep_path() -> &'static str {
    ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sleep is installed")
}

/// A plugin directory for `test`: each plugin is (name, manifest after its
/// name, wasm bytes); `config` follows `plugin-dir` in the config file.
pub(crate) fn setup(test: &str, plugins: &[(&str, &str, &[u8])], config: &str) -> ServeArgs {
    let base = fixture().base.join("dropin").join(test);
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, manifest, wasm) in plugins {
        std::fs::write(dir.join(format!("{name}.wasm")), wasm).unwrap();
        let manifest = format!("name = {name:?}\n{manifest}");
        std::fs::write(dir.join(format!("{name}.toml")), manifest).unwrap();
    }
    let config_path = base.join("nodelogd.toml");
    let config = format!(
        "plugin-dir = {:?}\n[programs.sleep]\npath = {:?}\n{config}",
        dir,
        sleep_path()
    );
    std::fs::write(&config_path, config).unwrap();
    ServeArgs {
        config: Some(config_path),
        deadline_seconds: Some(3),
        ..Default::default()
    }
}

fn misbehave() -> Vec<u8> {
    std::fs::read(MISBEHAVE).unwrap()
}

fn serve(args: ServeArgs) -> SocketAddr {
    fixture().serve(args)
}

pub(crate) fn refusal(args: ServeArgs) -> String {
    match fixture().try_serve_with(args, Vec::new()) {
        Ok(addr) => panic!("start-up must fail, but nodelogd serves on {addr}"),
        Err(err) => format!("{err:#}"),
    }
}

pub(crate) fn get(addr: SocketAddr, service: &str) -> http::Response {
    http::get(addr, &format!("/logs/?query={service}"))
}

/// What the shared server (built-ins only) answers.
fn builtin_answer(service: &str) -> String {
    get(fixture().addr, service).text()
}

/// A request for a service no dropped-in plugin claims is answered as by
/// the built-ins alone.
#[track_caller]
fn still_serves(addr: SocketAddr) {
    let resp = get(addr, "filelogged");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.text(), builtin_answer("filelogged"));
}

#[test]
fn claims_route_services_and_the_order_is_the_operators() {
    let wasm = misbehave();
    let ovn = format!("claims = [\"hello\", \"tr*\", \"kubelet\"]\n{NEEDS}");
    let aaa = format!("claims = [\"trap\"]\n{NEEDS}");
    let plugins: [(&str, &str, &[u8]); 2] = [("ovn", &ovn, &wasm), ("aaa", &aaa, &wasm)];
    let config = format!("[plugins.ovn]\n{GRANTED}[plugins.aaa]\n{GRANTED}");
    let addr = serve(setup("claims", &plugins, &config));
    assert_eq!(get(addr, "hello").text(), "hello\n");
    // Misbehave says it serves anything; unclaimed names never reach it.
    still_serves(addr);
    assert!(builtin_answer("filelogged").contains("filelogged"));
    // A service a built-in also serves goes to the dropped-in plugin that
    // claims it: dropped-in plugins are asked first.
    let kubelet = get(addr, "kubelet");
    assert_eq!((kubelet.status, kubelet.text().as_str()), (200, ""));
    assert!(builtin_answer("kubelet").starts_with("Nov 22"));
    // Overlapping claims: by name, unless a priority says otherwise.
    assert!(get(addr, "trap").text().contains("log source aaa failed"));
    let config = format!("[plugins.ovn]\npriority = -1\n{GRANTED}[plugins.aaa]\n{GRANTED}");
    let addr = serve(setup("claims-priority", &plugins, &config));
    assert!(get(addr, "trap").text().contains("log source ovn failed"));
    assert_eq!(get(addr, "hello").text(), "hello\n");
}

#[test]
fn faults_of_a_dropped_in_plugin_end_only_their_request() {
    let wasm = misbehave();
    let manifest = format!(
        "claims = [\"hello\", \"loop\", \"alloc\", \"trap\", \"oversized\", \"spawn-sh\", \"sleep-*\"]\n{NEEDS}"
    );
    let config = format!("[plugins.bad]\n{GRANTED}cpu-ms = 100\nmemory-mib = 32\nwall-ms = 2000\n");
    let addr = serve(setup("faults", &[("bad", &manifest, &wasm)], &config));
    for (mode, needle) in [
        ("trap", "unreachable"),
        ("loop", "used up its CPU budget"),
        ("alloc", "memory"),
        ("oversized", "larger than 65536 bytes"),
        ("sleep-8765435", "did not answer within 2000 ms (wall-ms)"),
    ] {
        let resp = get(addr, mode);
        let body = resp.text();
        assert_eq!(resp.status, 200, "{mode}: {body}");
        assert!(
            body.starts_with("\nerror: log source bad") && body.contains(needle),
            "{mode}: {body}"
        );
        assert_eq!(get(addr, "hello").text(), "hello\n");
        still_serves(addr);
    }
    assert!(
        procs::gone_within("sleep 8765435", Duration::from_secs(1)),
        "sleep survived its request"
    );
    // Granted sleep, not sh.
    let body = get(addr, "spawn-sh").text();
    assert!(body.contains("program \"sh\" is not granted"), "{body}");
    assert_eq!(get(addr, "hello").text(), "hello\n");
}

#[test]
fn output_and_instances_are_limited_per_plugin() {
    let wasm = misbehave();
    let manifest = format!("claims = [\"hello\", \"sleep-*\"]\n{NEEDS}");
    let config = format!("[plugins.tiny]\n{GRANTED}output-mib = 0\nmax-instances = 1\n");
    let addr = serve(setup("limits", &[("tiny", &manifest, &wasm)], &config));
    let body = get(addr, "hello").text();
    assert_eq!(
        body,
        "\nerror: log source tiny: produced more output than its limit (output-mib)\n"
    );
    let busy = std::thread::spawn(move || get(addr, "sleep-8765436"));
    std::thread::sleep(Duration::from_millis(500));
    let resp = get(addr, "hello");
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert!(resp.text().contains("serving 1 requests already"));
    assert_eq!(busy.join().unwrap().status, 200);
    assert_eq!(get(addr, "hello").status, 200);
    still_serves(addr);
}

#[test]
fn refusals_name_the_plugin_and_every_reason() {
    let wasm = misbehave();
    let greedy =
        "claims = [\"x\"]\nread-roots = [\"/\"]\n[[programs]]\nname = \"sleep\"\nargs = [\".*\"]\n";
    let plugins: [(&str, &str, &[u8]); 1] = [("greedy", greedy, &wasm)];

    let err = refusal(setup("no-grant", &plugins, ""));
    assert!(
        err.contains("plugin greedy refused: no [plugins.greedy] grant"),
        "{err}"
    );

    let config = "[plugins.greedy]\nread-roots = [\"containers\"]\n";
    let err = refusal(setup("too-little", &plugins, config));
    assert!(
        err.contains("plugin greedy refused: program \"sleep\" is not granted; read root \"/\" is not granted"),
        "{err}"
    );

    let pinned = "0".repeat(64);
    let config = format!(
        "[plugins.greedy]\nprograms = [\"sleep\"]\nread-roots = [\"/\"]\nsha256 = \"{pinned}\"\n"
    );
    let err = refusal(setup("sha", &plugins, &config));
    let actual = nodelogd::plugins::sha256_hex(&wasm);
    assert!(
        err.contains(&format!(
            "sha256 mismatch: the config pins {pinned}, the file is {actual}"
        )),
        "{err}"
    );
    // The right hash loads.
    let config = format!(
        "[plugins.greedy]\nprograms = [\"sleep\"]\nread-roots = [\"/\"]\nsha256 = \"{actual}\"\n"
    );
    still_serves(serve(setup("sha-ok", &plugins, &config)));

    let err = refusal(setup("ghost", &[], "[plugins.ghost]\n"));
    assert!(
        err.contains("plugin ghost refused: granted in the config, but there is no such plugin"),
        "{err}"
    );

    let corrupt: [(&str, &str, &[u8]); 1] = [("corrupt", "claims = [\"x\"]", b"\0asm not really")];
    let err = refusal(setup("corrupt", &corrupt, "[plugins.corrupt]\n"));
    assert!(err.contains("loading plugin corrupt"), "{err}");
    // Marked optional, it is skipped and the rest serve.
    still_serves(serve(setup(
        "corrupt-optional",
        &corrupt,
        "[plugins.corrupt]\noptional = true\n",
    )));

    let future = future_wit_component();
    let newer: [(&str, &str, &[u8]); 1] = [("newer", "claims = [\"x\"]", &future)];
    let err = refusal(setup("wit", &newer, "[plugins.newer]\n"));
    assert!(
        err.contains("loading plugin newer") && err.contains("built against nodelogd:plugin@0.2.0"),
        "{err}"
    );
    still_serves(serve(setup(
        "wit-optional",
        &newer,
        "[plugins.newer]\noptional = true\n",
    )));
}

/// Pins: an optional plugin skipped at its grant review (it asks more than
/// it is granted) was logged but not counted, unlike one skipped when it
/// did not compile. Both are skipped, the rest serve, and both count.
#[test]
fn skipped_optional_plugins_are_counted() {
    let wasm = misbehave();
    let greedy = "claims = [\"x\"]\nread-roots = [\"/\"]\n";
    let plugins: [(&str, &str, &[u8]); 2] = [
        ("greedy", greedy, &wasm),
        ("corrupt", "claims = [\"y\"]", b"\0asm not really"),
    ];
    let config = "[plugins.greedy]\noptional = true\n[plugins.corrupt]\noptional = true\n";
    let addr = serve(setup("optional-counted", &plugins, config));
    still_serves(addr);
    let metrics = http::get(addr, "/metrics").text();
    assert!(
        metrics.contains("\nnodelogd_plugin_load_failures_total 2\n"),
        "{metrics}"
    );
}

/// The smallest component that exports `source` of a WIT package version
/// this host does not support.
fn future_wit_component() -> Vec<u8> {
    use wasm_encoder::{
        Component, ComponentExportKind, ComponentExportSection, ComponentInstanceSection,
    };
    let mut component = Component::new();
    let mut instances = ComponentInstanceSection::new();
    instances.export_items(Vec::<(&str, ComponentExportKind, u32)>::new());
    component.section(&instances);
    let mut exports = ComponentExportSection::new();
    exports.export(
        "nodelogd:plugin/source@0.2.0",
        ComponentExportKind::Instance,
        0,
        None,
    );
    component.section(&exports);
    component.finish()
}

/// Read roots confine the `logfile` capability: `..`, absolute paths and
/// symlinks cannot leave them, even to elsewhere in the log root.
#[test]
fn reads_stay_inside_the_read_roots() {
    let text = format!(
        "name = \"reader\"\nclaims = [\"*\"]\n{}",
        NEEDS.replace(
            "\"containers\"",
            "\"containers\", \"pods/default_web-1_uid\""
        )
    );
    let manifest = Manifest::parse(&text).unwrap();
    let log_root = Arc::new(LogRoot::open(&fixture().logs.root).unwrap());
    let sleep = ProgramPolicy {
        path: sleep_path().into(),
        leading_args: vec![],
        env_passthrough: vec![],
    };
    let host = HostPrograms::from([("sleep".to_string(), sleep)]);
    let grants = Grants::resolve(&manifest, &host, &log_root).unwrap();
    let spec = nodelogd::plugins::spec(&manifest, misbehave(), grants);
    let plugins: PathBuf = plugin_cache();
    let rt = runtime()
        .block_on(Runtime::load(vec![spec], Some(&plugins), 8))
        .unwrap();
    let denied = |why: &str| format!("OpenError::Denied({why:?})");
    let outside = |path: &str| denied(&format!("{path:?} is outside this plugin's read roots"));
    for (path, expected) in [
        ("filelogged.log", outside("filelogged.log")),
        ("/filelogged.log", outside("/filelogged.log")),
        ("podlink/app/0.log", outside("podlink/app/0.log")),
        (
            "containers/../filelogged.log",
            denied("path escapes from parent"),
        ),
        // Kubelet-style links into pods/ leave the `containers` read root.
        (
            "containers/web-1_default_app-abc.log",
            denied("path escapes from parent"),
        ),
        (
            "containers/relative.log",
            denied("path escapes from parent"),
        ),
    ] {
        assert_eq!(
            run_on(&rt, &format!("read:{path}")).unwrap(),
            expected,
            "{path}"
        );
        assert_eq!(
            run_on(&rt, "read:pods/default_web-1_uid/app/0.log").unwrap(),
            nodelogd_tests::logtree::POD_LOG
        );
    }
}

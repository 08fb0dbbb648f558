//! The sandbox, with a plugin built to misbehave (`tests/plugins/misbehave`):
//! traps, runaway loops, memory hogs, ungranted programs and arguments,
//! paths out of the root, a host call that never returns. Each ends its own
//! request only; the next request on the same runtime works.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nodelogd::caps::{Grants, HostPrograms, Manifest, ProgramPolicy};
use nodelogd::logroot::LogRoot;
use nodelogd::runtime::bindings::Query;
use nodelogd::runtime::{RunError, Runtime};
use nodelogd_tests::fixture::runtime;
use nodelogd_tests::procs;

use crate::fixture;

const MANIFEST: &str = r#"
name = "misbehave"
read-log-root = true
[[programs]]
name = "sleep"
args = ["[0-9]{1,7}"]
[limits]
memory-mib = 32
cpu-ms = 300
max-processes = 1
"#;

fn host_programs() -> HostPrograms {
    let sleep = ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap();
    let policy = ProgramPolicy {
        path: sleep.into(),
        leading_args: vec![],
        env_passthrough: vec![],
    };
    HostPrograms::from([("sleep".to_string(), policy)])
}

fn log_root() -> Arc<LogRoot> {
    Arc::new(LogRoot::open(&fixture().logs.root).unwrap())
}

fn plugins() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let manifest = Manifest::parse(MANIFEST).unwrap();
        let grants = Grants::resolve(&manifest, &host_programs(), &log_root()).unwrap();
        let wasm = std::fs::read(env!("NODELOGD_TEST_PLUGIN_MISBEHAVE")).unwrap();
        let spec = nodelogd::plugins::spec(&manifest, wasm, grants);
        let cache = fixture().base.parent().unwrap().join("plugin-cache");
        runtime()
            .block_on(Runtime::load(vec![spec], Some(&cache), 16))
            .unwrap()
    })
}

/// One request: instantiate, claim, open, pull to the end (or `limit`).
fn run(mode: &str, limit: Duration) -> Result<String, RunError> {
    // Load outside `block_on`: loading starts the shared fixture's server,
    // which blocks on the same runtime.
    let plugins = plugins();
    runtime().block_on(async {
        let work = async {
            let services = vec![mode.to_string()];
            let mut instance = plugins.instantiate(0).await?;
            instance.serves(&services).await?;
            let query = Query {
                services,
                since: None,
                until: None,
                tail_lines: None,
                boot: None,
                pattern: None,
            };
            let mut batches = instance.open(&query).await?;
            let mut out = Vec::new();
            while let Some(batch) = batches.next(64 << 10).await? {
                out.extend(batch);
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        };
        tokio::time::timeout(limit, work)
            .await
            .unwrap_or_else(|_| Ok("<wall-clock timeout>".into()))
    })
}

#[track_caller]
fn still_healthy() {
    assert_eq!(run("hello", Duration::from_secs(10)).unwrap(), "hello\n");
}

#[track_caller]
fn traps(mode: &str, needle: &str) {
    let started = Instant::now();
    match run(mode, Duration::from_secs(20)) {
        Err(RunError::Trap { plugin, detail }) => {
            assert_eq!(&*plugin, "misbehave");
            assert!(detail.contains(needle), "{mode}: {detail}");
        }
        other => panic!("{mode}: expected a trap, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{mode} took {:?}",
        started.elapsed()
    );
    still_healthy();
}

#[test]
fn a_panic_ends_only_its_request() {
    still_healthy();
    traps("trap", "unreachable");
    traps("trap-in-serves", "unreachable");
}

#[test]
fn a_runaway_loop_is_interrupted_at_its_cpu_budget() {
    traps("loop", "interrupt");
}

#[test]
fn memory_is_capped() {
    traps("alloc", "memory");
}

#[test]
fn oversized_batches_are_refused() {
    match run("oversized", Duration::from_secs(10)) {
        Err(RunError::Source { detail, .. }) => assert!(detail.contains("larger than"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_granted_programs_and_arguments_run() {
    assert_eq!(
        run("spawn-sh", Duration::from_secs(10)).unwrap(),
        "program \"sh\" is not granted to this plugin"
    );
    assert_eq!(
        run("sleep-bad-arg", Duration::from_secs(10)).unwrap(),
        "argument \"--help\" is not allowed for sleep"
    );
}

#[test]
fn files_outside_the_root_are_refused_inside_ones_read() {
    assert_eq!(
        run("read:../secret", Duration::from_secs(10)).unwrap(),
        "OpenError::Denied(\"path escapes from parent\")"
    );
    assert_eq!(
        run("read:abs-escape.log", Duration::from_secs(10)).unwrap(),
        "OpenError::Denied(\"path escapes from parent\")"
    );
    assert_eq!(
        run(
            "read:containers/web-1_default_app-abc.log",
            Duration::from_secs(10)
        )
        .unwrap(),
        nodelogd_tests::logtree::POD_LOG
    );
}

#[test]
fn a_host_call_that_never_returns_is_cut_by_the_wall_clock_and_its_process_killed() {
    // `sleep 8765431` blocks the plugin inside `read`, where epochs cannot
    // reach it; the caller's timeout drops the store, which kills sleep.
    let out = run("sleep-8765431", Duration::from_millis(500)).unwrap();
    assert_eq!(out, "<wall-clock timeout>");
    assert!(
        procs::gone_within("sleep 8765431", Duration::from_secs(1)),
        "sleep survived its request"
    );
    still_healthy();
}

#[test]
fn an_ungranted_capability_fails_at_load_naming_it() {
    // The built-in file plugin imports `logfile`; granted nothing, it must
    // not load.
    let manifest = Manifest::parse("name = \"file\"").unwrap();
    let grants = Grants::resolve(&manifest, &HostPrograms::new(), &log_root()).unwrap();
    let spec = nodelogd::plugins::spec(
        &manifest,
        nodelogd::plugins::BUILTIN[1].wasm.to_vec(),
        grants,
    );
    let err = runtime()
        .block_on(Runtime::load(vec![spec], None, 4))
        .err()
        .expect("loading must fail");
    let chain = format!("{err:#}");
    assert!(
        chain.contains("loading plugin file") && chain.contains("nodelogd:plugin/logfile"),
        "{chain}"
    );
}

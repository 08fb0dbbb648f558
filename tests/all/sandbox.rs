//! The sandbox at the runtime level, with a plugin built to misbehave
//! (`tests/plugins/misbehave`): traps, runaway loops, memory hogs, host
//! resource hogs, ungranted programs and arguments, paths out of the root,
//! and what a granted program inherits. Each ends its own request only; the
//! next request on the same runtime works. `plugin_faults` runs the same
//! plugin over HTTP, where the server's deadline ends what blocks.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nodelogd::caps::{Grants, HostPrograms, Manifest};
use nodelogd::cli::ServeArgs;
use nodelogd::logroot::LogRoot;
use nodelogd::runtime::bindings::Query;
use nodelogd::runtime::{PluginSpec, RunError, Runtime};
use nodelogd_tests::fixture::runtime;

use crate::fixture;

fn log_root() -> Arc<LogRoot> {
    Arc::new(LogRoot::open(&fixture().logs.root).unwrap())
}

/// The misbehaving plugin over the shared fixture's log root.
pub fn misbehave() -> PluginSpec {
    let probe = std::path::Path::new(env!("CARGO_BIN_EXE_nodelogd-probe"));
    nodelogd_tests::misbehave::spec(&log_root(), probe)
}

pub fn plugin_cache() -> std::path::PathBuf {
    fixture().base.parent().unwrap().join("plugin-cache")
}

fn plugins() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let spec = misbehave();
        runtime()
            .block_on(Runtime::load(vec![spec], Some(&plugin_cache()), 16))
            .unwrap()
    })
}

/// One request: instantiate, claim, open, pull to the end. No timeout of
/// its own: modes that block are tested over HTTP, under the server's
/// deadline (`plugin_faults`).
fn run(mode: &str) -> Result<String, RunError> {
    // Load outside `block_on`: loading starts the shared fixture's server,
    // which blocks on the same runtime.
    run_on(plugins(), mode)
}

/// [`run`] on plugin 0 of `plugins`.
pub fn run_on(plugins: &Runtime, mode: &str) -> Result<String, RunError> {
    runtime().block_on(async {
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
    })
}

#[track_caller]
fn still_healthy() {
    assert_eq!(run("hello").unwrap(), "hello\n");
}

#[track_caller]
fn traps(mode: &str, needle: &str) {
    let started = Instant::now();
    match run(mode) {
        Err(RunError::Trap { plugin, detail, .. }) => {
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
    traps("loop", "CPU budget");
}

#[test]
fn memory_is_capped() {
    traps("alloc", "memory");
}

#[test]
fn oversized_batches_are_refused() {
    match run("oversized") {
        Err(RunError::Malformed { detail, .. }) => {
            assert!(detail.contains("larger than"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_granted_programs_and_arguments_run() {
    assert_eq!(
        run("spawn-sh").unwrap(),
        "program \"sh\" is not granted to this plugin"
    );
    assert_eq!(
        run("sleep-bad-arg").unwrap(),
        "argument \"--help\" is not allowed for sleep"
    );
}

#[test]
fn files_outside_the_root_are_refused_inside_ones_read() {
    assert_eq!(
        run("read:../secret").unwrap(),
        "OpenError::Denied(\"path escapes from parent\")"
    );
    assert_eq!(
        run("read:abs-escape.log").unwrap(),
        "OpenError::Denied(\"path escapes from parent\")"
    );
    assert_eq!(
        run("read:containers/web-1_default_app-abc.log").unwrap(),
        nodelogd_tests::logtree::POD_LOG
    );
}

#[test]
fn an_ungranted_capability_fails_at_load_naming_it() {
    // The built-in file plugin imports `logfile`; granted nothing, it must
    // not load.
    let manifest = Manifest::parse("name = \"file\"").unwrap();
    let grants = Grants::resolve(&manifest, &HostPrograms::new(), &log_root()).unwrap();
    let file = nodelogd::plugins::BUILTIN
        .iter()
        .find(|b| Manifest::parse(b.manifest).unwrap().name == "file")
        .unwrap();
    let spec = nodelogd::plugins::spec(&manifest, file.wasm.to_vec(), grants);
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

/// Pins the CPU budget that charged wall-clock windows: a stream whose
/// output arrives every few ms died with `wasm trap: interrupt` after about
/// `cpu-ms` of wall time, although the plugin spends almost all of it
/// waiting in `read`.
#[test]
fn a_trickling_stream_outlives_its_cpu_budget() {
    let started = Instant::now();
    let out = run("run:probe:trickle:150:8").unwrap();
    assert!(started.elapsed() > Duration::from_millis(1200));
    assert_eq!(out.lines().count(), 150, "{out}");
    assert!(out.ends_with("line 149\n"), "{out}");
}

/// Pins unbounded handles: 5,000 opens used to succeed, one fd each.
#[test]
fn open_files_are_capped_per_instance() {
    assert_eq!(
        run("open-many").unwrap(),
        "opened 16, then OpenError::Denied(\"at most 16 files may be open at once\")"
    );
    still_healthy();
}

/// Peak resident memory of this process, in KiB, after resetting it.
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Pins the unbounded path: a 15 MiB path of `a/` became one allocation
/// per component in the resolver, about 380 MiB of host memory.
#[test]
fn a_huge_path_is_refused_before_it_costs_host_memory() {
    let _ = plugins();
    reset_peak_rss();
    let before = peak_rss_kib();
    let out = run("huge-path").unwrap();
    let grown = peak_rss_kib().saturating_sub(before);
    assert_eq!(
        out,
        "Some(OpenError::Denied(\"path longer than 4096 bytes\"))"
    );
    // The guest's own 15 MiB string and the host's copy of it remain.
    assert!(grown < 128 << 10, "peak RSS grew by {grown} KiB");
}

#[test]
fn max_processes_bounds_programs_at_once() {
    assert_eq!(
        run("two-children").unwrap(),
        "true Some(\"at most 1 programs may run at once\")"
    );
}

/// Pins inherited descriptors: an fd nodelogd holds without close-on-exec
/// (as from its own parent) reached every program it started.
#[test]
fn a_program_inherits_no_descriptor_but_its_stdio() {
    let leaked = std::fs::File::open("/dev/null").unwrap();
    rustix::io::fcntl_setfd(&leaked, rustix::io::FdFlags::empty()).unwrap();
    let out = run("run:probe:fds").unwrap();
    drop(leaked);
    for line in out.lines() {
        let (fd, target) = line.split_once(" -> ").unwrap();
        let fd: u32 = fd.parse().unwrap();
        // Above stdio only the descriptor that lists /proc/self/fd.
        assert!(fd <= 2 || target.starts_with("/proc/"), "{out}");
    }
    assert!(out.lines().count() >= 3, "{out}");
}

/// Pins the shared process group: programs ran in nodelogd's, so killing
/// one left whatever it had started.
#[test]
fn a_program_runs_in_a_process_group_of_its_own() {
    let out = run("run:probe:group").unwrap();
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{out}");
    assert_eq!(words[1], words[3], "{out}");
}

/// `logfile` reads ahead on the blocking pool and serves the plugin's
/// 64 KiB reads from that: a file of several read-aheads, with an odd
/// tail, comes back whole and in order through the built-in file plugin.
#[test]
fn a_large_file_reads_back_whole_through_the_file_plugin() {
    let root = fixture().base.join("readahead-root");
    std::fs::create_dir_all(&root).unwrap();
    let content: Vec<u8> = (0..700_001u32)
        .map(|i| b"0123456789abcdef\n"[(i % 17) as usize] ^ ((i / 17 % 7) as u8))
        .collect();
    std::fs::write(root.join("readahead.log"), &content).unwrap();
    let addr = fixture().serve_root(&root, ServeArgs::default());
    let resp = nodelogd_tests::http::get(addr, "/logs/?query=readahead");
    assert_eq!(resp.status, 200);
    assert!(resp.body == content, "{} bytes back", resp.body.len());
}

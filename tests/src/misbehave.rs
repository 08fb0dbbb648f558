//! The misbehaving test plugin (`tests/plugins/misbehave`) with its test
//! grant: 300 ms of CPU, 32 MiB, one program at a time, the log root, and
//! two programs: `sleep` and `nodelogd-probe` (as "probe").

use std::path::Path;
use std::sync::Arc;

use nodelogd::caps::{Grants, HostPrograms, Manifest, ProgramPolicy};
use nodelogd::logroot::LogRoot;
use nodelogd::runtime::PluginSpec;

pub const MANIFEST: &str = r#"
name = "misbehave"
claims = ["*"]
read-roots = ["/"]
[[programs]]
name = "sleep"
args = ["[0-9]{1,7}"]
[[programs]]
name = "probe"
args = ["trickle", "fds", "group", "grandchild", "[0-9]{1,7}"]
[limits]
memory-mib = 32
cpu-ms = 300
max-processes = 1
"#;

fn host_programs(probe: &Path) -> HostPrograms {
    let sleep = ["/bin/sleep", "/usr/bin/sleep"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sleep is installed");
    let policy = |path: &Path| ProgramPolicy {
        path: path.into(),
        leading_args: vec![],
        env_passthrough: vec![],
    };
    HostPrograms::from([
        ("sleep".to_string(), policy(Path::new(sleep))),
        ("probe".to_string(), policy(probe)),
    ])
}

/// The plugin, serving `log_root`; `probe` is the `nodelogd-probe` binary.
pub fn spec(log_root: &Arc<LogRoot>, probe: &Path) -> PluginSpec {
    let manifest = Manifest::parse(MANIFEST).unwrap();
    let grants = Grants::resolve(&manifest, &host_programs(probe), log_root).unwrap();
    let wasm = std::fs::read(env!("NODELOGD_TEST_PLUGIN_MISBEHAVE")).unwrap();
    nodelogd::plugins::spec(&manifest, wasm, grants)
}

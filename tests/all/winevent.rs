//! The winevent source (issue 7 item 6) on Linux, through a stand-in for
//! PowerShell that records its argv and environment
//! (`nodelogd-powershell-standin`). Pins CVE-2024-9042's class of bug for
//! every value, the native check included: user text reaches PowerShell
//! only as `kubelet_*` environment values, never in an argument. Before
//! this source existed, no Windows event provider was served at all.

use std::path::{Path, PathBuf};

use nodelogd_tests::{dropin, http};
use std::collections::BTreeMap;

const PREFIX: [&str; 4] = ["-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command"];

fn argv(command: &str) -> Vec<String> {
    PREFIX
        .iter()
        .map(|s| s.to_string())
        .chain([command.to_string()])
        .collect()
}

fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<_> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.sort();
    env
}

fn check(service: &str) -> String {
    let cmd = "Get-WinEvent -ListProvider $Env:kubelet_provider0 | Format-Table -AutoSize";
    format!("{:?}", (argv(cmd), env(&[("kubelet_provider0", service)])))
}

fn run(command: &str, vars: &[(&str, &str)]) -> String {
    format!("{:?}", (argv(command), env(vars)))
}

struct Server {
    addr: std::net::SocketAddr,
    record: PathBuf,
}

impl Server {
    /// The records of the runs a request caused, and its response body.
    fn get(&self, target: &str) -> (u16, String, Vec<String>) {
        let _ = std::fs::remove_file(&self.record);
        let resp = http::get(self.addr, target);
        let runs = std::fs::read_to_string(&self.record).unwrap_or_default();
        (
            resp.status,
            resp.text(),
            runs.lines().map(String::from).collect(),
        )
    }
}

fn server() -> Server {
    server_in("winevent", None)
}

/// nodelogd over its own directory `name`, with `config` as its config
/// file's text if given.
fn server_in(name: &str, config: Option<&str>) -> Server {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let config_file = config.map(|text| {
        let path = base.join("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    });
    let root = base.join("log");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("filelogged.log"), "from a file\n").unwrap();
    // The stand-in records next to the path it is run as.
    let powershell = base.join("powershell");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_nodelogd-powershell-standin"),
        &powershell,
    )
    .unwrap();
    let record = base.join("powershell.runs");
    let programs = BTreeMap::from([("powershell".to_string(), powershell)]);
    let cache = base.parent().unwrap().join("plugin-cache");
    let addr = dropin::serve(&root, &cache, 5, programs, config_file);
    Server { addr, record }
}

#[test]
fn winevent_passes_every_user_value_in_the_environment() {
    let s = server();

    // Routing: the stand-in's native check accepts winsvc-*; others fall
    // through to the file source.
    let (status, body, runs) = s.get("/logs/?query=winsvc-app");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        "stand-in Get-WinEvent\nkubelet_provider0=\"winsvc-app\"\n"
    );
    let all = "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName=$Env:kubelet_provider0} | Sort-Object TimeCreated | Format-Table -AutoSize -Wrap";
    assert_eq!(
        runs,
        [
            check("winsvc-app"),
            run(all, &[("kubelet_provider0", "winsvc-app")])
        ]
    );
    let (status, body, runs) = s.get("/logs/?query=filelogged");
    assert_eq!((status, body.as_str()), (200, "from a file\n"));
    assert_eq!(runs, [check("filelogged")]);

    // Upstream's `p1, p2` case (Test_getLoggingCmd).
    let (_, _, runs) = s.get("/logs/?query=winsvc1&query=winsvc2");
    let two = "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName=$Env:kubelet_provider0,$Env:kubelet_provider1} | Sort-Object TimeCreated | Format-Table -AutoSize -Wrap";
    assert_eq!(
        runs,
        [
            check("winsvc1"),
            check("winsvc2"),
            run(
                two,
                &[
                    ("kubelet_provider0", "winsvc1"),
                    ("kubelet_provider1", "winsvc2")
                ]
            )
        ]
    );

    // Every option at once.
    let (status, _, runs) = s.get(
        "/logs/?query=winsvc1&sinceTime=2026-11-30T10:00:00Z&untilTime=2026-11-30T11:00:00.5%2B01:00&tailLines=7&pattern=err",
    );
    assert_eq!(status, 200);
    let full = "Get-WinEvent -FilterHashtable @{LogName='Application'; StartTime=\"$Env:kubelet_sinceTime\"; EndTime=\"$Env:kubelet_untilTime\"; ProviderName=$Env:kubelet_provider0} -MaxEvents $Env:kubelet_tailLines | Sort-Object TimeCreated | Where-Object -Property Message -Match \"$Env:kubelet_pattern\" | Format-Table -AutoSize -Wrap";
    let vars = [
        ("kubelet_provider0", "winsvc1"),
        ("kubelet_sinceTime", "2026-11-30T10:00:00Z"),
        ("kubelet_untilTime", "2026-11-30T10:00:00.500Z"),
        ("kubelet_tailLines", "7"),
        ("kubelet_pattern", "err"),
    ];
    assert_eq!(runs, [check("winsvc1"), run(full, &vars)]);

    // The injection corpus: each value arrives as kubelet_pattern, intact,
    // and the command is the fixed string.
    let grep = "Get-WinEvent -FilterHashtable @{LogName='Application'; ProviderName=$Env:kubelet_provider0} | Sort-Object TimeCreated | Where-Object -Property Message -Match \"$Env:kubelet_pattern\" | Format-Table -AutoSize -Wrap";
    let long = "x".repeat(10_000);
    for (encoded, value) in [
        ("%27%24(Start-process%20cmd)%27", "'$(Start-process cmd)'"),
        ("%22%3B%20calc%3B%20%22", "\"; calc; \""),
        ("%60whoami%60", "`whoami`"),
        ("a%3Bb%7Cc", "a;b|c"),
        ("a%0Ab%0D%0A", "a\nb\r\n"),
        (
            "%E2%80%98%24(x)%E2%80%99%E2%80%9Cy%E2%80%9D",
            "\u{2018}$(x)\u{2019}\u{201c}y\u{201d}",
        ),
        ("%25PATH%25", "%PATH%"),
        ("%24Env%3APATH", "$Env:PATH"),
        (long.as_str(), long.as_str()),
    ] {
        let (status, body, runs) = s.get(&format!("/logs/?query=winsvc1&pattern={encoded}"));
        assert_eq!(status, 200, "{value:?}: {body}");
        let vars = [("kubelet_provider0", "winsvc1"), ("kubelet_pattern", value)];
        assert_eq!(runs, [check("winsvc1"), run(grep, &vars)], "{value:?}");
    }
}

/// `[plugins.winevent] channels` (issue 7 item 6): before, the channel was
/// always `Application`. The operator's channels reach PowerShell as one
/// `kubelet_logNames` value that PowerShell splits as data; the command
/// string stays fixed, whatever the channel names hold.
#[test]
fn winevent_queries_the_configured_channels() {
    let config = "[plugins.winevent]\nchannels = [\"Application\", \"System\", \"Microsoft-Windows-PowerShell/Operational\"]\n";
    let s = server_in("winevent-channels", Some(config));
    let (status, body, runs) = s.get("/logs/?query=winsvc-app&tailLines=3");
    assert_eq!(status, 200, "{body}");
    let names = "Application,System,Microsoft-Windows-PowerShell/Operational";
    assert_eq!(
        body,
        format!(
            "stand-in Get-WinEvent\nkubelet_logNames={names:?}\nkubelet_provider0=\"winsvc-app\"\nkubelet_tailLines=\"3\"\n"
        )
    );
    let cmd = "Get-WinEvent -FilterHashtable @{LogName=($Env:kubelet_logNames -split ','); ProviderName=$Env:kubelet_provider0} -MaxEvents $Env:kubelet_tailLines | Sort-Object TimeCreated | Format-Table -AutoSize -Wrap";
    let vars = [
        ("kubelet_logNames", names),
        ("kubelet_provider0", "winsvc-app"),
        ("kubelet_tailLines", "3"),
    ];
    assert_eq!(runs, [check("winsvc-app"), run(cmd, &vars)]);
}

/// A channel name that is not one, or `channels` for another plugin, stops
/// nodelogd at start-up with a message naming it.
#[test]
fn winevent_channels_are_checked_at_start_up() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("winevent-bad-channels");
    std::fs::create_dir_all(&base).unwrap();
    let cases = [
        (
            "[plugins.winevent]\nchannels = [\"System'; Remove-Item C:/x\"]\n",
            "channel \"System'; Remove-Item C:/x\" is not a channel name",
        ),
        (
            "[plugins.winevent]\nchannels = [\"Application,System\"]\n",
            "channel \"Application,System\" is not a channel name",
        ),
        (
            "[plugins.winevent]\nchannels = []\n",
            "channels must list 1 to 16 channels",
        ),
        (
            "[plugins.journald]\nchannels = [\"System\"]\n",
            "[plugins.journald]: channels is a setting of the winevent plugin only",
        ),
    ];
    for (text, message) in cases {
        let path = base.join("config.toml");
        std::fs::write(&path, text).unwrap();
        let err = nodelogd::config::Config::load(nodelogd::cli::ServeArgs {
            config: Some(path),
            cache_dir: Some("none".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains(message), "{err:#}");
    }
}

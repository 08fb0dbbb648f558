//! The kubelet's Windows log source (`Get-WinEvent` through PowerShell),
//! with the CVE-2024-9042 fix carried all the way: the command strings are
//! fixed and every user value reaches PowerShell as a `kubelet_*`
//! environment variable, the native check (`Get-WinEvent -ListProvider`)
//! included, which upstream still builds with the service name inside.
//!
//! Deliberate difference: `kubelet_sinceTime` and `kubelet_untilTime` are
//! RFC 3339 instants in UTC (`2026-11-30T10:00:00Z`), which PowerShell's
//! `[datetime]` conversion reads as that instant; upstream passes a zone-
//! less `2006-1-2 15:4:5` that the node's time zone shifts. `boot` is
//! ignored, as upstream does on Windows. The channel is upstream's
//! `Application` unless the operator lists others, which reach PowerShell
//! as `kubelet_logNames` like every other value.

mod command;

use nodelogd_plugin_sdk::program::{self, Output};
use nodelogd_plugin_sdk::{Guest, LogStream, Query, SourceError, SourceInfo};

const POWERSHELL: &str = "powershell";
/// The operator's channels (`[plugins.winevent] channels`), which the host
/// sets in this plugin's own environment; unset means `Application`.
const CHANNELS: &str = "NODELOGD_WINEVENT_CHANNELS";
/// `Get-WinEvent -ListProvider` prints one provider's description.
const MAX_CHECK_OUTPUT: usize = 1 << 20;

struct WinEvent;

impl Guest for WinEvent {
    type LogStream = Output;

    fn info() -> SourceInfo {
        SourceInfo {
            name: "winevent".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Windows event logs through Get-WinEvent".into(),
            supports_options: true,
        }
    }

    /// The kubelet's native check: a service is an event provider when
    /// `Get-WinEvent -ListProvider` succeeds for it (upstream: an exit
    /// error means "not native", any other error means native).
    fn serves(services: Vec<String>) -> Result<Vec<bool>, SourceError> {
        services
            .into_iter()
            .map(|service| {
                let (args, env) = command::native_check(service);
                let child = program::start(POWERSHELL, &args, &env)?;
                program::output(&child, MAX_CHECK_OUTPUT)?;
                Ok(child.wait().map_or(true, |code| code == 0))
            })
            .collect()
    }

    fn open(q: Query) -> Result<LogStream, SourceError> {
        let channels = std::env::var(CHANNELS).ok();
        let (args, env) = command::query(&q, channels);
        let child = program::start(POWERSHELL, &args, &env)?;
        Ok(LogStream::new(Output(child)))
    }
}

nodelogd_plugin_sdk::export!(WinEvent);

//! PowerShell's argv and environment, as the kubelet builds them after the
//! CVE-2024-9042 fix (`getLoggingCmdArgs`, `getLoggingCmdEnv`): the command
//! holds only `$Env:kubelet_*` references; the values go in `env`.

use chrono::{DateTime, SecondsFormat};
use nodelogd_plugin_sdk::Query;
use nodelogd_plugin_sdk::Timestamp;

pub type Env = Vec<(String, String)>;

fn argv(command: String) -> Vec<String> {
    ["-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command"]
        .into_iter()
        .map(String::from)
        .chain([command])
        .collect()
}

/// `Get-WinEvent -ListProvider` for one service, by environment.
pub fn native_check(service: String) -> (Vec<String>, Env) {
    let command = "Get-WinEvent -ListProvider $Env:kubelet_provider0 | Format-Table -AutoSize";
    (
        argv(command.into()),
        vec![("kubelet_provider0".into(), service)],
    )
}

fn instant(t: &Timestamp) -> String {
    DateTime::from_timestamp(t.seconds, t.nanoseconds)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

/// The query over upstream's `Application` channel, or over the
/// operator's channels (`,`-separated, split by PowerShell as data).
pub fn query(q: &Query, channels: Option<String>) -> (Vec<String>, Env) {
    let mut cmd = String::from("Get-WinEvent -FilterHashtable @{LogName=");
    let mut env = Env::new();
    match channels {
        Some(channels) => {
            cmd.push_str("($Env:kubelet_logNames -split ',')");
            env.push(("kubelet_logNames".into(), channels));
        }
        None => cmd.push_str("'Application'"),
    }
    if let Some(since) = &q.since {
        cmd.push_str("; StartTime=\"$Env:kubelet_sinceTime\"");
        env.push(("kubelet_sinceTime".into(), instant(since)));
    }
    if let Some(until) = &q.until {
        cmd.push_str("; EndTime=\"$Env:kubelet_untilTime\"");
        env.push(("kubelet_untilTime".into(), instant(until)));
    }
    let providers: Vec<String> = q
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| {
            env.push((format!("kubelet_provider{i}"), s.clone()));
            format!("$Env:kubelet_provider{i}")
        })
        .collect();
    if !providers.is_empty() {
        cmd.push_str("; ProviderName=");
        cmd.push_str(&providers.join(","));
    }
    cmd.push('}');
    if let Some(n) = q.tail_lines {
        cmd.push_str(" -MaxEvents $Env:kubelet_tailLines");
        env.push(("kubelet_tailLines".into(), n.to_string()));
    }
    cmd.push_str(" | Sort-Object TimeCreated");
    if let Some(pattern) = &q.pattern {
        cmd.push_str(" | Where-Object -Property Message -Match \"$Env:kubelet_pattern\"");
        env.push(("kubelet_pattern".into(), pattern.clone()));
    }
    cmd.push_str(" | Format-Table -AutoSize -Wrap");
    (argv(cmd), env)
}

//! What is asked of every node: the `/logs/...` path and query string,
//! checked here with the server's own parser and validator
//! (`nodelogd_query`), so a typo fails with the server's exact message
//! before any request is sent.

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::cli::Cli;
use crate::timespec;

/// Everything but unreserved characters is escaped: Go's `url.ParseQuery`
/// turns a raw `+` into a space, so it must travel as `%2B`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// A path segment, such as a node name in the API server's proxy path.
pub const SEGMENT: &AsciiSet = QUERY_VALUE;
/// Paths keep their `/`.
const PATH: &AsciiSet = &QUERY_VALUE.remove(b'/');

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The server's own text, as the node would answer it.
    #[error("{0}")]
    Server(String),
    #[error("{flag}: {detail}")]
    Flag { flag: &'static str, detail: String },
}

/// The path and query under `/logs/`, e.g. `/logs/?query=kubelet&tailLines=5`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogsRequest {
    pub path_and_query: String,
}

impl LogsRequest {
    pub fn from_cli(cli: &Cli, now: DateTime<Utc>) -> Result<Self, RequestError> {
        let since = time_param(
            "--since",
            cli.since.as_deref(),
            cli.since_time.as_deref(),
            now,
        )?;
        let until = time_param(
            "--until",
            cli.until.as_deref(),
            cli.until_time.as_deref(),
            now,
        )?;
        let mut params: Vec<(&str, &str)> = cli.query.iter().map(|q| ("query", &**q)).collect();
        for (name, value) in [
            ("sinceTime", since.as_deref()),
            ("untilTime", until.as_deref()),
            // -1 is "all" for the krew plugin and `oc adm node-logs`, which
            // send no tailLines then; the kubelet would refuse it.
            ("tailLines", cli.tail.as_deref().filter(|t| *t != "-1")),
            ("boot", cli.boot.as_deref()),
            ("pattern", cli.pattern.as_deref()),
        ] {
            if let Some(v) = value {
                params.push((name, v));
            }
        }
        let query = params
            .iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
            .collect::<Vec<_>>()
            .join("&");
        let path = cli.path.as_deref().unwrap_or("");
        check(path, &query)?;
        let mut path_and_query = format!(
            "/logs/{}",
            utf8_percent_encode(path.trim_start_matches('/'), PATH)
        );
        if !query.is_empty() {
            path_and_query.push('?');
            path_and_query.push_str(&query);
        }
        Ok(LogsRequest { path_and_query })
    }
}

/// The server's decisions that need no filesystem, in the server's order:
/// parse (400), a path in query mode, validate (406).
fn check(path: &str, query: &str) -> Result<(), RequestError> {
    let parsed = nodelogd_query::parse(Some(query))
        .map_err(|errs| RequestError::Server(errs.to_string()))?;
    let Some(q) = parsed else {
        return Ok(());
    };
    if !(path.is_empty() || path == "/") {
        return Err(RequestError::Server(
            nodelogd_query::PATH_IN_QUERY_MODE.to_string(),
        ));
    }
    nodelogd_query::validate(q)
        .map(drop)
        .map_err(|errs| RequestError::Server(errs.to_string()))
}

/// `--since`/`--until` (a duration ago or a timestamp, converted here) or
/// `--since-time`/`--until-time` (RFC 3339, passed as given for the server's
/// validator to judge). clap keeps the two forms exclusive.
fn time_param(
    flag: &'static str,
    relative: Option<&str>,
    rfc3339: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<String>, RequestError> {
    if let Some(v) = relative {
        let t = timespec::resolve(v, now).map_err(|detail| RequestError::Flag { flag, detail })?;
        return Ok(Some(t.to_rfc3339_opts(SecondsFormat::AutoSi, true)));
    }
    Ok(rfc3339.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn req(args: &[&str]) -> Result<String, RequestError> {
        let now = "2026-11-30T10:00:00Z".parse().unwrap();
        let cli = Cli::parse_from(["k", "n1"].iter().chain(args));
        LogsRequest::from_cli(&cli, now).map(|r| r.path_and_query)
    }

    #[test]
    fn parameters_are_the_kubelets() {
        assert_eq!(
            req(&[
                "-Q",
                "kubelet",
                "-Q",
                "containerd",
                "--tail",
                "5",
                "--boot",
                "-1",
                "-p",
                "a+b c"
            ])
            .unwrap(),
            "/logs/?query=kubelet&query=containerd&tailLines=5&boot=-1&pattern=a%2Bb%20c"
        );
        assert_eq!(
            req(&[
                "-Q",
                "kubelet",
                "--since",
                "1h",
                "--until-time",
                "2026-11-30T10:00:00+01:00"
            ])
            .unwrap(),
            "/logs/?query=kubelet&sinceTime=2026-11-30T09%3A00%3A00Z&untilTime=2026-11-30T10%3A00%3A00%2B01%3A00"
        );
        assert_eq!(req(&[]).unwrap(), "/logs/");
        assert_eq!(
            req(&["-Q", "kubelet", "--tail", "-1"]).unwrap(),
            "/logs/?query=kubelet"
        );
        assert_eq!(req(&["--path", "/pods/a b/"]).unwrap(), "/logs/pods/a%20b/");
    }

    #[test]
    fn server_texts_before_any_request() {
        let err = |args: &[&str]| req(args).unwrap_err().to_string();
        assert_eq!(
            err(&["-Q", "kubelet", "--tail", "x"]),
            "tailLines: Invalid value: \"x\": strconv.Atoi: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            err(&["-Q", "kubelet", "--boot", "1"]),
            "boot: Invalid value: 1: must be less than 1"
        );
        assert_eq!(
            err(&["--tail", "5"]),
            "query: Required value: cannot be empty with options"
        );
        assert_eq!(
            err(&["--path", "syslog", "--tail", "5"]),
            "path not allowed in query mode"
        );
        assert_eq!(
            err(&["-Q", "kubelet", "--since", "soon"]).split(':').next(),
            Some("--since")
        );
    }
}

//! One audit record: what is known when the request arrives, what the
//! request's handling adds, and how it ended; serialized as one JSON line.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use http::Request;
use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::auth::{AuthMethod, User};

/// Longest path, parameter name or value recorded, in bytes; the URL is
/// the client's, and one request must not write kilobytes of audit log.
const MAX_TEXT: usize = 1024;
/// Most query parameters recorded (the kubelet's queries have six kinds).
const MAX_PARAMS: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allowed,
    /// Authenticated, not authorized: 403.
    Denied,
    /// No valid credentials: 401.
    Unauthenticated,
    /// The authorizer could not decide: 500.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The whole response was handed to the connection.
    Completed,
    /// The query's deadline ended the output.
    Deadline,
    /// The client left (or stalled and was cut off) before the end.
    ClientGone,
    /// 401 or 403.
    Denied,
    /// A 5xx, or a body that failed.
    Error,
}

impl Decision {
    /// As serialized, for metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Unauthenticated => "unauthenticated",
            Decision::Error => "error",
        }
    }
}

impl Outcome {
    /// As serialized, for the request log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Deadline => "deadline",
            Outcome::ClientGone => "client-gone",
            Outcome::Denied => "denied",
            Outcome::Error => "error",
        }
    }

    /// `ended` is how the body ended, `None` when it did not.
    pub(super) fn of(ended: Option<Outcome>, status: Option<u16>, fields: &Fields) -> Outcome {
        let denied = matches!(
            fields.decision,
            Some(Decision::Denied | Decision::Unauthenticated)
        ) || matches!(status, Some(401 | 403));
        match ended {
            _ if denied => Outcome::Denied,
            None => Outcome::ClientGone,
            Some(Outcome::Completed) if fields.deadline => Outcome::Deadline,
            Some(Outcome::Completed) if status.is_some_and(|s| s >= 500) => Outcome::Error,
            Some(outcome) => outcome,
        }
    }
}

/// What is filled in while the request is handled.
#[derive(Debug, Default)]
pub struct Fields {
    time: String,
    client: Option<IpAddr>,
    pub(super) method: String,
    path: String,
    query: BTreeMap<String, Vec<String>>,
    pub(super) user: Option<String>,
    groups: Vec<String>,
    pub(super) auth_method: Option<&'static str>,
    pub(super) decision: Option<Decision>,
    pub(super) sources: Vec<String>,
    pub(super) deadline: bool,
}

impl Fields {
    /// `recorded`: whether an audit record will be written. Only it reads
    /// the time and the decoded query, so without one (no audit log, or
    /// not `/logs`) every request is spared them.
    pub(super) fn new<B>(client: IpAddr, req: &Request<B>, recorded: bool) -> Fields {
        let (time, query) = if recorded {
            (
                Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
                params(req.uri().query()),
            )
        } else {
            Default::default()
        };
        Fields {
            time,
            client: Some(client),
            method: clip(req.method().as_str()),
            path: clip(req.uri().path()),
            query,
            ..Fields::default()
        }
    }

    pub(super) fn authenticated(&mut self, user: &User, method: AuthMethod) {
        self.user = Some(clip(&user.name));
        self.groups = user.groups.iter().map(|g| clip(g)).collect();
        self.auth_method = Some(match method {
            AuthMethod::ClientCertificate => "client-certificate",
            AuthMethod::StaticToken => "static-token",
            AuthMethod::TokenReview => "token-review",
            AuthMethod::Anonymous => "anonymous",
        });
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    time: String,
    user: Option<String>,
    groups: Vec<String>,
    auth_method: Option<&'static str>,
    client_address: Option<IpAddr>,
    method: String,
    path: String,
    query: BTreeMap<String, Vec<String>>,
    decision: Option<Decision>,
    sources: Vec<String>,
    /// `None` when the client left before the response started.
    status: Option<u16>,
    bytes: u64,
    duration_ms: u64,
    outcome: Outcome,
}

impl Record {
    pub(super) fn new(
        fields: Fields,
        status: Option<u16>,
        bytes: u64,
        duration: Duration,
        outcome: Outcome,
    ) -> Record {
        Record {
            time: fields.time,
            user: fields.user,
            groups: fields.groups,
            auth_method: fields.auth_method,
            client_address: fields.client,
            method: fields.method,
            path: fields.path,
            query: fields.query,
            decision: fields.decision,
            sources: fields.sources,
            status,
            bytes,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            outcome,
        }
    }
}

/// The query's parameters as Go's `url.ParseQuery` reads them (`+` is a
/// space), bounded by `MAX_PARAMS` and `MAX_TEXT`.
fn params(query: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let decode = |s: &str| clip(&percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy());
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .take(MAX_PARAMS)
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.entry(decode(key)).or_default().push(decode(value));
    }
    params
}

/// At most `MAX_TEXT` bytes, then `…`.
fn clip(text: &str) -> String {
    let mut text = text.to_string();
    if text.len() > MAX_TEXT {
        text.truncate(text.floor_char_boundary(MAX_TEXT));
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded_and_bounded() {
        let long = "x".repeat(5000);
        let query = format!("query=kubelet&query=a%2Fb&pattern=a+b%2Bc&tailLines&p={long}");
        let parsed = params(Some(&query));
        assert_eq!(parsed["query"], ["kubelet", "a/b"]);
        assert_eq!(parsed["pattern"], ["a b+c"]);
        assert_eq!(parsed["tailLines"], [""]);
        assert_eq!(parsed["p"][0].len(), MAX_TEXT + '…'.len_utf8());
        let many = "a=1&".repeat(100);
        assert_eq!(params(Some(&many))["a"].len(), MAX_PARAMS);
    }

    #[test]
    fn outcomes() {
        let mut fields = Fields::default();
        let completed = Some(Outcome::Completed);
        assert_eq!(
            Outcome::of(completed, Some(200), &fields),
            Outcome::Completed
        );
        assert_eq!(Outcome::of(None, Some(200), &fields), Outcome::ClientGone);
        assert_eq!(Outcome::of(None, None, &fields), Outcome::ClientGone);
        assert_eq!(Outcome::of(completed, Some(500), &fields), Outcome::Error);
        assert_eq!(Outcome::of(completed, Some(401), &fields), Outcome::Denied);
        fields.deadline = true;
        assert_eq!(
            Outcome::of(completed, Some(200), &fields),
            Outcome::Deadline
        );
        fields.decision = Some(Decision::Denied);
        assert_eq!(Outcome::of(None, Some(403), &fields), Outcome::Denied);
    }
}

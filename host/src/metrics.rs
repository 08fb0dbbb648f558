//! What `/metrics` serves, in the Prometheus text format (0.0.4), encoded
//! by `prometheus-client`. One [`Metrics`] per server, created once at
//! start and shared as `Arc<Metrics>`: a rebuilt `App` is handed the same
//! one, so counters never restart while the process runs.
//!
//! Every label value is one of a fixed set (kinds, status codes of actual
//! responses, reasons, causes) or the name of a loaded plugin: nothing a
//! request says ends up as a series of its own. Recording is atomics only,
//! except the first use of a label set (a short write lock in `Family`).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::admission::Busy;
use crate::audit::{Decision, Outcome};
use crate::caps::process;
use crate::runtime::RunError;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Request durations and times to first byte, in seconds: from a cached
/// file (milliseconds) to a query that runs into the 30 s deadline.
const SECONDS_BUCKETS: [f64; 14] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// What a request was, as far as it got: set on the response by the
/// handler that answered it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A directory listing of the log root.
    Listing,
    /// A raw file, by path or by `query=<file>`.
    File,
    /// A query for services, answered by the plugins.
    Query,
    /// `/metrics` itself.
    Metrics,
    /// Refused before its kind was known (401, 403, 400, 406, 405), or
    /// a path nodelogd does not serve (404).
    #[default]
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    kind: &'static str,
    code: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ThrottleLabels {
    kind: &'static str,
    /// `client_address`, `user` or `all_slots` (no slot within the wait),
    /// `queue_full`, or `plugin_instances` (a plugin's `max-instances`).
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct FaultLabels {
    plugin: String,
    cause: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AuthnLabels {
    /// How the request was authenticated, or `failed`.
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct AuthzLabels {
    decision: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ReloadLabels {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    wasmtime_version: &'static str,
    wit_version: &'static str,
}

type Timings = Family<KindLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Timings,
    first_byte: Timings,
    sent: Family<KindLabels, Counter>,
    queries_in_flight: Gauge,
    throttled: Family<ThrottleLabels, Counter>,
    deadline_hits: Counter,
    clients_gone: Family<KindLabels, Counter>,
    instantiations: Family<PluginLabels, Counter>,
    faults: Family<FaultLabels, Counter>,
    plugin_time: Family<PluginLabels, Counter<f64, AtomicU64>>,
    plugin_bytes: Family<PluginLabels, Counter>,
    programs_running: Gauge,
    authentications: Family<AuthnLabels, Counter>,
    authorizations: Family<AuthzLabels, Counter>,
    plugin_load_failures: Counter,
    reloads: Family<ReloadLabels, Counter>,
}

/// How a request ended, as the metrics count it (see `audit::Pending`).
pub struct Ended {
    pub kind: Kind,
    /// `None` when the client left before the response started.
    pub status: Option<u16>,
    pub bytes: u64,
    pub duration: Duration,
    /// Until the first body byte, or the head for an empty body.
    pub first_byte: Option<Duration>,
    pub outcome: Outcome,
    /// How the client was authenticated, if it was.
    pub auth_method: Option<&'static str>,
    pub decision: Option<Decision>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("nodelogd");
        let timings: fn() -> Histogram = || Histogram::new(SECONDS_BUCKETS);
        let m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            duration: Family::new_with_constructor(timings),
            first_byte: Family::new_with_constructor(timings),
            sent: Family::default(),
            queries_in_flight: Gauge::default(),
            throttled: Family::default(),
            deadline_hits: Counter::default(),
            clients_gone: Family::default(),
            instantiations: Family::default(),
            faults: Family::default(),
            plugin_time: Family::default(),
            plugin_bytes: Family::default(),
            programs_running: Gauge::default(),
            authentications: Family::default(),
            authorizations: Family::default(),
            plugin_load_failures: Counter::default(),
            reloads: Family::default(),
        };
        let r = &mut registry;
        r.register(
            "requests",
            "Requests answered, by kind and status code (/healthz not counted)",
            m.requests.clone(),
        );
        r.register_with_unit(
            "request_duration",
            "From the request's arrival to the end of its response",
            Unit::Seconds,
            m.duration.clone(),
        );
        r.register_with_unit(
            "request_first_byte",
            "From the request's arrival to its first response body byte (the head, for an empty body)",
            Unit::Seconds,
            m.first_byte.clone(),
        );
        r.register_with_unit(
            "response_body",
            "Response body bytes handed to the connection (after gzip)",
            Unit::Bytes,
            m.sent.clone(),
        );
        r.register(
            "queries_in_flight",
            "Service queries holding a slot now (their responses included)",
            m.queries_in_flight.clone(),
        );
        r.register(
            "throttled_requests",
            "Requests answered 429, by kind and reason",
            m.throttled.clone(),
        );
        r.register(
            "query_deadline_hits",
            "Service queries whose output the deadline (--deadline-seconds) ended",
            m.deadline_hits.clone(),
        );
        r.register(
            "client_disconnects",
            "Requests whose client left (or stalled and was cut off) before the response ended",
            m.clients_gone.clone(),
        );
        r.register(
            "plugin_instantiations",
            "Plugin instances created, one per plugin per query it was asked in",
            m.instantiations.clone(),
        );
        r.register(
            "plugin_faults",
            "Plugin calls that failed, by cause: cpu, wall_time, memory, panic, trap, malformed, output_limit",
            m.faults.clone(),
        );
        r.register_with_unit(
            "plugin_time",
            "Wall-clock time spent in calls into each plugin",
            Unit::Seconds,
            m.plugin_time.clone(),
        );
        r.register_with_unit(
            "plugin_output",
            "Log bytes each plugin produced",
            Unit::Bytes,
            m.plugin_bytes.clone(),
        );
        r.register(
            "programs_running",
            "Programs plugins started (journalctl and granted programs) not yet ended",
            m.programs_running.clone(),
        );
        r.register(
            "authentications",
            "Requests by how they were authenticated (anonymous, client-certificate, static-token, token-review), or failed",
            m.authentications.clone(),
        );
        r.register(
            "authorizations",
            "Authorization decisions for authenticated requests",
            m.authorizations.clone(),
        );
        r.register(
            "plugin_load_failures",
            "Optional plugins skipped at start or reload: refused by their grant, or not loaded",
            m.plugin_load_failures.clone(),
        );
        r.register(
            "reloads",
            "SIGHUP reloads, by whether the new configuration was put in force",
            m.reloads.clone(),
        );
        r.register(
            "build",
            "nodelogd's version, the wasmtime it embeds, and the nodelogd:plugin WIT package it serves",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                wasmtime_version: env!("NODELOGD_WASMTIME_VERSION"),
                wit_version: env!("NODELOGD_WIT_VERSION"),
            }),
        );
        Metrics { registry, ..m }
    }

    /// Everything, in the Prometheus text format.
    pub fn encode(&self) -> String {
        self.programs_running.set(process::running());
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    pub fn request_ended(&self, ended: &Ended) {
        let kind = KindLabels {
            kind: ended.kind.as_str(),
        };
        if let Some(code) = ended.status {
            self.requests
                .get_or_create(&RequestLabels {
                    kind: ended.kind.as_str(),
                    code,
                })
                .inc();
            self.duration
                .get_or_create(&kind)
                .observe(ended.duration.as_secs_f64());
        }
        if let Some(first) = ended.first_byte {
            self.first_byte
                .get_or_create(&kind)
                .observe(first.as_secs_f64());
        }
        self.sent.get_or_create(&kind).inc_by(ended.bytes);
        if ended.outcome == Outcome::ClientGone {
            self.clients_gone.get_or_create(&kind).inc();
        }
        let authn = match (ended.auth_method, ended.decision) {
            (Some(method), _) => Some(method),
            (None, Some(Decision::Unauthenticated)) => Some("failed"),
            _ => None,
        };
        if let Some(result) = authn {
            self.authentications
                .get_or_create(&AuthnLabels { result })
                .inc();
        }
        if let Some(decision) = ended.decision.filter(|d| *d != Decision::Unauthenticated) {
            self.authorizations
                .get_or_create(&AuthzLabels {
                    decision: decision.as_str(),
                })
                .inc();
        }
    }

    /// A 429 for a request of `kind`.
    pub fn throttled(&self, kind: Kind, busy: &Busy) {
        let reason = match busy {
            Busy::ClientAddress => "client_address",
            Busy::User => "user",
            Busy::AllSlots => "all_slots",
            Busy::QueueFull => "queue_full",
        };
        self.throttled_for(kind, reason);
    }

    fn throttled_for(&self, kind: Kind, reason: &'static str) {
        self.throttled
            .get_or_create(&ThrottleLabels {
                kind: kind.as_str(),
                reason,
            })
            .inc();
    }

    /// A service query took its slot; it is counted until the guard drops.
    pub fn query_started(&self) -> InFlight {
        self.queries_in_flight.inc();
        InFlight(self.queries_in_flight.clone())
    }

    pub fn deadline_hit(&self) {
        self.deadline_hits.inc();
    }

    pub fn plugin_instantiated(&self, plugin: &str) {
        self.instantiations
            .get_or_create(&plugin_labels(plugin))
            .inc();
    }

    /// Time spent in calls into `plugin`, and the bytes they produced.
    pub fn plugin_worked(&self, plugin: &str, time: Duration, bytes: usize) {
        let labels = plugin_labels(plugin);
        self.plugin_time
            .get_or_create(&labels)
            .inc_by(time.as_secs_f64());
        if bytes > 0 {
            self.plugin_bytes
                .get_or_create(&labels)
                .inc_by(u64::try_from(bytes).unwrap_or(u64::MAX));
        }
    }

    /// A plugin call failed: a fault of the plugin's counts by cause, a
    /// busy plugin as a 429 of a query.
    pub fn plugin_failed(&self, e: &RunError) {
        if let RunError::Busy { .. } = e {
            self.throttled_for(Kind::Query, "plugin_instances");
        } else if let Some((plugin, cause)) = e.fault() {
            self.faults
                .get_or_create(&FaultLabels {
                    plugin: plugin.to_string(),
                    cause,
                })
                .inc();
        }
    }

    pub fn plugin_load_failed(&self) {
        self.plugin_load_failures.inc();
    }

    /// A SIGHUP reload ended: put in force, or refused and the old state kept.
    pub fn reloaded(&self, in_force: bool) {
        let outcome = if in_force { "success" } else { "failure" };
        self.reloads.get_or_create(&ReloadLabels { outcome }).inc();
    }
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Listing => "listing",
            Kind::File => "file",
            Kind::Query => "query",
            Kind::Metrics => "metrics",
            Kind::Other => "other",
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn plugin_labels(plugin: &str) -> PluginLabels {
    PluginLabels {
        plugin: plugin.to_string(),
    }
}

/// A service query counted in `queries_in_flight` until dropped.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_conventions_and_labels_are_the_enumerated_ones() {
        let metrics = Metrics::new();
        metrics.request_ended(&Ended {
            kind: Kind::File,
            status: Some(200),
            bytes: 5,
            duration: Duration::from_millis(20),
            first_byte: Some(Duration::from_millis(2)),
            outcome: Outcome::Completed,
            auth_method: Some("anonymous"),
            decision: Some(Decision::Allowed),
        });
        metrics.throttled(Kind::Query, &Busy::QueueFull);
        let text = metrics.encode();
        for line in [
            "# TYPE nodelogd_requests_total counter",
            r#"nodelogd_requests_total{kind="file",code="200"} 1"#,
            "# TYPE nodelogd_request_duration_seconds histogram",
            r#"nodelogd_request_duration_seconds_bucket{kind="file",le="0.025"} 1"#,
            r#"nodelogd_response_body_bytes_total{kind="file"} 5"#,
            r#"nodelogd_throttled_requests_total{kind="query",reason="queue_full"} 1"#,
            r#"nodelogd_authentications_total{result="anonymous"} 1"#,
            r#"nodelogd_authorizations_total{decision="allowed"} 1"#,
            "# TYPE nodelogd_build_info gauge",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}

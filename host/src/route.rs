//! The `/logs/` surface, as the kubelet dispatches it: first the auth
//! filter (401/403/500) on every path but `/healthz`, then the gating
//! switches (405, or files only), then parse the query (400), no
//! recognised parameter means the file server, a path in query mode or a
//! failed validation is a 406, services go to the plugins, a single file
//! to the file server. `/healthz` is never authenticated, queued or
//! limited, and tells nothing but that nodelogd is up. `/metrics` passes
//! the same filter (subresource `metrics`, as the kubelet's), unless the
//! operator opened it (`--metrics-open-on-loopback`, plain HTTP on loopback
//! only).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode, header};
use percent_encoding::percent_decode_str;

use crate::admission::{Admission, ClientAddr, Permit};
use crate::audit;
use crate::auth::guard::Guard;
use crate::config::Gating;
use crate::files::{self, Via};
use crate::logroot::{LogRoot, RootError};
use crate::metrics::{self, Kind, Metrics};
use crate::query::{self, Valid};
use crate::reply;
use crate::runtime::Runtime;
use crate::service_logs;
use crate::stream::Body;

/// Everything a request needs, shared by all connections.
pub struct App {
    /// Where each `/logs` request is recorded when it ends.
    pub audit: audit::Log,
    pub log_root: Arc<LogRoot>,
    pub runtime: Runtime,
    pub deadline: Duration,
    /// Service queries running at once (each may run journalctl); kept
    /// across a reload that does not change its limits.
    pub queries: Arc<Admission>,
    /// File requests (raw files and listings) running at once; the same.
    pub files: Arc<Admission>,
    /// Authentication and authorization, before anything else.
    pub guard: Guard,
    pub gating: Gating,
    /// Created once per server: a rebuilt `App` gets the same one.
    pub metrics: Arc<Metrics>,
    /// `/metrics` without authentication (checked by `config`: loopback,
    /// plain HTTP).
    pub metrics_open: bool,
}

/// Whether requests to `path` are audited: all of `/logs` (`route::handle`
/// serves it), nothing else.
pub fn audited(path: &str) -> bool {
    path.strip_prefix("/logs")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The response, marked with the [`Kind`] of request it answered (for
/// the metrics; `Other` unless a handler said otherwise).
pub async fn handle<B>(app: &App, req: Request<B>) -> Response<Body> {
    let path = req.uri().path();
    if path == "/healthz" {
        return reply::full(StatusCode::OK, "text/plain; charset=utf-8", "ok");
    }
    if path == "/metrics" && app.metrics_open {
        return metrics(app, &req);
    }
    // Nothing is parsed, admitted or started before this decision.
    let user = match app.guard.check(&req).await {
        Ok(passed) => passed.user,
        Err(refused) => return refused,
    };
    if path == "/metrics" {
        return metrics(app, &req);
    }
    // `/logs` is accepted as `/logs/`: clients build the URL both ways.
    match path.strip_prefix("/logs") {
        Some(rest) if audited(path) => {
            // Query-mode redirects are relative to this page.
            let root = if rest.is_empty() { "logs/" } else { "" };
            let rest = rest.strip_prefix('/').unwrap_or(rest).to_string();
            logs(app, &req, &user.name, &rest, root).await
        }
        _ => reply::not_found(),
    }
}

async fn logs<B>(
    app: &App,
    req: &Request<B>,
    user: &str,
    rest: &str,
    root: &'static str,
) -> Response<Body> {
    if !app.gating.handler {
        return reply::error(StatusCode::METHOD_NOT_ALLOWED, "logs endpoint is disabled.");
    }
    let method = req.method();
    if method != Method::GET && method != Method::POST {
        return reply::method_not_allowed("GET, POST");
    }
    let raw_query = req.uri().query();
    // Without query mode, the kubelet's plain file server: the query
    // string is ignored entirely.
    let parsed = match app.gating.query.then(|| query::parse(raw_query)) {
        None => None,
        Some(Ok(parsed)) => parsed,
        Some(Err(errs)) => return reply::error(StatusCode::BAD_REQUEST, errs),
    };
    // Bytes, not lossy UTF-8: names on disk need not be UTF-8.
    let path: Vec<u8> = percent_decode_str(rest).collect();
    let client = ClientAddr::of(req);
    let audit = audit::Handle::of(req);
    let Some(q) = parsed else {
        if method == Method::POST {
            return reply::method_not_allowed("GET");
        }
        let permit = match admit_file(app, client, user).await {
            Ok(permit) => permit,
            Err(busy) => return busy,
        };
        audit.answered_by([LOG_ROOT]);
        let via = Via::Path { query: raw_query };
        return kind(
            Kind::File,
            files::serve(app.log_root.clone(), path, via, permit).await,
        );
    };
    if !(path.is_empty() || path == b"/") {
        return reply::error(StatusCode::NOT_ACCEPTABLE, "path not allowed in query mode");
    }
    match query::validate(q) {
        Err(errs) => reply::error(StatusCode::NOT_ACCEPTABLE, errs),
        Ok(Valid::File(file)) => {
            let permit = match admit_file(app, client, user).await {
                Ok(permit) => permit,
                Err(busy) => return busy,
            };
            // The kubelet's os.Stat check, done as a confined open.
            match files::open(&app.log_root, file.clone()).await {
                Err(e) => reply::error(
                    StatusCode::NOT_ACCEPTABLE,
                    query::file_error(&file, &stat_error(&app.log_root, &file, &e)),
                ),
                Ok(entry) => {
                    audit.answered_by([LOG_ROOT]);
                    let via = Via::Query { root };
                    let resp =
                        files::serve_opened(app.log_root.clone(), &file, entry, via, permit).await;
                    kind(Kind::File, resp)
                }
            }
        }
        Ok(Valid::Services { services, options }) => {
            let gzip = req
                .headers()
                .get(header::ACCEPT_ENCODING)
                .is_some_and(|v| v == "gzip");
            let resp =
                service_logs::respond(app, client, user, services, options, gzip, &audit).await;
            kind(Kind::Query, resp)
        }
    }
}

/// The file server (not a plugin), as the audit log names it among the
/// sources.
const LOG_ROOT: &str = "log-root";

async fn admit_file(app: &App, client: IpAddr, user: &str) -> Result<Permit, Response<Body>> {
    app.files.admit(client, user).await.map_err(|busy| {
        app.metrics.throttled(Kind::File, &busy);
        let text = "too many file requests are running; try again later";
        kind(Kind::File, reply::too_many_requests(text))
    })
}

/// Marks `resp` as answering a request of `kind`, unless its handler
/// already named a narrower one (a listing).
fn kind(kind: Kind, mut resp: Response<Body>) -> Response<Body> {
    resp.extensions_mut().get_or_insert(kind);
    resp
}

/// `/metrics`: GET only, nothing of the request read.
fn metrics<B>(app: &App, req: &Request<B>) -> Response<Body> {
    let resp = if req.method() == Method::GET {
        reply::full(StatusCode::OK, metrics::CONTENT_TYPE, app.metrics.encode())
    } else {
        reply::method_not_allowed("GET")
    };
    kind(Kind::Metrics, resp)
}

/// Worded like Go's `*PathError` from `os.Stat`: `stat <path>: <reason>`.
fn stat_error(root: &LogRoot, file: &str, e: &RootError) -> String {
    let full = root.path().join(file.trim_start_matches('/'));
    format!("stat {}: {e}", full.display())
}

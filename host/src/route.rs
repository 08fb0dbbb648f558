//! The `/logs/` surface, as the kubelet dispatches it: parse the query
//! (400), no recognised parameter means the file server, a path in query
//! mode or a failed validation is a 406, services go to the plugins, a
//! single file to the file server. Plus `/healthz`.

use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode, header};
use percent_encoding::percent_decode_str;
use tokio::sync::Semaphore;

use crate::files;
use crate::logroot::{LogRoot, RootError};
use crate::query::{self, Valid};
use crate::reply;
use crate::runtime::Runtime;
use crate::service_logs;
use crate::stream::Body;

/// Everything a request needs, shared by all connections.
pub struct App {
    pub log_root: Arc<LogRoot>,
    pub runtime: Runtime,
    pub deadline: Duration,
    /// Service queries running at once (each may run journalctl).
    pub queries: Arc<Semaphore>,
}

pub async fn handle<B>(app: &App, req: Request<B>) -> Response<Body> {
    let path = req.uri().path();
    if path == "/healthz" {
        return reply::full(StatusCode::OK, "text/plain; charset=utf-8", "ok");
    }
    // `/logs` is accepted as `/logs/`: clients build the URL both ways.
    match path.strip_prefix("/logs") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            let rest = rest.strip_prefix('/').unwrap_or(rest).to_string();
            logs(app, &req, &rest).await
        }
        _ => reply::not_found(),
    }
}

async fn logs<B>(app: &App, req: &Request<B>, rest: &str) -> Response<Body> {
    let method = req.method();
    if method != Method::GET && method != Method::POST {
        return reply::method_not_allowed("GET, POST");
    }
    let raw_query = req.uri().query();
    let parsed = match query::parse(raw_query) {
        Ok(parsed) => parsed,
        Err(errs) => return reply::error(StatusCode::BAD_REQUEST, errs),
    };
    let path = percent_decode_str(rest).decode_utf8_lossy();
    let Some(q) = parsed else {
        if method == Method::POST {
            return reply::method_not_allowed("GET");
        }
        return files::serve(&app.log_root, &path, raw_query);
    };
    if !(path.is_empty() || path == "/") {
        return reply::error(StatusCode::NOT_ACCEPTABLE, "path not allowed in query mode");
    }
    match query::validate(q) {
        Err(errs) => reply::error(StatusCode::NOT_ACCEPTABLE, errs),
        Ok(Valid::File(file)) => match app.log_root.open_entry(&file) {
            // The kubelet's os.Stat check, done as a confined open.
            Err(e) => reply::error(
                StatusCode::NOT_ACCEPTABLE,
                query::file_error(&file, &stat_error(&app.log_root, &file, &e)),
            ),
            Ok(entry) => files::serve_opened(&app.log_root, &file, entry, raw_query),
        },
        Ok(Valid::Services { services, options }) => {
            let gzip = req
                .headers()
                .get(header::ACCEPT_ENCODING)
                .is_some_and(|v| v == "gzip");
            service_logs::respond(app, services, options, gzip).await
        }
    }
}

/// Worded like Go's `*PathError` from `os.Stat`: `stat <path>: <reason>`.
fn stat_error(root: &LogRoot, file: &str, e: &RootError) -> String {
    let full = root.path().join(file.trim_start_matches('/'));
    format!("stat {}: {e}", full.display())
}

//! Responses with a fixed body, worded and framed as Go's `http.Error`
//! (the kubelet's): `text/plain; charset=utf-8`, `nosniff`, text plus `\n`.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use crate::stream::Body;

pub fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut resp = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Go's `http.Error(w, text, status)`.
pub fn error(status: StatusCode, text: impl std::fmt::Display) -> Response<Body> {
    let mut resp = full(status, "text/plain; charset=utf-8", format!("{text}\n"));
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// go-restful's `WriteErrorString`, which the kubelet's auth filter
/// answers with: the text as is, no newline, the type Go sniffs for it.
pub fn restful_error(status: StatusCode, text: impl Into<Bytes>) -> Response<Body> {
    full(status, "text/plain; charset=utf-8", text)
}

pub fn not_found() -> Response<Body> {
    error(StatusCode::NOT_FOUND, "404 page not found")
}

/// A 429 for a request that found no free slot. `Retry-After: 1`: slots
/// are held for seconds, and the client's next try waits in the queue.
pub fn too_many_requests(text: &str) -> Response<Body> {
    let mut resp = error(StatusCode::TOO_MANY_REQUESTS, text);
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut resp = error(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed");
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// Go's `localRedirect`: a relative `Location`, the query string kept.
pub fn redirect(location: &str, query: Option<&str>) -> Response<Body> {
    let location = match query {
        Some(q) => format!("{location}?{q}"),
        None => location.to_string(),
    };
    let mut resp = full(
        StatusCode::MOVED_PERMANENTLY,
        "text/plain; charset=utf-8",
        Bytes::new(),
    );
    resp.headers_mut().remove(header::CONTENT_TYPE);
    if let Ok(value) = HeaderValue::try_from(location) {
        resp.headers_mut().insert(header::LOCATION, value);
    }
    resp
}

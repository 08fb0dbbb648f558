//! Caps on a request's head, checked before anything else sees it: the
//! target's length (414) and the header fields' count and total size
//! (431), answered as Go's server words its 431 (the kubelet's).
//!
//! hyper parses heads up to wider bounds (`HYPER_*`), so that what lies
//! between gets these answers with their text; beyond them hyper answers
//! HTTP/1 with a bare 431 (or 414) itself, and HTTP/2 resets the stream.

use http::{Request, Response, StatusCode};

use crate::reply;
use crate::stream::Body;

/// Longest request target (path and query): room for a long pattern
/// (the Windows source passes values up to 32 KiB; Go's server takes a
/// 1 MiB head), far beyond any other log query.
pub const MAX_TARGET_BYTES: usize = 32 << 10;
/// Header fields in all, names and values: room for a large bearer token.
pub const MAX_HEADER_BYTES: usize = 16 << 10;
pub const MAX_HEADERS: usize = 64;

/// hyper's HTTP/1 read buffer: the request line and headers must fit.
pub const HYPER_MAX_BUF: usize = 64 << 10;
/// hyper's HTTP/1 header count.
pub const HYPER_MAX_HEADERS: usize = 2 * MAX_HEADERS;
/// h2's header list (each field counts 32 bytes more, pseudo-headers too).
pub const HYPER_MAX_HEADER_LIST: u32 = 64 << 10;

/// The refusal for a head over the caps, if it is.
pub fn check<B>(req: &Request<B>) -> Option<Response<Body>> {
    let target = req
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Some(reply::error(StatusCode::URI_TOO_LONG, "414 URI Too Long"));
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Some(reply::error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "431 Request Header Fields Too Large",
        ));
    }
    None
}

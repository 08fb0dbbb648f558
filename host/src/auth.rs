//! Who is asking, and may they: the kubelet's authentication (a client
//! certificate, a bearer token, or anonymous) and authorization
//! (`nodes/log`) for `/logs/`.
//!
//! These are the types every part of it shares: the TLS layer produces a
//! [`PeerCertificate`], authentication a [`User`] and [`AuthMethod`],
//! authorization decides on [`Attributes`].

pub mod authenticate;
pub mod authorize;
pub mod first_run;
pub mod guard;
pub mod tokens;
pub mod webhook;

use http::Method;

/// An authenticated user, as Kubernetes names one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    pub name: String,
    /// Empty when the credential carries none (certificates never do).
    pub uid: String,
    pub groups: Vec<String>,
}

/// How a request was authenticated; the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientCertificate,
    /// A token from `--token-auth-file`.
    StaticToken,
    /// A token the API server vouched for in a TokenReview.
    TokenReview,
    Anonymous,
}

/// The verified client certificate of the request's connection: CN is the
/// user, each O a group. The TLS layer attaches it to every request of a
/// connection whose certificate verified against `--client-ca-file`.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub User);

/// What authorization decides on, built as the kubelet's
/// `GetRequestAttributes` builds it: `resource=nodes`, `name=<node>`,
/// `apiVersion=v1`, empty group and namespace.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    pub user: &'a User,
    pub verb: &'static str,
    pub subresource: &'static str,
    pub node: &'a str,
    pub path: &'a str,
}

/// The kubelet's verb for an HTTP method.
pub fn verb(method: &Method) -> &'static str {
    match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        // GET, HEAD, and anything else the kubelet would also call get.
        _ => "get",
    }
}

//! The kubelet's auth filter in front of every path but `/healthz`:
//! authenticate (401), build the attributes, authorize (403, or 500 when
//! that could not be decided). Nothing of the request is acted on before
//! it passes.

use http::{Request, Response, StatusCode};

use super::authenticate::Authenticator;
use super::authorize::Authorizer;
use super::{Attributes, AuthMethod, User, verb};
use crate::audit::{self, Decision};
use crate::reply;
use crate::stream::Body;

pub struct Guard {
    pub authn: Authenticator,
    pub authz: Authorizer,
    /// `name` in every authorization's attributes.
    pub node_name: String,
}

/// A request that may proceed, and who sent it.
#[derive(Debug, Clone)]
pub struct Passed {
    pub user: User,
    pub method: AuthMethod,
}

impl Guard {
    pub async fn check<B>(&self, req: &Request<B>) -> Result<Passed, Response<Body>> {
        let audit = audit::Handle::of(req);
        let (user, method) = match self.authn.authenticate(req).await {
            Ok(found) => found,
            Err(e) => {
                audit.decided(Decision::Unauthenticated);
                // Warned when the API server could not be asked: every
                // token client is locked out until it answers.
                if matches!(e, super::authenticate::Unauthenticated::Review(_)) {
                    tracing::warn!(error = ?e.to_string(), "authentication failed");
                } else {
                    tracing::debug!(reason = ?e.to_string(), "unauthenticated request");
                }
                return Err(reply::restful_error(
                    StatusCode::UNAUTHORIZED,
                    "Unauthorized",
                ));
            }
        };
        audit.authenticated(&user, method);
        let attrs = Attributes {
            user: &user,
            verb: verb(req.method()),
            subresource: subresource(req.uri().path()),
            node: &self.node_name,
            path: req.uri().path(),
        };
        let what = || {
            format!(
                "(user={}, verb={}, resource=nodes, subresource={})",
                attrs.user.name, attrs.verb, attrs.subresource
            )
        };
        match self.authz.allowed(&attrs).await {
            Ok(true) => {
                audit.decided(Decision::Allowed);
                Ok(Passed { user, method })
            }
            Ok(false) => {
                audit.decided(Decision::Denied);
                tracing::info!(user = ?user.name, verb = attrs.verb, subresource = attrs.subresource, "forbidden");
                Err(reply::restful_error(
                    StatusCode::FORBIDDEN,
                    format!("Forbidden {}", what()),
                ))
            }
            Err(e) => {
                audit.decided(Decision::Error);
                tracing::error!(user = ?user.name, error = ?e.to_string(), "authorization error");
                Err(reply::restful_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Authorization error {}", what()),
                ))
            }
        }
    }
}

/// The kubelet's subresource for a path: `log` for `/logs` and everything
/// under it, `metrics` for `/metrics`, `proxy` for anything else.
fn subresource(path: &str) -> &'static str {
    if path == "/logs" || path.starts_with("/logs/") {
        "log"
    } else if path == "/metrics" {
        "metrics"
    } else {
        "proxy"
    }
}

//! Authentication and authorization by asking the API server: a
//! TokenReview for a bearer token, a SubjectAccessReview for a request,
//! each answer cached as the kubelet caches it.
//!
//! SKELETON: the interface the rest of the host codes against; the
//! implementation (kube-rs over `--kubeconfig`) replaces these bodies.

use std::path::Path;
use std::time::Duration;

use super::{Attributes, User};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("not implemented yet")]
    Unimplemented,
}

/// `--authentication-token-webhook`: bearer tokens checked with a
/// TokenReview, answers cached for the TTL.
pub struct TokenReviewer {}

impl TokenReviewer {
    pub async fn new(_kubeconfig: &Path, _ttl: Duration) -> Result<Self, WebhookError> {
        Err(WebhookError::Unimplemented)
    }

    /// `Some(user)` when the API server vouches for the token, `None`
    /// when it says the token is not valid; an error when it could not
    /// be asked.
    pub async fn review(&self, _token: &str) -> Result<Option<User>, WebhookError> {
        Err(WebhookError::Unimplemented)
    }
}

/// `--authorization-mode=Webhook`: a SubjectAccessReview per request,
/// allowed answers cached for `allowed_ttl`, denied ones for `denied_ttl`.
pub struct AccessReviewer {}

impl AccessReviewer {
    pub async fn new(
        _kubeconfig: &Path,
        _allowed_ttl: Duration,
        _denied_ttl: Duration,
    ) -> Result<Self, WebhookError> {
        Err(WebhookError::Unimplemented)
    }

    /// Whether the API server allows it; an error when it could not be
    /// asked (the request then gets a 500, as from the kubelet).
    pub async fn allowed(&self, _attrs: &Attributes<'_>) -> Result<bool, WebhookError> {
        Err(WebhookError::Unimplemented)
    }
}

//! Authentication and authorization by asking the API server: a
//! TokenReview for a bearer token, a SubjectAccessReview for a request,
//! each answer cached as the kubelet caches it (kube-apiserver's webhook
//! authenticator and authorizer, which the kubelet uses):
//!
//! - TokenReview: valid and invalid answers alike for the TTL;
//! - SubjectAccessReview: allowed answers for one TTL, denied (or no
//!   opinion) for the other;
//! - a failed review (API server unreachable, an error status, a timeout)
//!   is never cached, so the next request asks again.
//!
//! Both go through kube-rs with the cluster and credentials of
//! `--kubeconfig`. Caches hold at most `CACHE_ENTRIES` answers each, keyed
//! by a SHA-256 digest (of the token; of the review's spec), so no token
//! is kept in clear; none is ever logged.

mod cache;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{Attributes, User};
use cache::Cache;

/// Answers kept per reviewer; the least recently used one makes room.
const CACHE_ENTRIES: NonZeroUsize = NonZeroUsize::new(4096).unwrap();

/// One review, connecting included, from start to answer. The kubelet's
/// webhooks allow as long; a request waits for it before any log byte.
const REVIEW_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("reading kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },
    #[error("API client from kubeconfig {path}: {source}")]
    Client {
        path: PathBuf,
        #[source]
        source: kube::Error,
    },
    #[error("{review} failed: {source}")]
    Request {
        review: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("{review} got no answer within {REVIEW_TIMEOUT:?}")]
    Timeout { review: &'static str },
    /// The API server could not decide: TokenReview's `status.error`
    /// without `authenticated`.
    #[error("{review} answered with an error: {message}")]
    Answered {
        review: &'static str,
        message: String,
    },
}

/// A client for the API server `kubeconfig` names (its current context).
async fn client(kubeconfig: &Path) -> Result<kube::Client, WebhookError> {
    let file = Kubeconfig::read_from(kubeconfig).map_err(|source| WebhookError::Kubeconfig {
        path: kubeconfig.to_path_buf(),
        source,
    })?;
    let mut config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .map_err(|source| WebhookError::Kubeconfig {
            path: kubeconfig.to_path_buf(),
            source,
        })?;
    config.connect_timeout = Some(REVIEW_TIMEOUT);
    config.read_timeout = Some(REVIEW_TIMEOUT);
    config.write_timeout = Some(REVIEW_TIMEOUT);
    kube::Client::try_from(config).map_err(|source| WebhookError::Client {
        path: kubeconfig.to_path_buf(),
        source,
    })
}

/// `create` of a review object, within `REVIEW_TIMEOUT`.
async fn create<K>(api: &Api<K>, review: &'static str, object: &K) -> Result<K, WebhookError>
where
    K: Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match tokio::time::timeout(REVIEW_TIMEOUT, api.create(&PostParams::default(), object)).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(source)) => Err(WebhookError::Request { review, source }),
        Err(_) => Err(WebhookError::Timeout { review }),
    }
}

/// Go's `omitempty`: the kubelet leaves empty fields out of a review.
fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `--authentication-token-webhook`: bearer tokens checked with a
/// TokenReview, answers cached for the TTL.
pub struct TokenReviewer {
    api: Api<TokenReview>,
    ttl: Duration,
    cache: Cache<Option<User>>,
}

impl TokenReviewer {
    pub async fn new(kubeconfig: &Path, ttl: Duration) -> Result<Self, WebhookError> {
        Ok(TokenReviewer {
            api: Api::all(client(kubeconfig).await?),
            ttl,
            cache: Cache::new(CACHE_ENTRIES),
        })
    }

    /// `Some(user)` when the API server vouches for the token, `None`
    /// when it says the token is not valid; an error when it could not
    /// be asked.
    pub async fn review(&self, token: &str) -> Result<Option<User>, WebhookError> {
        let key = cache::key(token.as_bytes());
        if let Some(answer) = self.cache.get(&key) {
            return Ok(answer);
        }
        let request = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_string(),
                audiences: None,
            },
            ..Default::default()
        };
        const REVIEW: &str = "TokenReview";
        let status = create(&self.api, REVIEW, &request)
            .await?
            .status
            .unwrap_or_default();
        let answer = match (status.authenticated, status.user) {
            (Some(true), Some(info)) => Some(User {
                name: info.username.unwrap_or_default(),
                uid: info.uid.unwrap_or_default(),
                groups: info.groups.unwrap_or_default(),
            }),
            _ => match status.error.filter(|e| !e.is_empty()) {
                Some(message) => {
                    return Err(WebhookError::Answered {
                        review: REVIEW,
                        message,
                    });
                }
                None => None,
            },
        };
        self.cache.put(key, answer.clone(), self.ttl);
        Ok(answer)
    }
}

/// `--authorization-mode=Webhook`: a SubjectAccessReview per request,
/// allowed answers cached for `allowed_ttl`, denied ones for `denied_ttl`.
pub struct AccessReviewer {
    api: Api<SubjectAccessReview>,
    allowed_ttl: Duration,
    denied_ttl: Duration,
    cache: Cache<bool>,
}

impl AccessReviewer {
    pub async fn new(
        kubeconfig: &Path,
        allowed_ttl: Duration,
        denied_ttl: Duration,
    ) -> Result<Self, WebhookError> {
        Ok(AccessReviewer {
            api: Api::all(client(kubeconfig).await?),
            allowed_ttl,
            denied_ttl,
            cache: Cache::new(CACHE_ENTRIES),
        })
    }

    /// Whether the API server allows it; an error when it could not be
    /// asked (the request then gets a 500, as from the kubelet).
    pub async fn allowed(&self, attrs: &Attributes<'_>) -> Result<bool, WebhookError> {
        let spec = spec(attrs);
        // As kube-apiserver's webhook authorizer: the spec is the key (a
        // spec that did not serialize would be asked about, uncached).
        let key = serde_json::to_vec(&spec).ok().map(|json| cache::key(&json));
        if let Some(allowed) = key.as_ref().and_then(|key| self.cache.get(key)) {
            return Ok(allowed);
        }
        let request = SubjectAccessReview {
            spec,
            ..Default::default()
        };
        // Denied and no opinion are both a no: the webhook is the only
        // authorizer.
        let allowed = create(&self.api, "SubjectAccessReview", &request)
            .await?
            .status
            .is_some_and(|s| s.allowed);
        let ttl = if allowed {
            self.allowed_ttl
        } else {
            self.denied_ttl
        };
        if let Some(key) = key {
            self.cache.put(key, allowed, ttl);
        }
        Ok(allowed)
    }
}

/// The review's spec as the kubelet's webhook authorizer fills it: the
/// user, and `resourceAttributes` from `GetRequestAttributes` (empty
/// namespace and group left out, as Go's `omitempty` does; the path is not
/// sent for a resource request).
fn spec(attrs: &Attributes<'_>) -> SubjectAccessReviewSpec {
    let user = attrs.user;
    SubjectAccessReviewSpec {
        user: non_empty(&user.name),
        uid: non_empty(&user.uid),
        groups: (!user.groups.is_empty()).then(|| user.groups.clone()),
        resource_attributes: Some(ResourceAttributes {
            verb: non_empty(attrs.verb),
            version: Some("v1".into()),
            resource: Some("nodes".into()),
            subresource: non_empty(attrs.subresource),
            name: non_empty(attrs.node),
            ..Default::default()
        }),
        ..Default::default()
    }
}

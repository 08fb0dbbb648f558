//! Who is asking, tried in the kubelet's order: the connection's verified
//! client certificate, then a bearer token (the token file, then a
//! TokenReview), then, if allowed, anonymous.

use http::{Request, header};

use super::tokens::TokenFile;
use super::webhook::TokenReviewer;
use super::{AuthMethod, PeerCertificate, User};

/// The user and group of a request without credentials when
/// `--anonymous-auth=true`.
pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";

pub struct Authenticator {
    pub tokens: Option<TokenFile>,
    pub webhook: Option<TokenReviewer>,
    pub anonymous: bool,
}

/// Why a request is answered 401 `Unauthorized`.
#[derive(Debug, thiserror::Error)]
pub enum Unauthenticated {
    #[error("no credentials")]
    NoCredentials,
    #[error("malformed bearer token")]
    MalformedToken,
    #[error("unknown bearer token")]
    UnknownToken,
    /// The API server could not be asked: the kubelet answers 401 too.
    #[error("token review failed: {0}")]
    Review(#[from] super::webhook::WebhookError),
}

impl Authenticator {
    pub async fn authenticate<B>(
        &self,
        req: &Request<B>,
    ) -> Result<(User, AuthMethod), Unauthenticated> {
        if let Some(PeerCertificate(user)) = req.extensions().get::<PeerCertificate>() {
            return Ok((user.clone(), AuthMethod::ClientCertificate));
        }
        match bearer_token(req)? {
            Some(token) => self.token(token).await,
            // As kube-apiserver's union with anonymous: only a request
            // with no credentials at all becomes anonymous; a bad token
            // stays a 401.
            None if self.anonymous => Ok((
                User {
                    name: ANONYMOUS_USER.into(),
                    uid: String::new(),
                    groups: vec![UNAUTHENTICATED_GROUP.into()],
                },
                AuthMethod::Anonymous,
            )),
            None => Err(Unauthenticated::NoCredentials),
        }
    }

    async fn token(&self, token: &str) -> Result<(User, AuthMethod), Unauthenticated> {
        if let Some(user) = self.tokens.as_ref().and_then(|t| t.user(token)) {
            return Ok((user.clone(), AuthMethod::StaticToken));
        }
        if let Some(reviewer) = &self.webhook
            && let Some(user) = reviewer.review(token).await?
        {
            return Ok((user, AuthMethod::TokenReview));
        }
        Err(Unauthenticated::UnknownToken)
    }
}

/// The token of `Authorization: Bearer TOKEN` (scheme in any case, as
/// kube-apiserver's), `None` without such a header.
fn bearer_token<B>(req: &Request<B>) -> Result<Option<&str>, Unauthenticated> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Unauthenticated::MalformedToken)?;
    let mut parts = value.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Basic and friends: credentials nodelogd does not take.
        return Err(Unauthenticated::MalformedToken);
    }
    match parts.next().map(str::trim) {
        Some(token) if !token.is_empty() && !token.contains(' ') => Ok(Some(token)),
        _ => Err(Unauthenticated::MalformedToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>) -> Request<()> {
        let mut b = Request::builder().uri("/logs/");
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        b.body(()).unwrap()
    }

    fn admin() -> User {
        User {
            name: "admin".into(),
            uid: "1".into(),
            groups: vec!["system:masters".into()],
        }
    }

    #[tokio::test]
    async fn kubelet_order_and_anonymous_only_without_credentials() {
        let authn = Authenticator {
            tokens: Some(TokenFile::single("secret", admin())),
            webhook: None,
            anonymous: true,
        };
        let (user, method) = authn
            .authenticate(&req(Some("Bearer secret")))
            .await
            .unwrap();
        assert_eq!((user, method), (admin(), AuthMethod::StaticToken));
        let (user, method) = authn.authenticate(&req(None)).await.unwrap();
        assert_eq!(user.name, ANONYMOUS_USER);
        assert_eq!(method, AuthMethod::Anonymous);
        for bad in ["Bearer wrong", "Basic YTpi", "Bearer ", "Bearer a b"] {
            assert!(authn.authenticate(&req(Some(bad))).await.is_err(), "{bad}");
        }
        let mut with_cert = req(Some("Bearer wrong"));
        let cert_user = User {
            name: "node".into(),
            uid: String::new(),
            groups: vec![],
        };
        with_cert
            .extensions_mut()
            .insert(PeerCertificate(cert_user.clone()));
        let (user, method) = authn.authenticate(&with_cert).await.unwrap();
        assert_eq!((user, method), (cert_user, AuthMethod::ClientCertificate));
    }
}

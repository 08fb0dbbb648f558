//! May this user do this: `--authorization-mode`.

use super::Attributes;
use super::webhook::{AccessReviewer, WebhookError};

pub enum Authorizer {
    /// Only `users` by name and members of `groups`.
    Static {
        users: Vec<String>,
        groups: Vec<String>,
    },
    /// Everyone who authenticated (anonymous included, if allowed).
    AlwaysAllow,
    /// A SubjectAccessReview against the API server.
    Webhook(AccessReviewer),
}

impl Authorizer {
    /// Whether `attrs` is allowed; an error when that could not be decided
    /// (the answer is then a 500).
    pub async fn allowed(&self, attrs: &Attributes<'_>) -> Result<bool, WebhookError> {
        match self {
            Authorizer::Static { users, groups } => Ok(users.contains(&attrs.user.name)
                || attrs.user.groups.iter().any(|g| groups.contains(g))),
            Authorizer::AlwaysAllow => Ok(true),
            Authorizer::Webhook(reviewer) => reviewer.allowed(attrs).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::User;

    #[tokio::test]
    async fn static_allows_listed_users_and_groups_only() {
        let authz = Authorizer::Static {
            users: vec!["alice".into()],
            groups: vec!["system:masters".into()],
        };
        let user = |name: &str, groups: &[&str]| User {
            name: name.into(),
            uid: String::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        let cases = [
            (user("alice", &[]), true),
            (user("bob", &["dev", "system:masters"]), true),
            (user("bob", &["dev"]), false),
            (user("system:masters", &[]), false),
        ];
        for (user, expected) in cases {
            let attrs = Attributes {
                user: &user,
                verb: "get",
                subresource: "log",
                node: "n",
                path: "/logs/",
            };
            assert_eq!(authz.allowed(&attrs).await.unwrap(), expected, "{user:?}");
        }
    }
}

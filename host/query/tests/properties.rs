//! Property tests of the query parser and validator: for any query string
//! they neither panic nor answer anything but the kubelet's outcomes (200,
//! 400 for parse errors, 406 for validation errors), and their texts are
//! the kubelet's field errors.
//!
//! Cases: PROPTEST_CASES (proptest's default, 256, when unset), e.g.
//! `PROPTEST_CASES=100000 cargo test -p nodelogd-query --test properties`
//! for a long run.

use nodelogd_query::{parse, validate};
use proptest::prelude::*;

/// What the route answers for a query string, as status and text.
fn outcome(raw: &str) -> (u16, String) {
    match parse(Some(raw)) {
        Err(errs) => (400, errs.to_string()),
        // No recognised parameter: the plain file server's request.
        Ok(None) => (200, String::new()),
        Ok(Some(q)) => match validate(q) {
            Err(errs) => (406, errs.to_string()),
            Ok(_) => (200, String::new()),
        },
    }
}

/// Every message of an aggregate starts as a kubelet field error does:
/// a parameter name, then one of apimachinery's three error kinds.
fn kubelet_shaped(errs: &str) -> bool {
    let body = errs
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(errs);
    [
        "query",
        "sinceTime",
        "untilTime",
        "boot",
        "tailLines",
        "pattern",
    ]
    .iter()
    .any(|field| {
        ["Invalid value: ", "Required value: ", "Too many: "]
            .iter()
            .any(|kind| body.starts_with(&format!("{field}: {kind}")))
    })
}

/// A query string built from the kubelet's parameters and others, with
/// values that are often valid and often not, percent-encoded or raw.
fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        proptest::sample::select(
            &[
                "query",
                "sinceTime",
                "untilTime",
                "tailLines",
                "boot",
                "pattern"
            ][..]
        )
        .prop_map(String::from),
        "[a-zA-Z%+]{0,8}",
    ];
    let value = prop_oneof![
        "[a-z0-9._:@-]{1,12}",
        "-?[0-9]{1,7}",
        "[0-9]{19,21}",
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|%2B0[0-9]:00|-0[0-9]:[0-5]0)",
        "[\\\\/a-z.]{1,12}",
        "[()\\[\\]{}*+?|^$\\\\a-z,0-9]{0,10}",
        "(%[0-9A-Fa-f]{2}|%|[^&#])*",
        ".{0,300}",
    ];
    proptest::collection::vec((key, value), 0..8).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #[test]
    fn any_bytes_get_a_kubelet_outcome(raw in ".*") {
        let (status, text) = outcome(&raw);
        prop_assert!(matches!(status, 200 | 400 | 406));
        prop_assert!(status == 200 || kubelet_shaped(&text), "{status}: {text}");
    }

    #[test]
    fn any_query_gets_a_kubelet_outcome(raw in query_string()) {
        let (status, text) = outcome(&raw);
        prop_assert!(matches!(status, 200 | 400 | 406));
        prop_assert!(status == 200 || kubelet_shaped(&text), "{raw:?} -> {status}: {text}");
    }

    /// The kubelet's rules, checked one parameter at a time against a
    /// query that is otherwise valid.
    #[test]
    fn tail_lines_is_0_to_100000(n in -200_000i64..200_000) {
        let (status, text) = outcome(&format!("query=kubelet&tailLines={n}"));
        if (0..=100_000).contains(&n) {
            prop_assert_eq!(status, 200);
        } else {
            prop_assert_eq!(status, 406);
            prop_assert_eq!(
                text,
                format!("tailLines: Invalid value: {n}: must be between 0 and 100000, inclusive")
            );
        }
    }

    #[test]
    fn tail_lines_that_is_no_number_is_a_400(v in "[a-z][a-z0-9]{0,8}") {
        let (status, text) = outcome(&format!("query=kubelet&tailLines={v}"));
        prop_assert_eq!(status, 400);
        prop_assert_eq!(
            text,
            format!("tailLines: Invalid value: \"{v}\": strconv.Atoi: parsing \"{v}\": invalid syntax")
        );
    }

    #[test]
    fn boot_is_at_most_0(n in -1000i64..1000) {
        let (status, text) = outcome(&format!("query=kubelet&boot={n}"));
        if n <= 0 {
            prop_assert_eq!(status, 200);
        } else {
            prop_assert_eq!(status, 406);
            prop_assert_eq!(text, format!("boot: Invalid value: {n}: must be less than 1"));
        }
    }

    #[test]
    fn at_most_4_services(names in proptest::collection::vec("[a-z][a-z0-9-]{0,10}", 1..8)) {
        let raw: Vec<String> = names.iter().map(|n| format!("query={n}")).collect();
        let (status, text) = outcome(&raw.join("&"));
        if names.len() <= 4 {
            prop_assert_eq!(status, 200);
        } else {
            prop_assert_eq!(status, 406);
            prop_assert_eq!(
                text,
                format!("query: Too many: {}: must have at most 4 items", names.len())
            );
        }
    }

    /// Only `A-Z a-z 0-9 - _ . : @` reach a source; anything else in a
    /// service name (no `/` or `\`, which make it a file; no `;`, which
    /// drops the pair as Go does) is refused.
    #[test]
    fn service_names_are_allow_listed(name in "[^/\\\\&#%+=;]{1,20}") {
        let (status, _) = outcome(&format!("query={name}"));
        let allowed = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c));
        if name.trim().is_empty() {
            prop_assert_eq!(status, 400);
        } else if allowed {
            prop_assert_eq!(status, 200);
        } else {
            prop_assert_eq!(status, 406);
        }
    }
}

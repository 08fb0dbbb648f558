//! The kubelet's `validate()` (406 class), in its order. The one check
//! that needs the filesystem (does the single file exist) is not here: the
//! route does it with a confined open under the log root, before any header
//! is sent, and words its failure with [`file_error`].

use super::field_error::{FieldError, FieldErrors, Value};
use super::{NodeLogQuery, Options, re2};

/// `maxServices` in the kubelet.
pub const MAX_SERVICES: usize = 4;
/// `maxServiceLength` in the kubelet (bytes).
pub const MAX_SERVICE_LENGTH: usize = 256;
/// `maxTailLines` in the kubelet; inclusive.
pub const MAX_TAIL_LINES: i64 = 100_000;

/// The kubelet's limit is 256 but its message says 100 (the limit was raised
/// in review and the text never followed). Clients may match on the text,
/// so it is kept byte for byte.
const MSG_SERVICE_TOO_LONG: &str = "length must be less than 100";
const MSG_UNSUPPORTED_CHARACTERS: &str = "input contains unsupported characters";

/// A query that passed validation: what the route can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum Valid {
    Services {
        services: Vec<String>,
        options: Options,
    },
    /// One file under the log root, no options.
    File(String),
}

pub fn validate(q: NodeLogQuery) -> Result<Valid, FieldErrors> {
    let mut errs = FieldErrors::default();
    for s in &q.services {
        if let Err(detail) = safe_service_name(s) {
            errs.push(FieldError::invalid("query", Value::str(s), detail));
        }
    }
    if q.services.len() > MAX_SERVICES {
        errs.push(FieldError::too_many(
            "query",
            q.services.len(),
            MAX_SERVICES,
        ));
    }

    let (files, services, o) = (&q.files, &q.services, &q.options);
    if files.is_empty() && services.is_empty() {
        errs.push(FieldError::required(
            "query",
            "cannot be empty with options",
        ));
    } else if !files.is_empty() && !services.is_empty() {
        let both = format!("[{}], [{}]", files.join(" "), services.join(" "));
        errs.push(FieldError::invalid(
            "query",
            Value::str(&both),
            "cannot specify a file and service",
        ));
    } else if files.len() > 1 {
        errs.push(FieldError::invalid(
            "query",
            Value::strings(files),
            "cannot specify more than one file",
        ));
    } else if files.len() == 1 && o.any() {
        errs.push(FieldError::invalid(
            "query",
            Value::strings(files),
            "cannot specify file with options",
        ));
    }

    if let (Some(since), Some(until)) = (&o.since, &o.until)
        && since > until
    {
        errs.push(FieldError::invalid(
            "untilTime",
            Value::time(until),
            "must be after `sinceTime`",
        ));
    }
    if let Some(boot) = o.boot.filter(|b| *b > 0) {
        errs.push(FieldError::invalid(
            "boot",
            Value::int(boot),
            "must be less than 1",
        ));
    }
    if let Some(n) = o.tail_lines.filter(|n| !(0..=MAX_TAIL_LINES).contains(n)) {
        let detail = format!("must be between 0 and {MAX_TAIL_LINES}, inclusive");
        errs.push(FieldError::invalid("tailLines", Value::int(n), detail));
    }
    if let Err(detail) = re2::check(&o.pattern) {
        errs.push(FieldError::invalid(
            "pattern",
            Value::str(&o.pattern),
            detail,
        ));
    }

    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(match q.files.into_iter().next() {
        Some(file) => Valid::File(file),
        None => Valid::Services {
            services: q.services,
            options: q.options,
        },
    })
}

/// The 406 for a single file that cannot be opened under the log root.
pub fn file_error(file: &str, detail: &str) -> FieldErrors {
    FieldError::invalid("query", Value::strings(&[file]), detail).into()
}

fn safe_service_name(s: &str) -> Result<(), &'static str> {
    if s.len() > MAX_SERVICE_LENGTH {
        return Err(MSG_SERVICE_TOO_LONG);
    }
    // An allow-list: only characters that cannot form an option, a path or
    // a shell or PowerShell token reach a source.
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '@');
    if !s.chars().all(safe) {
        return Err(MSG_UNSUPPORTED_CHARACTERS);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn check(raw: &str) -> Result<Valid, String> {
        validate(parse(Some(raw)).unwrap().unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn u_s_service_names() {
        for ok in ["svc1", "svc.foo", "svc_foo", "svc@foo", "svc:foo"] {
            assert!(check(&format!("query={ok}")).is_ok(), "{ok}");
        }
        assert!(check("query=svc1&query=svc2").is_ok());
        assert_eq!(
            check("query=svc%0A").unwrap_err(),
            "query: Invalid value: \"svc\\n\": input contains unsupported characters"
        );
        assert!(check("query=svc.foo%0A").is_err());
        assert!(
            check("query=kube%20let")
                .unwrap_err()
                .ends_with("input contains unsupported characters")
        );
        let long = "svc1".repeat(100);
        assert_eq!(
            check(&format!("query={long}")).unwrap_err(),
            format!("query: Invalid value: \"{long}\": length must be less than 100")
        );
        assert!(check(&format!("query={}", "a".repeat(256))).is_ok());
        assert_eq!(
            check("query=a&query=b&query=c&query=d&query=e").unwrap_err(),
            "query: Too many: 5: must have at most 4 items"
        );
    }

    #[test]
    fn u_v_whole_query() {
        assert_eq!(
            check("sinceTime=2023-01-04T02:00:00Z").unwrap_err(),
            "query: Required value: cannot be empty with options"
        );
        assert_eq!(
            check("pattern=foo").unwrap_err(),
            "query: Required value: cannot be empty with options"
        );
        assert_eq!(
            check("query=foo&query=/bar").unwrap_err(),
            "query: Invalid value: \"[/bar], [foo]\": cannot specify a file and service"
        );
        assert_eq!(
            check("query=/foo&query=%5Cbar").unwrap_err(),
            "query: Invalid value: [\"/foo\",\"\\\\bar\"]: cannot specify more than one file"
        );
        assert_eq!(
            check("query=/a.log&pattern=x").unwrap_err(),
            "query: Invalid value: [\"/a.log\"]: cannot specify file with options"
        );
        assert_eq!(
            check("query=/a.log&tailLines=5").unwrap_err(),
            "query: Invalid value: [\"/a.log\"]: cannot specify file with options"
        );
        assert!(check("query=a&pattern=foo%5C").unwrap_err().starts_with(
            "pattern: Invalid value: \"foo\\\\\": error parsing regexp: trailing backslash"
        ));
        assert!(check("query=a&sinceTime=2023-01-04T02:00:00Z").is_ok());
        assert!(check("query=a&untilTime=2023-01-04T02:00:00Z").is_ok());
        assert_eq!(
            check("query=a&sinceTime=2023-02-04T00:00:00Z&untilTime=2023-01-04T00:00:00Z")
                .unwrap_err(),
            "untilTime: Invalid value: \"2023-01-04T00:00:00Z\": must be after `sinceTime`"
        );
        assert!(
            check("query=a&sinceTime=2023-01-04T00:00:00Z&untilTime=2023-01-04T00:00:00Z").is_ok()
        );
        assert!(check("query=a&boot=-1").is_ok());
        assert_eq!(
            check("query=a&boot=1").unwrap_err(),
            "boot: Invalid value: 1: must be less than 1"
        );
        assert!(check("query=a&tailLines=100").is_ok());
        assert!(check("query=a&tailLines=100000").is_ok());
        assert_eq!(
            check("query=a&tailLines=100001").unwrap_err(),
            "tailLines: Invalid value: 100001: must be between 0 and 100000, inclusive"
        );
        assert!(check("query=a&pattern=(?%3Dx)").unwrap_err().starts_with("pattern: Invalid value: \"(?=x)\": error parsing regexp: invalid or unsupported Perl syntax"));
        assert_eq!(check("query=/x.log"), Ok(Valid::File("/x.log".into())));
    }

    #[test]
    fn d21_errors_aggregate_in_validate_order() {
        assert_eq!(
            check("query=kubelet&boot=1&tailLines=-1").unwrap_err(),
            "[boot: Invalid value: 1: must be less than 1, tailLines: Invalid value: -1: must be between 0 and 100000, inclusive]"
        );
    }
}

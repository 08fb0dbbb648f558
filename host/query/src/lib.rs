//! The kubelet's node log query parameters: parsing (`parse`, errors are
//! 400s) and validation (`validate`, errors are 406s). Pure: no I/O, no
//! clock, no environment. Texts and order follow the kubelet's
//! `newNodeLogQuery` and `validate` exactly.

mod field_error;
mod gofmt;
mod re2;
mod rfc3339;
mod urlquery;
mod validate;

use chrono::{DateTime, FixedOffset};

pub use field_error::{FieldError, FieldErrors, Value};
pub use urlquery::QueryValues;
pub use validate::{Valid, file_error, validate};

/// The kubelet's 406 text for a query string on a path other than `/logs/`
/// (its routing, not its validator, says it).
pub const PATH_IN_QUERY_MODE: &str = "path not allowed in query mode";

/// A parsed query: what the client asked for, not yet validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeLogQuery {
    /// Values without `/` or `\`, as given (not trimmed).
    pub services: Vec<String>,
    /// Values with `/` or `\`: paths under the log root.
    pub files: Vec<String>,
    pub options: Options,
}

/// The filters; all optional. Equal to `Options::default()` when none is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options {
    pub since: Option<DateTime<FixedOffset>>,
    pub until: Option<DateTime<FixedOffset>>,
    /// Go's `strconv.Atoi` range: a 64-bit int.
    pub tail_lines: Option<i64>,
    pub boot: Option<i64>,
    /// Empty means no pattern, as in the kubelet.
    pub pattern: String,
}

impl Options {
    pub fn any(&self) -> bool {
        *self != Options::default()
    }
}

/// Parses the raw query string. `Ok(None)` means no recognised parameter has
/// a value: the request belongs to the plain file server.
pub fn parse(raw_query: Option<&str>) -> Result<Option<NodeLogQuery>, FieldErrors> {
    let values = QueryValues::parse(raw_query.unwrap_or(""));
    let mut errs = FieldErrors::default();
    let mut q = NodeLogQuery::default();

    let queries = values.all("query");
    for v in &queries {
        if v.contains(['/', '\\']) {
            q.files.push(v.to_string());
        } else if !v.trim().is_empty() {
            q.services.push(v.to_string());
        }
    }
    if values.has("query") && q.files.is_empty() && q.services.is_empty() {
        errs.push(FieldError::invalid(
            "query",
            Value::strings(&queries),
            "query cannot be empty",
        ));
    }

    for (name, slot) in [
        ("sinceTime", &mut q.options.since),
        ("untilTime", &mut q.options.until),
    ] {
        if let Some(v) = values.first(name).filter(|v| !v.is_empty()) {
            match rfc3339::parse(v) {
                Some(t) => *slot = Some(t),
                None => errs.push(FieldError::invalid(
                    name,
                    Value::str(v),
                    "invalid time format",
                )),
            }
        }
    }
    for (name, slot) in [
        ("boot", &mut q.options.boot),
        ("tailLines", &mut q.options.tail_lines),
    ] {
        if let Some(v) = values.first(name).filter(|v| !v.is_empty()) {
            match gofmt::atoi(v) {
                Ok(n) => *slot = Some(n),
                Err(detail) => errs.push(FieldError::invalid(name, Value::str(v), detail)),
            }
        }
    }
    if let Some(v) = values.first("pattern") {
        q.options.pattern = v.to_string();
    }

    if !errs.is_empty() {
        return Err(errs);
    }
    if q == NodeLogQuery::default() {
        return Ok(None);
    }
    Ok(Some(q))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(raw: &str) -> String {
        parse(Some(raw)).unwrap_err().to_string()
    }

    #[test]
    fn u_p1_to_p3_no_recognised_value_means_file_server() {
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(parse(Some("unknown=true")).unwrap(), None);
        assert_eq!(parse(Some("sinceTime=")).unwrap(), None);
        assert_eq!(parse(Some("boot=")).unwrap(), None);
    }

    #[test]
    fn u_p4_to_p14_times_must_be_rfc3339() {
        for bad in [
            "2019-12-04 02:00:00",
            "2019-12-04 02:00:00.000",
            "2019-12-04 02",
            "2019-12-04 02:00",
        ] {
            for field in ["sinceTime", "untilTime"] {
                let raw = format!("{field}={}", bad.replace(' ', "%20"));
                assert_eq!(
                    err(&raw),
                    format!("{field}: Invalid value: \"{bad}\": invalid time format")
                );
            }
        }
        let q = parse(Some("sinceTime=2019-12-04T02:00:00Z"))
            .unwrap()
            .unwrap();
        assert_eq!(q.options.since.unwrap().timestamp(), 1575424800);
        let q = parse(Some("untilTime=2019-12-04T02:00:00Z"))
            .unwrap()
            .unwrap();
        assert!(q.options.until.is_some());
    }

    #[test]
    fn u_p15_to_p23_integers_use_atoi() {
        assert_eq!(
            parse(Some("tailLines=100"))
                .unwrap()
                .unwrap()
                .options
                .tail_lines,
            Some(100)
        );
        assert_eq!(
            err("tailLines=foo"),
            "tailLines: Invalid value: \"foo\": strconv.Atoi: parsing \"foo\": invalid syntax"
        );
        assert_eq!(
            err("tailLines=%20"),
            "tailLines: Invalid value: \" \": strconv.Atoi: parsing \" \": invalid syntax"
        );
        assert_eq!(
            parse(Some("pattern=foo")).unwrap().unwrap().options.pattern,
            "foo"
        );
        assert_eq!(
            parse(Some("boot=0")).unwrap().unwrap().options.boot,
            Some(0)
        );
        assert_eq!(
            parse(Some("boot=-23")).unwrap().unwrap().options.boot,
            Some(-23)
        );
        assert_eq!(
            err("boot=foo"),
            "boot: Invalid value: \"foo\": strconv.Atoi: parsing \"foo\": invalid syntax"
        );
        assert!(err("boot=%20").starts_with("boot: Invalid value: \" \""));
    }

    #[test]
    fn u_p24_to_p29_query_classification() {
        assert_eq!(
            err("query="),
            "query: Invalid value: [\"\"]: query cannot be empty"
        );
        assert_eq!(
            err("query"),
            "query: Invalid value: [\"\"]: query cannot be empty"
        );
        assert_eq!(
            err("query=%20%20%20&query=%20%20%20%20"),
            "query: Invalid value: [\"   \",\"    \"]: query cannot be empty"
        );
        assert_eq!(parse(Some("query=foo")).unwrap().unwrap().services, ["foo"]);
        assert_eq!(
            parse(Some("query=foo&query=bar"))
                .unwrap()
                .unwrap()
                .services,
            ["foo", "bar"]
        );
        let q = parse(Some("query=foo&query=/bar")).unwrap().unwrap();
        assert_eq!(
            (q.services, q.files),
            (vec!["foo".to_string()], vec!["/bar".to_string()])
        );
        let q = parse(Some("query=/foo&query=%5Cbar")).unwrap().unwrap();
        assert_eq!(q.files, ["/foo", "\\bar"]);
    }

    #[test]
    fn parse_errors_are_aggregated_in_kubelet_order() {
        assert_eq!(
            err("query=&tailLines=x&sinceTime=y"),
            "[query: Invalid value: [\"\"]: query cannot be empty, sinceTime: Invalid value: \"y\": invalid time format, \
             tailLines: Invalid value: \"x\": strconv.Atoi: parsing \"x\": invalid syntax]"
        );
    }

    #[test]
    fn plus_decodes_to_space_and_only_first_option_value_counts() {
        assert!(
            err("sinceTime=2024-01-01T00:00:00+01:00").contains("\"2024-01-01T00:00:00 01:00\"")
        );
        let q = parse(Some("query=a&tailLines=1&tailLines=x"))
            .unwrap()
            .unwrap();
        assert_eq!(q.options.tail_lines, Some(1));
    }
}

//! apimachinery's `field.Error` and `ErrorList.ToAggregate()` texts, with
//! the value rendering of Kubernetes 1.34+ (ints as `%v`, strings as `%q`,
//! everything else as JSON).

use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat};

use super::gofmt;

/// A rejected value, already in the form apimachinery prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Value(String);

impl Value {
    pub fn str(s: &str) -> Self {
        Value(gofmt::quote(s))
    }

    pub fn int(n: i64) -> Self {
        Value(n.to_string())
    }

    /// A `[]string`, rendered as JSON.
    pub fn strings<S: AsRef<str>>(items: &[S]) -> Self {
        let items: Vec<String> = items
            .iter()
            .map(|s| gofmt::json_string(s.as_ref()))
            .collect();
        Value(format!("[{}]", items.join(",")))
    }

    /// A `*time.Time`, rendered as JSON (RFC 3339 with trimmed fractions).
    pub fn time(t: &DateTime<FixedOffset>) -> Self {
        let text = t.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        Value(gofmt::json_string(&trim_fraction(&text)))
    }
}

/// Go's RFC3339Nano drops trailing zeros from the fraction; chrono pads to
/// 3, 6 or 9 digits.
fn trim_fraction(text: &str) -> String {
    let Some(dot) = text.find('.') else {
        return text.to_string();
    };
    let zone = text[dot..]
        .find(['Z', '+', '-'])
        .map_or(text.len(), |i| dot + i);
    let fraction = text[dot + 1..zone].trim_end_matches('0');
    if fraction.is_empty() {
        format!("{}{}", &text[..dot], &text[zone..])
    } else {
        format!("{}.{}{}", &text[..dot], fraction, &text[zone..])
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Invalid { value: Value, detail: String },
    Required { detail: String },
    TooMany { actual: usize, max: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    field: &'static str,
    kind: Kind,
}

impl FieldError {
    pub fn invalid(field: &'static str, value: Value, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        FieldError {
            field,
            kind: Kind::Invalid { value, detail },
        }
    }

    pub fn required(field: &'static str, detail: impl Into<String>) -> Self {
        FieldError {
            field,
            kind: Kind::Required {
                detail: detail.into(),
            },
        }
    }

    pub fn too_many(field: &'static str, actual: usize, max: usize) -> Self {
        FieldError {
            field,
            kind: Kind::TooMany { actual, max },
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Invalid { value, detail } => {
                write!(f, "{}: Invalid value: {}: {detail}", self.field, value.0)
            }
            Kind::Required { detail } => write!(f, "{}: Required value: {detail}", self.field),
            Kind::TooMany { actual, max } => {
                write!(
                    f,
                    "{}: Too many: {actual}: must have at most {max} items",
                    self.field
                )
            }
        }
    }
}

/// A list of field errors; displays as apimachinery's aggregate: one
/// message alone, several as `[a, b]`, duplicates dropped.
#[derive(Debug, Clone, Default, PartialEq, thiserror::Error)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<FieldError> for FieldErrors {
    fn from(e: FieldError) -> Self {
        FieldErrors(vec![e])
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut messages: Vec<String> = Vec::new();
        for m in self.0.iter().map(ToString::to_string) {
            if !messages.contains(&m) {
                messages.push(m);
            }
        }
        match messages.as_slice() {
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_apimachinery_1_34() {
        let t = DateTime::parse_from_rfc3339("2023-01-04T02:00:00.500Z").unwrap();
        assert_eq!(
            FieldError::invalid("untilTime", Value::time(&t), "must be after `sinceTime`")
                .to_string(),
            "untilTime: Invalid value: \"2023-01-04T02:00:00.5Z\": must be after `sinceTime`"
        );
        assert_eq!(
            FieldError::too_many("query", 5, 4).to_string(),
            "query: Too many: 5: must have at most 4 items"
        );
        assert_eq!(
            FieldError::required("query", "cannot be empty with options").to_string(),
            "query: Required value: cannot be empty with options"
        );
    }

    #[test]
    fn aggregate_dedupes_and_brackets() {
        let mut errs = FieldErrors::default();
        let e = FieldError::invalid(
            "query",
            Value::str("a b"),
            "input contains unsupported characters",
        );
        errs.push(e.clone());
        assert_eq!(
            errs.to_string(),
            "query: Invalid value: \"a b\": input contains unsupported characters"
        );
        errs.push(e);
        errs.push(FieldError::invalid(
            "boot",
            Value::int(1),
            "must be less than 1",
        ));
        assert_eq!(
            errs.to_string(),
            "[query: Invalid value: \"a b\": input contains unsupported characters, boot: Invalid value: 1: must be less than 1]"
        );
    }
}

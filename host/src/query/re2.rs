//! Checks `pattern` the way the kubelet does (`regexp/syntax.Parse` with
//! Perl flags) and words failures like Go's `regexp/syntax`:
//! `error parsing regexp: <code>: `<expr>``.
//!
//! The check uses Rust's `regex-syntax`, whose dialect is RE2's with a few
//! differences, listed in the README: it rejects `\Q…\E`, `\C` and an
//! unclosed `{` that Go reads literally, accepts class set operations
//! (`[a&&b]`, `[a--b]`) and repeat counts above 1000 that Go rejects, and
//! its `<expr>` may cover a slightly different span than Go's.

use regex_syntax::ast::ErrorKind as A;
use regex_syntax::hir::ErrorKind as H;

pub fn check(pattern: &str) -> Result<(), String> {
    let err = match regex_syntax::Parser::new().parse(pattern) {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    let (code, span) = match &err {
        regex_syntax::Error::Parse(e) => (ast_code(e.kind()), Some(*e.span())),
        regex_syntax::Error::Translate(e) => (hir_code(e.kind()), Some(*e.span())),
        _ => ("invalid or unsupported Perl syntax", None),
    };
    let expr = match code {
        TRAILING_BACKSLASH => "",
        MISSING_PAREN | UNEXPECTED_PAREN => pattern,
        _ => span
            .and_then(|s| pattern.get(s.start.offset..s.end.offset))
            .unwrap_or(pattern),
    };
    Err(format!("error parsing regexp: {code}: `{expr}`"))
}

const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const MISSING_PAREN: &str = "missing closing )";
const UNEXPECTED_PAREN: &str = "unexpected )";
const PERL_OP: &str = "invalid or unsupported Perl syntax";
const ESCAPE: &str = "invalid escape sequence";
const CLASS_RANGE: &str = "invalid character class range";
const NAMED_CAPTURE: &str = "invalid named capture";
const REPEAT_SIZE: &str = "invalid repeat count";

fn ast_code(kind: &A) -> &'static str {
    match kind {
        A::EscapeUnexpectedEof => TRAILING_BACKSLASH,
        A::GroupUnclosed => MISSING_PAREN,
        A::GroupUnopened => UNEXPECTED_PAREN,
        A::ClassUnclosed => "missing closing ]",
        A::ClassRangeInvalid | A::ClassRangeLiteral | A::UnicodeClassInvalid => CLASS_RANGE,
        A::ClassEscapeInvalid
        | A::EscapeHexEmpty
        | A::EscapeHexInvalid
        | A::EscapeHexInvalidDigit
        | A::EscapeUnrecognized
        | A::UnsupportedBackreference => ESCAPE,
        A::GroupNameDuplicate { .. }
        | A::GroupNameEmpty
        | A::GroupNameInvalid
        | A::GroupNameUnexpectedEof => NAMED_CAPTURE,
        A::RepetitionMissing => "missing argument to repetition operator",
        A::RepetitionCountInvalid
        | A::RepetitionCountDecimalEmpty
        | A::RepetitionCountUnclosed
        | A::DecimalEmpty
        | A::DecimalInvalid => REPEAT_SIZE,
        A::NestLimitExceeded(_) => "expression nests too deeply",
        _ => PERL_OP,
    }
}

fn hir_code(kind: &H) -> &'static str {
    match kind {
        H::InvalidUtf8 => "invalid UTF-8",
        H::UnicodePropertyNotFound | H::UnicodePropertyValueNotFound => CLASS_RANGE,
        _ => PERL_OP,
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn accepts_re2() {
        for ok in [
            "",
            "foo",
            "(?i)Error|warn.*",
            r"\d+\s\w",
            "[[:alpha:]]+",
            r"\pL",
            "a{2,5}",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_like_go() {
        assert_eq!(
            check(r"foo\").unwrap_err(),
            "error parsing regexp: trailing backslash at end of expression: ``"
        );
        assert_eq!(
            check("(?=x)").unwrap_err(),
            "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"
        );
        assert_eq!(
            check("(").unwrap_err(),
            "error parsing regexp: missing closing ): `(`"
        );
        assert_eq!(
            check("a)").unwrap_err(),
            "error parsing regexp: unexpected ): `a)`"
        );
        assert!(
            check(r"(a)\1")
                .unwrap_err()
                .starts_with("error parsing regexp: invalid escape sequence")
        );
        assert!(
            check("[z-a]")
                .unwrap_err()
                .starts_with("error parsing regexp: invalid character class range")
        );
    }
}

//! Checks `pattern` the way the kubelet does (`regexp/syntax.Parse` with
//! Perl flags) and words failures like Go's `regexp/syntax`:
//! `error parsing regexp: <code>: `<expr>``.
//!
//! The check uses Rust's `regex-syntax`, whose dialect is RE2's with a few
//! differences, listed in the README: it rejects `\Q…\E`, `\C` and an
//! unclosed `{` that Go reads literally, accepts class set operations
//! (`[a&&b]`, `[a--b]`), and its `<expr>` may cover a slightly different
//! span than Go's. Go's own limits are added on top of it (`go_limits`):
//! repeat counts up to 1000, also multiplied through nested repeats, and no
//! stacked repetition operators. Without them a pattern such as
//! `a{1000}{1000}` or `.{65536}` passed here and then failed inside
//! journalctl's PCRE2, as an error line in a 200 response.

use regex_syntax::ast::{self, Ast, ErrorKind as A, RepetitionKind, RepetitionRange};
use regex_syntax::hir::ErrorKind as H;

/// Go's `maxRepeat`: the largest count in `{n,m}`, and the largest product
/// of counts through nested repeats (`repeatIsValid`).
const MAX_REPEAT: u32 = 1000;

pub fn check(pattern: &str) -> Result<(), String> {
    if pattern.contains('\0') {
        // Go's regexp takes a NUL, but no program can receive one in an
        // argument, so the kubelet fails later; refuse it up front.
        return Err(UNSUPPORTED_CHARACTERS.to_string());
    }
    let err = match regex_syntax::Parser::new().parse(pattern) {
        Ok(_) => {
            let ast = ast::parse::Parser::new()
                .parse(pattern)
                .expect("an expression that translates also parses");
            return go_limits(&ast, pattern, None)
                .map_err(|(code, expr)| format!("error parsing regexp: {code}: `{expr}`"));
        }
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

const UNSUPPORTED_CHARACTERS: &str = "input contains unsupported characters";
const TRAILING_BACKSLASH: &str = "trailing backslash at end of expression";
const MISSING_PAREN: &str = "missing closing )";
const UNEXPECTED_PAREN: &str = "unexpected )";
const PERL_OP: &str = "invalid or unsupported Perl syntax";
const ESCAPE: &str = "invalid escape sequence";
const CLASS_RANGE: &str = "invalid character class range";
const NAMED_CAPTURE: &str = "invalid named capture";
const REPEAT_SIZE: &str = "invalid repeat count";
const REPEAT_OP: &str = "invalid nested repetition operator";

/// Go's parse-time limits on repetition, checked in parse order (operands
/// before their operator). `outer` is the operator of a repetition whose
/// operand is `ast` itself, which Go's Perl mode refuses (`a**`, `a{2}{3}`).
fn go_limits(
    ast: &Ast,
    pattern: &str,
    outer: Option<&ast::RepetitionOp>,
) -> Result<(), (&'static str, String)> {
    let text = |span: ast::Span| pattern[span.start.offset..span.end.offset].to_string();
    match ast {
        Ast::Repetition(rep) => {
            if let RepetitionKind::Range(range) = &rep.op.kind {
                let (min, max) = bounds(range);
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
                    let op = text(rep.op.span);
                    let op = if rep.greedy {
                        op
                    } else {
                        op[..op.len() - 1].to_string()
                    };
                    return Err((REPEAT_SIZE, op));
                }
            }
            if let Some(outer) = outer {
                let stacked = ast::Span::new(rep.op.span.start, outer.span.end);
                return Err((REPEAT_OP, text(stacked)));
            }
            go_limits(&rep.ast, pattern, Some(&rep.op))?;
            let counts = matches!(&rep.op.kind, RepetitionKind::Range(r) if {
                let (min, max) = bounds(r);
                min >= 2 || max.is_some_and(|m| m >= 2)
            });
            if counts && !repeat_is_valid(ast, MAX_REPEAT) {
                return Err((REPEAT_SIZE, text(rep.op.span)));
            }
            Ok(())
        }
        Ast::Group(g) => go_limits(&g.ast, pattern, None),
        Ast::Concat(c) => c.asts.iter().try_for_each(|a| go_limits(a, pattern, None)),
        Ast::Alternation(a) => a.asts.iter().try_for_each(|a| go_limits(a, pattern, None)),
        _ => Ok(()),
    }
}

fn bounds(range: &RepetitionRange) -> (u32, Option<u32>) {
    match *range {
        RepetitionRange::Exactly(n) => (n, Some(n)),
        RepetitionRange::AtLeast(n) => (n, None),
        RepetitionRange::Bounded(min, max) => (min, Some(max)),
    }
}

/// Go's `repeatIsValid`: the counts of nested `{n,m}` repeats, multiplied
/// from the outside in, stay within `n`.
fn repeat_is_valid(ast: &Ast, mut n: u32) -> bool {
    match ast {
        Ast::Repetition(rep) => {
            if let RepetitionKind::Range(range) = &rep.op.kind {
                let m = match bounds(range) {
                    (_, Some(0)) => return true,
                    (_, Some(max)) => max,
                    (min, None) => min,
                };
                if m > n {
                    return false;
                }
                n = n.checked_div(m).unwrap_or(n);
            }
            repeat_is_valid(&rep.ast, n)
        }
        Ast::Group(g) => repeat_is_valid(&g.ast, n),
        Ast::Concat(c) => c.asts.iter().all(|a| repeat_is_valid(a, n)),
        Ast::Alternation(a) => a.asts.iter().all(|a| repeat_is_valid(a, n)),
        _ => true,
    }
}

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
    fn go_repeat_limits() {
        // Each of these passed the check before and reached journalctl,
        // whose PCRE2 then failed with an error line inside a 200.
        let err = |p: &str| check(p).unwrap_err();
        assert_eq!(
            err("a{1001}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        assert_eq!(
            err(".{65536}"),
            "error parsing regexp: invalid repeat count: `{65536}`"
        );
        assert_eq!(
            err("a{2,1001}?"),
            "error parsing regexp: invalid repeat count: `{2,1001}`"
        );
        assert_eq!(
            err("a{1000}{1000}"),
            "error parsing regexp: invalid nested repetition operator: `{1000}{1000}`"
        );
        assert_eq!(
            err("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(
            err("x+?*"),
            "error parsing regexp: invalid nested repetition operator: `+?*`"
        );
        assert_eq!(
            err("(a{100}){100}"),
            "error parsing regexp: invalid repeat count: `{100}`"
        );
        assert_eq!(
            err("((a{10}){10}){11}"),
            "error parsing regexp: invalid repeat count: `{11}`"
        );
        assert_eq!(
            err("a{1001}{2}"),
            "error parsing regexp: invalid repeat count: `{1001}`"
        );
        assert_eq!(err("a\0b"), "input contains unsupported characters");
        for ok in [
            "a{1000}",
            "(a{10}){100}",
            "(a*){1000}",
            "(a{0}){1000}",
            "(a{1000})*",
            "a{2}b{3}",
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

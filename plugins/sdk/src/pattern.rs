//! `pattern` for sources that filter text themselves. The host has checked
//! it parses as RE2; here it is compiled with regex-automata (the `regex`
//! crate's engine: RE2's syntax, linear-time matching) with journalctl's
//! smart case, so a file source answers `pattern=error` as the journald
//! source does: case-insensitive unless the pattern has an upper-case
//! letter.

use regex_automata::meta::{Config, Regex};
use regex_automata::util::syntax;

use crate::SourceError;

/// Bounds the compiled program and its lazy DFA, whatever the pattern.
const SIZE_LIMIT: usize = 4 << 20;

pub struct Pattern(Regex);

impl Pattern {
    pub fn new(pattern: &str) -> Result<Self, SourceError> {
        let smart_case = !pattern.chars().any(char::is_uppercase);
        Regex::builder()
            .syntax(syntax::Config::new().case_insensitive(smart_case))
            .configure(
                Config::new()
                    .nfa_size_limit(Some(SIZE_LIMIT))
                    .hybrid_cache_capacity(SIZE_LIMIT),
            )
            .build(pattern)
            .map(Pattern)
            .map_err(|e| SourceError::Unsupported(format!("pattern: {e}")))
    }

    /// Whether any part of an entry (all of its lines) matches.
    pub fn is_match(&self, entry: &[u8]) -> bool {
        self.0.is_match(entry)
    }
}

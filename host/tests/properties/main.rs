//! Property tests of nodelogd's own parsers and resolver on real files:
//! the log root never yields anything outside itself, and the config and
//! manifest loaders never panic, whatever they are given.
//!
//! Cases: PROPTEST_CASES (proptest's default, 256, when unset), e.g.
//! `PROPTEST_CASES=20000 cargo test -p nodelogd --test properties` for a
//! long run.

mod loaders;
mod logroot;

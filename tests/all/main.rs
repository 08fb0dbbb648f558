//! One integration binary (one link, one shared fixture) for everything
//! that runs real components: journalctl, kubectl, files and symlinks on
//! disk, the wasm plugins.

mod audit;
mod auth;
mod connections;
mod dropin;
mod files;
mod garbage;
mod hybrid_overlay;
mod journal;
mod journal_grants;
mod kubectl;
mod limits;
mod metrics;
mod native_journal;
mod native_journal_http;
mod plugin_faults;
mod sandbox;
mod streaming;
mod tls;
mod upstream;
mod webhook;
mod winevent;

use nodelogd_tests::fixture::Fixture;

fn fixture() -> &'static Fixture {
    Fixture::shared(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")))
}

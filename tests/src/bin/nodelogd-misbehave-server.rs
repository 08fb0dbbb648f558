//! nodelogd in a process of its own, serving the misbehaving plugin, for
//! tests that kill the server outright (what happens to its programs):
//!
//!   nodelogd-misbehave-server LOG_DIR CACHE_DIR
//!
//! Prints the address it listens on, then serves until killed, logging
//! to stderr as nodelogd does.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use nodelogd::cli::{AuthorizationMode, ServeArgs};
use nodelogd::config::Config;
use nodelogd::logroot::LogRoot;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (log_dir, cache_dir) = args
        .next()
        .zip(args.next())
        .context("usage: nodelogd-misbehave-server LOG_DIR CACHE_DIR")?;
    let probe = std::env::current_exe()?.with_file_name("nodelogd-probe");
    let plugin = nodelogd_tests::misbehave::spec(&Arc::new(LogRoot::open(&log_dir)?), &probe);
    let config = Config::load(ServeArgs {
        listen: Some(([127, 0, 0, 1], 0).into()),
        log_dir: Some(log_dir),
        cache_dir: Some(cache_dir),
        anonymous_auth: Some(true),
        authorization_mode: Some(AuthorizationMode::AlwaysAllow),
        ..Default::default()
    })?;
    let running = nodelogd::start_with(config, vec![plugin]).await?;
    println!("{}", running.local_addr);
    std::future::pending::<()>().await;
    Ok(())
}

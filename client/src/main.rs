//! `kubectl node-logs`: the kubelet's node log query (`/logs/`) on many
//! nodes at once, through the API server or straight to nodelogd.

mod cli;
mod fetch;
mod lines;
mod listing;
mod output;
mod request;
mod run;
mod stamp;
mod targets;
mod timespec;
mod unify;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::request::LogsRequest;

/// clap's own status for usage errors; a query the server would refuse is one.
const USAGE: u8 = 2;
const INTERRUPTED: i32 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // kube's TLS stack asks rustls for the process default; only ring is
    // compiled in, and installing it explicitly keeps it so if another
    // crate ever brings a second provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let request = match LogsRequest::from_cli(&cli, chrono::Utc::now()) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("error: {}", output::escape(&e.to_string()));
            return ExitCode::from(USAGE);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        tokio::select! {
            code = run::run(&cli, &request) => code,
            _ = tokio::signal::ctrl_c() => INTERRUPTED,
        }
    });
    // At once: no waiting for open connections or a blocked stdout.
    std::process::exit(code)
}

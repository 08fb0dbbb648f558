use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use nodelogd::cli::{Cli, Command, LogFormat, PluginsCommand};
use nodelogd::config::Config;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Plugins(PluginsCommand::List { config, json }) => {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(Into::into)
                .and_then(|rt| rt.block_on(nodelogd::plugins::review::list(config, json)))
        }
        Command::Plugins(PluginsCommand::Check {
            wasm,
            manifest,
            config,
            json,
        }) => match nodelogd::plugins::review::check(&wasm, manifest.as_deref(), config, json) {
            // Refused: the verdict is printed; the exit code says so.
            Ok(false) => return ExitCode::FAILURE,
            result => result.map(drop),
        },
        Command::Serve(args) => serve(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nodelogd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (journald and the container runtime collect it),
/// filtered by `NODELOGD_LOG` (default `info`).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("NODELOGD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        // One JSON object per line, with the current span (`conn`, the
        // client's address) so that each line stands alone.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

fn serve(args: nodelogd::cli::ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Before the plugins load (seconds), so no signal finds the default
        // action, which is to die without draining.
        ignore_signals()?;
        let shutdown = shutdown_signal()?;
        let running = nodelogd::start(config).await?;
        running.until(shutdown).await;
        Ok(())
    })
}

/// SIGHUP, SIGUSR1 and SIGUSR2 are logged and otherwise ignored until
/// nodelogd gives them a meaning (reload, for one): their default action
/// would kill it mid-response.
fn ignore_signals() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ] {
        let mut stream = signal(kind).with_context(|| format!("installing the {name} handler"))?;
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                tracing::info!(signal = name, "ignoring a signal");
            }
        });
    }
    Ok(())
}

/// SIGTERM (how a DaemonSet pod is stopped) or Ctrl-C (SIGINT). Both
/// handlers are installed here, before serving starts: a handler installed
/// on the future's first poll left a window in which SIGTERM still had its
/// default action and killed nodelogd without draining.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

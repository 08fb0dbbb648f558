use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use nodelogd::Reloader;
use nodelogd::cli::{Cli, Command, LogFormat, PluginsCommand};
use nodelogd::config::Config;
use tokio::signal::unix::{Signal, SignalKind, signal};
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
    let config = Config::load(args.clone())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // Before the plugins load (seconds), so no signal finds the default
        // action, which is to die without draining. A SIGHUP that arrives
        // meanwhile reloads once serving has started.
        ignore_signals()?;
        let hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
        let shutdown = shutdown_signal()?;
        let running = nodelogd::start(config).await?;
        tokio::spawn(reload_on_hangup(hangup, running.reloader(), args));
        running.until(shutdown).await;
        Ok(())
    })
}

/// Each SIGHUP reloads the configuration. Signals that arrive during a
/// reload are coalesced (tokio delivers them as one): one more reload
/// follows, which reads whatever changed meanwhile.
async fn reload_on_hangup(
    mut hangup: Signal,
    reloader: Arc<Reloader>,
    args: nodelogd::cli::ServeArgs,
) {
    while hangup.recv().await.is_some() {
        tracing::info!(signal = "SIGHUP", "reloading the configuration");
        if let Err(e) = reloader.reload(&args).await {
            // Escaped: the text may quote the config file or a plugin.
            tracing::error!(
                error = ?format!("{e:#}"),
                "reload failed; serving on with the configuration in force"
            );
        }
    }
}

/// SIGUSR1 and SIGUSR2 are logged and otherwise ignored until nodelogd
/// gives them a meaning: their default action would kill it mid-response.
fn ignore_signals() -> anyhow::Result<()> {
    for (kind, name) in [
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
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

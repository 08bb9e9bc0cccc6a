//! `junction-sandbox`: serves every provider's fake API and the fake OAuth 2.0 server
//! on one port, for demo mode and end-to-end tests. Prints one line with its URL to
//! stdout once it listens, logs to stderr (`JUNCTION_LOG`), and stops cleanly on
//! Ctrl-C or SIGTERM. Bad arguments exit with status 2 and one line on stderr.

use std::{io::IsTerminal, net::SocketAddr, process::ExitCode, time::Duration};

use anyhow::Context as _;
use clap::{Parser, error::ErrorKind};
use junction_sandbox::{CLIENT_ID, SandboxConfig};

/// Fakes of every provider and a fake OAuth 2.0 server, on one port.
///
/// Point Junction at it with JUNCTION_SANDBOX_URL. The OAuth client is
/// `junction-sandbox` / `junction-sandbox-secret`. GET /_sandbox/catalog lists every
/// provider with the credentials and settings that connect it here.
#[derive(Debug, Parser)]
#[command(name = "junction-sandbox", version, about)]
struct Args {
    /// The address to listen on (port 0 picks a free port).
    #[arg(
        long,
        value_name = "ADDR",
        env = "JUNCTION_SANDBOX_BIND",
        default_value = "127.0.0.1:8090"
    )]
    bind: SocketAddr,

    /// Lifetime of issued access tokens, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 3600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    token_lifetime: u64,
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!(
                "{} (see `junction-sandbox --help`)",
                clap_message(&err.render().to_string())
            );
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only help a terminal; in files and CI logs they are noise.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JUNCTION_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // `{:#}` joins the cause chain with ": " on one line.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the sandbox until Ctrl-C or SIGTERM.
async fn serve(args: Args) -> anyhow::Result<()> {
    let config = SandboxConfig {
        token_lifetime: Duration::from_secs(args.token_lifetime),
        ..SandboxConfig::default()
    };
    let running = junction_sandbox::spawn(config, args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    tracing::info!(
        providers = ?running.sandbox.provider_ids(),
        client_id = CLIENT_ID,
        "sandbox ready"
    );
    println!("junction-sandbox listening on {}", running.base_url());
    shutdown_signal().await?;
    tracing::info!("stopping");
    running.handle.stop(true).await;
    Ok(())
}

/// Resolves on the first Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("cannot listen for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("cannot listen for Ctrl-C")?;
    Ok(())
}

/// The message part of a clap error (before its usage and tips), on one line.
fn clap_message(text: &str) -> String {
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
        .collect();
    message.join(" ")
}

//! `junction-worker`: loads the configuration once, connects, and runs the job
//! queues and the scheduler until SIGTERM or SIGINT, then drains and exits 0.
//! Configuration errors are one line on stderr and exit 1.

use std::process::ExitCode;

use junction_app::Config;
use junction_registry::Registry;

fn main() -> ExitCode {
    junction_app::process::run_server(work)
}

async fn work(config: Config) -> anyhow::Result<()> {
    // The signal handlers are installed before anything else runs, so a SIGTERM that
    // arrives during start-up drains instead of killing the process.
    let shutdown = shutdown_signal()?;
    let worker = junction_worker::Worker::connect(config, Registry::builtin()).await?;
    worker
        .run_with(shutdown, |name, metrics| {
            // One line on stdout for whoever started us (scripts, tests).
            match metrics {
                Some(addr) => println!("junction-worker {name} ready; metrics on http://{addr}"),
                None => println!("junction-worker {name} ready"),
            }
        })
        .await
}

/// Resolves on the first SIGTERM or SIGINT.
#[cfg(unix)]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())
        .map_err(|e| anyhow::anyhow!("cannot listen for SIGTERM: {e}"))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(|e| anyhow::anyhow!("cannot listen for SIGINT: {e}"))?;
    Ok(async move {
        let which = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = which, "shutting down: draining in-flight jobs");
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: draining in-flight jobs");
    })
}

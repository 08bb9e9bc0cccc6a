//! `junction-worker`: loads the configuration once, connects, and runs the job
//! queues, the outbox relay and the scheduler (junction-app's [`Worker`]) until
//! SIGTERM or SIGINT, then drains and exits 0. It also serves `/metrics`,
//! `/healthz` and `/readyz` for operators on `[worker] metrics_bind`.
//! Configuration errors are one line on stderr and exit 1.

mod server;

use std::process::ExitCode;

use junction_app::{App, Config, Role, worker::Worker};
use junction_registry::Registry;

fn main() -> ExitCode {
    junction_app::process::run_server(work)
}

async fn work(config: Config) -> anyhow::Result<()> {
    // The signal handlers are installed before anything else runs, so a SIGTERM that
    // arrives during start-up drains instead of killing the process.
    let shutdown = shutdown_signal()?;
    let metrics_bind = config.worker.metrics_bind.clone();
    let app = App::connect(config, Registry::builtin(), Role::Worker).await?;
    let server = match metrics_bind.as_deref().map(str::trim) {
        Some(bind) if !bind.is_empty() => Some(server::OpsServer::start(
            bind,
            server::prometheus(),
            app.clone(),
        )?),
        _ => None,
    };
    let worker = Worker::new(app);
    // One line on stdout for whoever started us (scripts, tests).
    match server.as_ref().map(|s| s.local_addr) {
        Some(addr) => println!(
            "junction-worker {} ready; metrics on http://{addr}",
            worker.name()
        ),
        None => println!("junction-worker {} ready", worker.name()),
    }
    let result = worker.run(shutdown).await;
    if let Some(server) = server {
        server.stop().await;
    }
    result
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

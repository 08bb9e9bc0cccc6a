//! `junction-worker`: loads the configuration once, connects, and runs the job
//! queues, the outbox relay and the scheduler (junction-app's [`Worker`]) until
//! SIGTERM or SIGINT, then drains and exits 0. It also serves `/metrics`,
//! `/healthz` and `/readyz` for operators on `[worker] metrics_bind`.
//! Configuration errors, and a Postgres it cannot reach at start-up, are one line
//! on stderr and exit 1. A Redis it cannot reach is waited for: the worker checks
//! again with a growing pause, one log line per check, and starts taking jobs once
//! Redis answers (SIGTERM meanwhile exits 0).

mod server;

use std::{process::ExitCode, time::Duration};

use junction_app::{App, Config, READINESS_TIMEOUT, Role, worker::Worker};
use junction_registry::Registry;

/// The first pause between readiness checks at start-up; it doubles after each
/// failed check, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(500);
const LONGEST_PAUSE: Duration = Duration::from_secs(15);

fn main() -> ExitCode {
    junction_app::process::run_server(work)
}

async fn work(config: Config) -> anyhow::Result<()> {
    // The signal handlers are installed before anything else runs, so a SIGTERM that
    // arrives during start-up drains instead of killing the process.
    let mut shutdown = Box::pin(shutdown_signal()?);
    let metrics_bind = config.worker.metrics_bind.clone();
    let app = App::connect(config, Registry::builtin(), Role::Worker).await?;
    // Serving before Redis answers: /healthz says the process lives, /readyz that it
    // is not ready yet.
    let server = match metrics_bind.as_deref().map(str::trim) {
        Some(bind) if !bind.is_empty() => Some(server::OpsServer::start(
            bind,
            server::prometheus(),
            app.clone(),
        )?),
        _ => None,
    };
    let started = tokio::select! {
        () = wait_until_ready(&app) => true,
        () = &mut shutdown => false,
    };
    if !started {
        if let Some(server) = server {
            server.stop().await;
        }
        return Ok(());
    }
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

/// Returns once Postgres and Redis both answer, checking again with a growing pause
/// and logging one line per failed check. The job runner needs Redis from its first
/// step; Postgres answered a moment ago (`App::connect`), so in practice this waits
/// for Redis.
async fn wait_until_ready(app: &App) {
    let mut pause = FIRST_PAUSE;
    let mut attempt = 1u32;
    loop {
        let readiness = app.readiness(READINESS_TIMEOUT).await;
        if readiness.is_ready() {
            if attempt > 1 {
                tracing::info!(attempt, "Postgres and Redis answer: starting");
            }
            return;
        }
        tracing::warn!(
            attempt,
            retry_in = ?pause,
            checks = %readiness.to_json(),
            "waiting for Redis and Postgres to answer before taking jobs"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
        attempt = attempt.saturating_add(1);
    }
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

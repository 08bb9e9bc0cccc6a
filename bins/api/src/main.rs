//! `junction-api`: loads the configuration once, connects, and serves the API.
//! `junction-api openapi` prints the OpenAPI document instead.

use std::process::ExitCode;

use junction_api::{AppState, Config, openapi};
use junction_app::{App, Role};
use junction_registry::Registry;

/// mimalloc rather than the system's malloc: a request allocates and frees
/// hundreds of small buffers (rows, JSON), where glibc's malloc cost about a tenth
/// of the API's CPU (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("openapi") {
        print!("{}", openapi::document());
        return ExitCode::SUCCESS;
    }
    junction_app::process::run_server(serve)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    let app = App::connect(config, Registry::builtin(), Role::Api).await?;
    let state = AppState::new(app, Some(metrics));
    let listener = std::net::TcpListener::bind(bind)
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    // The address actually bound: with port 0 in `bind` the system picks one, and
    // whoever started the process (the benchmarks) reads it from this line.
    let bound = listener
        .local_addr()
        .map_err(|e| anyhow::anyhow!("cannot read the address bound for {bind}: {e}"))?;
    tracing::info!(%bound, providers = ?state.app.registry().ids().collect::<Vec<_>>(), "junction-api listening");
    println!("junction-api listening on http://{bound}");
    junction_api::spawn(state, listener)?.await?;
    Ok(())
}

//! The worker's small HTTP server for operators: `/metrics` (Prometheus), `/healthz`
//! (liveness: the process answers) and `/readyz` (Postgres and Redis answer).

use std::{net::SocketAddr, sync::OnceLock};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use junction_app::READINESS_TIMEOUT;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder, installed on first use. `None` when another
/// recorder was installed first: the server then has nothing of its own to render.
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(err) => {
                tracing::warn!(error = %err, "cannot install the metrics recorder; /metrics will be empty");
                None
            }
        })
        .clone()
}

/// What the handlers read.
#[derive(Clone)]
struct ServerState {
    metrics: Option<PrometheusHandle>,
    app: junction_app::App,
}

/// The running server.
#[derive(Debug)]
pub struct OpsServer {
    /// Where it listens (the real port when the setting said port 0).
    pub local_addr: SocketAddr,
    handle: ServerHandle,
}

impl OpsServer {
    /// Binds `bind` and serves in the background.
    pub fn start(
        bind: &str,
        metrics: Option<PrometheusHandle>,
        app: junction_app::App,
    ) -> anyhow::Result<Self> {
        let state = ServerState { metrics, app };
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .route("/metrics", web::get().to(render_metrics))
                .route("/healthz", web::get().to(healthz))
                .route("/readyz", web::get().to(readyz))
        })
        .workers(1)
        // The worker handles SIGTERM itself (draining jobs); the server is stopped
        // after that.
        .disable_signals()
        .shutdown_timeout(2)
        .bind(bind)
        .map_err(|e| {
            anyhow::anyhow!("JUNCTION_WORKER__METRICS_BIND: cannot listen on {bind}: {e}")
        })?;
        let local_addr = server
            .addrs()
            .into_iter()
            .next()
            .ok_or_else(|| anyhow::anyhow!("the metrics server bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(async move {
            if let Err(err) = server.await {
                tracing::error!(error = %err, "the metrics server stopped with an error");
            }
        });
        Ok(Self { local_addr, handle })
    }

    /// Stops serving.
    pub async fn stop(self) {
        self.handle.stop(true).await;
    }
}

async fn render_metrics(state: web::Data<ServerState>) -> HttpResponse {
    match &state.metrics {
        Some(handle) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4")
            .body(handle.render()),
        None => HttpResponse::NotFound()
            .content_type("text/plain")
            .body("no metrics recorder in this process"),
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// 200 when Postgres and Redis each answer a round trip within a second, else 503
/// naming what is down (a worker waiting for Redis at start-up is not ready).
async fn readyz(state: web::Data<ServerState>) -> HttpResponse {
    let readiness = state.app.readiness(READINESS_TIMEOUT).await;
    if readiness.is_ready() {
        HttpResponse::Ok().json(readiness.to_json())
    } else {
        HttpResponse::ServiceUnavailable().json(readiness.to_json())
    }
}

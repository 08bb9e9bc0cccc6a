//! The worker's small HTTP server for operators: `/metrics` (Prometheus), `/healthz`
//! (liveness: the process answers) and `/readyz` (Postgres and Redis answer).

use std::{net::SocketAddr, time::Duration};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use junction_jobs::Queues;
use junction_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

/// What the handlers read.
#[derive(Clone)]
struct ServerState {
    metrics: Option<PrometheusHandle>,
    store: Store,
    queues: Queues,
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
        store: Store,
        queues: Queues,
    ) -> anyhow::Result<Self> {
        let state = ServerState {
            metrics,
            store,
            queues,
        };
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

/// 200 when Postgres and Redis answer within 3 s, else 503 naming what is down.
async fn readyz(state: web::Data<ServerState>) -> HttpResponse {
    let within = Duration::from_secs(3);
    let postgres = match tokio::time::timeout(within, state.store.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".to_owned()),
    };
    let redis = match tokio::time::timeout(within, state.queues.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err("timed out".to_owned()),
    };
    let check = |result: &Result<(), String>| match result {
        Ok(()) => json!({ "ok": true }),
        Err(error) => json!({ "ok": false, "error": error }),
    };
    let body = json!({ "postgres": check(&postgres), "redis": check(&redis) });
    if postgres.is_ok() && redis.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

//! [`AppState`]: what every handler shares — the application layer, built once from
//! the configuration, and the metrics handle `/metrics` renders.

use junction_app::App;
use metrics_exporter_prometheus::PrometheusHandle;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: Option<PrometheusHandle>,
}

impl AppState {
    pub fn new(app: App, metrics: Option<PrometheusHandle>) -> Self {
        Self { app, metrics }
    }
}

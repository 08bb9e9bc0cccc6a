//! The application's Prometheus metrics: what syncs, the scheduler, webhooks, the
//! outbox and the proxy count, and the queue gauges refreshed from Redis and
//! Postgres. The binaries install the recorder (`/metrics`).
//!
//! junction-jobs counts the job lifecycle itself (jobs run, retried, dead-lettered)
//! and junction-ratelimit the provider requests and throttling; this module adds
//! what only the use cases see. Every name is listed in docs/operations.md with
//! suggested alerts.

use std::time::{Duration, Instant};

use junction_jobs::Queues;
use junction_store::{Store, ingest::PageStats, models::Queue};

/// The provider label when the provider could not be looked up.
pub const UNKNOWN_PROVIDER: &str = "unknown";

/// A committed page: records read and written, KPI points written.
pub fn sync_page(provider: &str, stats: &PageStats) {
    let provider = provider.to_owned();
    metrics::counter!("junction_sync_records_total", "provider" => provider.clone())
        .increment(stats.records_read);
    metrics::counter!("junction_sync_records_written_total", "provider" => provider.clone())
        .increment(stats.records_written);
    metrics::counter!("junction_sync_kpi_points_total", "provider" => provider.clone())
        .increment(stats.kpi_points_written);
    metrics::counter!("junction_sync_pages_total", "provider" => provider).increment(1);
}

/// A sync attempt's outcome: `succeeded`, `retrying`, `dead`, `failed` (ended
/// without a retry, e.g. needs_reauth) or `cancelled`.
pub fn sync_run(provider: &str, outcome: &'static str) {
    metrics::counter!("junction_sync_runs_total", "provider" => provider.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// How long a successful attempt took.
pub fn sync_duration(provider: &str, took: Duration) {
    metrics::histogram!("junction_sync_duration_seconds", "provider" => provider.to_owned())
        .record(took.as_secs_f64());
}

/// An access token refreshed while opening an integration.
pub fn token_refreshed(provider: &str) {
    metrics::counter!("junction_token_refreshes_total", "provider" => provider.to_owned())
        .increment(1);
}

/// A 429 or an exhausted quota seen by a sync.
pub fn provider_rate_limited(provider: &str) {
    metrics::counter!("junction_provider_rate_limited_total", "provider" => provider.to_owned())
        .increment(1);
}

/// Whether the API process hears about revoked API keys (1) and so serves
/// verified keys from its cache, or reads every request's key from Postgres (0).
pub fn api_key_cache_listening(listening: bool) {
    metrics::gauge!("junction_api_key_cache_listening").set(if listening { 1.0 } else { 0.0 });
}

/// One scheduler pass: integrations claimed, runs enqueued, enqueue failures.
pub fn scheduler_pass(claimed: usize, enqueued: usize, failed: usize, took: Duration) {
    metrics::counter!("junction_scheduler_claimed_total").increment(claimed as u64);
    metrics::counter!("junction_scheduler_enqueued_total").increment(enqueued as u64);
    metrics::counter!("junction_scheduler_enqueue_failures_total").increment(failed as u64);
    metrics::histogram!("junction_scheduler_pass_seconds").record(took.as_secs_f64());
}

/// A scheduler pass that failed as a whole (the claim itself).
pub fn scheduler_error() {
    metrics::counter!("junction_scheduler_errors_total").increment(1);
}

/// A job Redis forgot, staged again by the reconciliation sweep.
pub fn job_recovered(queue: Queue) {
    metrics::counter!("junction_jobs_recovered_total", "queue" => queue.as_str()).increment(1);
}

/// A job Redis says ended while its row still waits (see `reconcile`).
pub fn reconcile_inconsistent(queue: Queue) {
    metrics::counter!("junction_reconcile_inconsistent_total", "queue" => queue.as_str())
        .increment(1);
}

/// A reconciliation sweep that failed.
pub fn reconcile_error() {
    metrics::counter!("junction_reconcile_errors_total").increment(1);
}

/// Refreshes `junction_queue_depth{queue,state}` and `junction_queue_lag_seconds{queue}`
/// from Redis. Every pod reports the same shared numbers; aggregate with `max`.
pub async fn refresh_queue_gauges(queues: &Queues) {
    let started = Instant::now();
    match queues.stats().await {
        Ok(stats) => {
            for stat in stats {
                let queue = stat.queue.as_str();
                for (state, value) in [
                    ("pending", stat.pending),
                    ("scheduled", stat.scheduled),
                    ("running", stat.running),
                    ("failed", stat.failed),
                    ("dead", stat.dead),
                ] {
                    metrics::gauge!("junction_queue_depth", "queue" => queue, "state" => state)
                        .set(value as f64);
                }
                metrics::gauge!("junction_queue_lag_seconds", "queue" => queue)
                    .set(stat.oldest_pending_age_seconds.unwrap_or(0) as f64);
            }
            metrics::gauge!("junction_queue_stats_up").set(1.0);
        }
        Err(err) => {
            metrics::gauge!("junction_queue_stats_up").set(0.0);
            tracing::warn!(error = %err, "cannot read queue statistics");
        }
    }
    metrics::histogram!("junction_queue_stats_seconds").record(started.elapsed().as_secs_f64());
}

/// Refreshes `junction_outbox_pending` and `junction_outbox_oldest_age_seconds`:
/// jobs committed but not on their queue yet (Redis down, or no worker relaying).
pub async fn refresh_outbox_gauges(store: &Store) {
    match junction_jobs::outbox::depth(store).await {
        Ok((pending, oldest)) => {
            metrics::gauge!("junction_outbox_pending").set(pending as f64);
            let age = oldest
                .map(|at| (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            metrics::gauge!("junction_outbox_oldest_age_seconds").set(age);
        }
        Err(err) => tracing::warn!(error = %err, "cannot read the outbox depth"),
    }
}

/// A request through the authenticated proxy, by provider and the provider's status
/// class (`2xx`, `4xx`, ...; `refused` when the proxy refused it itself).
pub fn proxy_request(provider: &str, outcome: &str) {
    metrics::counter!("junction_proxy_requests_total", "provider" => provider.to_owned(), "outcome" => outcome.to_owned())
        .increment(1);
}

/// A webhook delivery: `accepted`, `duplicate` or `refused`.
pub fn webhook_received(provider: &str, outcome: &'static str, count: u64) {
    metrics::counter!("junction_webhooks_received_total", "provider" => provider.to_owned(), "outcome" => outcome)
        .increment(count);
}

/// A stored webhook event applied.
pub fn webhook_processed(provider: &str) {
    metrics::counter!("junction_webhooks_processed_total", "provider" => provider.to_owned())
        .increment(1);
}

//! [`WebhookHandler`]: processes one stored webhook event (the webhook queue).
//!
//! The API stored the delivery raw after its signature held. Here the stored body
//! and headers are verified again with the clock pinned to the delivery's arrival (so
//! a timestamp tolerance still holds, while a row altered in the database since is
//! refused), the event is picked out by its id, the provider adapter turns it into
//! records, KPI points and suppressed addresses ([`junction_core::Adapter::apply_webhook`],
//! which may call the provider), and all of it is written in one transaction with
//! the event marked `processed` and a log entry. Applying is idempotent (records and
//! KPI day totals upsert, suppressions insert once), so a redelivered task or an ops
//! replay changes nothing twice; an event already `processed` is skipped.
//!
//! Failures follow the shared retry policy: the event shows `failed` with the error
//! while a retry waits, `dead` once it is dead-lettered.

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use junction_app::{Connections, WebhookSetupError, webhooks::headers_from_json};
use junction_core::{
    ErrorCode, FixedClock, KpiPoint, Record, WebhookEffects,
    webhook::{WebhookEvent, WebhookRequest},
};
use junction_jobs::{Envelope, FailureKind, Job, JobFailure, JobHandler, WebhookJob};
use junction_store::{
    models::{Integration, LogLevel, Operation, Queue, WebhookEventRow, WebhookStatus},
    repo::{self, logs::NewLog},
};
use serde_json::json;

use crate::{
    alerts::Notifier,
    calls::call_failure,
    sync::{connect_failure, store_failure},
};

/// Runs webhook jobs. Cheap to clone.
#[derive(Clone)]
pub struct WebhookHandler {
    connections: Connections,
    /// Tells the workspace about dead letters (none in handlers built without one).
    notifier: Option<Notifier>,
}

impl std::fmt::Debug for WebhookHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookHandler").finish_non_exhaustive()
    }
}

impl WebhookHandler {
    pub fn new(connections: Connections) -> Self {
        Self {
            connections,
            notifier: None,
        }
    }

    /// Notifies the workspace of this queue's dead letters.
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    fn webhook_job(envelope: &Envelope) -> Result<&WebhookJob, JobFailure> {
        match &envelope.job {
            Job::Webhook(job) => Ok(job),
            other => Err(JobFailure::permanent(
                ErrorCode::Internal,
                format!("the webhook queue got a {} job", other.kind()),
            )),
        }
    }

    /// One attempt at one event.
    async fn process(&self, job: &WebhookJob) -> Result<(), JobFailure> {
        let Some((row, integration)) = self.begin(job).await? else {
            return Ok(());
        };
        let provider = integration.provider.clone();
        let adapter = self
            .connections
            .adapter(&provider)
            .map_err(|e| connect_failure(&e))?;
        let Some(spec) = adapter.spec().webhook.clone() else {
            return Err(JobFailure::permanent(
                ErrorCode::UnsupportedOperation,
                format!("{provider} does not send webhooks"),
            ));
        };
        let secret = self
            .connections
            .webhook_secret(job.workspace_id, &integration, &spec)
            .await
            .map_err(|error| match error {
                WebhookSetupError::NotConfigured(message) => {
                    JobFailure::permanent(ErrorCode::WebhookNotConfigured, message)
                }
                WebhookSetupError::Connect(error) => connect_failure(&error),
            })?;
        let event = self.verified_event(&*adapter, &provider, &row, &secret)?;

        let ctx = self.connections.context(&provider);
        let effects = self
            .connections
            .call(job.workspace_id, &integration, |connection| {
                let (adapter, ctx, event) = (adapter.clone(), ctx.clone(), event.clone());
                async move { adapter.apply_webhook(&ctx, &connection, &event).await }
            })
            .await
            .map_err(|e| call_failure(&e, self.connections.clock.now()))?;
        self.commit(job, &row, &effects).await
    }

    /// Loads the event and its integration and marks the attempt; `None` when the
    /// event was processed already (a redelivered task).
    async fn begin(
        &self,
        job: &WebhookJob,
    ) -> Result<Option<(WebhookEventRow, Integration)>, JobFailure> {
        let store = &self.connections.store;
        let mut tx = store
            .begin(job.workspace_id)
            .await
            .map_err(|e| store_failure(&e))?;
        let row = repo::webhook_events::get(tx.conn(), job.event_row_id)
            .await
            .map_err(|e| store_failure(&e))?;
        if row.status == WebhookStatus::Processed {
            tx.commit().await.map_err(|e| store_failure(&e))?;
            return Ok(None);
        }
        let integration = repo::integrations::get(tx.conn(), job.integration_id)
            .await
            .map_err(|e| store_failure(&e))?;
        repo::webhook_events::set_status(tx.conn(), row.id, WebhookStatus::Processing, None)
            .await
            .map_err(|e| store_failure(&e))?;
        tx.commit().await.map_err(|e| store_failure(&e))?;
        Ok(Some((row, integration)))
    }

    /// Verifies the stored delivery as of its arrival and picks out the event.
    fn verified_event(
        &self,
        adapter: &dyn junction_core::Adapter,
        provider: &str,
        row: &WebhookEventRow,
        secret: &secrecy::SecretString,
    ) -> Result<WebhookEvent, JobFailure> {
        let at_arrival = self
            .connections
            .context(provider)
            .with_clock(Arc::new(FixedClock(row.received_at)));
        let headers = headers_from_json(&row.headers);
        let events = adapter
            .verify_webhook(
                &at_arrival,
                secret,
                &WebhookRequest {
                    headers: &headers,
                    body: &row.body,
                },
            )
            .map_err(|error| {
                JobFailure::permanent(
                    ErrorCode::WebhookSignatureInvalid,
                    format!("the stored delivery no longer verifies: {error}"),
                )
            })?;
        events
            .into_iter()
            .find(|event| event.id == row.event_id)
            .ok_or_else(|| {
                JobFailure::permanent(
                    ErrorCode::Internal,
                    format!(
                        "the stored delivery has no event `{}` any more",
                        row.event_id
                    ),
                )
            })
    }

    /// Writes what the event changes, marks it processed and logs it, all at once.
    async fn commit(
        &self,
        job: &WebhookJob,
        row: &WebhookEventRow,
        effects: &WebhookEffects,
    ) -> Result<(), JobFailure> {
        let workspace_id = job.workspace_id;
        let mut records: BTreeMap<&str, Vec<Record>> = BTreeMap::new();
        for changed in &effects.records {
            records
                .entry(changed.stream.as_str())
                .or_default()
                .push(changed.record.clone());
        }
        let mut kpis: BTreeMap<&str, Vec<KpiPoint>> = BTreeMap::new();
        for changed in &effects.kpis {
            kpis.entry(changed.stream.as_str())
                .or_default()
                .push(changed.point.clone());
        }
        let write = async {
            let mut tx = self.connections.store.begin(workspace_id).await?;
            let mut records_written = 0;
            for (stream, batch) in &records {
                records_written += repo::records::upsert(
                    tx.conn(),
                    workspace_id,
                    job.integration_id,
                    stream,
                    batch,
                )
                .await?;
            }
            let mut points_written = 0;
            for (stream, points) in &kpis {
                points_written +=
                    repo::kpis::upsert(tx.conn(), workspace_id, job.integration_id, stream, points)
                        .await?;
            }
            let mut suppressed = 0;
            for suppression in &effects.suppressions {
                if repo::email_suppressions::suppress(
                    tx.conn(),
                    workspace_id,
                    &suppression.address,
                    &suppression.reason,
                    Some(job.integration_id),
                )
                .await?
                {
                    suppressed += 1;
                }
            }
            repo::webhook_events::set_status(tx.conn(), row.id, WebhookStatus::Processed, None)
                .await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: job.integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Webhook,
                    message: &format!("webhook `{}` processed", row.event_type),
                    details: json!({
                        "webhook_event_id": row.id,
                        "event_id": row.event_id,
                        "records_written": records_written,
                        "kpi_points_written": points_written,
                        "addresses_suppressed": suppressed,
                    }),
                    run_id: None,
                },
            )
            .await?;
            tx.commit().await
        };
        write.await.map_err(|e| store_failure(&e))?;
        metrics::counter!("junction_webhooks_processed_total", "provider" => row.provider.clone())
            .increment(1);
        Ok(())
    }

    /// Records where the event stands after a failed attempt (best effort: the job's
    /// outcome stands either way).
    async fn record_failure(
        &self,
        job: &WebhookJob,
        status: WebhookStatus,
        failure: &JobFailure,
        log_level: Option<LogLevel>,
    ) {
        let result = async {
            let mut tx = self.connections.store.begin(job.workspace_id).await?;
            repo::webhook_events::set_status(
                tx.conn(),
                job.event_row_id,
                status,
                Some(&failure.message),
            )
            .await?;
            if let Some(level) = log_level {
                repo::logs::append(
                    tx.conn(),
                    NewLog {
                        workspace_id: job.workspace_id,
                        integration_id: job.integration_id,
                        level,
                        operation: Operation::Webhook,
                        message: &format!("webhook processing failed: {}", failure.message),
                        details: json!({
                            "webhook_event_id": job.event_row_id,
                            "error_code": failure.code.name(),
                            "status": status.as_str(),
                        }),
                        run_id: None,
                    },
                )
                .await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(error) = result {
            tracing::error!(event = %job.event_row_id, %error, "could not record a webhook failure");
        }
    }
}

#[async_trait]
impl JobHandler for WebhookHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), JobFailure> {
        let job = Self::webhook_job(envelope)?;
        let result = self.process(job).await;
        if let Err(failure) = &result {
            tracing::warn!(
                job_id = %envelope.job_id,
                attempt = envelope.attempt,
                code = failure.code.name(),
                error = %failure.message,
                "webhook attempt failed"
            );
            // Abandoned jobs get neither hook: their end is recorded here.
            if failure.kind == FailureKind::Abandon {
                self.record_failure(job, WebhookStatus::Failed, failure, Some(LogLevel::Warn))
                    .await;
            }
        }
        result
    }

    async fn on_retry(&self, envelope: &Envelope, failure: &JobFailure, _at: DateTime<Utc>) {
        if let Ok(job) = Self::webhook_job(envelope) {
            self.record_failure(job, WebhookStatus::Failed, failure, None)
                .await;
        }
    }

    async fn on_dead_letter(&self, envelope: &Envelope, failure: &JobFailure) {
        if let Ok(job) = Self::webhook_job(envelope) {
            self.record_failure(job, WebhookStatus::Dead, failure, Some(LogLevel::Error))
                .await;
            if let Some(notifier) = &self.notifier {
                notifier
                    .dead_letter(
                        job.workspace_id,
                        job.integration_id,
                        Queue::Webhook,
                        &envelope.job_id,
                        failure,
                        envelope.attempt,
                    )
                    .await;
            }
        }
    }
}

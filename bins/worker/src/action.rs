//! [`ActionHandler`]: runs one queued action (the action queue).
//!
//! The API recorded the run (`action_runs`) and queued a job carrying the action,
//! its validated input and the provider-facing idempotency key. Every attempt sends
//! that same key, so a retry after a timeout or a worker crash reaches a provider
//! that honours keys (Stripe, Resend) as the same request and takes effect once. A
//! run that has already finished is not run again when its task is delivered twice.
//! Outcomes land on the run and in the integration log; failures follow the shared
//! retry policy (rate limits and `Retry-After` honoured, invalid input dead-lettered
//! at once).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use junction_app::Connections;
use junction_core::ErrorCode;
use junction_jobs::{ActionJob, Envelope, FailureKind, Job, JobFailure, JobHandler};
use junction_store::{
    models::{ActionStatus, LogLevel, Operation, Queue},
    repo::{self, logs::NewLog},
};
use serde_json::json;

use crate::{
    alerts::Notifier,
    calls::call_failure,
    sync::{connect_failure, store_failure},
};

/// Runs action jobs. Cheap to clone.
#[derive(Clone)]
pub struct ActionHandler {
    connections: Connections,
    /// Tells the workspace about dead letters (none in handlers built without one).
    notifier: Option<Notifier>,
}

impl std::fmt::Debug for ActionHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionHandler").finish_non_exhaustive()
    }
}

impl ActionHandler {
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

    fn action_job(envelope: &Envelope) -> Result<&ActionJob, JobFailure> {
        match &envelope.job {
            Job::Action(job) => Ok(job),
            other => Err(JobFailure::permanent(
                ErrorCode::Internal,
                format!("the action queue got a {} job", other.kind()),
            )),
        }
    }

    async fn run(&self, job: &ActionJob) -> Result<(), JobFailure> {
        let store = &self.connections.store;
        let mut tx = store
            .begin(job.workspace_id)
            .await
            .map_err(|e| store_failure(&e))?;
        let run = repo::action_runs::start_attempt(tx.conn(), job.request_id)
            .await
            .map_err(|e| store_failure(&e))?;
        if matches!(run.status, ActionStatus::Succeeded | ActionStatus::Failed) {
            tx.commit().await.map_err(|e| store_failure(&e))?;
            return Ok(());
        }
        let integration = repo::integrations::get(tx.conn(), job.integration_id)
            .await
            .map_err(|e| store_failure(&e))?;
        tx.commit().await.map_err(|e| store_failure(&e))?;

        let provider = integration.provider.clone();
        let adapter = self
            .connections
            .adapter(&provider)
            .map_err(|e| connect_failure(&e))?;
        let ctx = self.connections.context(&provider);
        let done = self
            .connections
            .call(job.workspace_id, &integration, |connection| {
                let (adapter, ctx) = (adapter.clone(), ctx.clone());
                async move {
                    adapter
                        .act(
                            &ctx,
                            &connection,
                            &job.action,
                            &job.input,
                            Some(&job.idempotency_key),
                        )
                        .await
                }
            })
            .await
            .map_err(|e| call_failure(&e, self.connections.clock.now()))?;

        let record = async {
            let mut tx = store.begin(job.workspace_id).await?;
            repo::action_runs::succeed(
                tx.conn(),
                job.request_id,
                done.external_id.as_deref(),
                &done.output,
            )
            .await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id: job.workspace_id,
                    integration_id: job.integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Action,
                    message: &format!("action `{}` succeeded", job.action),
                    details: json!({
                        "action_run_id": job.request_id,
                        "external_id": done.external_id,
                    }),
                    run_id: None,
                },
            )
            .await?;
            tx.commit().await
        };
        // Should this fail, the retry sends the same idempotency key: the provider
        // answers with the first result instead of acting again.
        record.await.map_err(|e| store_failure(&e))
    }

    /// Records a failed attempt on the run; `final_` ends it.
    async fn record_failure(&self, job: &ActionJob, failure: &JobFailure, final_: bool) {
        let result = async {
            let mut tx = self.connections.store.begin(job.workspace_id).await?;
            repo::action_runs::fail(
                tx.conn(),
                job.request_id,
                failure.code.name(),
                &failure.message,
                final_,
            )
            .await?;
            if final_ {
                repo::logs::append(
                    tx.conn(),
                    NewLog {
                        workspace_id: job.workspace_id,
                        integration_id: job.integration_id,
                        level: LogLevel::Error,
                        operation: Operation::Action,
                        message: &format!("action `{}` failed: {}", job.action, failure.message),
                        details: json!({
                            "action_run_id": job.request_id,
                            "error_code": failure.code.name(),
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
            tracing::error!(run = %job.request_id, %error, "could not record an action failure");
        }
    }
}

#[async_trait]
impl JobHandler for ActionHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), JobFailure> {
        let job = Self::action_job(envelope)?;
        let result = self.run(job).await;
        if let Err(failure) = &result {
            tracing::warn!(
                job_id = %envelope.job_id,
                attempt = envelope.attempt,
                code = failure.code.name(),
                error = %failure.message,
                "action attempt failed"
            );
            if failure.kind == FailureKind::Abandon {
                self.record_failure(job, failure, true).await;
            }
        }
        result
    }

    async fn on_retry(&self, envelope: &Envelope, failure: &JobFailure, _at: DateTime<Utc>) {
        if let Ok(job) = Self::action_job(envelope) {
            self.record_failure(job, failure, false).await;
        }
    }

    async fn on_dead_letter(&self, envelope: &Envelope, failure: &JobFailure) {
        if let Ok(job) = Self::action_job(envelope) {
            self.record_failure(job, failure, true).await;
            if let Some(notifier) = &self.notifier {
                notifier
                    .dead_letter(
                        job.workspace_id,
                        job.integration_id,
                        Queue::Action,
                        &envelope.job_id,
                        failure,
                        envelope.attempt,
                    )
                    .await;
            }
        }
    }
}

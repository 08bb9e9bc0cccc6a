//! [`SyncHandler`]: runs one sync job — every stream of an integration (or the one
//! the job names), page by page from the committed cursor.
//!
//! Each page is committed with its records, KPI points, the stream cursor and the
//! run's counters in one transaction ([`ingest::commit_page`]), so an attempt that
//! dies halfway (an error, a deploy, a SIGKILL) leaves exactly the pages it finished,
//! and the next attempt or the redelivered task resumes from the committed cursor:
//! no duplicate rows, none lost.
//!
//! Failures are classified for the retry policy in junction-jobs:
//! - a provider 401 on a refreshable token is answered by one forced, single-flight
//!   refresh (`Connections::open` with the rejected token) and one more try of the
//!   same page;
//! - a revoked grant has already moved the integration to `needs_reauth` (the OAuth
//!   engine did that and logged it): the run fails with `integration_needs_reauth`
//!   and the job is abandoned — no retry, no dead letter; the scheduler claims only
//!   active integrations, so the schedule stops until the user reconnects;
//! - an OAuth provider refusing the grant itself (an `Unauthorized` that no refresh
//!   can cure, or a second refusal right after a refresh) moves the integration to
//!   `needs_reauth` the same way, logged;
//! - anything else goes through [`JobFailure::from_adapter`] or the store's
//!   classification (retryable or permanent).

use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use junction_app::{ConnectError, Connections};
use junction_core::{AdapterError, Connection, ErrorCode, HasErrorCode, ReadRequest, WorkspaceId};
use junction_jobs::{Envelope, FailureKind, Job, JobFailure, JobHandler, SyncJob};
use junction_oauth::RefreshError;
use junction_store::{
    Store, StoreError, ingest,
    models::{Integration, IntegrationStatus, LogLevel, Operation, RunStatus, SyncRun},
    repo::{self, integrations::IntegrationPatch, logs::NewLog},
};
use serde_json::json;
use uuid::Uuid;

use crate::{alerts::Notifier, metrics};

/// Runs sync jobs. Cheap to clone.
#[derive(Clone)]
pub struct SyncHandler {
    connections: Connections,
    /// Rows per page to ask providers for (`None`: each adapter's default).
    page_size: Option<u32>,
    /// How long a scheduler claim holds an integration; a run waiting for a retry
    /// extends it so the schedule does not start a second run meanwhile.
    claim_lease: chrono::Duration,
    /// Evaluates alert rules after a successful sync and reports failures (none in
    /// handlers built without one).
    notifier: Option<Notifier>,
}

impl std::fmt::Debug for SyncHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandler")
            .field("page_size", &self.page_size)
            .field("claim_lease", &self.claim_lease)
            .finish_non_exhaustive()
    }
}

/// What a finished attempt read and wrote, summed over its pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    pages: u64,
    records_read: u64,
    records_written: u64,
    kpi_points_written: u64,
}

impl SyncHandler {
    pub fn new(
        connections: Connections,
        page_size: Option<u32>,
        claim_lease: chrono::Duration,
    ) -> Self {
        Self {
            connections,
            page_size,
            claim_lease,
            notifier: None,
        }
    }

    /// With alert evaluation and failure notifications (see [`crate::alerts`]).
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    fn store(&self) -> &Store {
        &self.connections.store
    }

    fn now(&self) -> DateTime<Utc> {
        self.connections.clock.now()
    }

    /// The sync job in an envelope; any other job on the sync queue is a routing bug
    /// no retry fixes.
    fn sync_job(envelope: &Envelope) -> Result<&SyncJob, JobFailure> {
        match &envelope.job {
            Job::Sync(job) => Ok(job),
            other => Err(JobFailure::permanent(
                ErrorCode::Internal,
                format!("the sync queue received a `{}` job", other.kind()),
            )),
        }
    }

    /// Runs one attempt of a sync job.
    async fn sync(&self, envelope: &Envelope, job: &SyncJob) -> Result<(), JobFailure> {
        let started = Instant::now();
        let workspace_id = job.workspace_id;
        let Some((run, integration)) = self.begin_attempt(envelope, job).await? else {
            return Ok(());
        };
        let provider = integration.provider.clone();

        match integration.status {
            IntegrationStatus::Active => {}
            IntegrationStatus::NeedsReauth => {
                return Err(self
                    .stop_for_reauth(workspace_id, &integration, run.id)
                    .await);
            }
            status => {
                // Disabled or not (yet, or no longer) connected: nothing to read with.
                let message = format!("the integration is {status}; the sync was not run");
                self.end_run(
                    workspace_id,
                    &integration,
                    run.id,
                    RunStatus::Cancelled,
                    (ErrorCode::Conflict, &message),
                )
                .await;
                metrics::sync_run(&provider, "cancelled");
                return Err(JobFailure::abandon(ErrorCode::Conflict, message));
            }
        }

        let adapter = self
            .connections
            .adapter(&provider)
            .map_err(|e| connect_failure(&e))?;
        let before = integration.token_expires_at;
        let mut connection = match self
            .connections
            .open(workspace_id, &integration, None)
            .await
        {
            Ok(connection) => connection,
            Err(err) => {
                return Err(self
                    .open_failed(workspace_id, &integration, run.id, err)
                    .await);
            }
        };
        note_refresh(&provider, before, &connection);

        let spec = adapter.spec();
        let streams: Vec<&str> = match &job.stream {
            Some(name) => match spec.stream(name) {
                Some(stream) => vec![stream.name],
                None => {
                    return Err(JobFailure::permanent(
                        ErrorCode::UnknownStream,
                        format!("{} has no stream `{name}`", spec.name),
                    ));
                }
            },
            None => spec.streams.iter().map(|s| s.name).collect(),
        };

        let ctx = self.connections.context(&provider);
        let mut totals = Totals::default();
        let mut held_at = Instant::now();
        for stream in streams {
            let mut cursor = self
                .stored_cursor(workspace_id, integration.id, stream)
                .await?;
            loop {
                let request = ReadRequest {
                    stream: stream.to_owned(),
                    cursor: cursor.clone(),
                    page_size: self.page_size,
                };
                let page = match adapter.read(&ctx, &connection, &request).await {
                    Ok(page) => page,
                    Err(AdapterError::Unauthorized {
                        refreshable: true, ..
                    }) => {
                        // The token was refused although it looked valid: refresh it
                        // once (single-flight: if another caller already did, this
                        // picks up their token) and try this page once more.
                        let rejected = connection.access_token.clone();
                        let before = connection.token_expires_at;
                        connection = match self
                            .connections
                            .open(workspace_id, &integration, rejected.as_ref())
                            .await
                        {
                            Ok(connection) => connection,
                            Err(err) => {
                                return Err(self
                                    .open_failed(workspace_id, &integration, run.id, err)
                                    .await);
                            }
                        };
                        note_refresh(&provider, before, &connection);
                        match adapter.read(&ctx, &connection, &request).await {
                            Ok(page) => page,
                            // A token fresh from the provider refused too: the grant
                            // itself is no longer good.
                            Err(err @ AdapterError::Unauthorized { .. }) => {
                                return Err(self
                                    .grant_refused(workspace_id, &integration, run.id, &err)
                                    .await);
                            }
                            Err(err) => return Err(self.read_failed(&provider, &err)),
                        }
                    }
                    // An OAuth provider that refuses the grant outright (Meta's code
                    // 190 after a password change, a token revoked at the provider):
                    // no refresh can help, so the integration needs a reconnect.
                    Err(
                        err @ AdapterError::Unauthorized {
                            refreshable: false, ..
                        },
                    ) if matches!(spec.auth, junction_core::AuthSpec::OAuth2(_)) => {
                        return Err(self
                            .grant_refused(workspace_id, &integration, run.id, &err)
                            .await);
                    }
                    Err(err) => return Err(self.read_failed(&provider, &err)),
                };
                if page.has_more && page.next_cursor.is_none() {
                    // The same request would return the same page forever.
                    return Err(JobFailure::permanent(
                        ErrorCode::Internal,
                        format!(
                            "the {provider} adapter announced more `{stream}` pages without a cursor"
                        ),
                    ));
                }
                let stats = ingest::commit_page(
                    self.store(),
                    workspace_id,
                    integration.id,
                    stream,
                    &page,
                    Some(run.id),
                )
                .await
                .map_err(|e| store_failure(&e))?;
                totals.pages += 1;
                totals.records_read += stats.records_read;
                totals.records_written += stats.records_written;
                totals.kpi_points_written += stats.kpi_points_written;
                metrics::sync_page(&provider, &stats);
                if held_at.elapsed() >= self.hold_every() {
                    self.hold_claim(workspace_id, integration.id).await?;
                    held_at = Instant::now();
                }
                if page.next_cursor.is_some() {
                    cursor = page.next_cursor;
                }
                if !page.has_more {
                    break;
                }
            }
        }

        self.succeed(workspace_id, &integration, run.id, envelope, totals)
            .await?;
        metrics::sync_run(&provider, "succeeded");
        metrics::sync_duration(&provider, started.elapsed());
        // After the run is recorded: an alert problem never fails a finished sync.
        if let Some(notifier) = &self.notifier {
            notifier.after_sync(workspace_id, &integration).await;
        }
        Ok(())
    }

    /// Marks the attempt started and loads the integration. `None` when there is
    /// nothing to do: this job already ended the run (its task delivered again, e.g.
    /// when a worker died between the final commit and the acknowledgement). A run
    /// ended by another job id is run again: that is a replayed dead letter
    /// (`sync-…-replay-N`), which reopens its run.
    async fn begin_attempt(
        &self,
        envelope: &Envelope,
        job: &SyncJob,
    ) -> Result<Option<(SyncRun, Integration)>, JobFailure> {
        let result = async {
            let mut tx = self.store().begin(job.workspace_id).await?;
            let run = repo::sync_runs::get(tx.conn(), job.run_id).await?;
            let reopened = is_terminal(run.status);
            if reopened {
                if run.job_id.as_deref() == Some(envelope.job_id.as_str()) {
                    tx.rollback().await?;
                    return Ok(None);
                }
                // Clears the old outcome (status, error, finish time); the counters
                // and the attempt count carry on.
                repo::sync_runs::finish(tx.conn(), job.run_id, RunStatus::Running, None).await?;
            }
            let run = repo::sync_runs::start_attempt(tx.conn(), job.run_id, Some(&envelope.job_id))
                .await?;
            let integration = repo::integrations::get(tx.conn(), job.integration_id).await?;
            let integration =
                hold_schedule(tx.conn(), integration, self.now() + self.claim_lease).await?;
            let what = match job.stream.as_deref() {
                Some(stream) => format!("sync of `{stream}`"),
                None => "sync".to_owned(),
            };
            let message = if reopened {
                format!("{what} replayed (attempt {})", run.attempts)
            } else {
                format!("{what} started (attempt {})", run.attempts)
            };
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id: job.workspace_id,
                    integration_id: job.integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Sync,
                    message: &message,
                    details: json!({
                        "attempt": run.attempts,
                        "job_id": envelope.job_id,
                        "trigger": run.trigger,
                        "stream": job.stream,
                        "replay": reopened,
                    }),
                    run_id: Some(run.id),
                },
            )
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Some((run, integration)))
        }
        .await;
        match result {
            Ok(found) => {
                if found.is_none() {
                    tracing::info!(job_id = %envelope.job_id, run_id = %job.run_id, "the run already ended; nothing to do");
                }
                Ok(found)
            }
            // The integration (and with it, its runs) was deleted: nothing to sync.
            Err(StoreError::NotFound(what)) => Err(JobFailure::abandon(
                ErrorCode::IntegrationNotFound,
                format!("the {what} no longer exists"),
            )),
            Err(err) => Err(store_failure(&err)),
        }
    }

    /// How often a long sync renews its hold on the schedule: well within the lease.
    fn hold_every(&self) -> std::time::Duration {
        (self.claim_lease / 4)
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60))
    }

    /// Keeps the scheduler off an integration while its sync runs (a sync longer
    /// than the claim lease would otherwise be scheduled a second time).
    async fn hold_claim(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
    ) -> Result<(), JobFailure> {
        let until = self.now() + self.claim_lease;
        let result = async {
            let mut tx = self.store().begin(workspace_id).await?;
            let integration = repo::integrations::get_for_update(tx.conn(), integration_id).await?;
            hold_schedule(tx.conn(), integration, until).await?;
            tx.commit().await
        }
        .await;
        result.map_err(|e| store_failure(&e))
    }

    /// The committed cursor of a stream (`None` on a first sync).
    async fn stored_cursor(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        stream: &str,
    ) -> Result<Option<serde_json::Value>, JobFailure> {
        let result = async {
            let mut tx = self.store().begin(workspace_id).await?;
            let state = repo::stream_states::get(tx.conn(), integration_id, stream).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(state.and_then(|s| s.cursor))
        }
        .await;
        result.map_err(|e| store_failure(&e))
    }

    /// Classifies a failed read, counting rate limits.
    fn read_failed(&self, provider: &str, error: &AdapterError) -> JobFailure {
        if matches!(
            error,
            AdapterError::RateLimited { .. } | AdapterError::QuotaExhausted { .. }
        ) {
            metrics::provider_rate_limited(provider);
        }
        JobFailure::from_adapter(error, self.now())
    }

    /// What opening the integration failed with, as a job failure. A revoked grant
    /// ends the run here (see the module docs).
    async fn open_failed(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
        error: ConnectError,
    ) -> JobFailure {
        match error {
            ConnectError::Refresh(RefreshError::Revoked) => {
                self.stop_for_reauth(workspace_id, integration, run_id)
                    .await
            }
            other => connect_failure(&other),
        }
    }

    /// Ends the run of an integration whose grant is gone: failed with
    /// `integration_needs_reauth`, logged, and abandoned.
    /// The provider refused an OAuth integration's grant during a sync: the
    /// integration moves to `needs_reauth` (logged, its schedule stops) and the run
    /// ends as for a revoked refresh token.
    async fn grant_refused(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
        error: &AdapterError,
    ) -> JobFailure {
        let reason = format!("the provider refused the connection's grant: {error}");
        let marked = async {
            let mut tx = self.store().begin(workspace_id).await?;
            repo::integrations::set_status(
                tx.conn(),
                integration.id,
                IntegrationStatus::NeedsReauth,
                Some((ErrorCode::IntegrationNeedsReauth.name(), &reason)),
            )
            .await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: integration.id,
                    level: LogLevel::Error,
                    operation: Operation::Sync,
                    message: &reason,
                    details: json!({"error_code": ErrorCode::IntegrationNeedsReauth.name()}),
                    run_id: Some(run_id),
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(store_error) = marked {
            // Not marked: let the retry policy try again rather than lose the signal.
            return store_failure(&store_error);
        }
        self.stop_for_reauth(workspace_id, integration, run_id)
            .await
    }

    async fn stop_for_reauth(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
    ) -> JobFailure {
        let code = ErrorCode::IntegrationNeedsReauth;
        let message =
            "the provider no longer accepts this connection's grant: reconnect the integration";
        self.end_run(
            workspace_id,
            integration,
            run_id,
            RunStatus::Failed,
            (code, message),
        )
        .await;
        metrics::sync_run(&integration.provider, "failed");
        if let Some(notifier) = &self.notifier {
            notifier
                .needs_reauth(workspace_id, integration.id, message)
                .await;
        }
        JobFailure::abandon(code, message)
    }

    /// Ends a run that will not be retried (failed or cancelled) with an error log
    /// entry. A failure to record it is logged: the job's outcome stands either way.
    async fn end_run(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
        status: RunStatus,
        (code, message): (ErrorCode, &str),
    ) {
        let result = async {
            let mut tx = self.store().begin(workspace_id).await?;
            repo::sync_runs::finish(tx.conn(), run_id, status, Some((code.name(), message)))
                .await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: integration.id,
                    level: LogLevel::Error,
                    operation: Operation::Sync,
                    message: &format!("sync stopped: {message}"),
                    details: json!({ "error_code": code.name(), "status": status }),
                    run_id: Some(run_id),
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(%run_id, error = %err, "could not record the end of a sync run");
        }
    }

    /// Records a successful run: the run row, the next scheduled sync, a cleared
    /// last error and the summary log entry, in one transaction.
    async fn succeed(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        run_id: Uuid,
        envelope: &Envelope,
        attempt: Totals,
    ) -> Result<(), JobFailure> {
        let now = self.now();
        let result = async {
            let mut tx = self.store().begin(workspace_id).await?;
            let run =
                repo::sync_runs::finish(tx.conn(), run_id, RunStatus::Succeeded, None).await?;
            let current = repo::integrations::get_for_update(tx.conn(), integration.id).await?;
            repo::integrations::record_sync_finished(tx.conn(), integration.id, now).await?;
            if current.last_error_code.is_some() || current.last_error_message.is_some() {
                repo::integrations::set_status(tx.conn(), integration.id, current.status, None)
                    .await?;
            }
            // The run's counters cover every attempt (pages committed before a crash
            // or a retry count once, when they were committed).
            let message = format!(
                "sync finished: {} records read, {} written, {} KPI points",
                run.records_read, run.records_written, run.kpi_points_written
            );
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: integration.id,
                    level: LogLevel::Info,
                    operation: Operation::Sync,
                    message: &message,
                    details: json!({
                        "records_read": run.records_read,
                        "records_written": run.records_written,
                        "kpi_points_written": run.kpi_points_written,
                        "attempts": run.attempts,
                        "job_id": envelope.job_id,
                        "this_attempt": {
                            "pages": attempt.pages,
                            "records_read": attempt.records_read,
                            "records_written": attempt.records_written,
                            "kpi_points_written": attempt.kpi_points_written,
                        },
                    }),
                    run_id: Some(run_id),
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        result.map_err(|e| store_failure(&e))
    }

    /// Marks the run `retrying` with the error, extends the schedule's claim past the
    /// retry, and logs a warning.
    async fn record_retry(
        &self,
        envelope: &Envelope,
        job: &SyncJob,
        failure: &JobFailure,
        at: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let mut tx = self.store().begin(job.workspace_id).await?;
        repo::sync_runs::finish(
            tx.conn(),
            job.run_id,
            RunStatus::Retrying,
            Some((failure.code.name(), &failure.message)),
        )
        .await?;
        let integration = repo::integrations::get_for_update(tx.conn(), job.integration_id).await?;
        let integration = hold_schedule(tx.conn(), integration, at + self.claim_lease).await?;
        repo::logs::append(
            tx.conn(),
            NewLog {
                workspace_id: job.workspace_id,
                integration_id: job.integration_id,
                level: LogLevel::Warn,
                operation: Operation::Sync,
                message: &format!(
                    "sync attempt {} failed: {}; retrying at {}",
                    envelope.attempt,
                    failure.message,
                    at.to_rfc3339()
                ),
                details: json!({
                    "attempt": envelope.attempt,
                    "error_code": failure.code.name(),
                    "retry_at": at,
                }),
                run_id: Some(job.run_id),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(integration.provider)
    }

    /// Marks the run `dead`, records the error on the integration (its status stays),
    /// pushes its next scheduled sync a whole schedule away (a broken integration is
    /// not retried every lease), and logs an error.
    async fn record_dead(
        &self,
        envelope: &Envelope,
        job: &SyncJob,
        failure: &JobFailure,
    ) -> Result<String, StoreError> {
        let now = self.now();
        let mut tx = self.store().begin(job.workspace_id).await?;
        repo::sync_runs::finish(
            tx.conn(),
            job.run_id,
            RunStatus::Dead,
            Some((failure.code.name(), &failure.message)),
        )
        .await?;
        let integration = repo::integrations::get_for_update(tx.conn(), job.integration_id).await?;
        repo::integrations::set_status(
            tx.conn(),
            job.integration_id,
            integration.status,
            Some((failure.code.name(), &failure.message)),
        )
        .await?;
        repo::integrations::update(
            tx.conn(),
            job.integration_id,
            &IntegrationPatch {
                next_sync_at: Some(Some(
                    now + chrono::Duration::seconds(i64::from(integration.schedule_seconds)),
                )),
                ..IntegrationPatch::default()
            },
        )
        .await?;
        repo::logs::append(
            tx.conn(),
            NewLog {
                workspace_id: job.workspace_id,
                integration_id: job.integration_id,
                level: LogLevel::Error,
                operation: Operation::Sync,
                message: &format!(
                    "sync failed after {} attempt(s): {}; moved to the dead letters",
                    envelope.attempt, failure.message
                ),
                details: json!({
                    "attempts": envelope.attempt,
                    "error_code": failure.code.name(),
                    "job_id": envelope.job_id,
                }),
                run_id: Some(job.run_id),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(integration.provider)
    }
}

#[async_trait]
impl JobHandler for SyncHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), JobFailure> {
        let job = Self::sync_job(envelope)?;
        let result = self.sync(envelope, job).await;
        if let Err(failure) = &result {
            tracing::warn!(
                job_id = %envelope.job_id,
                attempt = envelope.attempt,
                code = failure.code.name(),
                error = %failure.message,
                "sync attempt failed"
            );
        }
        result
    }

    async fn on_retry(&self, envelope: &Envelope, failure: &JobFailure, at: DateTime<Utc>) {
        // An abandoned job already ended its run (needs_reauth, cancelled, deleted).
        if failure.kind == FailureKind::Abandon {
            return;
        }
        let Ok(job) = Self::sync_job(envelope) else {
            return;
        };
        match self.record_retry(envelope, job, failure, at).await {
            Ok(provider) => metrics::sync_run(&provider, "retrying"),
            Err(err) => {
                metrics::sync_run(metrics::UNKNOWN_PROVIDER, "retrying");
                tracing::error!(job_id = %envelope.job_id, error = %err, "could not record a sync retry");
            }
        }
    }

    async fn on_dead_letter(&self, envelope: &Envelope, failure: &JobFailure) {
        let Ok(job) = Self::sync_job(envelope) else {
            return;
        };
        match self.record_dead(envelope, job, failure).await {
            Ok(provider) => metrics::sync_run(&provider, "dead"),
            Err(err) => {
                metrics::sync_run(metrics::UNKNOWN_PROVIDER, "dead");
                tracing::error!(job_id = %envelope.job_id, error = %err, "could not record a dead sync");
            }
        }
        if let Some(notifier) = &self.notifier {
            notifier
                .sync_failed(
                    job.workspace_id,
                    job.integration_id,
                    &envelope.job_id,
                    job.stream.as_deref(),
                    failure,
                    envelope.attempt,
                )
                .await;
        }
    }
}

/// Moves a scheduled integration's `next_sync_at` to `until` when it is earlier, so
/// no scheduler pass claims it while a sync of it runs or waits for a retry. An
/// unscheduled integration (no `next_sync_at`) stays unscheduled.
async fn hold_schedule(
    conn: &mut junction_store::Conn,
    integration: Integration,
    until: DateTime<Utc>,
) -> Result<Integration, StoreError> {
    match integration.next_sync_at {
        Some(next) if next < until => {
            repo::integrations::update(
                conn,
                integration.id,
                &IntegrationPatch {
                    next_sync_at: Some(Some(until)),
                    ..IntegrationPatch::default()
                },
            )
            .await
        }
        _ => Ok(integration),
    }
}

/// Whether a run has ended for good.
fn is_terminal(status: RunStatus) -> bool {
    matches!(
        status,
        RunStatus::Succeeded | RunStatus::Failed | RunStatus::Dead | RunStatus::Cancelled
    )
}

/// Counts a token refresh the open call did (visible as a changed expiry).
fn note_refresh(provider: &str, before: Option<DateTime<Utc>>, connection: &Connection) {
    if connection.token_expires_at != before && connection.access_token.is_some() {
        metrics::token_refreshed(provider);
    }
}

/// A store failure as a job failure: a vanished row ends the job quietly, an
/// outage or a conflict is worth a retry, a refused write or a vault error is not.
pub(crate) fn store_failure(error: &StoreError) -> JobFailure {
    let code = error.error_code();
    let message = error.to_string();
    match error {
        StoreError::NotFound(_) => JobFailure::abandon(code, message),
        StoreError::Unavailable(_) | StoreError::Database(_) | StoreError::Conflict(_) => {
            JobFailure::retryable(code, message)
        }
        StoreError::Invalid(_) | StoreError::Vault(_) | StoreError::Migration(_) => {
            JobFailure::permanent(code, message)
        }
    }
}

/// An open failure other than a revoked grant.
pub(crate) fn connect_failure(error: &ConnectError) -> JobFailure {
    let code = error.error_code();
    let message = error.to_string();
    match error {
        ConnectError::Refresh(refresh) if refresh.is_retryable() => {
            JobFailure::retryable(code, message)
        }
        ConnectError::Store(store) => store_failure(store),
        ConnectError::Refresh(_)
        | ConnectError::UnknownProvider(_)
        | ConnectError::NotConfigured(_) => JobFailure::permanent(code, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_failures_are_classified_for_the_retry_policy() {
        let kind = |error: StoreError| store_failure(&error).kind;
        assert_eq!(
            kind(StoreError::NotFound("integration")),
            FailureKind::Abandon
        );
        assert_eq!(
            kind(StoreError::Unavailable("down".into())),
            FailureKind::Retryable { not_before: None }
        );
        assert_eq!(
            kind(StoreError::Conflict("busy".into())),
            FailureKind::Retryable { not_before: None }
        );
        assert_eq!(
            kind(StoreError::Invalid("check".into())),
            FailureKind::Permanent
        );
    }

    #[test]
    fn open_failures_other_than_a_revoked_grant_are_classified() {
        let unknown = connect_failure(&ConnectError::UnknownProvider("nope".into()));
        assert_eq!(unknown.kind, FailureKind::Permanent);
        assert_eq!(unknown.code, ErrorCode::UnknownProvider);
        let unconfigured = connect_failure(&ConnectError::NotConfigured("no app".into()));
        assert_eq!(unconfigured.kind, FailureKind::Permanent);
        assert_eq!(unconfigured.code, ErrorCode::ConfigurationError);
        let no_tokens = connect_failure(&ConnectError::Refresh(RefreshError::NoRefreshToken));
        assert_eq!(no_tokens.kind, FailureKind::Permanent);
        let database =
            connect_failure(&ConnectError::Store(StoreError::Unavailable("down".into())));
        assert_eq!(database.kind, FailureKind::Retryable { not_before: None });
    }

    #[test]
    fn only_ended_runs_are_terminal() {
        for status in [RunStatus::Queued, RunStatus::Running, RunStatus::Retrying] {
            assert!(!is_terminal(status), "{status}");
        }
        for status in [
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Dead,
            RunStatus::Cancelled,
        ] {
            assert!(is_terminal(status), "{status}");
        }
    }
}

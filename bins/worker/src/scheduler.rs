//! The scheduler: turns due integrations into sync runs on the queue.
//!
//! Every worker pod runs it; they never schedule the same integration twice because
//! the claim is one statement in Postgres, `junction_claim_due_integrations` (see
//! migrations/): it locks due rows with `FOR UPDATE SKIP LOCKED` — rows another pod
//! is claiming are skipped, not waited for — and moves their `next_sync_at` past a
//! lease in the same statement. A claimed integration then gets a `sync_runs` row
//! (trigger `schedule`) in its workspace and a sync job with the id `sync-{run_id}`.
//!
//! The lease is what makes crashes harmless: if a pod dies between the claim and the
//! enqueue, or the enqueue fails, the integration becomes due again when the lease
//! runs out. A successful run moves `next_sync_at` a whole schedule ahead; a run
//! waiting for a retry extends the lease past the retry.
//!
//! The claim runs on an unscoped connection (no workspace): the function is the one
//! reviewed cross-tenant path (SECURITY DEFINER, granted to the app role); everything
//! after it happens in the claimed integration's own workspace transaction.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::{
    QueryableByName,
    sql_types::{Double, Integer, Nullable, Text, Timestamptz},
};
use diesel_async::RunQueryDsl;
use futures::StreamExt;
use junction_core::{ErrorCode, HasErrorCode, WorkspaceId};
use junction_jobs::{Job, Queues, SyncJob};
use junction_store::{
    Store, StoreError,
    models::{LogLevel, Operation, RunStatus, SyncTrigger},
    repo::{self, logs::NewLog},
};
use serde_json::json;
use uuid::Uuid;

use crate::{alerts::Notifier, metrics};

/// How many claimed integrations are turned into runs at once.
const ENQUEUE_CONCURRENCY: usize = 8;

/// Lost-grant notices sent per pass at most (the rest follow in the next passes).
const REAUTH_NOTICES_PER_PASS: i32 = 50;

/// An integration that lost its grant outside a sync, its owner not told yet.
#[derive(Debug, Clone, QueryableByName)]
struct UnnotifiedReauth {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    integration_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    workspace_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
}

/// One integration the claim returned.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub integration_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub workspace_id: Uuid,
    #[diesel(sql_type = Text)]
    pub provider: String,
    /// When it was due (before the claim moved it).
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub due_at: Option<DateTime<Utc>>,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Integrations claimed.
    pub claimed: usize,
    /// Of those, runs created and enqueued: `(integration_id, run_id)`.
    pub enqueued: Vec<(Uuid, Uuid)>,
    /// Of those, runs that could not be created or enqueued (due again after the lease).
    pub failed: usize,
    /// Integrations that lost their grant outside a sync whose owners were told now.
    pub reauth_notices: usize,
}

/// Why a pass failed as a whole.
#[derive(Debug, thiserror::Error)]
#[error("the scheduler's claim failed: {0}")]
pub struct SchedulerError(#[from] StoreError);

impl HasErrorCode for SchedulerError {
    fn error_code(&self) -> ErrorCode {
        self.0.error_code()
    }
}

/// Claims due integrations and enqueues their sync runs.
#[derive(Clone)]
pub struct Scheduler {
    store: Store,
    queues: Queues,
    /// Integrations claimed per pass.
    batch: i32,
    /// How long a claim holds an integration.
    lease: Duration,
    /// Tells workspaces about grants lost outside a sync (none when built without).
    notifier: Option<Notifier>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("batch", &self.batch)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    pub fn new(store: Store, queues: Queues, batch: i64, lease: Duration) -> Self {
        Self {
            store,
            queues,
            batch: i32::try_from(batch.max(1)).unwrap_or(i32::MAX),
            lease,
            notifier: None,
        }
    }

    /// Sends the notices of grants lost outside a sync on every pass.
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// One pass: claim up to a batch of due integrations and enqueue a run for each.
    pub async fn pass(&self) -> Result<PassReport, SchedulerError> {
        let started = Instant::now();
        let claimed = self
            .claim()
            .await
            .inspect_err(|_| metrics::scheduler_error())?;
        let mut report = PassReport {
            claimed: claimed.len(),
            ..PassReport::default()
        };
        let outcomes: Vec<Option<(Uuid, Uuid)>> = futures::stream::iter(claimed)
            .map(|claimed| async move { self.schedule(&claimed).await })
            .buffer_unordered(ENQUEUE_CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            match outcome {
                Some(pair) => report.enqueued.push(pair),
                None => report.failed += 1,
            }
        }
        report.reauth_notices = self.notify_lost_grants().await;
        metrics::scheduler_pass(
            report.claimed,
            report.enqueued.len(),
            report.failed,
            started.elapsed(),
        );
        if report.claimed > 0 {
            tracing::info!(
                claimed = report.claimed,
                enqueued = report.enqueued.len(),
                failed = report.failed,
                "scheduled due syncs"
            );
        }
        Ok(report)
    }

    /// Whether a pass filled its batch (more may be due right away).
    pub fn is_full(&self, report: &PassReport) -> bool {
        i32::try_from(report.claimed).is_ok_and(|n| n >= self.batch)
    }

    /// A grant lost during an API call (a refresh refused while testing the
    /// integration or running an action) moves the integration to `needs_reauth`
    /// outside any sync, and the schedule skips such integrations: without this
    /// sweep their owners would never hear of it. Each lost grant is notified once
    /// (the notifier's dedupe key); failures are logged, never fail the pass.
    async fn notify_lost_grants(&self) -> usize {
        let Some(notifier) = &self.notifier else {
            return 0;
        };
        let pending = async {
            let mut conn = self.store.unscoped().await?;
            diesel::sql_query(
                "SELECT integration_id, workspace_id, reason FROM junction_unnotified_reauth($1)",
            )
            .bind::<Integer, _>(REAUTH_NOTICES_PER_PASS)
            .load::<UnnotifiedReauth>(&mut *conn)
            .await
            .map_err(StoreError::from)
        }
        .await;
        let pending = match pending {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(%error, "could not look for unnotified lost grants");
                return 0;
            }
        };
        for lost in &pending {
            let reason = lost.reason.as_deref().unwrap_or(
                "the provider no longer accepts this connection's grant: reconnect the integration",
            );
            notifier
                .needs_reauth(WorkspaceId(lost.workspace_id), lost.integration_id, reason)
                .await;
        }
        pending.len()
    }

    /// The cross-tenant claim (one statement, committed on its own).
    async fn claim(&self) -> Result<Vec<Claimed>, StoreError> {
        let mut conn = self.store.unscoped().await?;
        let rows = diesel::sql_query(
            "SELECT integration_id, workspace_id, provider, due_at \
             FROM junction_claim_due_integrations($1, make_interval(secs => $2))",
        )
        .bind::<Integer, _>(self.batch)
        .bind::<Double, _>(self.lease.as_secs_f64())
        .load::<Claimed>(&mut *conn)
        .await?;
        Ok(rows)
    }

    /// Creates the run and enqueues its job; `None` when either failed.
    async fn schedule(&self, claimed: &Claimed) -> Option<(Uuid, Uuid)> {
        let workspace_id = WorkspaceId(claimed.workspace_id);
        let run = match self.create_run(workspace_id, claimed.integration_id).await {
            Ok(run) => run,
            Err(err) => {
                tracing::error!(
                    integration_id = %claimed.integration_id,
                    error = %err,
                    "could not create a scheduled sync run; it is due again after the lease"
                );
                return None;
            }
        };
        let job = Job::Sync(SyncJob {
            workspace_id,
            integration_id: claimed.integration_id,
            run_id: run,
            stream: None,
        });
        match self
            .queues
            .enqueue_with_id(format!("sync-{run}"), job)
            .await
        {
            Ok(_) => Some((claimed.integration_id, run)),
            Err(err) => {
                tracing::error!(
                    integration_id = %claimed.integration_id,
                    run_id = %run,
                    error = %err,
                    "could not enqueue a scheduled sync; it is due again after the lease"
                );
                let message = format!("the sync could not be queued: {err}");
                if let Err(store_err) = self
                    .fail_run(
                        workspace_id,
                        claimed.integration_id,
                        run,
                        err.error_code(),
                        &message,
                    )
                    .await
                {
                    tracing::error!(run_id = %run, error = %store_err, "could not mark an unqueued run failed");
                }
                None
            }
        }
    }

    async fn create_run(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
    ) -> Result<Uuid, StoreError> {
        let mut tx = self.store.begin(workspace_id).await?;
        let run = repo::sync_runs::create(
            tx.conn(),
            workspace_id,
            integration_id,
            None,
            SyncTrigger::Schedule,
        )
        .await?;
        tx.commit().await?;
        Ok(run.id)
    }

    async fn fail_run(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        run_id: Uuid,
        code: ErrorCode,
        message: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin(workspace_id).await?;
        repo::sync_runs::finish(
            tx.conn(),
            run_id,
            RunStatus::Failed,
            Some((code.name(), message)),
        )
        .await?;
        repo::logs::append(
            tx.conn(),
            NewLog {
                workspace_id,
                integration_id,
                level: LogLevel::Warn,
                operation: Operation::Sync,
                message,
                details: json!({ "error_code": code.name(), "retry": "after the claim lease" }),
                run_id: Some(run_id),
            },
        )
        .await?;
        tx.commit().await
    }

    /// Passes every `interval` until `stop` fires; a pass that filled its batch is
    /// followed by another one at once, so a backlog drains quickly.
    pub async fn run(&self, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = crate::stopped(&mut stop) => return,
            }
            loop {
                if *stop.borrow() {
                    return;
                }
                match self.pass().await {
                    Ok(report) if self.is_full(&report) => continue,
                    Ok(_) => break,
                    Err(err) => {
                        tracing::error!(error = %err, "scheduler pass failed");
                        break;
                    }
                }
            }
        }
    }
}

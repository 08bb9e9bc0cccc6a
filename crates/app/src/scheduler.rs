//! The scheduler: turns due integrations into sync runs.
//!
//! Every worker pod runs it; they never schedule the same integration twice because
//! the claim is one statement in Postgres (`repo::integrations::claim_due`, the
//! `junction_claim_due_integrations` function): it locks due rows with `FOR UPDATE
//! SKIP LOCKED` — rows another pod is claiming are skipped, not waited for — and
//! moves their `next_sync_at` past a lease in the same statement. A claimed
//! integration then gets a run of the streams that are due
//! ([`App::start_scheduled_sync`], trigger `schedule`): the run and its job commit
//! together, and the runs of up to [`START_GROUP`] claimed integrations of one
//! workspace start in one transaction of a few set-based statements
//! ([`App::start_scheduled_syncs`]: one statement locks them all, one inserts every
//! run, one stages every job); a group that fails is started integration by
//! integration, so one that cannot start holds none of the others back. Each
//! stream syncs on its own schedule (see [`crate::schedules`]); an
//! integration is due when its earliest enabled stream is, and "now" is the
//! application's clock, which every schedule is computed with.
//!
//! The lease is what makes crashes harmless: if a pod dies between the claim and the
//! run, the integration becomes due again when the lease runs out. A successful run
//! moves each stream it read a whole schedule ahead, and the integration to its
//! earliest stream; a run waiting for a retry extends the lease past the retry.
//!
//! Each pass also tells workspaces about grants lost outside a sync (a refresh
//! refused while testing the integration or running an action moves it to
//! `needs_reauth`, and the schedule skips such integrations: without this sweep
//! their owners would never hear of it).

use std::time::{Duration, Instant};

use futures::StreamExt;
use junction_core::WorkspaceId;
use junction_store::repo::{self, integrations::Claimed};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{App, Result, failures::REAUTH_MESSAGE, metrics};

/// How many transactions start claimed integrations' runs at once.
const START_CONCURRENCY: usize = 8;

/// Claimed integrations of one workspace whose runs start in one transaction, with
/// a few statements for the whole group (a commit, a WAL flush, and a statement of
/// each kind per group instead of per integration), while a group's row locks are
/// held for a few milliseconds only.
const START_GROUP: usize = 100;

/// Lost-grant notices sent per pass at most (the rest follow in the next passes).
const REAUTH_NOTICES_PER_PASS: i32 = 50;

/// What became of one claimed integration.
enum Scheduled {
    /// A run started: `(integration_id, run_id)`.
    Started((Uuid, Uuid)),
    /// No stream of it was due.
    NotDue,
    /// The run could not be started (due again after the lease).
    Failed,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Integrations claimed.
    pub claimed: usize,
    /// Of those, runs started: `(integration_id, run_id)`.
    pub enqueued: Vec<(Uuid, Uuid)>,
    /// Of those, integrations none of whose streams was due after all (their next
    /// sync moved to their earliest stream's).
    pub not_due: usize,
    /// Of those, runs that could not be started (due again after the lease).
    pub failed: usize,
    /// Integrations that lost their grant outside a sync whose owners were told now.
    pub reauth_notices: usize,
}

impl App {
    /// Integrations claimed per pass.
    fn claim_batch(&self) -> i32 {
        i32::try_from(self.config.worker.claim_batch.max(1)).unwrap_or(i32::MAX)
    }

    /// One pass: claims up to a batch of due integrations and starts a run for each.
    pub async fn scheduler_pass(&self) -> Result<PassReport> {
        let started = Instant::now();
        let lease = Duration::from_secs(
            u64::try_from(self.config.worker.claim_lease_seconds).unwrap_or(600),
        );
        let claimed = async {
            let mut conn = self.system_store()?.unscoped().await?;
            Ok::<_, crate::Error>(
                repo::integrations::claim_due(&mut conn, self.claim_batch(), lease, self.now())
                    .await?,
            )
        }
        .await
        .inspect_err(|_| metrics::scheduler_error())?;
        let mut report = PassReport {
            claimed: claimed.len(),
            ..PassReport::default()
        };
        let outcomes: Vec<Vec<Scheduled>> = futures::stream::iter(start_groups(claimed))
            .map(|group| async move { self.start_scheduled_group(&group).await })
            .buffer_unordered(START_CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes.into_iter().flatten() {
            match outcome {
                Scheduled::Started(pair) => report.enqueued.push(pair),
                Scheduled::NotDue => report.not_due += 1,
                Scheduled::Failed => report.failed += 1,
            }
        }
        report.reauth_notices = self.notify_lost_grants().await;
        self.announce_lost_grants().await;
        metrics::scheduler_pass(
            report.claimed,
            report.enqueued.len(),
            report.failed,
            started.elapsed(),
        );
        if report.claimed > 0 {
            tracing::info!(
                claimed = report.claimed,
                started = report.enqueued.len(),
                failed = report.failed,
                "scheduled due syncs"
            );
        }
        Ok(report)
    }

    /// Whether a pass filled its batch (more may be due right away).
    pub fn scheduler_pass_was_full(&self, report: &PassReport) -> bool {
        i32::try_from(report.claimed).is_ok_and(|n| n >= self.claim_batch())
    }

    /// Starts the runs of a group of claimed integrations of one workspace in one
    /// transaction; when that fails (one of them cannot start), each alone, so one
    /// integration's failure holds none of the others back.
    async fn start_scheduled_group(&self, group: &[Claimed]) -> Vec<Scheduled> {
        let Some(first) = group.first() else {
            return Vec::new();
        };
        if group.len() > 1 {
            let ids: Vec<Uuid> = group.iter().map(|c| c.integration_id).collect();
            match self
                .start_scheduled_syncs(WorkspaceId(first.workspace_id), &ids)
                .await
            {
                Ok(started) => {
                    return ids
                        .into_iter()
                        .zip(started)
                        .map(|(id, started)| match started {
                            Some(started) => Scheduled::Started((id, started.run.id)),
                            None => Scheduled::NotDue,
                        })
                        .collect();
                }
                Err(err) => tracing::warn!(
                    error = %err,
                    integrations = group.len(),
                    "could not start a group of scheduled syncs together; starting each alone"
                ),
            }
        }
        let mut outcomes = Vec::with_capacity(group.len());
        for claimed in group {
            outcomes.push(self.start_scheduled(claimed).await);
        }
        outcomes
    }

    /// Starts the run of a claimed integration's due streams.
    async fn start_scheduled(&self, claimed: &Claimed) -> Scheduled {
        let workspace_id = WorkspaceId(claimed.workspace_id);
        match self
            .start_scheduled_sync(workspace_id, claimed.integration_id)
            .await
        {
            Ok(Some(started)) => Scheduled::Started((claimed.integration_id, started.run.id)),
            Ok(None) => Scheduled::NotDue,
            Err(err) => {
                tracing::error!(
                    integration_id = %claimed.integration_id,
                    error = %err,
                    "could not start a scheduled sync run; it is due again after the lease"
                );
                Scheduled::Failed
            }
        }
    }

    /// Sends the notices of grants lost outside a sync, each once (the notice's
    /// dedupe key); failures are logged and never fail the pass.
    async fn notify_lost_grants(&self) -> usize {
        let pending = async {
            let mut conn = self.system_store()?.unscoped().await?;
            Ok::<_, crate::Error>(
                repo::integrations::unnotified_reauth(&mut conn, REAUTH_NOTICES_PER_PASS).await?,
            )
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
            let reason = lost.reason.as_deref().unwrap_or(REAUTH_MESSAGE);
            self.notify_needs_reauth(WorkspaceId(lost.workspace_id), lost.integration_id, reason)
                .await;
        }
        pending.len()
    }

    /// Passes every `interval` until `stop` turns true; a pass that filled its batch
    /// is followed by another one at once, so a backlog drains quickly.
    pub async fn run_scheduler(&self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            loop {
                if *stop.borrow() {
                    return;
                }
                match self.scheduler_pass().await {
                    Ok(report) if self.scheduler_pass_was_full(&report) => continue,
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

/// The claimed integrations in groups of one workspace each, of at most
/// [`START_GROUP`], in the order claimed within each workspace.
fn start_groups(claimed: Vec<Claimed>) -> Vec<Vec<Claimed>> {
    let mut by_workspace: Vec<(Uuid, Vec<Claimed>)> = Vec::new();
    for one in claimed {
        match by_workspace
            .iter_mut()
            .find(|(id, _)| *id == one.workspace_id)
        {
            Some((_, list)) => list.push(one),
            None => by_workspace.push((one.workspace_id, vec![one])),
        }
    }
    let mut groups = Vec::new();
    for (_, list) in by_workspace {
        let mut list = list.into_iter().peekable();
        while list.peek().is_some() {
            groups.push(list.by_ref().take(START_GROUP).collect());
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(workspace: u128, integration: u128) -> Claimed {
        Claimed {
            integration_id: Uuid::from_u128(integration),
            workspace_id: Uuid::from_u128(workspace),
            provider: "google-analytics".into(),
            due_at: None,
        }
    }

    #[test]
    fn claimed_integrations_start_in_groups_of_one_workspace_each() {
        let mut all: Vec<Claimed> = (0..250).map(|n| claimed(1, n)).collect();
        all.insert(10, claimed(2, 1_000));
        all.push(claimed(2, 1_001));
        let groups = start_groups(all);
        let shape: Vec<(u128, usize)> = groups
            .iter()
            .map(|group| (group[0].workspace_id.as_u128(), group.len()))
            .collect();
        assert_eq!(shape, [(1, 100), (1, 100), (1, 50), (2, 2)]);
        assert!(groups.iter().all(|group| {
            group
                .iter()
                .all(|c| c.workspace_id == group[0].workspace_id)
        }));
        let first: Vec<u128> = groups[0]
            .iter()
            .map(|c| c.integration_id.as_u128())
            .collect();
        assert_eq!(first, (0..100).collect::<Vec<_>>(), "claim order is kept");
        assert!(start_groups(Vec::new()).is_empty());
    }
}

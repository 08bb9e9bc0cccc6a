//! The notice sweep: the weekly KPI reports ([`super::report`]) and the daily digests
//! ([`super::digest`]) that are due, found across workspaces.
//!
//! Every worker runs it beside the scheduler, every `scheduler_interval_seconds`;
//! like the reconciliation sweep, the lease `notices` in Postgres lets one worker of
//! the installation through per interval (the lease only saves work: each report and
//! digest is recorded once by its own guarantees, a unique dedupe key and a locked
//! settings row). It reads the workspaces with a report on or in digest mode through
//! the system role's narrow functions, a page at a time, decides with the
//! application's clock and each workspace's time zone which are due, and handles
//! each in the workspace's own scope. One workspace failing is logged and does not
//! stop the others.

use std::time::Duration;

use junction_store::repo;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{App, Result};

/// The name of the sweep's lease.
const LEASE: &str = "notices";
/// Schedules read per page.
const PAGE: i32 = 500;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoticeSweepReport {
    /// Whether this worker held the lease (else another one swept).
    pub swept: bool,
    /// Weekly reports recorded (their notification ids).
    pub reports: Vec<Uuid>,
    /// Digest emails recorded.
    pub digests: usize,
    /// Workspaces whose report or digest failed (logged; tried again next pass).
    pub failed: usize,
}

impl App {
    /// One sweep, if this worker (`holder`) gets the lease for `interval`.
    pub async fn notice_sweep(
        &self,
        holder: &str,
        interval: Duration,
    ) -> Result<NoticeSweepReport> {
        let taken = {
            let mut conn = self.system_store()?.unscoped().await?;
            repo::reconcile::take_lease(&mut conn, LEASE, holder, interval).await?
        };
        let mut report = NoticeSweepReport {
            swept: taken,
            ..NoticeSweepReport::default()
        };
        if !taken {
            return Ok(report);
        }
        let now = self.now();

        let mut after = None;
        loop {
            let page = {
                let mut conn = self.system_store()?.unscoped().await?;
                repo::weekly_report_settings::schedules(&mut conn, after, PAGE).await?
            };
            for schedule in &page {
                match self.send_weekly_report_if_due(schedule, now).await {
                    Ok(Some(id)) => report.reports.push(id),
                    Ok(None) => {}
                    Err(error) => {
                        report.failed += 1;
                        tracing::error!(workspace_id = %schedule.workspace_id, %error, "could not send the weekly report; tried again next pass");
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() >= PAGE as usize => after = Some(last.workspace_id),
                _ => break,
            }
        }

        let mut after = None;
        loop {
            let page = {
                let mut conn = self.system_store()?.unscoped().await?;
                repo::notification_settings::digest_schedules(&mut conn, after, PAGE).await?
            };
            for schedule in &page {
                match self.send_digest_if_due(schedule, now).await {
                    Ok(sent) => report.digests += sent,
                    Err(error) => {
                        report.failed += 1;
                        tracing::error!(workspace_id = %schedule.workspace_id, %error, "could not send the daily digest; tried again next pass");
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() >= PAGE as usize => after = Some(last.workspace_id),
                _ => break,
            }
        }
        Ok(report)
    }

    /// Sweeps every `interval` until `stop` turns true (see the module docs).
    pub async fn run_notice_sweeps(
        &self,
        holder: String,
        interval: Duration,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            let pass = tokio::select! {
                pass = self.notice_sweep(&holder, interval) => pass,
                _ = stop.wait_for(|stopped| *stopped) => return,
            };
            if let Err(error) = pass {
                tracing::error!(%error, "notice sweep failed");
            }
        }
    }
}

//! The daily digest: a workspace in `daily_digest` mode gets its failed syncs, lost
//! grants and dead letters in one email a day, at the digest hour of its time zone.
//!
//! Each pass of the notice sweep ([`super::sweep`]) looks at every such workspace. A
//! workspace's digest is due once the day's digest hour has passed and that local day
//! has no digest yet (`last_digest_on`). Under a lock on the workspace's settings row
//! — two workers racing serialize there, and the second finds the day done — the
//! pass gathers every notice still `awaiting_digest` (everything held since the last
//! digest), records one `daily_digest` notification per recipient with the notices
//! that recipient subscribed to (dedupe key `daily_digest:{day}:{address}`), marks
//! the notices `digested` and the day done, all in one transaction. A day with
//! nothing to report sends nothing but is done too, so a notice arriving after the
//! digest hour waits for the next day's digest.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use junction_core::WorkspaceId;
use junction_store::{
    StoreError,
    models::{NoticeDelivery, NotificationKind},
    repo::{self, notification_settings::DigestSchedule},
};
use uuid::Uuid;

use super::{DigestDetails, DigestNotice, Draft, FailureDetails, calendar, record};
use crate::{App, Result};

/// The most notices one digest pass gathers (the rest wait for the next day).
const NOTICES_PER_DIGEST: i64 = 500;

impl App {
    /// Sends the workspace's digest when it is due at `now` (see the module docs);
    /// returns how many digest emails were recorded.
    pub async fn send_digest_if_due(
        &self,
        schedule: &DigestSchedule,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        let Some(zone) = calendar::time_zone(&schedule.time_zone) else {
            tracing::warn!(workspace_id = %schedule.workspace_id, time_zone = %schedule.time_zone, "unknown time zone; no digest");
            return Ok(0);
        };
        let hour = u32::try_from(schedule.digest_hour).unwrap_or(0);
        let due = calendar::latest_daily(zone, hour, now);
        if schedule.last_digest_on.is_some_and(|done| done >= due.day) {
            return Ok(0);
        }
        let workspace_id = WorkspaceId(schedule.workspace_id);
        let mut tx = self.begin(workspace_id).await?;
        // Read again under the lock: another worker may have sent it meanwhile, or
        // the workspace changed its settings.
        let settings = repo::notification_settings::get_for_update(tx.conn()).await?;
        let Some(settings) = settings.filter(|s| {
            s.delivery == NoticeDelivery::DailyDigest
                && s.last_digest_on.is_none_or(|done| done < due.day)
        }) else {
            tx.rollback().await?;
            return Ok(0);
        };
        let notices = repo::notifications::awaiting_digest(tx.conn(), NOTICES_PER_DIGEST).await?;
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        // Each recipient gets the notices of the kinds they hear of, in order.
        let mut per_recipient: BTreeMap<&str, Vec<DigestNotice>> = BTreeMap::new();
        for notice in &notices {
            let failure: FailureDetails = match serde_json::from_value(notice.details.clone()) {
                Ok(failure) => failure,
                Err(error) => {
                    tracing::error!(notification_id = %notice.id, %error, "a held notice's details do not read; left out of the digest");
                    continue;
                }
            };
            for address in &notice.recipients {
                per_recipient
                    .entry(address.as_str())
                    .or_default()
                    .push(DigestNotice {
                        notification_id: notice.id,
                        kind: notice.kind.as_str().to_owned(),
                        failure: failure.clone(),
                    });
            }
        }
        let mut recorded = 0;
        for (address, notices) in per_recipient {
            let details = DigestDetails {
                day: due.day,
                time_zone: settings.time_zone.clone(),
                notices,
            };
            let draft = Draft {
                kind: NotificationKind::DailyDigest,
                dedupe_key: format!("daily_digest:{}:{address}", due.day),
                alert_rule_id: None,
                integration_id: None,
                recipients: vec![address.to_owned()],
                details: serde_json::to_value(&details)
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            };
            if record(tx.conn(), workspace_id, &workspace.name, draft)
                .await?
                .is_some()
            {
                recorded += 1;
            }
        }
        let ids: Vec<Uuid> = notices.iter().map(|n| n.id).collect();
        repo::notifications::mark_digested(tx.conn(), &ids).await?;
        repo::notification_settings::set_last_digest_on(tx.conn(), due.day).await?;
        tx.commit().await?;
        if !notices.is_empty() {
            tracing::info!(
                %workspace_id,
                day = %due.day,
                notices = notices.len(),
                digests = recorded,
                "daily digest recorded"
            );
        }
        Ok(recorded)
    }
}

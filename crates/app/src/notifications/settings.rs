//! A workspace's notification settings: who hears of its failed syncs, lost grants
//! and dead letters (one list per kind, independent of alert rules), and whether each
//! notice is mailed at once or gathered into a daily digest at an hour of the
//! workspace's time zone.
//!
//! Until a workspace saves settings, the recipients of its enabled alert rules hear
//! of every kind, at once (what Junction did before settings existed). Once it saved
//! some, only the saved lists count: an empty list means nobody hears of that kind.
//! Switching to the digest makes the next digest hour the first one; switching back
//! to immediate delivery sends the notices still waiting for a digest right away.

use chrono::{DateTime, Utc};
use junction_core::WorkspaceId;
use junction_jobs::{Job, outbox};
use junction_store::{
    Conn, StoreError,
    models::{NoticeDelivery, NotificationKind, NotificationSettings},
    repo::{self, notification_settings::NewNotificationSettings},
};

use super::calendar;
use crate::{
    App, Error, Result,
    recipients::{check_addresses, problem},
};

/// The digest hour of a workspace that names none.
pub const DEFAULT_DIGEST_HOUR: i16 = 8;
/// The time zone of a workspace that names none.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// The settings as a client sends them (a PUT: what is left out takes its default).
#[derive(Debug, Clone, Default)]
pub struct NotificationSettingsInput {
    pub sync_failed: Option<Vec<String>>,
    pub needs_reauth: Option<Vec<String>>,
    pub dead_letter: Option<Vec<String>>,
    /// `immediate` (default) or `daily_digest`.
    pub delivery: Option<String>,
    /// 0-23 (default 8).
    pub digest_hour: Option<i64>,
    /// An IANA time zone name (default `UTC`).
    pub time_zone: Option<String>,
}

/// A workspace's notification settings as they apply now.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveNotificationSettings {
    /// Whether the workspace saved settings; if not, the lists are its enabled alert
    /// rules' recipients and delivery is immediate.
    pub configured: bool,
    pub sync_failed: Vec<String>,
    pub needs_reauth: Vec<String>,
    pub dead_letter: Vec<String>,
    pub delivery: NoticeDelivery,
    pub digest_hour: i16,
    pub time_zone: String,
    /// When the next digest goes out (daily digest only).
    pub next_digest_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Who hears of a notice of `kind` in the scoped workspace, and how.
pub async fn recipients_for(
    conn: &mut Conn,
    kind: NotificationKind,
) -> Result<(Vec<String>, NoticeDelivery), StoreError> {
    let Some(settings) = repo::notification_settings::get(conn).await? else {
        return Ok((
            repo::alerts::recipients(conn).await?,
            NoticeDelivery::Immediate,
        ));
    };
    let recipients = match kind {
        NotificationKind::SyncFailed => settings.sync_failed_recipients,
        NotificationKind::NeedsReauth => settings.needs_reauth_recipients,
        NotificationKind::DeadLetter => settings.dead_letter_recipients,
        NotificationKind::KpiAlert
        | NotificationKind::WeeklyReport
        | NotificationKind::DailyDigest
        | NotificationKind::PaymentEmail => Vec::new(),
    };
    Ok((recipients, settings.delivery))
}

impl App {
    /// The workspace's notification settings as they apply now.
    pub async fn notification_settings(
        &self,
        workspace_id: WorkspaceId,
    ) -> Result<EffectiveNotificationSettings> {
        let mut tx = self.begin(workspace_id).await?;
        let saved = repo::notification_settings::get(tx.conn()).await?;
        let effective = match saved {
            Some(saved) => self.effective(saved),
            None => {
                let recipients = repo::alerts::recipients(tx.conn()).await?;
                EffectiveNotificationSettings {
                    configured: false,
                    sync_failed: recipients.clone(),
                    needs_reauth: recipients.clone(),
                    dead_letter: recipients,
                    delivery: NoticeDelivery::Immediate,
                    digest_hour: DEFAULT_DIGEST_HOUR,
                    time_zone: DEFAULT_TIME_ZONE.to_owned(),
                    next_digest_at: None,
                    updated_at: None,
                }
            }
        };
        tx.commit().await?;
        Ok(effective)
    }

    /// Replaces the workspace's notification settings (every field checked, all
    /// problems at once). Back to immediate delivery, the notices waiting for a
    /// digest get their delivery jobs in the same transaction.
    pub async fn put_notification_settings(
        &self,
        workspace_id: WorkspaceId,
        input: NotificationSettingsInput,
    ) -> Result<EffectiveNotificationSettings> {
        let new = input.check()?;
        let mut tx = self.begin(workspace_id).await?;
        let before = repo::notification_settings::get(tx.conn()).await?;
        let mut saved = repo::notification_settings::put(tx.conn(), workspace_id, &new).await?;
        let was_digest = before.is_some_and(|b| b.delivery == NoticeDelivery::DailyDigest);
        if saved.delivery == NoticeDelivery::DailyDigest && !was_digest {
            // The first digest is the next one due: a workspace switching at 07:00 to
            // an 08:00 digest hears at 08:00, not at once for "yesterday's".
            if let Some(zone) = calendar::time_zone(&saved.time_zone) {
                let hour = u32::try_from(saved.digest_hour).unwrap_or(0);
                let latest = calendar::latest_daily(zone, hour, self.now());
                repo::notification_settings::set_last_digest_on(tx.conn(), latest.day).await?;
                saved.last_digest_on = Some(latest.day);
            }
        }
        if saved.delivery == NoticeDelivery::Immediate {
            let released = repo::notifications::release_awaiting(tx.conn()).await?;
            for notice in &released {
                outbox::stage(tx.conn(), &Job::of_notification(notice)).await?;
            }
            if !released.is_empty() {
                tracing::info!(
                    %workspace_id,
                    released = released.len(),
                    "immediate delivery again: notices waiting for a digest are sent now"
                );
            }
        }
        tx.commit().await?;
        Ok(self.effective(saved))
    }

    fn effective(&self, saved: NotificationSettings) -> EffectiveNotificationSettings {
        let next_digest_at = match (saved.delivery, calendar::time_zone(&saved.time_zone)) {
            (NoticeDelivery::DailyDigest, Some(zone)) => Some(
                calendar::next_daily(
                    zone,
                    u32::try_from(saved.digest_hour).unwrap_or(0),
                    self.now(),
                )
                .at,
            ),
            _ => None,
        };
        EffectiveNotificationSettings {
            configured: true,
            sync_failed: saved.sync_failed_recipients,
            needs_reauth: saved.needs_reauth_recipients,
            dead_letter: saved.dead_letter_recipients,
            delivery: saved.delivery,
            digest_hour: saved.digest_hour,
            time_zone: saved.time_zone,
            next_digest_at,
            updated_at: Some(saved.updated_at),
        }
    }
}

/// An hour of the day (0-23), or the problem recorded under `field`.
pub fn check_hour(
    field: &str,
    hour: Option<i64>,
    default: i16,
    errors: &mut Vec<junction_core::spec::FieldError>,
) -> Option<i16> {
    match hour {
        None => Some(default),
        Some(hour) => match i16::try_from(hour) {
            Ok(hour) if (0..=23).contains(&hour) => Some(hour),
            _ => {
                errors.push(problem(field, "must be an hour from 0 to 23"));
                None
            }
        },
    }
}

/// An IANA time zone name, or the problem recorded under `field`.
pub fn check_time_zone(
    field: &str,
    name: Option<&str>,
    errors: &mut Vec<junction_core::spec::FieldError>,
) -> Option<String> {
    let name = name.map_or(DEFAULT_TIME_ZONE, str::trim);
    if calendar::time_zone(name).is_some() {
        Some(name.to_owned())
    } else {
        errors.push(problem(
            field,
            "is not an IANA time zone name (such as Europe/Berlin or UTC)",
        ));
        None
    }
}

impl NotificationSettingsInput {
    /// Every field checked, all problems at once.
    fn check(&self) -> Result<NewNotificationSettings> {
        let mut errors = Vec::new();
        let mut list = |field: &str, addresses: &Option<Vec<String>>| {
            check_addresses(
                &format!("recipients.{field}"),
                addresses.as_deref().unwrap_or_default(),
                0,
                &mut errors,
            )
        };
        let sync_failed = list("sync_failed", &self.sync_failed);
        let needs_reauth = list("needs_reauth", &self.needs_reauth);
        let dead_letter = list("dead_letter", &self.dead_letter);
        let delivery = match self.delivery.as_deref().map(str::trim) {
            None => Some(NoticeDelivery::Immediate),
            Some(text) => {
                let parsed = NoticeDelivery::parse(text);
                if parsed.is_none() {
                    errors.push(problem("delivery", "must be immediate or daily_digest"));
                }
                parsed
            }
        };
        let digest_hour = check_hour(
            "digest_hour",
            self.digest_hour,
            DEFAULT_DIGEST_HOUR,
            &mut errors,
        );
        let time_zone = check_time_zone("time_zone", self.time_zone.as_deref(), &mut errors);
        match (
            sync_failed,
            needs_reauth,
            dead_letter,
            delivery,
            digest_hour,
            time_zone,
        ) {
            (
                Some(sync_failed_recipients),
                Some(needs_reauth_recipients),
                Some(dead_letter_recipients),
                Some(delivery),
                Some(digest_hour),
                Some(time_zone),
            ) if errors.is_empty() => Ok(NewNotificationSettings {
                sync_failed_recipients,
                needs_reauth_recipients,
                dead_letter_recipients,
                delivery,
                digest_hour,
                time_zone,
            }),
            _ => Err(Error::validation(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named_at_once() {
        let input = NotificationSettingsInput {
            sync_failed: Some(vec!["ops@acme.example".into(), "nope".into()]),
            needs_reauth: None,
            dead_letter: Some(vec![]),
            delivery: Some("hourly".into()),
            digest_hour: Some(24),
            time_zone: Some("Mars/Olympus_Mons".into()),
        };
        let Err(error) = input.check() else {
            panic!("invalid settings were accepted");
        };
        let fields: Vec<String> = error.fields.iter().map(|f| f.field.clone()).collect();
        assert_eq!(
            fields,
            [
                "recipients.sync_failed[1]",
                "delivery",
                "digest_hour",
                "time_zone"
            ]
        );
    }

    #[test]
    fn left_out_fields_take_their_defaults() {
        let checked = NotificationSettingsInput {
            sync_failed: Some(vec![" Ops@Acme.example".into()]),
            ..NotificationSettingsInput::default()
        }
        .check()
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            checked,
            NewNotificationSettings {
                sync_failed_recipients: vec!["ops@acme.example".into()],
                needs_reauth_recipients: vec![],
                dead_letter_recipients: vec![],
                delivery: NoticeDelivery::Immediate,
                digest_hour: DEFAULT_DIGEST_HOUR,
                time_zone: "UTC".into(),
            }
        );
    }
}

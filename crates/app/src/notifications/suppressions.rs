//! The workspace's email suppression list over the API: read it, add an address by
//! hand, take one off. Addresses land on it from the email provider's bounce and
//! complaint webhooks too (`junction_store::ingest`); every email Junction sends —
//! its notifications and the actions that send email — skips them.

use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, WorkspaceId};
use junction_store::{models::EmailSuppression, repo};

use crate::{
    App, Error, Listed, PageRequest, Result, listed,
    recipients::{check_address, problem},
};

/// The reason of an address added by hand without one.
pub const MANUAL_REASON: &str = "manual";
/// Longest reason, in characters (the table's check says the same).
pub const MAX_REASON_CHARS: usize = 200;

impl App {
    /// The workspace's suppressed addresses, newest first.
    pub async fn email_suppressions(
        &self,
        workspace_id: WorkspaceId,
        page: PageRequest<(DateTime<Utc>, String)>,
    ) -> Result<Listed<EmailSuppression, (DateTime<Utc>, String)>> {
        let mut tx = self.begin(workspace_id).await?;
        let rows = repo::email_suppressions::list(tx.conn(), page.after, page.limit + 1).await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |s| {
            (s.created_at, s.address.clone())
        }))
    }

    /// Puts an address on the list (a plain address; the reason defaults to
    /// `manual`). Returns the entry and whether it is new: an address already on it
    /// keeps its first reason.
    pub async fn add_email_suppression(
        &self,
        workspace_id: WorkspaceId,
        address: Option<&str>,
        reason: Option<&str>,
    ) -> Result<(EmailSuppression, bool)> {
        let mut errors = Vec::new();
        let address = match address {
            Some(address) => check_address("address", address, &mut errors),
            None => {
                errors.push(problem("address", "is required: an email address"));
                None
            }
        };
        let reason = reason.map_or(MANUAL_REASON, str::trim);
        if reason.is_empty()
            || reason.chars().count() > MAX_REASON_CHARS
            || reason.chars().any(char::is_control)
        {
            errors.push(problem("reason", "must be one line of 1 to 200 characters"));
        }
        let Some(address) = address.filter(|_| errors.is_empty()) else {
            return Err(Error::validation(errors));
        };
        let mut tx = self.begin(workspace_id).await?;
        let created =
            repo::email_suppressions::suppress(tx.conn(), workspace_id, &address, reason, None)
                .await?;
        let entry = repo::email_suppressions::get(tx.conn(), &address).await?;
        tx.commit().await?;
        Ok((entry, created))
    }

    /// Takes an address off the list (compared case-insensitively), so the
    /// workspace's emails reach it again; `email_suppression_not_found` when it was
    /// not on it.
    pub async fn remove_email_suppression(
        &self,
        workspace_id: WorkspaceId,
        address: &str,
    ) -> Result<()> {
        let mut tx = self.begin(workspace_id).await?;
        let removed = repo::email_suppressions::remove(tx.conn(), address).await?;
        tx.commit().await?;
        if removed {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::EmailSuppressionNotFound,
                "the address is not on the workspace's suppression list",
            ))
        }
    }
}

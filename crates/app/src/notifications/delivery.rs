//! Delivering one notification (the notify queue's job) as an email through the
//! workspace's email-capable integration — any provider whose adapter offers the
//! [`junction_core::EmailSender`] port (Resend and SendGrid today).
//!
//! One attempt:
//! 1. loads the notification; one no longer `pending` was delivered or given up by an
//!    earlier attempt (a redelivered task) and is left alone;
//! 2. drops suppressed recipients (addresses that bounced or complained, recorded
//!    from the email provider's webhooks); when none is left the notification ends
//!    `suppressed` and nothing is sent;
//! 3. finds the workspace's oldest active integration that can send email — none is
//!    a clear `failed` notification and an abandoned job (no retries, no dead
//!    letter: nothing a retry could fix until someone connects one);
//! 4. renders the email from the notification's recorded details and sends it
//!    through the port with the idempotency key `notification-{id}`: a provider that
//!    honours keys answers a repeat with the first answer, so a retry after a lost
//!    response mails once;
//! 5. records `sent` with the provider's message id and logs the delivery on the
//!    sending integration.
//!
//! Failures follow the shared retry policy: a provider outage or rate limit is
//! retried with backoff (the notification stays `pending` with the last error), a
//! refusal is permanent and dead-letters the job, which marks the notification
//! `failed`. Dead letters of this queue send no notification themselves (that
//! would loop).

use junction_core::{ErrorCode, WorkspaceId};
use junction_jobs::{JobFailure, NotifyJob};
use junction_store::{
    StoreError,
    models::{Integration, LogLevel, Notification, NotificationStatus, Operation},
    repo::{self, logs::NewLog},
};
use serde_json::json;
use uuid::Uuid;

use super::render;
use crate::{
    App,
    failures::{call_failure, store_failure},
};

/// What an attempt found to send.
struct Delivery {
    notification: Notification,
    workspace: String,
    to: Vec<String>,
    suppressed: usize,
    sender: Integration,
}

impl App {
    /// One attempt at delivering a notification (see the module docs).
    pub async fn deliver_notification(&self, job: &NotifyJob) -> Result<(), JobFailure> {
        let workspace_id = job.workspace_id;
        let Some(delivery) = self.prepare_delivery(job).await? else {
            return Ok(());
        };
        let notification = &delivery.notification;
        let email = render(
            notification.kind,
            &delivery.workspace,
            &notification.details,
        )
        .map_err(|message| JobFailure::permanent(ErrorCode::Internal, message))?
        .addressed(delivery.to.clone());

        let provider = delivery.sender.provider.clone();
        let adapter = self
            .connections
            .adapter(&provider)
            .map_err(|e| crate::failures::connect_failure(&e))?;
        let ctx = self.context(&provider);
        let key = format!("notification-{}", notification.id);
        let sent = self
            .connections
            .call(workspace_id, &delivery.sender, |connection| {
                let (adapter, ctx, email, key) =
                    (adapter.clone(), ctx.clone(), email.clone(), key.clone());
                async move {
                    let Some(sender) = adapter.email_sender() else {
                        return Err(junction_core::AdapterError::invalid(
                            "the provider no longer sends email",
                        ));
                    };
                    sender.send_email(&ctx, &connection, &email, &key).await
                }
            })
            .await
            .map_err(|e| call_failure(&e, self.now()))?;

        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            repo::notifications::set_status(
                tx.conn(),
                notification.id,
                NotificationStatus::Sent,
                sent.external_id.as_deref(),
                None,
            )
            .await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id,
                    integration_id: delivery.sender.id,
                    level: LogLevel::Info,
                    operation: Operation::Alert,
                    message: &format!(
                        "{} notification sent to {} recipient(s)",
                        notification.kind,
                        delivery.to.len()
                    ),
                    details: json!({
                        "notification_id": notification.id,
                        "kind": notification.kind,
                        "recipients": delivery.to.len(),
                        "suppressed": delivery.suppressed,
                        "message_id": sent.external_id,
                        "about_integration_id": notification.integration_id,
                    }),
                    run_id: None,
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        // The email is out: a failure to record it is retried, and the retry's send
        // is answered from the provider's idempotency record rather than mailed again.
        result.map_err(|e| store_failure(&e))?;
        tracing::info!(
            notification_id = %notification.id,
            kind = %notification.kind,
            recipients = delivery.to.len(),
            "notification sent"
        );
        Ok(())
    }

    /// Loads what an attempt needs; `None` when there is nothing to send (already
    /// delivered or given up, or every recipient suppressed — recorded here).
    async fn prepare_delivery(&self, job: &NotifyJob) -> Result<Option<Delivery>, JobFailure> {
        let workspace_id = job.workspace_id;
        let mut tx = self
            .store
            .begin(workspace_id)
            .await
            .map_err(|e| store_failure(&e))?;
        let notification = match repo::notifications::get(tx.conn(), job.notification_id).await {
            Ok(notification) => notification,
            Err(StoreError::NotFound(_)) => {
                return Err(JobFailure::abandon(
                    ErrorCode::NotFound,
                    format!(
                        "notification {} no longer exists (its integration or workspace was deleted)",
                        job.notification_id
                    ),
                ));
            }
            Err(err) => return Err(store_failure(&err)),
        };
        if notification.status != NotificationStatus::Pending {
            tx.rollback().await.map_err(|e| store_failure(&e))?;
            tracing::info!(notification_id = %job.notification_id, "notification already handled");
            return Ok(None);
        }
        let found = async {
            let suppressed =
                repo::email_suppressions::suppressed_among(tx.conn(), &notification.recipients)
                    .await?;
            let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
            let senders: Vec<&str> = self
                .registry()
                .specs()
                .filter(|spec| {
                    self.registry()
                        .get(spec.id)
                        .is_some_and(|adapter| adapter.email_sender().is_some())
                })
                .map(|spec| spec.id)
                .collect();
            let sender = repo::integrations::active_of(tx.conn(), &senders, 1)
                .await?
                .into_iter()
                .next();
            Ok::<_, StoreError>((suppressed, workspace.name, sender))
        }
        .await
        .map_err(|e| store_failure(&e))?;
        let (suppressed, workspace, sender) = found;
        let to: Vec<String> = notification
            .recipients
            .iter()
            .filter(|address| !suppressed.contains(&address.trim().to_lowercase()))
            .cloned()
            .collect();
        let suppressed = notification.recipients.len() - to.len();
        if to.is_empty() {
            self.end_notification(
                tx,
                notification.id,
                NotificationStatus::Suppressed,
                "every recipient is on the suppression list (bounced or complained)",
            )
            .await?;
            tracing::info!(notification_id = %notification.id, "notification suppressed: no recipient left");
            return Ok(None);
        }
        let Some(sender) = sender else {
            let message = "no active integration in this workspace can send email: connect \
                           Resend (an API key with a verified sending domain) or SendGrid (an \
                           API key with Mail Send and a verified sender) to receive \
                           notifications";
            self.end_notification(tx, notification.id, NotificationStatus::Failed, message)
                .await?;
            return Err(JobFailure::abandon(ErrorCode::IntegrationNotFound, message));
        };
        tx.commit().await.map_err(|e| store_failure(&e))?;
        Ok(Some(Delivery {
            notification,
            workspace,
            to,
            suppressed,
            sender,
        }))
    }

    /// Ends a notification that will not be sent, in the attempt's transaction.
    async fn end_notification(
        &self,
        mut tx: junction_store::WorkspaceTx,
        notification_id: Uuid,
        status: NotificationStatus,
        message: &str,
    ) -> Result<(), JobFailure> {
        repo::notifications::set_status(tx.conn(), notification_id, status, None, Some(message))
            .await
            .map_err(|e| store_failure(&e))?;
        tx.commit().await.map_err(|e| store_failure(&e))
    }

    /// Records a failed delivery attempt: `status` ends the notification, `None`
    /// only notes the error while a retry waits. A failure to record it is logged
    /// (the job's outcome stands either way).
    pub async fn record_notification_failure(
        &self,
        workspace_id: WorkspaceId,
        notification_id: Uuid,
        status: Option<NotificationStatus>,
        message: &str,
    ) {
        let result = async {
            let mut tx = self.store.begin(workspace_id).await?;
            match status {
                Some(status) => {
                    repo::notifications::set_status(
                        tx.conn(),
                        notification_id,
                        status,
                        None,
                        Some(message),
                    )
                    .await?
                }
                None => {
                    repo::notifications::note_attempt_failed(tx.conn(), notification_id, message)
                        .await?
                }
            }
            tx.commit().await
        }
        .await;
        if let Err(err) = result {
            tracing::error!(%notification_id, error = %err, "could not record a failed notification attempt");
        }
    }
}

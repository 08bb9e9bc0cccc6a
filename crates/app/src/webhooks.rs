//! Inbound webhooks: verified ingress, the subscription handshake, an integration's
//! webhook setup, the stored events and their replay, and applying an event (the
//! webhook queue's job).
//!
//! A delivery is trusted only once its signature holds against the integration's
//! secret; until then nothing is parsed and nothing is stored. Each verified event
//! is stored raw (body and headers, credentials left out) in `webhook_events`,
//! deduplicated by the provider's event id, with its job staged in the same
//! transaction, so the answer can go out at once and no stored event ever waits for
//! a job that does not exist. A redelivery of a stored event is a no-op. The
//! deliveries arriving together share that transaction (a group commit, see
//! [`crate::webhook_ingest`]), and the integration's secret is read once per
//! [`crate::webhook_ingest::TARGET_TTL`], not once per delivery.
//!
//! Applying an event verifies the stored delivery again with the clock pinned to its
//! arrival (a timestamp tolerance still holds, a row altered in the database since
//! is refused), asks the adapter what the event changes (which may call the
//! provider) and writes it through the one ingest path with the event marked
//! `processed` and a log entry, in one transaction. Applying is idempotent, so a
//! redelivered task or an operator's replay changes nothing twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use junction_core::{
    Adapter, ErrorCode, FixedClock, WebhookSecret, WebhookSpec, WorkspaceId,
    spec::FieldError,
    storable,
    webhook::{
        REQUEST_URL_HEADER, WebhookError, WebhookEvent, WebhookRequest, meta::SubscriptionQuery,
    },
};
use junction_jobs::{Job, JobFailure, WebhookJob, outbox};
use junction_store::{
    Store,
    db::PooledConn,
    ingest::apply_effects,
    models::{Integration, LogLevel, NotificationKind, Operation, WebhookEventRow, WebhookStatus},
    repo::{self, logs::NewLog, webhook_events::WebhookEventFilter},
};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

pub use crate::webhook_ingest::WebhookReceipt;
use crate::{
    App, Error, Listed, PageRequest, Result,
    connections::{ConnectError, Connections},
    failures::{call_failure, connect_failure, store_failure},
    listed, metrics,
    webhook_ingest::{Delivery, Target},
};

/// Headers never stored with a delivery: credentials a misconfigured sender might
/// attach, which no signature scheme needs.
const UNSTORED_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Why an integration cannot take webhooks yet.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    /// The secret the provider signs with is not configured.
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

impl From<WebhookSetupError> for Error {
    fn from(error: WebhookSetupError) -> Self {
        match error {
            WebhookSetupError::Connect(e) => e.into(),
            WebhookSetupError::NotConfigured(message) => {
                Error::new(ErrorCode::WebhookNotConfigured, message)
            }
        }
    }
}

/// How an integration takes webhooks: the URL to give the provider and which
/// secrets are set (never their values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSetup {
    pub url: String,
    /// `stripe`, `svix`, `meta_hub_signature256`, `hubspot_v3` or `sendgrid_ecdsa`.
    pub scheme: String,
    pub events: Vec<String>,
    /// `integration` (set on the integration) or `app_client_secret`.
    pub secret_source: &'static str,
    pub secret_set: bool,
    /// `None` when the provider has no subscription handshake.
    pub verify_token_set: Option<bool>,
}

/// A stored event and the job that processes it again.
#[derive(Debug, Clone)]
pub struct ReplayedEvent {
    pub event: WebhookEventRow,
    pub job_id: String,
}

impl App {
    /// Receives a provider's delivery for one integration: verifies it, stores each
    /// new event with its job, and says what it did. Unknown providers, unknown
    /// integrations and integrations of another provider are the same 404.
    ///
    /// The integration's workspace and signing secret come from the process's
    /// cache while fresh ([`crate::webhook_ingest::TARGET_TTL`]), so verifying costs no
    /// round trip; the verified delivery is stored with the others arriving at the
    /// same time, in one transaction per workspace ([`crate::webhook_ingest`]), and this
    /// answers once its own has committed.
    pub async fn receive_webhook(
        &self,
        provider: &str,
        integration_id: Uuid,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<WebhookReceipt> {
        let cached = self.ingest.target(provider, integration_id);
        let from_cache = cached.is_some();
        let mut target = match cached {
            Some(target) => target,
            None => self.webhook_verifier(provider, integration_id).await?,
        };
        let adapter = self.adapter(provider)?;
        let headers = &self.with_webhook_url(headers, provider, integration_id);
        let ctx = self.context(provider);
        let verify = |secret: &SecretString| {
            adapter.verify_webhook(&ctx, secret, &WebhookRequest { headers, body })
        };
        let mut verified = verify(&target.secret);
        if verified.is_err() && from_cache {
            // The secret may have been set again through another process since it
            // was cached: refused on the stored one only (a forgery costs the
            // lookup every delivery cost before the cache).
            target = self.webhook_verifier(provider, integration_id).await?;
            verified = verify(&target.secret);
        }
        let events = verified.map_err(|error| refused(provider, integration_id, error))?;
        let receipt = self
            .ingest
            .store(Delivery {
                workspace_id: target.workspace_id,
                integration_id,
                provider: provider.to_owned(),
                events,
                headers: headers_to_json(headers),
                body: body.to_vec(),
                at: self.now(),
            })
            .await?;
        metrics::webhook_received(provider, "accepted", receipt.accepted as u64);
        metrics::webhook_received(provider, "duplicate", receipt.duplicates as u64);
        Ok(receipt)
    }

    /// Looks up the workspace and signing secret of the integration a webhook URL
    /// names (one checkout, one transaction) and caches them.
    async fn webhook_verifier(&self, provider: &str, integration_id: Uuid) -> Result<Target> {
        let (adapter, workspace_id, conn) =
            self.webhook_workspace(provider, integration_id).await?;
        let mut tx = Store::begin_on(conn, workspace_id).await?;
        let secret = async {
            let integration = crate::integration(&mut tx, integration_id).await?;
            let spec = adapter
                .spec()
                .webhook
                .clone()
                .ok_or_else(|| no_webhooks(provider))?;
            Ok::<_, Error>(
                webhook_secret_in(tx.conn(), &self.connections, &integration, &spec).await?,
            )
        }
        .await;
        let secret = match secret {
            Ok(secret) => secret,
            Err(error) => {
                // Ended cleanly, the connection goes back to the pool (a refused
                // delivery must not cost a new connection).
                tx.rollback().await?;
                return Err(error);
            }
        };
        tx.commit().await?;
        let target = Target {
            workspace_id,
            secret,
        };
        self.ingest
            .remember(provider, integration_id, target.clone());
        Ok(target)
    }

    /// Forgets what verifies an integration's webhooks (its secrets changed, or it
    /// is gone): the next delivery reads them again.
    pub(crate) fn forget_webhook_verifier(&self, integration_id: Uuid) {
        self.ingest.forget(integration_id);
    }

    /// Answers a subscription handshake (Meta: `hub.mode=subscribe`,
    /// `hub.verify_token`, `hub.challenge`): the challenge, when the verify token is
    /// the integration's `webhook_verify_token`.
    pub async fn webhook_handshake(
        &self,
        provider: &str,
        integration_id: Uuid,
        query: SubscriptionQuery,
    ) -> Result<String> {
        let (workspace_id, integration, adapter) =
            self.webhook_target(provider, integration_id).await?;
        let spec = adapter
            .spec()
            .webhook
            .clone()
            .ok_or_else(|| no_webhooks(provider))?;
        let Some(field) = spec.verify_token_field else {
            return Err(Error::new(
                ErrorCode::UnsupportedOperation,
                format!("{provider} webhooks have no subscription handshake"),
            ));
        };
        let expected = integration_secret(&self.connections, workspace_id, &integration, field)
            .await?
            .ok_or_else(|| {
                WebhookSetupError::NotConfigured(format!(
                    "the integration has no `{field}`: set it to the verify token entered at the provider"
                ))
            })?;
        match junction_core::webhook::meta::verify_subscription(&query, &expected) {
            Ok(challenge) => Ok(challenge),
            Err(WebhookError::VerifyTokenMismatch) => {
                tracing::warn!(%provider, %integration_id, "webhook handshake with a wrong verify token");
                Err(Error::new(
                    ErrorCode::Forbidden,
                    "the verify token does not match",
                ))
            }
            Err(other) => Err(Error::new(ErrorCode::InvalidRequest, other.to_string())),
        }
    }

    /// The workspace, integration and adapter a webhook URL names.
    async fn webhook_target(
        &self,
        provider: &str,
        integration_id: Uuid,
    ) -> Result<(WorkspaceId, Integration, Arc<dyn Adapter>)> {
        let (adapter, workspace_id, conn) =
            self.webhook_workspace(provider, integration_id).await?;
        let mut tx = Store::begin_on(conn, workspace_id).await?;
        let integration = crate::integration(&mut tx, integration_id).await?;
        tx.commit().await?;
        Ok((workspace_id, integration, adapter))
    }

    /// The adapter and the workspace a webhook URL names (the URL carries no API
    /// key: the workspace is looked up across tenants), with the connection the
    /// lookup used, for the transaction that follows.
    async fn webhook_workspace(
        &self,
        provider: &str,
        integration_id: Uuid,
    ) -> Result<(Arc<dyn Adapter>, WorkspaceId, PooledConn)> {
        let not_found = || Error::not_found(ErrorCode::IntegrationNotFound, "integration");
        let adapter = self.adapter(provider).map_err(|_| not_found())?;
        let mut conn = self.store.unscoped().await?;
        let workspace_id =
            repo::webhook_events::workspace_of_integration(&mut conn, integration_id, provider)
                .await?
                .ok_or_else(not_found)?;
        Ok((adapter, workspace_id, conn))
    }

    /// Stored events of the workspace, newest first.
    pub async fn webhook_events(
        &self,
        workspace_id: WorkspaceId,
        filter: &WebhookEventFilter,
        page: PageRequest<(DateTime<Utc>, Uuid)>,
    ) -> Result<Listed<WebhookEventRow, (DateTime<Utc>, Uuid)>> {
        let mut tx = self.begin(workspace_id).await?;
        crate::filtered_integration(&mut tx, filter.integration_id).await?;
        let rows =
            repo::webhook_events::list(tx.conn(), filter, page.after, page.limit + 1).await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |r| (r.received_at, r.id)))
    }

    /// One stored event.
    pub async fn webhook_event(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<WebhookEventRow> {
        let mut tx = self.begin(workspace_id).await?;
        let row = repo::webhook_events::get(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Processes a stored event again (after a fix, or to rebuild what it changed):
    /// back to `received`, with a job of its own staged in the same transaction.
    pub async fn replay_webhook_event(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<ReplayedEvent> {
        let mut tx = self.begin(workspace_id).await?;
        let row = repo::webhook_events::get(tx.conn(), id).await?;
        if row.status == WebhookStatus::Processing {
            return Err(Error::new(
                ErrorCode::Conflict,
                "the event is being processed; replay it once that ends",
            ));
        }
        let row = repo::webhook_events::reopen(tx.conn(), id).await?;
        let job_id = outbox::stage(tx.conn(), &Job::of_webhook_event(&row)).await?;
        tx.commit().await?;
        Ok(ReplayedEvent { event: row, job_id })
    }

    /// How the integration takes webhooks.
    pub async fn webhook_setup(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
    ) -> Result<WebhookSetup> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, integration_id).await?;
        let stored = repo::credentials::field_names(tx.conn(), integration_id).await?;
        tx.commit().await?;
        self.setup_of(&integration, &stored)
    }

    /// Sets the integration's webhook signing secret and/or handshake verify token
    /// (sealed like every credential; omitted ones stay as they are).
    pub async fn configure_webhook(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        signing_secret: Option<String>,
        verify_token: Option<String>,
    ) -> Result<WebhookSetup> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, integration_id).await?;
        let adapter = self.adapter(&integration.provider)?;
        let spec = adapter.spec();
        let webhook = spec
            .webhook
            .clone()
            .ok_or_else(|| no_webhooks(&integration.provider))?;
        let mut fields = std::collections::BTreeMap::new();
        let mut errors = Vec::new();
        let requested = [
            (
                "signing_secret",
                signing_secret,
                match webhook.secret {
                    WebhookSecret::Field(field) => Some(field),
                    WebhookSecret::AppClientSecret => None,
                },
            ),
            ("verify_token", verify_token, webhook.verify_token_field),
        ];
        for (name, value, field) in requested {
            let Some(value) = value else { continue };
            let Some(field) = field else {
                errors.push(FieldError {
                    field: name.to_owned(),
                    message: format!(
                        "{} webhooks have no such secret to set here",
                        integration.provider
                    ),
                });
                continue;
            };
            // The provider's own rules for the field (e.g. Stripe's `whsec_` prefix),
            // reported under this request's name for it.
            let rules = spec.all_fields().find(|f| f.name == field);
            if let Some(Err(error)) =
                rules.map(|f| f.validate(Some(&serde_json::Value::String(value.clone()))))
            {
                errors.push(FieldError {
                    field: name.to_owned(),
                    message: error.message,
                });
                continue;
            }
            fields.insert(field.to_owned(), SecretString::from(value));
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        repo::credentials::put(
            tx.conn(),
            self.connections.vault(),
            workspace_id,
            integration_id,
            &fields,
        )
        .await?;
        let names: Vec<&String> = fields.keys().collect();
        repo::logs::append(
            tx.conn(),
            NewLog {
                workspace_id,
                integration_id,
                level: LogLevel::Info,
                operation: Operation::Update,
                message: "webhook secrets set",
                details: json!({ "fields": names }),
                run_id: None,
            },
        )
        .await?;
        let stored = repo::credentials::field_names(tx.conn(), integration_id).await?;
        tx.commit().await?;
        self.forget_webhook_verifier(integration_id);
        self.setup_of(&integration, &stored)
    }

    /// The URL Junction gives the provider for an integration's deliveries.
    fn webhook_url(&self, provider: &str, integration_id: Uuid) -> String {
        let base = self.config.public_url.as_str().trim_end_matches('/');
        format!("{base}/webhooks/{provider}/{integration_id}")
    }

    /// `headers` with [`REQUEST_URL_HEADER`] set to the integration's webhook URL
    /// (what HubSpot signs), whatever the sender put there: the URL is Junction's to
    /// say, and stored with the delivery it verifies again as it arrived.
    fn with_webhook_url(
        &self,
        headers: &HeaderMap,
        provider: &str,
        integration_id: Uuid,
    ) -> HeaderMap {
        let mut headers = headers.clone();
        headers.remove(REQUEST_URL_HEADER);
        if let Ok(url) = HeaderValue::from_str(&self.webhook_url(provider, integration_id)) {
            headers.insert(REQUEST_URL_HEADER, url);
        }
        headers
    }

    /// The setup of `integration`, given the names of its stored secret fields.
    fn setup_of(&self, integration: &Integration, stored: &[String]) -> Result<WebhookSetup> {
        let adapter = self.adapter(&integration.provider)?;
        let webhook = adapter
            .spec()
            .webhook
            .clone()
            .ok_or_else(|| no_webhooks(&integration.provider))?;
        let is_stored = |field: &str| stored.iter().any(|name| name == field);
        let (secret_source, secret_set) = match webhook.secret {
            WebhookSecret::Field(field) => ("integration", is_stored(field)),
            WebhookSecret::AppClientSecret => (
                "app_client_secret",
                self.config
                    .provider(&integration.provider)
                    .client_secret
                    .is_some(),
            ),
        };
        let scheme = serde_json::to_value(webhook.scheme)
            .ok()
            .and_then(|v| v.get("scheme").and_then(|s| s.as_str()).map(str::to_owned))
            .unwrap_or_default();
        Ok(WebhookSetup {
            url: self.webhook_url(&integration.provider, integration.id),
            scheme,
            events: webhook.events.iter().map(|e| (*e).to_owned()).collect(),
            secret_source,
            secret_set,
            verify_token_set: webhook.verify_token_field.map(is_stored),
        })
    }

    /// One attempt at one stored event (the webhook queue's job).
    pub async fn apply_webhook_event(&self, job: &WebhookJob) -> Result<(), JobFailure> {
        let Some((row, integration)) = self.begin_webhook_attempt(job).await? else {
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
        let secret = webhook_secret(&self.connections, job.workspace_id, &integration, &spec)
            .await
            .map_err(|error| match error {
                WebhookSetupError::NotConfigured(message) => {
                    JobFailure::permanent(ErrorCode::WebhookNotConfigured, message)
                }
                WebhookSetupError::Connect(error) => connect_failure(&error),
            })?;
        let event = self.verified_event(&*adapter, &provider, &row, &secret)?;
        let ctx = self.context(&provider);
        let effects = self
            .connections
            .call(job.workspace_id, &integration, |connection| {
                let (adapter, ctx, event) = (adapter.clone(), ctx.clone(), event.clone());
                async move { adapter.apply_webhook(&ctx, &connection, &event).await }
            })
            .await
            .map_err(|e| call_failure(&e, self.now()))?;

        let write = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let stats =
                apply_effects(tx.conn(), job.workspace_id, job.integration_id, &effects).await?;
            repo::webhook_events::set_status(tx.conn(), row.id, WebhookStatus::Processed, None)
                .await?;
            let streams = effects
                .records
                .iter()
                .map(|changed| changed.stream.as_str());
            self.emit_webhook_changes(tx.conn(), &row, streams).await?;
            let emails = record_payment_notices(tx.conn(), job, &row, &effects).await?;
            repo::logs::append(
                tx.conn(),
                NewLog {
                    workspace_id: job.workspace_id,
                    integration_id: job.integration_id,
                    level: LogLevel::Info,
                    operation: Operation::Webhook,
                    message: &format!("webhook `{}` processed", row.event_type),
                    details: json!({
                        "webhook_event_id": row.id,
                        "event_id": row.event_id,
                        "records_written": stats.records_written,
                        "kpi_points_written": stats.kpi_points_written,
                        "records_deleted": stats.records_deleted,
                        "addresses_suppressed": stats.addresses_suppressed,
                        "payment_emails": emails,
                    }),
                    run_id: None,
                },
            )
            .await?;
            tx.commit().await
        };
        write.await.map_err(|e| store_failure(&e))?;
        metrics::webhook_processed(&row.provider);
        Ok(())
    }

    /// Loads the event and its integration and marks the attempt; `None` when the
    /// event was processed already (a redelivered task).
    async fn begin_webhook_attempt(
        &self,
        job: &WebhookJob,
    ) -> Result<Option<(WebhookEventRow, Integration)>, JobFailure> {
        let attempt = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
            let row = repo::webhook_events::get(tx.conn(), job.event_row_id).await?;
            if row.status == WebhookStatus::Processed {
                tx.commit().await?;
                return Ok(None);
            }
            let integration = repo::integrations::get(tx.conn(), job.integration_id).await?;
            repo::webhook_events::set_status(tx.conn(), row.id, WebhookStatus::Processing, None)
                .await?;
            tx.commit().await?;
            Ok(Some((row, integration)))
        };
        attempt.await.map_err(|e| store_failure(&e))
    }

    /// Verifies the stored delivery as of its arrival and picks out the event.
    fn verified_event(
        &self,
        adapter: &dyn Adapter,
        provider: &str,
        row: &WebhookEventRow,
        secret: &SecretString,
    ) -> Result<WebhookEvent, JobFailure> {
        let at_arrival = self
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
            .find(|event| storable::sanitize_text(&event.id) == row.event_id)
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

    /// Records where the event stands after a failed attempt, with a log entry at
    /// `log_level` when given (best effort: the job's outcome stands either way).
    pub async fn record_webhook_failure(
        &self,
        job: &WebhookJob,
        status: WebhookStatus,
        failure: &JobFailure,
        log_level: Option<LogLevel>,
    ) {
        let result = async {
            let mut tx = self.store.begin(job.workspace_id).await?;
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

/// Records the payment emails the event asks for (the integration opted in: the
/// adapter only asks when its settings say so), each with its delivery job, in the
/// event's transaction. A dedupe key per integration, event and audience keeps a
/// replayed or redelivered event from mailing anyone twice. Returns how many were
/// new.
async fn record_payment_notices(
    conn: &mut junction_store::Conn,
    job: &WebhookJob,
    row: &WebhookEventRow,
    effects: &junction_core::WebhookEffects,
) -> std::result::Result<usize, junction_store::StoreError> {
    if effects.payment_notices.is_empty() {
        return Ok(0);
    }
    let workspace = repo::workspaces::get(conn, job.workspace_id).await?;
    let mut recorded = 0;
    for notice in &effects.payment_notices {
        let draft = crate::notifications::Draft {
            kind: NotificationKind::PaymentEmail,
            dedupe_key: format!(
                "payment_email:{}:{}:{}",
                job.integration_id, row.event_id, notice.key
            ),
            alert_rule_id: None,
            integration_id: Some(job.integration_id),
            recipients: notice.to.clone(),
            details: serde_json::to_value(notice)
                .map_err(|e| junction_store::StoreError::Invalid(e.to_string()))?,
        };
        let id =
            crate::notifications::record(conn, job.workspace_id, &workspace.name, draft).await?;
        recorded += usize::from(id.is_some());
    }
    Ok(recorded)
}

fn no_webhooks(provider: &str) -> Error {
    Error::new(
        ErrorCode::UnsupportedOperation,
        format!("{provider} does not send webhooks Junction can verify"),
    )
}

/// A refused delivery (never naming the secret or the signature).
fn refused(provider: &str, integration_id: Uuid, error: WebhookError) -> Error {
    metrics::webhook_received(provider, "refused", 1);
    tracing::warn!(%provider, %integration_id, reason = %error, "webhook refused");
    match error {
        WebhookError::Unsupported => no_webhooks(provider),
        // The signature held: the sender has the secret, and the body is what it
        // signed, so this is no forgery but a payload the adapter cannot read.
        WebhookError::InvalidPayload(reason) => Error::new(
            ErrorCode::WebhookPayloadInvalid,
            format!(
                "the delivery's signature holds, but its body is not a {provider} payload: {reason}"
            ),
        ),
        WebhookError::InvalidSecret => Error::new(
            ErrorCode::WebhookNotConfigured,
            "the integration's webhook signing secret is malformed: set it again",
        ),
        other => Error::new(
            ErrorCode::WebhookSignatureInvalid,
            format!("webhook refused: {other}"),
        ),
    }
}

/// The secret `integration`'s webhooks are signed with, per its provider's spec.
pub async fn webhook_secret(
    connections: &Connections,
    workspace_id: WorkspaceId,
    integration: &Integration,
    spec: &WebhookSpec,
) -> Result<SecretString, WebhookSetupError> {
    let mut tx = connections
        .store
        .begin(workspace_id)
        .await
        .map_err(ConnectError::from)?;
    let secret = webhook_secret_in(tx.conn(), connections, integration, spec).await;
    tx.commit().await.map_err(ConnectError::from)?;
    secret
}

/// [`webhook_secret`] within the caller's transaction of the integration's workspace.
async fn webhook_secret_in(
    conn: &mut junction_store::Conn,
    connections: &Connections,
    integration: &Integration,
    spec: &WebhookSpec,
) -> Result<SecretString, WebhookSetupError> {
    match spec.secret {
        WebhookSecret::Field(field) => integration_secret_in(conn, connections, integration, field)
            .await?
            .ok_or_else(|| {
                WebhookSetupError::NotConfigured(format!(
                    "the integration has no `{field}`: set the provider's webhook signing secret on it first"
                ))
            }),
        WebhookSecret::AppClientSecret => connections
            .config
            .provider(&integration.provider)
            .client_secret
            .ok_or_else(|| {
                WebhookSetupError::NotConfigured(format!(
                    "the {} app secret is not configured (it signs the webhooks)",
                    integration.provider
                ))
            }),
    }
}

/// One opened secret field of an integration.
async fn integration_secret(
    connections: &Connections,
    workspace_id: WorkspaceId,
    integration: &Integration,
    field: &str,
) -> Result<Option<SecretString>, ConnectError> {
    let mut tx = connections.store.begin(workspace_id).await?;
    let secret = integration_secret_in(tx.conn(), connections, integration, field).await?;
    tx.commit().await?;
    Ok(secret)
}

/// [`integration_secret`] within the caller's transaction.
async fn integration_secret_in(
    conn: &mut junction_store::Conn,
    connections: &Connections,
    integration: &Integration,
    field: &str,
) -> Result<Option<SecretString>, ConnectError> {
    let mut secrets = repo::credentials::get_all(conn, connections.vault(), integration.id).await?;
    Ok(secrets.remove(field))
}

/// A delivery's headers as stored: a JSON object of lower-case names to values
/// (repeated headers joined with `, `, as HTTP allows), credentials left out, values
/// that are not visible ASCII dropped.
pub fn headers_to_json(headers: &HeaderMap) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for name in headers.keys() {
        if UNSTORED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !values.is_empty() {
            out.insert(
                name.as_str().to_owned(),
                serde_json::Value::String(values.join(", ")),
            );
        }
    }
    serde_json::Value::Object(out)
}

/// The stored headers back as a header map (entries that are not valid headers are
/// skipped: verification then fails on them like on a missing header).
pub fn headers_from_json(stored: &serde_json::Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(object) = stored.as_object() {
        for (name, value) in object {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                headers.insert(name, value);
            }
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_without_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert("Stripe-Signature", HeaderValue::from_static("t=1,v1=ab"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        headers.insert("authorization", HeaderValue::from_static("Bearer nope"));
        let stored = headers_to_json(&headers);
        assert_eq!(
            stored,
            serde_json::json!({"stripe-signature": "t=1,v1=ab", "x-multi": "a, b"})
        );
        let back = headers_from_json(&stored);
        assert_eq!(back.get("stripe-signature").unwrap(), "t=1,v1=ab");
        assert!(back.get("authorization").is_none());
    }
}

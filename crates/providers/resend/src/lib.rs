//! junction-resend: the Resend provider.
//!
//! Connections authorize with a Resend API key (`Authorization: Bearer re_...`, Full
//! access). [`Resend`] checks a connection by listing its sending domains, and syncs
//! three streams:
//! - `emails` (`GET /emails`): the emails the team sent, with their delivery status
//!   (`last_event`), re-read for three days so late bounces and complaints land;
//! - `domains` (`GET /domains`): sending domains and their verification status;
//! - `email_metrics` (`GET /emails/metrics`, daily, UTC): Resend's own daily totals,
//!   the source of the KPIs `emails_sent`, `emails_delivered`, `emails_bounced`,
//!   `emails_complained`, `emails_opened` and `emails_clicked`.
//!
//! Actions: `send_email` (`POST /emails`), `send_batch` (`POST /emails/batch`, up to
//! 100) — both pass Junction's idempotency key as Resend's `Idempotency-Key` — and
//! `get_email` (`GET /emails/{id}`, the delivery status of one email).
//!
//! Webhooks are Svix-signed; [`Adapter::verify_webhook`] checks them with the
//! connection's `whsec_` secret and [`Adapter::apply_webhook`] turns email events
//! into status updates of `emails` records and into suppressions (bounces,
//! complaints), so Junction never mails those addresses again.
//!
//! Resend is an [`EmailSender`]: Junction's own emails (rendered by the application
//! layer) go out through it as `send_email`.
//!
//! The Resend API is described as data for the provider toolkit — the host, the key
//! as `Authorization: Bearer`, the `User-Agent` Resend's edge insists on, the error
//! table by Resend's error names, the cursor paging of its lists — and the toolkit's
//! `Client` runs it; the streams and actions are data files (`streams.json`,
//! `actions.json`). What stays here is Resend's own: the domains that label a
//! connection, the horizon of an `emails` pass, the daily metrics as KPIs, what an
//! email must be beyond its schema, and what each webhook event changes.
//!
//! With the `sandbox` feature, [`sandbox::ResendFake`] serves a fake of the same
//! endpoints for demo mode and tests.

mod actions;
mod api;
mod spec;
mod streams;
mod webhooks;
mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, EmailSender, Health, OutgoingEmail,
    Page, ProxyTarget, ReadRequest, WebhookEffects,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};
use junction_toolkit::{data, data::Fields, webhook::verify_delivery};
use secrecy::SecretString;
use serde_json::{Value, json};

// The descriptions the conformance suite replays.
pub use api::API;
pub use spec::{
    API_KEY_PATTERN, DEFAULT_BASE, DEFAULT_LOOKBACK_DAYS, DOMAINS, EMAIL_METRICS, EMAILS,
    GET_EMAIL, MAX_BATCH, MAX_IDEMPOTENCY_KEY_CHARS, MAX_LOOKBACK_DAYS, MAX_RECIPIENTS, METRICS,
    PROVIDER_ID, SEND_BATCH, SEND_EMAIL, WEBHOOK_EVENTS,
};
pub use streams::PAGING;
pub use webhooks::{
    REASON_BOUNCE, REASON_COMPLAINT, REASON_SUPPRESSED, UNKNOWN_EVENT, normalize_address,
};

/// The Resend adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resend;

#[async_trait]
impl Adapter for Resend {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// Lists the team's domains (the first 20: [`API`]'s verification): it proves the
    /// key (and that it has Full access, which the streams need) and shows which
    /// domains can send.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let list: Value = api::client(ctx, conn)?.verify().await?;
        let fields = Fields::new(&list, "Resend sent a domain list");
        let data = fields
            .list("data")?
            .ok_or_else(|| fields.malformed("data", "is missing"))?;
        let domains: Vec<Value> = data
            .iter()
            .map(|d| json!({"name": d["name"], "status": d["status"], "region": d["region"]}))
            .collect();
        let verified: Vec<&str> = data
            .iter()
            .filter(|domain| domain["status"] == "verified")
            .filter_map(|domain| domain["name"].as_str())
            .collect();
        let account = match verified.as_slice() {
            [] => "Resend (no verified sending domain)".to_owned(),
            [one] => format!("Resend ({one})"),
            [first, rest @ ..] => format!("Resend ({first} and {} more)", rest.len()),
        };
        if verified.is_empty() {
            tracing::info!(
                provider = PROVIDER_ID,
                "Resend account has no verified domain: it can only send test emails to its owner"
            );
        }
        Ok(Health {
            account: Some(account),
            details: json!({
                "domains": domains,
                "verified_domains": verified.len(),
                "has_more_domains": list["has_more"] == true,
            }),
        })
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        // An unknown stream is refused before anything else is looked at.
        let stream = data::stream(self.spec(), request)?.name;
        let client = api::client(ctx, conn)?;
        let size = streams::PAGING.size.pick(request.page_size);
        let cursor = request.cursor.as_ref();
        match stream {
            EMAILS | DOMAINS => streams::read_list(&client, conn, stream, cursor, size).await,
            _ => streams::read_email_metrics(&client, conn, cursor).await,
        }
    }

    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        match action {
            SEND_EMAIL => actions::send_email(ctx, conn, input, idempotency_key).await,
            SEND_BATCH => actions::send_batch(ctx, conn, input, idempotency_key).await,
            GET_EMAIL => actions::get_email(ctx, conn, input).await,
            other => Err(AdapterError::unknown_action(self.spec().name, other)),
        }
    }

    /// Verifies the Svix signature with the connection's `whsec_` secret (the
    /// spec's scheme), then parses the event.
    fn verify_webhook(
        &self,
        ctx: &Context,
        secret: &SecretString,
        request: &WebhookRequest<'_>,
    ) -> Result<Vec<WebhookEvent>, WebhookError> {
        verify_delivery(self.spec(), ctx, secret, request, webhooks::parse)
    }

    /// Pure: the effects come from the event alone, so a redelivered or replayed
    /// event has the same effects.
    async fn apply_webhook(
        &self,
        _ctx: &Context,
        _conn: &Connection,
        event: &WebhookEvent,
    ) -> Result<WebhookEffects, AdapterError> {
        webhooks::effects(event)
    }

    /// Resend's API root, or the context's override, with the API key as
    /// `Authorization: Bearer`. The proxied request needs a `User-Agent` of its own
    /// (Resend's edge refuses none).
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, conn)?.proxy_target()
    }

    fn email_sender(&self) -> Option<&dyn EmailSender> {
        Some(self)
    }
}

/// Junction's own emails go out as the `send_email` action: the connection's default
/// sender, the notification's key as `Idempotency-Key` (Resend sends once per key for
/// 24 hours), the category as a tag.
#[async_trait]
impl EmailSender for Resend {
    async fn send_email(
        &self,
        ctx: &Context,
        conn: &Connection,
        email: &OutgoingEmail,
        idempotency_key: &str,
    ) -> Result<ActionOutcome, AdapterError> {
        actions::send_email(ctx, conn, &email_input(email), Some(idempotency_key)).await
    }
}

/// The `send_email` input of an outgoing email.
fn email_input(email: &OutgoingEmail) -> Value {
    json!({
        "to": email.to,
        "subject": email.subject,
        "html": email.html,
        "text": email.text,
        "tags": [{"name": "category", "value": email.category}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outgoing_email_is_a_valid_send_email_input() {
        let outgoing = OutgoingEmail {
            to: vec!["ops@acme.example".to_owned(), "cto@acme.example".to_owned()],
            subject: "Sessions below 100".into(),
            html: "<p>Sessions</p>".into(),
            text: "Sessions".into(),
            category: "kpi_alert".into(),
        };
        let input = email_input(&outgoing);
        let body = actions::checked_email(&input, Some("j@acme.example"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["subject"], json!("Sessions below 100"));
        assert_eq!(body["to"], json!(["ops@acme.example", "cto@acme.example"]));
        assert_eq!(
            body["tags"],
            json!([{"name": "category", "value": "kpi_alert"}])
        );
    }
}

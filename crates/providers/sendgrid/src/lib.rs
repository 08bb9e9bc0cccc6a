//! junction_sendgrid: the Twilio SendGrid provider.
//!
//! Connections authorize with a SendGrid API key (`Authorization: Bearer SG....`) on
//! the global host or, for EU regional subusers, `api.eu.sendgrid.com` (the
//! `region` setting). [`Sendgrid::check`] reads the key's scopes (`GET /v3/scopes`)
//! and names the features the missing ones switch off.
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the [`ProviderSpec`]: auth, settings, the ECDSA webhook scheme, the request budget; streams and actions are data (`streams.json`, `actions.json`) |
//! | [`api`] | the HTTP API as data: regional host, auth, scopes as verification, offset paging, the error table |
//! | `stats` | `global_stats` and `category_stats`: daily statistics as records and KPI points |
//! | `marketing` | `lists` and `contacts` (through an export job), and job polling |
//! | `suppressions` | the four suppression lists as one stream |
//! | `actions` | `send_mail`, `upsert_contacts`, `add_to_list` |
//! | `webhooks` | Event Webhook events as `messages` records and suppressions |
//! | `sandbox` | (feature `sandbox`) the fake the sandbox serves and the conformance suite runs against |
//!
//! SendGrid is an [`EmailSender`]: Junction's own emails go out through it as
//! `send_mail`.

mod actions;
pub mod api;
mod marketing;
pub mod spec;
mod stats;
mod suppressions;
mod webhooks;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, EmailSender, Health, OutgoingEmail,
    Page, ProxyTarget, ReadRequest, WebhookEffects,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};
use junction_toolkit::{data, data::Fields};
use secrecy::SecretString;
use serde_json::{Value, json};

pub use actions::{IDEMPOTENCY_ARG, MAX_SCHEDULE_HOURS};
pub use api::{API, OFFSET_PAGING};
pub use marketing::LIST_PAGE_SIZE;
pub use spec::{
    ADD_TO_LIST, CATEGORY_STATS, CONTACTS, GLOBAL_STATS, LISTS, MESSAGES, PROVIDER_ID, RATIOS,
    SEND_MAIL, STATS, SUPPRESSIONS, UPSERT_CONTACTS, WEBHOOK_EVENTS,
};
pub use stats::CATEGORIES_PER_REQUEST;
pub use webhooks::{
    REASON_BOUNCE, REASON_COMPLAINT, REASON_INVALID, REASON_UNSUBSCRIBE, message_id,
};

/// The scopes each feature needs, and the feature's name in the check's report.
pub const FEATURE_SCOPES: [(&str, &[&str]); 5] = [
    ("send_mail", &["mail.send"]),
    ("global_stats", &["stats.read"]),
    (
        "category_stats",
        &["categories.stats.read", "categories.read"],
    ),
    (
        "suppressions",
        &[
            "suppression.bounces.read",
            "suppression.blocks.read",
            "suppression.spam_reports.read",
            "suppression.unsubscribes.read",
        ],
    ),
    ("marketing", &["marketing.read", "marketing.write"]),
];

/// The SendGrid adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sendgrid;

#[async_trait]
impl Adapter for Sendgrid {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// Reads the key's scopes (`GET /v3/scopes`): it proves the key, and says which
    /// features the key can serve. Missing scopes do not fail the check (a
    /// send-only key is a fine email sender); they are reported per feature.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let answer: Value = api::client(ctx, conn)?.verify().await?;
        let fields = Fields::new(&answer, "SendGrid sent the key's scopes");
        let scopes: Vec<&str> = fields
            .list("scopes")?
            .ok_or_else(|| fields.malformed("scopes", "is missing"))?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let (features, missing) = scope_report(&scopes);
        let available = FEATURE_SCOPES
            .iter()
            .filter(|(feature, _)| features[*feature]["available"] == true)
            .count();
        let region = spec::REGION.read(conn)?;
        let account = if missing.is_empty() {
            format!("SendGrid ({region}, every feature)")
        } else {
            format!(
                "SendGrid ({region}, {available} of {} features)",
                FEATURE_SCOPES.len()
            )
        };
        Ok(Health {
            account: Some(account),
            details: json!({
                "region": region,
                "scope_count": scopes.len(),
                "features": features,
                "missing_scopes": missing,
            }),
        })
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let stream = data::stream(self.spec(), request)?.name;
        let client = api::client(ctx, conn)?;
        let cursor = request.cursor.as_ref();
        match stream {
            GLOBAL_STATS => stats::read_global(&client, conn, cursor).await,
            CATEGORY_STATS => stats::read_categories(&client, conn, cursor).await,
            LISTS => marketing::read_lists(&client, cursor).await,
            CONTACTS => marketing::read_contacts(&client, cursor).await,
            SUPPRESSIONS => suppressions::read(&client, conn, cursor, request.page_size).await,
            // Fed by the Event Webhook: SendGrid has no message list without its
            // paid Email Activity add-on.
            _ => Ok(Page {
                records: Vec::new(),
                kpis: Vec::new(),
                next_cursor: None,
                has_more: false,
            }),
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
            SEND_MAIL => actions::send_mail(ctx, conn, input, idempotency_key).await,
            UPSERT_CONTACTS => actions::upsert_contacts(ctx, conn, input).await,
            ADD_TO_LIST => actions::add_to_list(ctx, conn, input).await,
            other => Err(AdapterError::unknown_action(self.spec().name, other)),
        }
    }

    /// Verifies the ECDSA signature with the account's public key (the spec's
    /// scheme), then parses the events.
    fn verify_webhook(
        &self,
        ctx: &Context,
        secret: &SecretString,
        request: &WebhookRequest<'_>,
    ) -> Result<Vec<WebhookEvent>, WebhookError> {
        junction_toolkit::webhook::verify(self.spec(), ctx, secret, request, webhooks::parse)
    }

    /// Pure: the effects come from the event alone, so a redelivered event has the
    /// same effects.
    async fn apply_webhook(
        &self,
        _ctx: &Context,
        _conn: &Connection,
        event: &WebhookEvent,
    ) -> Result<WebhookEffects, AdapterError> {
        webhooks::effects(event)
    }

    /// The region's API root (or the context's override) with the API key.
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

/// Each feature with whether the key can serve it, and the scopes missing.
fn scope_report(scopes: &[&str]) -> (Value, Vec<&'static str>) {
    let mut features = serde_json::Map::new();
    let mut missing = Vec::new();
    for (feature, needs) in FEATURE_SCOPES {
        let lacking: Vec<&str> = needs
            .iter()
            .copied()
            .filter(|s| !scopes.contains(s))
            .collect();
        features.insert(
            feature.to_owned(),
            json!({"available": lacking.is_empty(), "missing_scopes": lacking}),
        );
        missing.extend(lacking);
    }
    (Value::Object(features), missing)
}

/// Junction's own emails go out as `send_mail`: the connection's default sender,
/// the notification's key in `custom_args`, its category as a SendGrid category.
#[async_trait]
impl EmailSender for Sendgrid {
    async fn send_email(
        &self,
        ctx: &Context,
        conn: &Connection,
        email: &OutgoingEmail,
        idempotency_key: &str,
    ) -> Result<ActionOutcome, AdapterError> {
        actions::send_mail(ctx, conn, &email_input(email), Some(idempotency_key)).await
    }
}

/// The `send_mail` input of an outgoing email: one personalization per recipient,
/// so recipients do not see each other.
fn email_input(email: &OutgoingEmail) -> Value {
    let personalizations: Vec<Value> = email.to.iter().map(|to| json!({"to": [to]})).collect();
    json!({
        "personalizations": personalizations,
        "subject": email.subject,
        "text": email.text,
        "html": email.html,
        "categories": [email.category],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_reported_per_feature() {
        let (features, missing) = scope_report(&["mail.send", "stats.read"]);
        assert_eq!(features["send_mail"]["available"], true);
        assert_eq!(features["global_stats"]["available"], true);
        assert_eq!(features["marketing"]["available"], false);
        assert!(missing.contains(&"marketing.write") && !missing.contains(&"mail.send"));
        let all: Vec<&str> = FEATURE_SCOPES
            .iter()
            .flat_map(|(_, s)| s.iter().copied())
            .collect();
        assert!(scope_report(&all).1.is_empty());
    }

    #[test]
    fn an_outgoing_email_is_a_valid_send_mail_input() {
        let email = OutgoingEmail {
            to: vec!["ops@acme.example".into(), "cto@acme.example".into()],
            subject: "Sessions below 100".into(),
            html: "<p>Sessions</p>".into(),
            text: "Sessions".into(),
            category: "kpi_alert".into(),
        };
        let ctx = Context::new(reqwest::Client::new());
        let body = actions::mail_body(
            &email_input(&email),
            Some("Junction <j@acme.example>"),
            Some("k1"),
            &ctx,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            body,
            json!({
                "personalizations": [{"to": [{"email": "ops@acme.example"}]}, {"to": [{"email": "cto@acme.example"}]}],
                "from": {"email": "j@acme.example", "name": "Junction"},
                "subject": "Sessions below 100",
                "categories": ["kpi_alert"],
                "content": [{"type": "text/plain", "value": "Sessions"}, {"type": "text/html", "value": "<p>Sessions</p>"}],
                "custom_args": {"junction_idempotency_key": "k1"}
            })
        );
    }
}

//! Webhook deliveries as Resend makes them: the event body `{"type", "created_at",
//! "data"}` signed with Svix under the sandbox's secret. The sandbox uses these to
//! replay the delivery events of emails sent through the fake into Junction's
//! webhook ingress; tests use them to exercise `verify_webhook`.

use chrono::{DateTime, SecondsFormat, Utc};
use junction_core::webhook::{WebhookError, svix};
use junction_toolkit::fake::merged;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{
    credentials::SANDBOX_WEBHOOK_SECRET,
    data::{SEED, uuid_from},
};

/// A signed webhook delivery: the headers and the raw body to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    /// `content-type`, `svix-id`, `svix-timestamp` and `svix-signature`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SignedWebhook {
    /// The headers as an [`http::HeaderMap`].
    pub fn header_map(&self) -> http::HeaderMap {
        self.headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    http::HeaderName::from_bytes(name.as_bytes()).ok()?,
                    http::HeaderValue::from_str(value).ok()?,
                ))
            })
            .collect()
    }

    /// The Svix message id (Junction's event id).
    pub fn message_id(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(name, _)| name == svix::ID_HEADER)
            .map(|(_, value)| value.as_str())
    }
}

/// Signs `event` as Svix delivers it for message `msg_id` at `timestamp` (unix
/// seconds), under `secret` (the sandbox's is [`SANDBOX_WEBHOOK_SECRET`]).
pub fn sign_event(
    event: &Value,
    msg_id: &str,
    timestamp: i64,
    secret: &SecretString,
) -> Result<SignedWebhook, WebhookError> {
    let body = event.to_string().into_bytes();
    let signature = svix::sign(secret, msg_id, timestamp, &body)?;
    Ok(SignedWebhook {
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (svix::ID_HEADER.into(), msg_id.to_owned()),
            (svix::TIMESTAMP_HEADER.into(), timestamp.to_string()),
            (svix::SIGNATURE_HEADER.into(), signature),
        ],
        body,
    })
}

/// The event Resend sends about `email` (a `GET /emails/{id}` object) when
/// `event_type` happens at `at`. Bounces carry a permanent bounce, suppressions the
/// reason Resend gives when it refuses a suppressed address.
pub fn email_event(event_type: &str, email: &Value, at: DateTime<Utc>) -> Value {
    let time = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let field = |name: &str| email.get(name).cloned().unwrap_or(Value::Null);
    let created_at = email
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(crate::wire::parse_timestamp)
        .unwrap_or(at);
    let data = json!({
        "email_id": field("id"), "created_at": time(created_at), "from": field("from"),
        "to": field("to"), "subject": field("subject"),
    });
    // Bounces carry a permanent bounce, suppressions the reason Resend gives.
    let data = merged(data, SEED.at(&format!("/events/{event_type}")).clone());
    json!({"type": event_type, "created_at": time(at), "data": data})
}

/// Signs the event of `email` under the sandbox's secret, with a message id derived
/// from the email and the event (so the same event always has the same id, as a
/// redelivery by Svix does).
pub fn signed_email_event(
    event_type: &str,
    email: &Value,
    at: DateTime<Utc>,
) -> Result<SignedWebhook, WebhookError> {
    let email_id = email.get("id").and_then(Value::as_str).unwrap_or_default();
    let msg_id = format!(
        "msg_{}",
        uuid_from(&format!("resend-sandbox/webhook/{email_id}/{event_type}")).replace('-', "")
    );
    let event = email_event(event_type, email, at);
    sign_event(
        &event,
        &msg_id,
        at.timestamp(),
        &SecretString::from(SANDBOX_WEBHOOK_SECRET),
    )
}

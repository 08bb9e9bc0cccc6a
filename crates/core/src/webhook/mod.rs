//! Inbound webhook signature schemes. (Being written.)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A received webhook as the verifier sees it: raw headers and the raw body, exactly
/// as they arrived (signatures cover the raw bytes).
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// One event parsed out of a verified webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The provider's event id (deduplication key).
    pub id: String,
    /// The provider's event type, e.g. `charge.refunded`.
    pub event_type: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub payload: serde_json::Value,
}

/// Why a webhook was refused. Messages never contain the secret or the signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("malformed header {0}")]
    MalformedHeader(&'static str),
    #[error("no signature matches")]
    SignatureMismatch,
    #[error("timestamp outside the tolerance")]
    StaleTimestamp,
    #[error("the webhook secret is malformed")]
    InvalidSecret,
    #[error("the payload could not be parsed: {0}")]
    InvalidPayload(String),
    #[error("this provider does not send webhooks")]
    Unsupported,
}

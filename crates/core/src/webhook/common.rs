//! What every webhook signature scheme shares: the request and event types, the
//! [`WebhookError`] they refuse with, and the header, HMAC and timestamp helpers the
//! scheme modules ([`super::stripe`], [`super::svix`], [`super::meta`]) build on. The
//! `webhook` module re-exports the types.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ring::hmac;
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
    /// A subscription handshake (Meta's GET verification) lacks a query parameter.
    #[error("missing query parameter {0}")]
    MissingParameter(&'static str),
    /// A subscription handshake query parameter has an unexpected value.
    #[error("unexpected value of query parameter {0}")]
    InvalidParameter(&'static str),
    /// The verify token of a subscription handshake is not the one configured.
    #[error("the verify token does not match")]
    VerifyTokenMismatch,
}

/// A required header as text: absent is `MissingHeader`, non-visible-ASCII is
/// `MalformedHeader` (every scheme here sends ASCII).
pub(crate) fn header<'a>(
    headers: &'a http::HeaderMap,
    name: &'static str,
) -> Result<&'a str, WebhookError> {
    headers
        .get(name)
        .ok_or(WebhookError::MissingHeader(name))?
        .to_str()
        .map(str::trim)
        .map_err(|_| WebhookError::MalformedHeader(name))
}

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    context.sign()
}

/// Whether any of `candidates` is the HMAC-SHA256 of `parts` under `key`, each
/// compared in constant time. Every candidate is checked (no early exit), so the
/// time taken does not reveal which one matched.
pub(crate) fn any_signature_matches<'a>(
    key: &[u8],
    parts: &[&[u8]],
    candidates: impl IntoIterator<Item = &'a [u8]>,
) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let message: Vec<u8> = parts.concat();
    candidates.into_iter().fold(false, |matched, candidate| {
        hmac::verify(&key, &message, candidate).is_ok() | matched
    })
}

/// Whether `timestamp` (unix seconds) is within `tolerance` of `now`, in either
/// direction: a signature from the future is as suspect as an old one.
pub(crate) fn within_tolerance(timestamp: i64, now: DateTime<Utc>, tolerance: Duration) -> bool {
    // i128 so that no timestamp a header can carry overflows the difference.
    let skew = (i128::from(now.timestamp()) - i128::from(timestamp)).unsigned_abs();
    skew <= u128::from(tolerance.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_symmetric_and_inclusive() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap();
        let tolerance = Duration::from_secs(300);
        assert!(within_tolerance(700, now, tolerance));
        assert!(within_tolerance(1_300, now, tolerance));
        assert!(!within_tolerance(699, now, tolerance));
        assert!(!within_tolerance(1_301, now, tolerance));
        assert!(!within_tolerance(i64::MIN, now, tolerance));
        assert!(!within_tolerance(i64::MAX, now, tolerance));
    }

    #[test]
    fn any_signature_matches_checks_every_candidate() {
        let tag = hmac_sha256(b"key", &[b"a", b"b"]);
        let good = tag.as_ref();
        let bad = [0u8; 32];
        assert!(any_signature_matches(b"key", &[b"ab"], [&bad[..], good]));
        assert!(any_signature_matches(
            b"key",
            &[b"a", b"b"],
            [good, &bad[..]]
        ));
        assert!(!any_signature_matches(b"key", &[b"ab"], [&bad[..]]));
        assert!(!any_signature_matches(b"key", &[b"ab"], []));
    }
}

//! Inbound webhook signature schemes: Stripe, Svix / Standard Webhooks and Meta.
//!
//! A webhook is trusted only after its signature over the raw body holds; nothing is
//! parsed before that. Every comparison of a signature or token is constant time
//! (`ring::hmac::verify`), so response timing tells an attacker nothing about how
//! close a forgery came. Errors name what was wrong (a missing header, a stale
//! timestamp) but never contain the secret, the expected signature or the received one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ring::hmac;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::spec::WebhookScheme;

pub mod meta;
pub mod stripe;
pub mod svix;

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

/// Verifies `request` under `scheme` with the connection's webhook secret, at `now`.
///
/// Header names: `Stripe-Signature` (Stripe), `svix-id` / `svix-timestamp` /
/// `svix-signature` or their `webhook-*` Standard Webhooks twins (Svix), and
/// `X-Hub-Signature-256` (Meta). Meta signatures carry no timestamp, so replay
/// protection there rests on the event-id deduplication downstream.
pub fn verify(
    scheme: WebhookScheme,
    secret: &SecretString,
    request: &WebhookRequest<'_>,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    match scheme {
        WebhookScheme::Stripe { tolerance_secs } => {
            let header = header(request.headers, stripe::SIGNATURE_HEADER)?;
            stripe::verify(
                secret,
                header,
                request.body,
                now,
                Duration::from_secs(tolerance_secs),
            )
        }
        WebhookScheme::Svix { tolerance_secs } => svix::verify(
            secret,
            request.headers,
            request.body,
            now,
            Duration::from_secs(tolerance_secs),
        ),
        WebhookScheme::MetaHubSignature256 => meta::verify(secret, request.headers, request.body),
    }
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
    use http::{HeaderMap, HeaderValue};

    fn secret(s: &str) -> SecretString {
        SecretString::from(s)
    }

    #[test]
    fn dispatches_on_the_scheme() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let body = br#"{"id":"evt_1"}"#;

        let stripe_secret = secret("whsec_stripe");
        let mut headers = HeaderMap::new();
        headers.insert(
            "Stripe-Signature",
            HeaderValue::from_str(&stripe::sign(&stripe_secret, body, now.timestamp())).unwrap(),
        );
        let request = WebhookRequest {
            headers: &headers,
            body,
        };
        let scheme = WebhookScheme::Stripe {
            tolerance_secs: 300,
        };
        assert_eq!(verify(scheme, &stripe_secret, &request, now), Ok(()));
        assert_eq!(
            verify(scheme, &secret("whsec_other"), &request, now),
            Err(WebhookError::SignatureMismatch)
        );

        let svix_secret = secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let mut headers = HeaderMap::new();
        headers.insert("svix-id", HeaderValue::from_static("msg_1"));
        headers.insert("svix-timestamp", HeaderValue::from(now.timestamp()));
        headers.insert(
            "svix-signature",
            HeaderValue::from_str(
                &svix::sign(&svix_secret, "msg_1", now.timestamp(), body).unwrap(),
            )
            .unwrap(),
        );
        let request = WebhookRequest {
            headers: &headers,
            body,
        };
        let scheme = WebhookScheme::Svix {
            tolerance_secs: 300,
        };
        assert_eq!(verify(scheme, &svix_secret, &request, now), Ok(()));

        let meta_secret = secret("app-secret");
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-Hub-Signature-256",
            HeaderValue::from_str(&meta::sign(&meta_secret, body)).unwrap(),
        );
        let request = WebhookRequest {
            headers: &headers,
            body,
        };
        assert_eq!(
            verify(
                WebhookScheme::MetaHubSignature256,
                &meta_secret,
                &request,
                now
            ),
            Ok(())
        );

        let empty = HeaderMap::new();
        let request = WebhookRequest {
            headers: &empty,
            body,
        };
        assert_eq!(
            verify(
                WebhookScheme::MetaHubSignature256,
                &meta_secret,
                &request,
                now
            ),
            Err(WebhookError::MissingHeader(meta::SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(
                WebhookScheme::Stripe {
                    tolerance_secs: 300
                },
                &stripe_secret,
                &request,
                now
            ),
            Err(WebhookError::MissingHeader(stripe::SIGNATURE_HEADER))
        );
    }

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

//! Inbound webhook signature schemes: Stripe, Svix / Standard Webhooks, Meta and
//! HubSpot (v3), and SendGrid's signed Event Webhook (ECDSA).
//!
//! A webhook is trusted only after its signature over the raw body holds; nothing is
//! parsed before that. Every comparison of a signature or token is constant time
//! (`ring::hmac::verify`), so response timing tells an attacker nothing about how
//! close a forgery came. Errors name what was wrong (a missing header, a stale
//! timestamp) but never contain the secret, the expected signature or the received one.
//!
//! This module is the façade: it re-exports the types every scheme shares (they live,
//! with the scheme modules' helpers, in a private `common` module) and dispatches
//! [`verify`] to the scheme modules.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use crate::spec::WebhookScheme;

mod common;
pub mod hubspot;
pub mod meta;
pub mod sendgrid;
pub mod stripe;
pub mod svix;

use common::header;
pub use common::{WebhookError, WebhookEvent, WebhookRequest};

/// The header Junction's ingress sets on every delivery it receives to the URL it
/// gave the provider (`{public URL}/webhooks/{provider}/{integration}`), replacing
/// any header of that name the sender put there: schemes that sign the URL
/// (HubSpot's v3) read it here, and the stored delivery keeps it for verifying again.
pub const REQUEST_URL_HEADER: &str = "x-junction-webhook-url";

/// Verifies `request` under `scheme` with the connection's webhook secret, at `now`.
///
/// Header names: `Stripe-Signature` (Stripe), `svix-id` / `svix-timestamp` /
/// `svix-signature` or their `webhook-*` Standard Webhooks twins (Svix), and
/// `X-Hub-Signature-256` (Meta), `X-HubSpot-Signature-v3` and
/// `X-HubSpot-Request-Timestamp` with the URL in [`REQUEST_URL_HEADER`] (HubSpot),
/// `X-Twilio-Email-Event-Webhook-Signature` / `-Timestamp` (SendGrid, where the
/// secret is the account's public key). Meta signatures carry no timestamp, so replay
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
        WebhookScheme::HubSpotV3 { tolerance_secs } => hubspot::verify(
            secret,
            request.headers,
            hubspot::METHOD,
            header(request.headers, REQUEST_URL_HEADER)?,
            request.body,
            now,
            Duration::from_secs(tolerance_secs),
        ),
        WebhookScheme::SendgridEcdsa { tolerance_secs } => sendgrid::verify(
            secret,
            request.headers,
            request.body,
            now,
            Duration::from_secs(tolerance_secs),
        ),
    }
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
}

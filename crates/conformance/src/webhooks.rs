//! The webhook checks: the official signature vectors verify through the toolkit's
//! dispatch from the spec's scheme, and tampered copies are refused.

use std::sync::Arc;

use chrono::DateTime;
use http::{HeaderMap, HeaderName, HeaderValue};
use junction_core::{
    Adapter, Context, FixedClock,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};
use junction_toolkit::webhook::verify;
use secrecy::SecretString;

use crate::{
    common::{Failure, failure},
    vectors::{Delivery, SignatureVector},
};

/// A context whose clock reads `at` (unix seconds).
fn at(seconds: i64) -> Context {
    let now = DateTime::from_timestamp(seconds, 0).unwrap_or_default();
    Context::new(reqwest::Client::new()).with_clock(Arc::new(FixedClock(now)))
}

fn headers(delivery: &Delivery) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in &delivery.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        map.insert(name, value);
    }
    Ok(map)
}

/// `body` with its last byte changed.
fn tampered(body: &[u8]) -> Vec<u8> {
    let mut copy = body.to_vec();
    match copy.last_mut() {
        Some(last) => *last ^= 0x01,
        None => copy.push(b' '),
    }
    copy
}

/// Verifies `body` through the toolkit: the parser reports whether it ran and on
/// what.
fn through_toolkit(
    spec: &ProviderSpec,
    ctx: &Context,
    secret: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
) -> (Result<Vec<WebhookEvent>, WebhookError>, Option<Vec<u8>>) {
    let mut parsed = None;
    let request = WebhookRequest { headers, body };
    let result = verify(spec, ctx, secret, &request, |verified| {
        parsed = Some(verified.to_vec());
        Ok(Vec::new())
    });
    (result, parsed)
}

/// Whether a refusal is about the signature, not the payload.
fn refuses_signature(error: &WebhookError) -> bool {
    !matches!(error, WebhookError::InvalidPayload(_))
}

/// Checks `spec`'s webhook scheme against `vectors` (see the crate docs); the number
/// of vectors verified.
pub(crate) fn vectors(
    spec: &ProviderSpec,
    adapter: Option<&dyn Adapter>,
    vectors: &[SignatureVector],
) -> Result<usize, Failure> {
    let Some(webhook) = &spec.webhook else {
        return match vectors.first() {
            Some(vector) => Err(failure(
                "webhooks",
                format!(
                    "the vector `{}` was given, but the spec declares no webhooks",
                    vector.entry
                ),
            )),
            None => Ok(0),
        };
    };
    if vectors.is_empty() {
        return Err(failure(
            "webhooks",
            format!(
                "the spec declares webhooks signed with {:?}: give the description the \
                 provider's official signature vectors (Description::webhook_vector)",
                webhook.scheme
            ),
        ));
    }
    for vector in vectors {
        let check = format!(
            "webhooks: the vector `{}` under the spec's {:?}",
            vector.entry, webhook.scheme
        );
        let delivery = vector.delivery().map_err(|e| failure(&check, e))?;
        let headers = headers(&delivery).map_err(|e| failure(&check, e))?;
        let secret = SecretString::from(delivery.secret.clone());
        let body = delivery.body.as_bytes();
        let signed_at = delivery.timestamp.unwrap_or(1_800_000_000);
        let ctx = at(signed_at);
        match through_toolkit(spec, &ctx, &secret, &headers, body) {
            (Ok(_), Some(parsed)) if parsed == body => {}
            (Ok(_), _) => {
                return Err(failure(
                    &check,
                    "verified, but the parser did not get the delivery's body",
                ));
            }
            (Err(error), _) => {
                return Err(failure(
                    &check,
                    format!("the official vector does not verify: {error}"),
                ));
            }
        }
        let forged = tampered(body);
        match through_toolkit(spec, &ctx, &secret, &headers, &forged) {
            (Err(WebhookError::SignatureMismatch), None) => {}
            (result, parsed) => {
                return Err(failure(
                    &check,
                    format!(
                        "a tampered body must be refused as SignatureMismatch before parsing; \
                         got {result:?}{}",
                        if parsed.is_some() {
                            " after the parser ran"
                        } else {
                            ""
                        }
                    ),
                ));
            }
        }
        if let (Some(tolerance), Some(signed)) = (delivery.tolerance_secs, delivery.timestamp) {
            let tolerance = i64::try_from(tolerance).unwrap_or(i64::MAX / 2);
            let late = at(signed.saturating_add(tolerance).saturating_sub(1));
            if let (Err(error), _) = through_toolkit(spec, &late, &secret, &headers, body) {
                return Err(failure(
                    &check,
                    format!(
                        "{}s after signing, within the provider's documented {tolerance}s, the \
                         delivery is refused: {error}",
                        tolerance - 1
                    ),
                ));
            }
            let stale = at(signed.saturating_add(tolerance).saturating_add(1));
            match through_toolkit(spec, &stale, &secret, &headers, body) {
                (Err(WebhookError::StaleTimestamp), _) => {}
                (result, _) => {
                    return Err(failure(
                        &check,
                        format!(
                            "{}s after signing, past the provider's documented {tolerance}s, the \
                             delivery must be StaleTimestamp; got {result:?}",
                            tolerance + 1
                        ),
                    ));
                }
            }
        }
        if let Some(adapter) = adapter {
            let request = WebhookRequest {
                headers: &headers,
                body: &forged,
            };
            match adapter.verify_webhook(&ctx, &secret, &request) {
                Err(WebhookError::SignatureMismatch) => {}
                other => {
                    return Err(failure(
                        &check,
                        format!(
                            "the adapter's verify_webhook must refuse a tampered body as \
                             SignatureMismatch; got {other:?}"
                        ),
                    ));
                }
            }
            let request = WebhookRequest {
                headers: &headers,
                body,
            };
            if let Err(error) = adapter.verify_webhook(&ctx, &secret, &request)
                && refuses_signature(&error)
            {
                return Err(failure(
                    &check,
                    format!("the adapter's verify_webhook refuses the official vector: {error}"),
                ));
            }
        }
    }
    Ok(vectors.len())
}

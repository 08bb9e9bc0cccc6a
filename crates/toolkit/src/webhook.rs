//! Webhook verification dispatched from the spec: the scheme its [`WebhookSpec`]
//! names checks the signature, and only then does the adapter's parser see the body.
//!
//! [`WebhookSpec`]: junction_core::WebhookSpec

use http::HeaderMap;
use junction_core::{
    Context,
    spec::{ProviderSpec, WebhookScheme},
    webhook::{WebhookError, WebhookEvent, WebhookRequest, svix},
};
use ring::digest;
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Verifies `request` with the scheme `spec` declares (at `ctx.now()`, which the
/// worker pins to a delivery's arrival), then parses the verified body with `parse`.
/// A provider without webhooks answers [`WebhookError::Unsupported`].
pub fn verify(
    spec: &ProviderSpec,
    ctx: &Context,
    secret: &SecretString,
    request: &WebhookRequest<'_>,
    parse: impl FnOnce(&[u8]) -> Result<Vec<WebhookEvent>, WebhookError>,
) -> Result<Vec<WebhookEvent>, WebhookError> {
    let scheme = spec
        .webhook
        .as_ref()
        .map(|webhook| webhook.scheme)
        .ok_or(WebhookError::Unsupported)?;
    junction_core::webhook::verify(scheme, secret, request, ctx.now())?;
    parse(request.body)
}

/// A verified delivery, as a parser that needs more than the body sees it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The raw body, as signed.
    pub body: &'a [u8],
    pub headers: &'a HeaderMap,
    /// The message id the scheme signed along with the body, when it signs one
    /// (see [`message_id`]).
    pub message_id: Option<&'a str>,
}

/// [`verify`] for parsers that need the delivery's headers or the message id the
/// scheme signed (Svix's `svix-id`: Resend's events carry no id of their own).
pub fn verify_delivery(
    spec: &ProviderSpec,
    ctx: &Context,
    secret: &SecretString,
    request: &WebhookRequest<'_>,
    parse: impl FnOnce(&Delivery<'_>) -> Result<Vec<WebhookEvent>, WebhookError>,
) -> Result<Vec<WebhookEvent>, WebhookError> {
    let scheme = spec
        .webhook
        .as_ref()
        .map(|webhook| webhook.scheme)
        .ok_or(WebhookError::Unsupported)?;
    junction_core::webhook::verify(scheme, secret, request, ctx.now())?;
    parse(&Delivery {
        body: request.body,
        headers: request.headers,
        message_id: message_id(scheme, request.headers),
    })
}

/// The message id `scheme` signs with each delivery, non-empty and trimmed: Svix's
/// `svix-id` (else its Standard Webhooks twin `webhook-id`), the same across the
/// retries of one message, so deduplicating on it makes a redelivery a no-op.
/// Stripe, Meta, HubSpot and SendGrid sign none (Stripe's and SendGrid's event ids are in the body).
pub fn message_id(scheme: WebhookScheme, headers: &HeaderMap) -> Option<&str> {
    let names: &[&str] = match scheme {
        WebhookScheme::Svix { .. } => &[svix::ID_HEADER, svix::STANDARD_ID_HEADER],
        WebhookScheme::Stripe { .. }
        | WebhookScheme::MetaHubSignature256
        | WebhookScheme::HubSpotV3 { .. }
        | WebhookScheme::SendgridEcdsa { .. } => &[],
    };
    names
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty())
}

/// A verified body read as `T`; otherwise `InvalidPayload` saying it is not `what`
/// and where reading stopped, never serde's message (which could quote the body).
pub fn json<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, WebhookError> {
    serde_json::from_slice(body).map_err(|err| {
        WebhookError::InvalidPayload(format!(
            "not {what} (line {}, column {})",
            err.line(),
            err.column()
        ))
    })
}

/// A stable event id for providers that send none: `prefix` and the hex SHA-256 of
/// the parts, each length-prefixed so `a|bc` and `ab|c` cannot collide. A
/// redelivery of the same content gets the same id (and is deduplicated); different
/// content gets a different one.
pub fn derived_id(prefix: &str, parts: &[&str]) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    format!("{prefix}{}", hex::encode(context.finish().as_ref()))
}

/// `value` with every object's keys sorted, whatever map order serde_json uses, so
/// its text can go into a [`derived_id`].
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let sorted: Map<String, Value> = keys
                .into_iter()
                .filter_map(|key| Some((key.clone(), canonical(map.get(key)?))))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};
    use junction_core::{WebhookScheme, WebhookSecret, WebhookSpec, webhook::meta};

    fn parse(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
        Ok(vec![WebhookEvent {
            id: String::from_utf8_lossy(body).into_owned(),
            event_type: "t".into(),
            occurred_at: None,
            payload: serde_json::Value::Null,
        }])
    }

    #[test]
    fn bodies_that_do_not_parse_are_not_quoted() {
        let read: Value = json(br#"{"type": "email.sent"}"#, "JSON").unwrap();
        assert_eq!(read["type"], "email.sent");
        assert_eq!(
            json::<Value>(b"{\"secret\": \"s3cret", "JSON"),
            Err(WebhookError::InvalidPayload(
                "not JSON (line 1, column 18)".into()
            ))
        );
        let err = json::<Vec<u8>>(br#"{"password": "hunter2"}"#, "a list").unwrap_err();
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }

    #[test]
    fn derived_ids_are_stable_and_unambiguous() {
        let a = derived_id("x_", &["a", "bc"]);
        assert_eq!(a, derived_id("x_", &["a", "bc"]));
        assert_ne!(a, derived_id("x_", &["ab", "c"]));
        assert!(a.starts_with("x_") && a.len() == 2 + 64);
        let one: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[{"f":1,"e":2}],"c":0}}"#).unwrap();
        let two: Value =
            serde_json::from_str(r#"{"a":{"c":0,"d":[{"e":2,"f":1}]},"b":1}"#).unwrap();
        assert_eq!(canonical(&one).to_string(), canonical(&two).to_string());
        assert_eq!(
            canonical(&one).to_string(),
            r#"{"a":{"c":0,"d":[{"e":2,"f":1}]},"b":1}"#
        );
    }

    #[test]
    fn deliveries_carry_the_signed_message_id() {
        let mut spec = crate::testing::oauth_spec();
        spec.webhook = Some(WebhookSpec {
            scheme: WebhookScheme::Svix {
                tolerance_secs: svix::DEFAULT_TOLERANCE_SECS,
            },
            events: vec![],
            secret: WebhookSecret::Field("webhook_secret"),
            verify_token_field: None,
        });
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let ctx = Context::new(reqwest::Client::new())
            .with_clock(std::sync::Arc::new(junction_core::FixedClock(now)));
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = br#"{"type":"email.sent"}"#;
        let signature = svix::sign(&secret, "msg_1", now.timestamp(), body).unwrap();
        // Under the Standard Webhooks names, the id is read all the same.
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("webhook-id", "msg_1".to_owned()),
            ("webhook-timestamp", now.timestamp().to_string()),
            ("webhook-signature", signature),
        ] {
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        let request = WebhookRequest {
            headers: &headers,
            body,
        };
        let events = verify_delivery(&spec, &ctx, &secret, &request, |delivery| {
            assert_eq!(delivery.body, body);
            parse(delivery.message_id.unwrap_or_default().as_bytes())
        })
        .unwrap();
        assert_eq!(events[0].id, "msg_1");
        let forged = SecretString::from("whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldA==");
        assert_eq!(
            verify_delivery(&spec, &ctx, &forged, &request, |_| panic!(
                "parsed before verifying"
            )),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            message_id(WebhookScheme::MetaHubSignature256, &headers),
            None
        );
        headers.insert("svix-id", HeaderValue::from_static("  "));
        assert_eq!(message_id(spec.webhook.unwrap().scheme, &headers), None);
    }

    #[test]
    fn the_spec_scheme_verifies_before_parsing() {
        let mut spec = crate::testing::oauth_spec();
        let ctx = Context::new(reqwest::Client::new());
        let secret = SecretString::from("app-secret");
        let body = b"evt";
        let mut headers = HeaderMap::new();
        headers.insert(
            "X-Hub-Signature-256",
            HeaderValue::from_str(&meta::sign(&secret, body)).unwrap(),
        );
        let request = WebhookRequest {
            headers: &headers,
            body,
        };
        assert_eq!(
            verify(&spec, &ctx, &secret, &request, parse),
            Err(WebhookError::Unsupported)
        );
        spec.webhook = Some(WebhookSpec {
            scheme: WebhookScheme::MetaHubSignature256,
            events: vec![],
            secret: WebhookSecret::AppClientSecret,
            verify_token_field: None,
        });
        assert_eq!(
            verify(&spec, &ctx, &secret, &request, parse).unwrap()[0].id,
            "evt"
        );
        let forged = SecretString::from("other");
        assert_eq!(
            verify(&spec, &ctx, &forged, &request, |_| panic!(
                "parsed before verifying"
            )),
            Err(WebhookError::SignatureMismatch)
        );
    }
}

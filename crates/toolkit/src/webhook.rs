//! Webhook verification dispatched from the spec: the scheme its [`WebhookSpec`]
//! names checks the signature, and only then does the adapter's parser see the body.
//!
//! [`WebhookSpec`]: junction_core::WebhookSpec

use junction_core::{
    Context,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};
use ring::digest;
use secrecy::SecretString;
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

//! Webhook verification dispatched from the spec: the scheme its [`WebhookSpec`]
//! names checks the signature, and only then does the adapter's parser see the body.
//!
//! [`WebhookSpec`]: junction_core::WebhookSpec

use junction_core::{
    Context,
    spec::ProviderSpec,
    webhook::{WebhookError, WebhookEvent, WebhookRequest},
};
use secrecy::SecretString;

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

//! What the webhook ingress (API) and the webhook queue (worker) share: where an
//! integration's webhook secrets come from, and how a delivery's headers are kept in
//! `webhook_events` and read back.
//!
//! The worker verifies a stored delivery again before applying it (with the clock
//! pinned to its arrival, so the timestamp tolerance still holds): a row changed in the
//! database after it was received is refused like a forged delivery.

use http::{HeaderMap, HeaderName, HeaderValue};
use junction_core::{WebhookSecret, WebhookSpec, WorkspaceId};
use junction_store::{models::Integration, repo};
use secrecy::SecretString;

use crate::{ConnectError, Connections};

/// Headers never stored with a delivery: credentials a misconfigured sender might
/// attach, which no signature scheme needs.
const UNSTORED_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Why an integration cannot take webhooks yet.
#[derive(Debug, thiserror::Error)]
pub enum WebhookSetupError {
    /// The secret the provider signs with is not configured.
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

impl Connections {
    /// The secret `integration`'s webhooks are signed with, per its provider's spec.
    pub async fn webhook_secret(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        spec: &WebhookSpec,
    ) -> Result<SecretString, WebhookSetupError> {
        match spec.secret {
            WebhookSecret::Field(field) => self
                .integration_secret(workspace_id, integration, field)
                .await?
                .ok_or_else(|| {
                    WebhookSetupError::NotConfigured(format!(
                        "the integration has no `{field}`: set the provider's webhook signing secret on it first"
                    ))
                }),
            WebhookSecret::AppClientSecret => self
                .config
                .provider(&integration.provider)
                .client_secret
                .ok_or_else(|| {
                    WebhookSetupError::NotConfigured(format!(
                        "the {} app secret is not configured (it signs the webhooks)",
                        integration.provider
                    ))
                }),
        }
    }

    /// The verify token of a subscription handshake (Meta's `hub.verify_token`), when
    /// the provider has one and the integration sets it.
    pub async fn webhook_verify_token(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        spec: &WebhookSpec,
    ) -> Result<SecretString, WebhookSetupError> {
        let Some(field) = spec.verify_token_field else {
            return Err(WebhookSetupError::NotConfigured(
                "this provider has no subscription handshake".to_owned(),
            ));
        };
        self.integration_secret(workspace_id, integration, field)
            .await?
            .ok_or_else(|| {
                WebhookSetupError::NotConfigured(format!(
                    "the integration has no `{field}`: set it to the verify token entered at the provider"
                ))
            })
    }

    /// One opened secret field of an integration.
    async fn integration_secret(
        &self,
        workspace_id: WorkspaceId,
        integration: &Integration,
        field: &str,
    ) -> Result<Option<SecretString>, ConnectError> {
        let mut tx = self.store.begin(workspace_id).await?;
        let mut secrets =
            repo::credentials::get_all(tx.conn(), self.vault(), integration.id).await?;
        tx.commit().await?;
        Ok(secrets.remove(field))
    }
}

/// A delivery's headers as stored: a JSON object of lower-case names to values
/// (repeated headers joined with `, `, as HTTP allows), credentials left out, values
/// that are not visible ASCII dropped.
pub fn headers_to_json(headers: &HeaderMap) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for name in headers.keys() {
        if UNSTORED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !values.is_empty() {
            out.insert(
                name.as_str().to_owned(),
                serde_json::Value::String(values.join(", ")),
            );
        }
    }
    serde_json::Value::Object(out)
}

/// The stored headers back as a header map (entries that are not valid headers are
/// skipped: verification then fails on them like on a missing header).
pub fn headers_from_json(stored: &serde_json::Value) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(object) = stored.as_object() {
        for (name, value) in object {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) {
                headers.insert(name, value);
            }
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_without_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert("Stripe-Signature", HeaderValue::from_static("t=1,v1=ab"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        headers.insert("authorization", HeaderValue::from_static("Bearer nope"));
        let stored = headers_to_json(&headers);
        assert_eq!(
            stored,
            serde_json::json!({"stripe-signature": "t=1,v1=ab", "x-multi": "a, b"})
        );
        let back = headers_from_json(&stored);
        assert_eq!(back.get("stripe-signature").unwrap(), "t=1,v1=ab");
        assert!(back.get("authorization").is_none());
    }
}

//! Meta (Facebook, Instagram, WhatsApp) webhooks: the `X-Hub-Signature-256` POST
//! signature and the GET subscription handshake.
//!
//! A POST carries `X-Hub-Signature-256: sha256=<hex>` where the hex is
//! HMAC-SHA256(app secret as UTF-8 bytes, raw body). There is no timestamp, so replays
//! are stopped by event-id deduplication downstream. When a subscription is set up,
//! Meta first sends `GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`
//! and expects the challenge echoed back when the verify token is ours.

use http::HeaderMap;
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::common::{WebhookError, any_signature_matches, header, hmac_sha256};

/// The header Meta signs with.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The only `hub.mode` Meta's handshake uses.
const SUBSCRIBE_MODE: &str = "subscribe";

/// Verifies a Meta webhook POST: `MissingHeader` without `X-Hub-Signature-256`,
/// `MalformedHeader` when it is not `sha256=<hex>`, `SignatureMismatch` otherwise
/// unless the HMAC of the raw body under the app secret matches.
pub fn verify(
    app_secret: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    let value = header(headers, SIGNATURE_HEADER)?;
    let malformed = || WebhookError::MalformedHeader(SIGNATURE_HEADER);
    let hex_signature = value.strip_prefix("sha256=").ok_or_else(malformed)?;
    let signature = hex::decode(hex_signature.trim()).map_err(|_| malformed())?;
    let key = app_secret.expose_secret().as_bytes();
    if any_signature_matches(key, &[body], [signature.as_slice()]) {
        Ok(())
    } else {
        Err(WebhookError::SignatureMismatch)
    }
}

/// The `X-Hub-Signature-256` value Meta would send for `body`: `sha256=<hex>`.
pub fn sign(app_secret: &SecretString, body: &[u8]) -> String {
    let tag = hmac_sha256(app_secret.expose_secret().as_bytes(), &[body]);
    format!("sha256={}", hex::encode(tag.as_ref()))
}

/// The query of Meta's GET subscription handshake. Deserializes straight from a
/// query string (`hub.mode`, `hub.verify_token`, `hub.challenge`), e.g. with a web
/// framework's query extractor, or with [`SubscriptionQuery::parse`].
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SubscriptionQuery {
    #[serde(rename = "hub.mode")]
    pub mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    pub verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
}

impl std::fmt::Debug for SubscriptionQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The verify token is a shared secret: only whether it was sent is shown.
        f.debug_struct("SubscriptionQuery")
            .field("mode", &self.mode)
            .field(
                "verify_token",
                &self.verify_token.as_ref().map(|_| "<redacted>"),
            )
            .field("challenge", &self.challenge)
            .finish()
    }
}

impl SubscriptionQuery {
    /// Reads the handshake parameters from a raw (percent-encoded) query string.
    pub fn parse(query: &str) -> Self {
        let mut parsed = Self::default();
        for (name, value) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let slot = match name.as_ref() {
                "hub.mode" => &mut parsed.mode,
                "hub.verify_token" => &mut parsed.verify_token,
                "hub.challenge" => &mut parsed.challenge,
                _ => continue,
            };
            // The first occurrence wins, as most query parsers do.
            if slot.is_none() {
                *slot = Some(value.into_owned());
            }
        }
        parsed
    }
}

/// Answers Meta's GET handshake: returns the challenge to echo back when `hub.mode`
/// is `subscribe` and `hub.verify_token` equals `expected_verify_token` (compared in
/// constant time). Fails with `MissingParameter`, `InvalidParameter("hub.mode")` or
/// `VerifyTokenMismatch`.
pub fn verify_subscription(
    query: &SubscriptionQuery,
    expected_verify_token: &SecretString,
) -> Result<String, WebhookError> {
    let mode = query
        .mode
        .as_deref()
        .ok_or(WebhookError::MissingParameter("hub.mode"))?;
    let token = query
        .verify_token
        .as_deref()
        .ok_or(WebhookError::MissingParameter("hub.verify_token"))?;
    let challenge = query
        .challenge
        .as_deref()
        .ok_or(WebhookError::MissingParameter("hub.challenge"))?;
    if mode != SUBSCRIBE_MODE {
        return Err(WebhookError::InvalidParameter("hub.mode"));
    }
    if !tokens_equal(token, expected_verify_token.expose_secret()) {
        return Err(WebhookError::VerifyTokenMismatch);
    }
    Ok(challenge.to_owned())
}

/// Constant-time equality of two tokens of any length: both are MACed under a fixed
/// key and the tags compared with `hmac::verify`, so neither the content nor the
/// length of the expected token shows in the timing. The key needs no secrecy; it
/// only makes the comparison a fixed-size constant-time one.
fn tokens_equal(received: &str, expected: &str) -> bool {
    const COMPARE_KEY: &[u8] = b"junction meta verify-token comparison";
    let tag = hmac_sha256(COMPARE_KEY, &[expected.as_bytes()]);
    let key = hmac::Key::new(hmac::HMAC_SHA256, COMPARE_KEY);
    hmac::verify(&key, received.as_bytes(), tag.as_ref()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn secret() -> SecretString {
        SecretString::from("app-secret")
    }

    fn with_header(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(SIGNATURE_HEADER, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn upper_case_hex_is_accepted() {
        let signed = sign(&secret(), b"{}")
            .to_uppercase()
            .replacen("SHA256=", "sha256=", 1);
        assert_eq!(verify(&secret(), &with_header(&signed), b"{}"), Ok(()));
    }

    #[test]
    fn malformed_signatures() {
        let malformed = Err(WebhookError::MalformedHeader(SIGNATURE_HEADER));
        assert_eq!(verify(&secret(), &with_header("sha1=00"), b"{}"), malformed);
        assert_eq!(
            verify(&secret(), &with_header("sha256=xyz"), b"{}"),
            malformed
        );
        assert_eq!(
            verify(&secret(), &with_header("sha256=00"), b"{}"),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn subscription_handshake() {
        let expected = SecretString::from("meatyhamhock");
        let query = SubscriptionQuery::parse(
            "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock",
        );
        assert_eq!(
            verify_subscription(&query, &expected),
            Ok("1158201444".to_owned())
        );

        let wrong = SubscriptionQuery {
            verify_token: Some("meatyhamhoc".into()),
            ..query.clone()
        };
        assert_eq!(
            verify_subscription(&wrong, &expected),
            Err(WebhookError::VerifyTokenMismatch)
        );
        let longer = SubscriptionQuery {
            verify_token: Some("meatyhamhockk".into()),
            ..query.clone()
        };
        assert_eq!(
            verify_subscription(&longer, &expected),
            Err(WebhookError::VerifyTokenMismatch)
        );

        let unsubscribe = SubscriptionQuery {
            mode: Some("unsubscribe".into()),
            ..query.clone()
        };
        assert_eq!(
            verify_subscription(&unsubscribe, &expected),
            Err(WebhookError::InvalidParameter("hub.mode"))
        );
        for (missing, name) in [
            (
                SubscriptionQuery {
                    mode: None,
                    ..query.clone()
                },
                "hub.mode",
            ),
            (
                SubscriptionQuery {
                    verify_token: None,
                    ..query.clone()
                },
                "hub.verify_token",
            ),
            (
                SubscriptionQuery {
                    challenge: None,
                    ..query.clone()
                },
                "hub.challenge",
            ),
        ] {
            assert_eq!(
                verify_subscription(&missing, &expected),
                Err(WebhookError::MissingParameter(name))
            );
        }
    }

    #[test]
    fn the_query_deserializes_and_hides_the_token() {
        let query: SubscriptionQuery = serde_json::from_value(serde_json::json!({
            "hub.mode": "subscribe", "hub.verify_token": "TOPSECRET", "hub.challenge": "42"
        }))
        .unwrap();
        assert_eq!(
            query,
            SubscriptionQuery::parse(
                "hub.mode=subscribe&hub.verify_token=TOPSECRET&hub.challenge=42"
            )
        );
        let shown = format!("{query:?}");
        assert!(!shown.contains("TOPSECRET"), "{shown}");
        let wrong = SubscriptionQuery {
            verify_token: Some("TOPSECRET".into()),
            ..query
        };
        let err = verify_subscription(&wrong, &SecretString::from("other")).unwrap_err();
        assert!(!err.to_string().contains("TOPSECRET"));
    }
}

//! Svix / Standard Webhooks signatures (Resend and other Svix customers).
//!
//! Headers `svix-id`, `svix-timestamp`, `svix-signature` (or `webhook-id`,
//! `webhook-timestamp`, `webhook-signature` under the Standard Webhooks names). The
//! signature is HMAC-SHA256 over `{id}.{timestamp}.{raw body}`, keyed with the
//! base64-decoded secret (the part after `whsec_`). The signature header is a
//! space-separated list of `v1,<base64>` entries, one per active secret; any may
//! match and other versions (such as asymmetric `v1a`) are ignored.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};

use super::common::{WebhookError, any_signature_matches, header, hmac_sha256, within_tolerance};

/// Svix's header names, tried first.
pub const ID_HEADER: &str = "svix-id";
pub const TIMESTAMP_HEADER: &str = "svix-timestamp";
pub const SIGNATURE_HEADER: &str = "svix-signature";

/// The Standard Webhooks names of the same headers.
pub const STANDARD_ID_HEADER: &str = "webhook-id";
pub const STANDARD_TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const STANDARD_SIGNATURE_HEADER: &str = "webhook-signature";

/// Svix's default tolerance, in seconds.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The prefix Svix puts before the base64 key.
const SECRET_PREFIX: &str = "whsec_";

/// Verifies a Svix / Standard Webhooks request at `now`.
///
/// `MissingHeader` names the Svix header when neither name of it is present;
/// `InvalidSecret` when the secret is not base64; `MalformedHeader` for a
/// non-numeric timestamp or an empty signature header; `SignatureMismatch` when no
/// `v1` entry matches; `StaleTimestamp` when the timestamp is more than `tolerance`
/// away from `now` in either direction.
pub fn verify(
    secret: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let id = either_header(headers, ID_HEADER, STANDARD_ID_HEADER)?;
    let timestamp = either_header(headers, TIMESTAMP_HEADER, STANDARD_TIMESTAMP_HEADER)?;
    let signature_header = either_header(headers, SIGNATURE_HEADER, STANDARD_SIGNATURE_HEADER)?;
    let key = decode_secret(secret)?;

    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| WebhookError::MalformedHeader(TIMESTAMP_HEADER))?;
    if signature_header.is_empty() {
        return Err(WebhookError::MalformedHeader(SIGNATURE_HEADER));
    }
    let signatures: Vec<Vec<u8>> = signature_header
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        // An entry that is not base64 cannot match; the others still may.
        .filter_map(|(_, signature)| STANDARD.decode(signature).ok())
        .collect();
    let parts: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
    if !any_signature_matches(&key, &parts, signatures.iter().map(Vec::as_slice)) {
        return Err(WebhookError::SignatureMismatch);
    }
    if !within_tolerance(seconds, now, tolerance) {
        return Err(WebhookError::StaleTimestamp);
    }
    Ok(())
}

/// Signs `body` as Svix would for message `msg_id` at `timestamp` (unix seconds),
/// returning the signature header value `v1,<base64>`. Used by sandboxes and tests.
/// Fails only with `InvalidSecret` when the secret is not base64.
pub fn sign(
    secret: &SecretString,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, WebhookError> {
    let key = decode_secret(secret)?;
    let t = timestamp.to_string();
    let tag = hmac_sha256(&key, &[msg_id.as_bytes(), b".", t.as_bytes(), b".", body]);
    Ok(format!("v1,{}", STANDARD.encode(tag.as_ref())))
}

/// The HMAC key: the base64 after the optional `whsec_` prefix.
fn decode_secret(secret: &SecretString) -> Result<Vec<u8>, WebhookError> {
    let text = secret.expose_secret();
    let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
    STANDARD
        .decode(encoded.trim())
        .map_err(|_| WebhookError::InvalidSecret)
}

/// The Svix header, else its Standard Webhooks twin; a missing one is reported under
/// the Svix name.
fn either_header<'a>(
    headers: &'a HeaderMap,
    svix: &'static str,
    standard: &'static str,
) -> Result<&'a str, WebhookError> {
    match header(headers, svix) {
        Err(WebhookError::MissingHeader(_)) => header(headers, standard).map_err(|err| match err {
            WebhookError::MissingHeader(_) => WebhookError::MissingHeader(svix),
            other => other,
        }),
        found => found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn headers(names: [&'static str; 3], id: &str, ts: &str, sig: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(names[0], HeaderValue::from_str(id).unwrap());
        map.insert(names[1], HeaderValue::from_str(ts).unwrap());
        map.insert(names[2], HeaderValue::from_str(sig).unwrap());
        map
    }

    #[test]
    fn standard_webhooks_names_are_accepted() {
        let secret = SecretString::from(SECRET);
        let sig = sign(&secret, "msg_1", 100, b"{}").unwrap();
        let map = headers(
            [
                STANDARD_ID_HEADER,
                STANDARD_TIMESTAMP_HEADER,
                STANDARD_SIGNATURE_HEADER,
            ],
            "msg_1",
            "100",
            &sig,
        );
        assert_eq!(
            verify(&secret, &map, b"{}", at(100), Duration::from_secs(300)),
            Ok(())
        );
    }

    #[test]
    fn a_secret_without_prefix_is_the_same_key() {
        let with = SecretString::from(SECRET);
        let without = SecretString::from(SECRET.trim_start_matches("whsec_"));
        assert_eq!(sign(&with, "m", 1, b"x"), sign(&without, "m", 1, b"x"));
    }

    #[test]
    fn a_secret_that_is_not_base64_is_invalid() {
        let secret = SecretString::from("whsec_not base64!!");
        assert_eq!(
            sign(&secret, "m", 1, b"x"),
            Err(WebhookError::InvalidSecret)
        );
        let map = headers(
            [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER],
            "m",
            "1",
            "v1,AAAA",
        );
        assert_eq!(
            verify(&secret, &map, b"x", at(1), Duration::from_secs(300)),
            Err(WebhookError::InvalidSecret)
        );
    }

    #[test]
    fn other_versions_and_garbage_entries_are_ignored() {
        let secret = SecretString::from(SECRET);
        let sig = sign(&secret, "m", 1, b"x").unwrap();
        let list = format!("v1a,AAAA v2,{} v1,!!! {sig}", &sig[3..]);
        let map = headers(
            [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER],
            "m",
            "1",
            &list,
        );
        assert_eq!(
            verify(&secret, &map, b"x", at(1), Duration::from_secs(300)),
            Ok(())
        );
        let only_other = format!("v2,{}", &sig[3..]);
        let map = headers(
            [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER],
            "m",
            "1",
            &only_other,
        );
        assert_eq!(
            verify(&secret, &map, b"x", at(1), Duration::from_secs(300)),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn malformed_timestamp_and_empty_signature() {
        let secret = SecretString::from(SECRET);
        let map = headers(
            [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER],
            "m",
            "soon",
            "v1,AAAA",
        );
        assert_eq!(
            verify(&secret, &map, b"x", at(1), Duration::from_secs(300)),
            Err(WebhookError::MalformedHeader(TIMESTAMP_HEADER))
        );
        let map = headers(
            [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER],
            "m",
            "1",
            "",
        );
        assert_eq!(
            verify(&secret, &map, b"x", at(1), Duration::from_secs(300)),
            Err(WebhookError::MalformedHeader(SIGNATURE_HEADER))
        );
    }
}

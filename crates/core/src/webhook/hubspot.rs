//! HubSpot webhook signatures, version 3: `X-HubSpot-Signature-v3` is the standard
//! base64 of HMAC-SHA256, keyed with the app's client secret, over
//! `{method}{uri}{body}{timestamp}` — no separators — where the timestamp is
//! `X-HubSpot-Request-Timestamp` (Unix epoch milliseconds, used as sent) and the URI
//! is the full URL HubSpot called, scheme, host, path and query.
//!
//! The URL a delivery was sent to is not in the request as a provider sees it behind
//! proxies; Junction's ingress writes the URL it gave the provider into
//! [`super::REQUEST_URL_HEADER`] (replacing anything a sender put there), so the
//! stored delivery keeps it and verifies again later. HubSpot's docs ask to decode a
//! few percent-escapes of the URI before hashing ([`DECODED_ESCAPES`]); Junction's
//! webhook URLs have none, but a URL an operator typed with a query may.
//!
//! HubSpot asks receivers to refuse timestamps older than five minutes
//! ([`DEFAULT_TOLERANCE_SECS`]); the check is symmetric, as for every scheme here, and
//! comes after the signature, so only a genuine delivery learns it was late. Older
//! signature versions (v1: SHA-256 of secret and body, v2: of secret, method, URI and
//! body, neither with a timestamp) are refused: HubSpot sends v3 with every webhook
//! delivery, and a signature without a time could be replayed forever.

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::common::{WebhookError, any_signature_matches, header, hmac_sha256, within_tolerance};

/// The header carrying the v3 signature.
pub const SIGNATURE_HEADER: &str = "X-HubSpot-Signature-v3";

/// The header carrying the signed time, in Unix epoch milliseconds.
pub const TIMESTAMP_HEADER: &str = "X-HubSpot-Request-Timestamp";

/// HubSpot's window: a delivery signed more than five minutes away is refused.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The method HubSpot's webhook deliveries use (the first part of the signed text).
pub const METHOD: &str = "POST";

/// The percent-escapes HubSpot decodes in the URI before signing, and what each
/// stands for (the table of HubSpot's "validating requests" page).
pub const DECODED_ESCAPES: [(&str, &str); 12] = [
    ("%3A", ":"),
    ("%2F", "/"),
    ("%3F", "?"),
    ("%40", "@"),
    ("%21", "!"),
    ("%24", "$"),
    ("%27", "'"),
    ("%28", "("),
    ("%29", ")"),
    ("%2A", "*"),
    ("%2C", ","),
    ("%3B", ";"),
];

/// `uri` as HubSpot signs it: the escapes of [`DECODED_ESCAPES`] decoded (either
/// case of hex digits), everything else as it is.
pub fn signed_uri(uri: &str) -> String {
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3);
        match escape.and_then(|escape| {
            DECODED_ESCAPES
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(escape))
        }) {
            Some((_, decoded)) => {
                out.push_str(decoded);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Verifies a delivery's v3 signature over `method`, `uri`, `body` and the
/// timestamp header at `now`.
///
/// `MissingHeader` / `MalformedHeader` when a header is absent or the timestamp is no
/// number; `SignatureMismatch` when the signature is not the HMAC of the delivery
/// (undecodable base64 included); `StaleTimestamp` when a genuine signature is older
/// (or newer) than `tolerance`.
pub fn verify(
    secret: &SecretString,
    headers: &http::HeaderMap,
    method: &str,
    uri: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let signature = header(headers, SIGNATURE_HEADER)?;
    let timestamp = header(headers, TIMESTAMP_HEADER)?;
    let millis: i64 = timestamp
        .parse()
        .map_err(|_| WebhookError::MalformedHeader(TIMESTAMP_HEADER))?;
    let candidate = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .unwrap_or_default();
    let uri = signed_uri(uri);
    let parts: [&[u8]; 4] = [
        method.as_bytes(),
        uri.as_bytes(),
        body,
        timestamp.as_bytes(),
    ];
    let key = secret.expose_secret().as_bytes();
    if !any_signature_matches(key, &parts, [candidate.as_slice()]) {
        return Err(WebhookError::SignatureMismatch);
    }
    if !within_tolerance(millis.div_euclid(1000), now, tolerance) {
        return Err(WebhookError::StaleTimestamp);
    }
    Ok(())
}

/// The `X-HubSpot-Signature-v3` value HubSpot would send for a delivery at
/// `timestamp_ms`. Used by sandboxes and tests.
pub fn sign(
    secret: &SecretString,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_ms: i64,
) -> String {
    let timestamp = timestamp_ms.to_string();
    let uri = signed_uri(uri);
    let tag = hmac_sha256(
        secret.expose_secret().as_bytes(),
        &[
            method.as_bytes(),
            uri.as_bytes(),
            body,
            timestamp.as_bytes(),
        ],
    );
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    /// HubSpot/hubspot-api-python `test_get_signature__v3`.
    const SECRET: &str = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    const URI: &str = "https://www.example.com/webhook_uri";
    const BODY: &str = "{'example_field':'example_value'}";
    const TIMESTAMP: &str = "1693657560000";
    const EXPECTED: &str = "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y=";

    fn headers(signature: &str, timestamp: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        headers.insert(TIMESTAMP_HEADER, HeaderValue::from_str(timestamp).unwrap());
        headers
    }

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(millis).unwrap()
    }

    const TOLERANCE: Duration = Duration::from_secs(DEFAULT_TOLERANCE_SECS);

    #[test]
    fn the_official_vector_signs_and_verifies() {
        let secret = SecretString::from(SECRET);
        assert_eq!(
            sign(&secret, METHOD, URI, BODY.as_bytes(), 1_693_657_560_000),
            EXPECTED
        );
        let signed = headers(EXPECTED, TIMESTAMP);
        let now = at(1_693_657_560_000);
        assert_eq!(
            verify(
                &secret,
                &signed,
                METHOD,
                URI,
                BODY.as_bytes(),
                now,
                TOLERANCE
            ),
            Ok(())
        );
        // Every part is signed: the method, the URI, the body, the time, the key.
        let mismatch = Err(WebhookError::SignatureMismatch);
        for (method, uri, body) in [
            ("GET", URI, BODY),
            (METHOD, "https://www.example.com/webhook_uri?x=1", BODY),
            (METHOD, URI, "{'example_field':'example_valuE'}"),
        ] {
            assert_eq!(
                verify(
                    &secret,
                    &signed,
                    method,
                    uri,
                    body.as_bytes(),
                    now,
                    TOLERANCE
                ),
                mismatch
            );
        }
        assert_eq!(
            verify(
                &secret,
                &headers(EXPECTED, "1693657560001"),
                METHOD,
                URI,
                BODY.as_bytes(),
                now,
                TOLERANCE
            ),
            mismatch
        );
        assert_eq!(
            verify(
                &SecretString::from("another-secret"),
                &signed,
                METHOD,
                URI,
                BODY.as_bytes(),
                now,
                TOLERANCE
            ),
            mismatch
        );
    }

    #[test]
    fn five_minutes_is_the_window() {
        let secret = SecretString::from(SECRET);
        let signed = headers(EXPECTED, TIMESTAMP);
        let check = |now| {
            verify(
                &secret,
                &signed,
                METHOD,
                URI,
                BODY.as_bytes(),
                now,
                TOLERANCE,
            )
        };
        assert_eq!(check(at(1_693_657_560_000 + 300_000)), Ok(()));
        assert_eq!(
            check(at(1_693_657_560_000 + 301_000)),
            Err(WebhookError::StaleTimestamp)
        );
        assert_eq!(
            check(at(1_693_657_560_000 - 301_000)),
            Err(WebhookError::StaleTimestamp)
        );
    }

    #[test]
    fn headers_are_required_and_read() {
        let secret = SecretString::from(SECRET);
        let now = at(1_693_657_560_000);
        let verify_with = |headers: &HeaderMap| {
            verify(
                &secret,
                headers,
                METHOD,
                URI,
                BODY.as_bytes(),
                now,
                TOLERANCE,
            )
        };
        let mut only_signature = HeaderMap::new();
        only_signature.insert(SIGNATURE_HEADER, HeaderValue::from_static(EXPECTED));
        assert_eq!(
            verify_with(&only_signature),
            Err(WebhookError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify_with(&HeaderMap::new()),
            Err(WebhookError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify_with(&headers(EXPECTED, "yesterday")),
            Err(WebhookError::MalformedHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            verify_with(&headers("not base64!", TIMESTAMP)),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn listed_escapes_are_decoded_before_signing() {
        assert_eq!(
            signed_uri("https://h.example/a%3Ab%2fc?q=%40%2C%20%zz%"),
            "https://h.example/a:b/c?q=@,%20%zz%"
        );
        let secret = SecretString::from(SECRET);
        let escaped = "https://www.example.com/hook%3Fa";
        let signature = sign(&secret, METHOD, "https://www.example.com/hook?a", b"[]", 1);
        assert_eq!(sign(&secret, METHOD, escaped, b"[]", 1), signature);
    }
}

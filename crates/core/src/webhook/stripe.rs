//! Stripe webhook signatures: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`.
//!
//! The signature is HMAC-SHA256 over `{t}.{raw body}`, keyed with the UTF-8 bytes of
//! the whole endpoint secret, `whsec_` prefix included (Stripe does not decode it).
//! During a secret roll Stripe sends one `v1` per active secret, so any may match;
//! `v0` and unknown keys are ignored.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::common::{WebhookError, any_signature_matches, hmac_sha256, within_tolerance};

/// The header Stripe signs with.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Stripe's own default tolerance, in seconds.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Verifies a `Stripe-Signature` header value against the raw body at `now`.
///
/// Fails with `MalformedHeader` when `t` is missing, repeated or not a number, or when
/// no `v1` is present; `SignatureMismatch` when no `v1` matches; `StaleTimestamp` when
/// the signed timestamp is more than `tolerance` away from `now` (checked after the
/// signature, so only a genuine signature learns that it was merely late).
pub fn verify(
    secret: &SecretString,
    header: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let malformed = WebhookError::MalformedHeader(SIGNATURE_HEADER);
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    let mut saw_v1 = false;
    for item in header.split(',') {
        let Some((key, value)) = item.split_once('=') else {
            continue;
        };
        match key.trim() {
            // Two timestamps would leave it ambiguous which one was signed.
            "t" if timestamp.is_some() => return Err(malformed),
            "t" => timestamp = Some(value.trim()),
            "v1" => {
                saw_v1 = true;
                // A v1 that is not hex cannot match; the others still may.
                if let Ok(signature) = hex::decode(value.trim()) {
                    signatures.push(signature);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| malformed.clone())?;
    let seconds: i64 = timestamp.parse().map_err(|_| malformed.clone())?;
    if !saw_v1 {
        return Err(malformed);
    }
    let key = secret.expose_secret().as_bytes();
    let parts: [&[u8]; 3] = [timestamp.as_bytes(), b".", body];
    if !any_signature_matches(key, &parts, signatures.iter().map(Vec::as_slice)) {
        return Err(WebhookError::SignatureMismatch);
    }
    if !within_tolerance(seconds, now, tolerance) {
        return Err(WebhookError::StaleTimestamp);
    }
    Ok(())
}

/// Signs `body` as Stripe would at `timestamp` (unix seconds), returning the
/// `Stripe-Signature` header value `t=<timestamp>,v1=<hex>`. Used by sandboxes and tests.
pub fn sign(secret: &SecretString, body: &[u8], timestamp: i64) -> String {
    let t = timestamp.to_string();
    let tag = hmac_sha256(
        secret.expose_secret().as_bytes(),
        &[t.as_bytes(), b".", body],
    );
    format!("t={t},v1={}", hex::encode(tag.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("whsec_test_secret")
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    const TOLERANCE: Duration = Duration::from_secs(300);

    #[test]
    fn keys_may_come_in_any_order_with_unknown_ones() {
        let signed = sign(&secret(), b"{}", 1_000);
        let v1 = signed.split_once(",v1=").unwrap().1;
        let header = format!("v0=abc, v1={v1} ,foo=bar,t=1000,junk");
        assert_eq!(
            verify(&secret(), &header, b"{}", at(1_000), TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn missing_parts_are_malformed() {
        let malformed = Err(WebhookError::MalformedHeader(SIGNATURE_HEADER));
        let v1 = "v1=00";
        for header in [
            "",
            v1,
            "t=1000",
            "t=1000,v0=00",
            "t=abc,v1=00",
            "t=1,t=1,v1=00",
        ] {
            assert_eq!(
                verify(&secret(), header, b"{}", at(1_000), TOLERANCE),
                malformed,
                "{header}"
            );
        }
    }

    #[test]
    fn undecodable_signatures_do_not_match() {
        assert_eq!(
            verify(&secret(), "t=1000,v1=zz", b"{}", at(1_000), TOLERANCE),
            Err(WebhookError::SignatureMismatch)
        );
    }

    #[test]
    fn a_forged_stale_request_is_a_mismatch_not_stale() {
        assert_eq!(
            verify(&secret(), "t=1,v1=00", b"{}", at(1_000_000), TOLERANCE),
            Err(WebhookError::SignatureMismatch)
        );
    }
}

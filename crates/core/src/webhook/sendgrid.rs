//! SendGrid's Signed Event Webhook: an ECDSA (P-256, SHA-256) signature over the
//! timestamp header and the raw body.
//!
//! SendGrid signs each delivery with the account's private key and sends
//! `X-Twilio-Email-Event-Webhook-Signature` (base64 of the DER `ECDSA-Sig-Value`) and
//! `X-Twilio-Email-Event-Webhook-Timestamp`. The signed bytes are the timestamp
//! header's value exactly as sent followed by the body exactly as received (SendGrid
//! ends every event with `\r\n`; re-serialising breaks the signature). The
//! connection's "secret" is the account's public key: base64 of a DER
//! SubjectPublicKeyInfo (`id-ecPublicKey`, `prime256v1`), as SendGrid shows it under
//! Mail Settings → Signed Event Webhook; PEM armour and line breaks are tolerated.
//!
//! The key is parsed with the `spki` crate and the curve checked; the signature is
//! verified with `ring` (`ECDSA_P256_SHA256_ASN1`). SendGrid's libraries check only
//! the signature: the replay window is Junction's ([`DEFAULT_TOLERANCE_SECS`]),
//! checked after the signature, so only a genuine delivery learns it was late.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use chrono::{DateTime, Utc};
use http::HeaderMap;
use ring::{
    rand::SystemRandom,
    signature::{
        ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
        UnparsedPublicKey,
    },
};
use secrecy::{ExposeSecret, SecretString};
use spki::{
    AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef,
    der::{Encode, asn1::BitStringRef},
};

use super::common::{WebhookError, header, within_tolerance};

/// The header carrying the base64 DER signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Email-Event-Webhook-Signature";

/// The header carrying the signed timestamp (unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Twilio-Email-Event-Webhook-Timestamp";

/// Junction's replay window, in seconds: SendGrid prescribes none. Ten minutes
/// leaves room for clock skew and SendGrid's batching while refusing old captures.
pub const DEFAULT_TOLERANCE_SECS: u64 = 600;

/// `id-ecPublicKey` (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// `prime256v1` / `secp256r1` (RFC 5480).
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// Verifies a SendGrid Event Webhook delivery with the account's public key at `now`.
///
/// `MissingHeader` / `MalformedHeader` for the two headers (a timestamp that is not a
/// number, a signature that is not base64), `InvalidSecret` for a key that is not a
/// base64 P-256 SubjectPublicKeyInfo, `SignatureMismatch` unless the signature holds,
/// then `StaleTimestamp` outside `tolerance`.
pub fn verify(
    public_key: &SecretString,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), WebhookError> {
    let signature = header(headers, SIGNATURE_HEADER)?;
    let timestamp = header(headers, TIMESTAMP_HEADER)?;
    let signature = BASE64
        .decode(signature)
        .map_err(|_| WebhookError::MalformedHeader(SIGNATURE_HEADER))?;
    let key = public_key_point(public_key.expose_secret())?;
    let mut signed = Vec::with_capacity(timestamp.len() + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.extend_from_slice(body);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &key)
        .verify(&signed, &signature)
        .map_err(|_| WebhookError::SignatureMismatch)?;
    // Signed, so the timestamp is SendGrid's: only now is its format looked at.
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| WebhookError::MalformedHeader(TIMESTAMP_HEADER))?;
    if !within_tolerance(seconds, now, tolerance) {
        return Err(WebhookError::StaleTimestamp);
    }
    Ok(())
}

/// The uncompressed P-256 point of a base64 DER SubjectPublicKeyInfo (PEM armour and
/// whitespace allowed), after checking it is an EC key on P-256.
fn public_key_point(text: &str) -> Result<Vec<u8>, WebhookError> {
    let base64: String = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let der = BASE64
        .decode(base64)
        .map_err(|_| WebhookError::InvalidSecret)?;
    let info = SubjectPublicKeyInfoRef::try_from(der.as_slice())
        .map_err(|_| WebhookError::InvalidSecret)?;
    if info.algorithm.oid != EC_PUBLIC_KEY
        || info.algorithm.parameters_oid().ok() != Some(PRIME256V1)
    {
        return Err(WebhookError::InvalidSecret);
    }
    info.subject_public_key
        .as_bytes()
        .map(<[u8]>::to_vec)
        .ok_or(WebhookError::InvalidSecret)
}

/// A P-256 signing key for sandboxes and tests: what SendGrid keeps on its side.
pub struct SigningKey {
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// The key of a PKCS#8 v1 document (DER, base64-encoded).
    pub fn from_pkcs8_base64(pkcs8: &str) -> Result<Self, WebhookError> {
        let der = BASE64
            .decode(pkcs8.trim())
            .map_err(|_| WebhookError::InvalidSecret)?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der, &SystemRandom::new())
                .map_err(|_| WebhookError::InvalidSecret)?;
        Ok(Self { pair })
    }

    /// A fresh key, as base64 PKCS#8 (for generating a sandbox's fixed key).
    pub fn generate_pkcs8_base64() -> Result<String, WebhookError> {
        let document =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|_| WebhookError::InvalidSecret)?;
        Ok(BASE64.encode(document.as_ref()))
    }

    /// The public key as SendGrid shows it: base64 of a DER SubjectPublicKeyInfo.
    pub fn public_key_base64(&self) -> Result<String, WebhookError> {
        let point = BitStringRef::from_bytes(self.pair.public_key().as_ref())
            .map_err(|_| WebhookError::InvalidSecret)?;
        let curve = spki::der::asn1::AnyRef::from(&PRIME256V1);
        let info = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: EC_PUBLIC_KEY,
                parameters: Some(curve),
            },
            subject_public_key: point,
        };
        let mut buffer = [0u8; 128];
        let der = info
            .encode_to_slice(&mut buffer)
            .map_err(|_| WebhookError::InvalidSecret)?;
        Ok(BASE64.encode(der))
    }

    /// The two headers SendGrid sends with `body` signed at `timestamp`:
    /// `[(signature header, base64 DER), (timestamp header, timestamp)]`.
    pub fn sign(
        &self,
        timestamp: i64,
        body: &[u8],
    ) -> Result<[(&'static str, String); 2], WebhookError> {
        let timestamp = timestamp.to_string();
        let mut signed = timestamp.as_bytes().to_vec();
        signed.extend_from_slice(body);
        let signature = self
            .pair
            .sign(&SystemRandom::new(), &signed)
            .map_err(|_| WebhookError::InvalidSecret)?;
        Ok([
            (SIGNATURE_HEADER, BASE64.encode(signature.as_ref())),
            (TIMESTAMP_HEADER, timestamp),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    /// SendGrid's own vector (sendgrid-python `test_eventwebhook.py`).
    const KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    const SIGNATURE: &str = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM=";
    const TIMESTAMP: &str = "1600112502";
    const PAYLOAD: &str = "[{\"email\":\"hello@world.com\",\"event\":\"dropped\",\"reason\":\"Bounced Address\",\"sg_event_id\":\"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA\",\"sg_message_id\":\"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0\",\"smtp-id\":\"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>\",\"timestamp\":1600112492}]\r\n";

    fn headers(signature: &str, timestamp: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(SIGNATURE_HEADER, HeaderValue::from_str(signature).unwrap());
        map.insert(TIMESTAMP_HEADER, HeaderValue::from_str(timestamp).unwrap());
        map
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    const TOLERANCE: Duration = Duration::from_secs(DEFAULT_TOLERANCE_SECS);

    #[test]
    fn the_official_vector_verifies_within_the_window_only() {
        let key = SecretString::from(KEY);
        let signed = headers(SIGNATURE, TIMESTAMP);
        let body = PAYLOAD.as_bytes();
        assert_eq!(
            verify(&key, &signed, body, at(1_600_112_502), TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify(&key, &signed, body, at(1_600_113_000), TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify(&key, &signed, body, at(1_600_113_200), TOLERANCE),
            Err(WebhookError::StaleTimestamp)
        );
        // PEM armour around the same key.
        let pem = SecretString::from(format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
            &KEY[..64],
            &KEY[64..]
        ));
        assert_eq!(
            verify(&pem, &signed, body, at(1_600_112_502), TOLERANCE),
            Ok(())
        );
    }

    #[test]
    fn broken_keys_and_headers_are_named() {
        let now = at(1_600_112_502);
        let body = PAYLOAD.as_bytes();
        let signed = headers(SIGNATURE, TIMESTAMP);
        for bad in ["", "not base64!", "aGVsbG8=", &KEY[..40]] {
            assert_eq!(
                verify(&SecretString::from(bad), &signed, body, now, TOLERANCE),
                Err(WebhookError::InvalidSecret),
                "{bad}"
            );
        }
        let key = SecretString::from(KEY);
        assert_eq!(
            verify(&key, &HeaderMap::new(), body, now, TOLERANCE),
            Err(WebhookError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            verify(&key, &headers("%%%", TIMESTAMP), body, now, TOLERANCE),
            Err(WebhookError::MalformedHeader(SIGNATURE_HEADER))
        );
    }

    #[test]
    fn a_generated_key_signs_what_verify_accepts() {
        let pkcs8 = SigningKey::generate_pkcs8_base64().unwrap();
        let key = SigningKey::from_pkcs8_base64(&pkcs8).unwrap();
        let public = SecretString::from(key.public_key_base64().unwrap());
        let body = b"[{\"event\":\"delivered\"}]\r\n";
        let [(sig_name, sig), (ts_name, ts)] = key.sign(1_800_000_000, body).unwrap();
        let mut map = HeaderMap::new();
        map.insert(sig_name, HeaderValue::from_str(&sig).unwrap());
        map.insert(ts_name, HeaderValue::from_str(&ts).unwrap());
        assert_eq!(
            verify(&public, &map, body, at(1_800_000_000), TOLERANCE),
            Ok(())
        );
        assert_eq!(
            verify(&public, &map, b"[]\r\n", at(1_800_000_000), TOLERANCE),
            Err(WebhookError::SignatureMismatch)
        );
        assert_eq!(
            verify(
                &SecretString::from(KEY),
                &map,
                body,
                at(1_800_000_000),
                TOLERANCE
            ),
            Err(WebhookError::SignatureMismatch)
        );
    }
}

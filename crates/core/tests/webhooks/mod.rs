//! Webhook signature schemes: the published vectors (copied into
//! `tests/fixtures/webhook-vectors.json` so the repository is self-contained) and
//! property tests of sign-then-verify, tampering, tolerance and missing headers.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue};
use junction_core::{
    WebhookScheme,
    webhook::{self, WebhookError, WebhookRequest, meta, stripe, svix},
};
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::Value;

const TOLERANCE_SECS: u64 = 300;
const TOLERANCE: Duration = Duration::from_secs(TOLERANCE_SECS);

fn vectors() -> Value {
    serde_json::from_str(include_str!("../fixtures/webhook-vectors.json")).unwrap()
}

fn text<'a>(vector: &'a Value, key: &str) -> &'a str {
    vector[key].as_str().unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn svix_headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("svix-id", HeaderValue::from_str(id).unwrap());
    headers.insert("svix-timestamp", HeaderValue::from_str(timestamp).unwrap());
    headers.insert("svix-signature", HeaderValue::from_str(signature).unwrap());
    headers
}

fn meta_headers(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        meta::SIGNATURE_HEADER,
        HeaderValue::from_str(signature).unwrap(),
    );
    headers
}

fn assert_hides(err: &WebhookError, secrets: &[&str]) {
    let shown = format!("{err} {err:?}");
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(!shown.contains(secret), "{shown:?} shows {secret:?}");
    }
}

#[test]
fn svix_vector_verifies_and_signs() {
    let all = vectors();
    let v = &all["svix_official"];
    let secret = SecretString::from(text(v, "secret"));
    let timestamp = v["timestamp"].as_i64().unwrap();
    let payload = text(v, "payload").as_bytes();
    let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(text(v, "expected_signature"), expected);

    let signed = svix::sign(&secret, text(v, "msg_id"), timestamp, payload).unwrap();
    assert_eq!(signed, expected);

    let headers = svix_headers(text(v, "msg_id"), &timestamp.to_string(), expected);
    assert_eq!(
        svix::verify(&secret, &headers, payload, at(timestamp), TOLERANCE),
        Ok(())
    );
    let request = WebhookRequest {
        headers: &headers,
        body: payload,
    };
    let scheme = WebhookScheme::Svix {
        tolerance_secs: TOLERANCE_SECS,
    };
    assert_eq!(
        webhook::verify(scheme, &secret, &request, at(timestamp)),
        Ok(())
    );
    // Same vector, an hour later: stale.
    assert_eq!(
        webhook::verify(scheme, &secret, &request, at(timestamp + 3600)),
        Err(WebhookError::StaleTimestamp)
    );
}

#[test]
fn stripe_vector_verifies_and_signs() {
    let all = vectors();
    let v = &all["stripe_computed"];
    let secret = SecretString::from(text(v, "secret"));
    let timestamp = v["timestamp"].as_i64().unwrap();
    let payload = text(v, "payload").as_bytes();
    let header = text(v, "header");
    assert_eq!(
        header,
        "t=12345,v1=07b1ede164afb7b5de91267ffa656f568c65d6e0783ce0ac55ee094643578eda"
    );

    assert_eq!(stripe::sign(&secret, payload, timestamp), header);
    assert_eq!(
        stripe::verify(&secret, header, payload, at(timestamp), TOLERANCE),
        Ok(())
    );

    let mut headers = HeaderMap::new();
    headers.insert("Stripe-Signature", HeaderValue::from_str(header).unwrap());
    let request = WebhookRequest {
        headers: &headers,
        body: payload,
    };
    let scheme = WebhookScheme::Stripe {
        tolerance_secs: TOLERANCE_SECS,
    };
    assert_eq!(
        webhook::verify(scheme, &secret, &request, at(timestamp)),
        Ok(())
    );
    assert_eq!(
        webhook::verify(scheme, &secret, &request, at(timestamp + 301)),
        Err(WebhookError::StaleTimestamp)
    );
}

#[test]
fn meta_vector_verifies_and_signs() {
    let all = vectors();
    let v = &all["meta_x_hub_signature_256_computed"];
    let secret = SecretString::from(text(v, "secret"));
    let payload = text(v, "payload").as_bytes();
    let header = text(v, "header");
    assert_eq!(
        header,
        "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
    );

    assert_eq!(meta::sign(&secret, payload), header);
    let headers = meta_headers(header);
    assert_eq!(meta::verify(&secret, &headers, payload), Ok(()));
    let request = WebhookRequest {
        headers: &headers,
        body: payload,
    };
    assert_eq!(
        webhook::verify(WebhookScheme::MetaHubSignature256, &secret, &request, at(0)),
        Ok(())
    );
    assert_eq!(
        meta::verify(&secret, &headers, b"tesT"),
        Err(WebhookError::SignatureMismatch)
    );
}

/// A body and a different body (one byte flipped, or one byte added to an empty one).
fn body_and_tampered() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (
        proptest::collection::vec(any::<u8>(), 0..512),
        any::<usize>(),
        1..=255u8,
    )
        .prop_map(|(body, index, flip)| {
            let mut tampered = body.clone();
            if tampered.is_empty() {
                tampered.push(flip);
            } else {
                let i = index % tampered.len();
                tampered[i] ^= flip;
            }
            (body, tampered)
        })
}

/// Two different Stripe-style secrets (the whole string is the key).
fn stripe_secrets() -> impl Strategy<Value = (String, String)> {
    ("[A-Za-z0-9]{1,48}", "[A-Za-z0-9]{1,48}")
        .prop_filter("secrets differ", |(a, b)| a != b)
        .prop_map(|(a, b)| (format!("whsec_{a}"), format!("whsec_{b}")))
}

/// Two different Svix secrets: `whsec_` + base64 of random key bytes.
fn svix_secrets() -> impl Strategy<Value = (String, String)> {
    (
        proptest::collection::vec(any::<u8>(), 1..64),
        proptest::collection::vec(any::<u8>(), 1..64),
    )
        .prop_filter("keys differ", |(a, b)| a != b)
        .prop_map(|(a, b)| {
            (
                format!("whsec_{}", STANDARD.encode(a)),
                format!("whsec_{}", STANDARD.encode(b)),
            )
        })
}

fn timestamps() -> impl Strategy<Value = i64> {
    0i64..4_000_000_000
}

/// A skew within the tolerance, both directions, bounds included.
fn inside() -> impl Strategy<Value = i64> {
    -(TOLERANCE_SECS as i64)..=TOLERANCE_SECS as i64
}

/// A skew beyond the tolerance, in the past or the future.
fn outside() -> impl Strategy<Value = i64> {
    (TOLERANCE_SECS as i64 + 1..1_000_000, any::<bool>())
        .prop_map(|(skew, future)| if future { skew } else { -skew })
}

proptest! {
    // Failures print their minimal input; persisting them needs a lib.rs or main.rs
    // next to this file, which an integration test does not have.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn stripe_sign_then_verify(
        (secret, other) in stripe_secrets(),
        (body, tampered) in body_and_tampered(),
        t in timestamps(),
        skew in inside(),
        late in outside(),
        delta in prop_oneof![-1_000i64..0, 1i64..1_000],
    ) {
        let key = SecretString::from(secret.clone());
        let header = stripe::sign(&key, &body, t);
        prop_assert_eq!(stripe::verify(&key, &header, &body, at(t + skew), TOLERANCE), Ok(()));

        let mut errors = vec![];
        let err = stripe::verify(&key, &header, &tampered, at(t), TOLERANCE).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);

        let err = stripe::verify(&SecretString::from(other.clone()), &header, &body, at(t), TOLERANCE)
            .unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);

        // Another timestamp, verified at that timestamp: only the signature can catch it.
        let moved = header.replacen(&format!("t={t},"), &format!("t={},", t + delta), 1);
        let err = stripe::verify(&key, &moved, &body, at(t + delta), TOLERANCE).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);

        let err = stripe::verify(&key, &header, &body, at(t + late), TOLERANCE).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::StaleTimestamp);
        errors.push(err);

        let signature = header.split_once(",v1=").unwrap().1.to_owned();
        for err in &errors {
            assert_hides(err, &[&secret, &other, &signature]);
        }
    }

    #[test]
    fn stripe_any_v1_may_match(
        secret in "whsec_[A-Za-z0-9]{1,32}",
        body in proptest::collection::vec(any::<u8>(), 0..128),
        t in timestamps(),
        decoys in proptest::collection::vec(proptest::array::uniform32(any::<u8>()), 0..5),
        position in any::<usize>(),
    ) {
        let key = SecretString::from(secret);
        let header = stripe::sign(&key, &body, t);
        let good = header.split_once(",v1=").unwrap().1.to_owned();
        let mut signatures: Vec<String> = decoys.iter().map(hex::encode).collect();
        signatures.insert(position % (signatures.len() + 1), good.clone());
        let list: Vec<String> = signatures.iter().map(|s| format!("v1={s}")).collect();
        let header = format!("t={t},{},v0={good}", list.join(","));
        prop_assert_eq!(stripe::verify(&key, &header, &body, at(t), TOLERANCE), Ok(()));

        // With the right one removed, the decoys alone do not verify.
        let decoy_list: Vec<String> = decoys.iter().map(|d| format!("v1={}", hex::encode(d))).collect();
        if !decoy_list.is_empty() {
            let header = format!("t={t},{}", decoy_list.join(","));
            prop_assert_eq!(
                stripe::verify(&key, &header, &body, at(t), TOLERANCE),
                Err(WebhookError::SignatureMismatch)
            );
        }
    }

    #[test]
    fn svix_sign_then_verify(
        (secret, other) in svix_secrets(),
        (body, tampered) in body_and_tampered(),
        id in "msg_[A-Za-z0-9]{1,32}",
        t in timestamps(),
        skew in inside(),
        late in outside(),
        delta in prop_oneof![-1_000i64..0, 1i64..1_000],
    ) {
        let key = SecretString::from(secret.clone());
        let signature = svix::sign(&key, &id, t, &body).unwrap();
        let headers = svix_headers(&id, &t.to_string(), &signature);
        prop_assert_eq!(svix::verify(&key, &headers, &body, at(t + skew), TOLERANCE), Ok(()));

        let mut errors = vec![];
        let err = svix::verify(&key, &headers, &tampered, at(t), TOLERANCE).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);

        let err = svix::verify(&SecretString::from(other.clone()), &headers, &body, at(t), TOLERANCE)
            .unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);

        let moved = svix_headers(&id, &(t + delta).to_string(), &signature);
        let err = svix::verify(&key, &moved, &body, at(t + delta), TOLERANCE).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);

        let renamed = svix_headers(&format!("{id}x"), &t.to_string(), &signature);
        let err = svix::verify(&key, &renamed, &body, at(t), TOLERANCE).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);

        let err = svix::verify(&key, &headers, &body, at(t + late), TOLERANCE).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::StaleTimestamp);
        errors.push(err);

        for name in ["svix-id", "svix-timestamp", "svix-signature"] {
            let mut missing = headers.clone();
            missing.remove(name);
            let err = svix::verify(&key, &missing, &body, at(t), TOLERANCE).unwrap_err();
            prop_assert_eq!(&err, &WebhookError::MissingHeader(name));
            errors.push(err);
        }

        let encoded = signature.trim_start_matches("v1,");
        for err in &errors {
            assert_hides(err, &[&secret, &other, encoded]);
        }
    }

    #[test]
    fn svix_any_v1_may_match(
        key_bytes in proptest::collection::vec(any::<u8>(), 1..64),
        body in proptest::collection::vec(any::<u8>(), 0..128),
        t in timestamps(),
        decoys in proptest::collection::vec(proptest::array::uniform32(any::<u8>()), 0..5),
        position in any::<usize>(),
    ) {
        let key = SecretString::from(format!("whsec_{}", STANDARD.encode(key_bytes)));
        let good = svix::sign(&key, "msg_1", t, &body).unwrap();
        let mut entries: Vec<String> =
            decoys.iter().map(|d| format!("v1,{}", STANDARD.encode(d))).collect();
        entries.insert(position % (entries.len() + 1), good);
        let headers = svix_headers("msg_1", &t.to_string(), &entries.join(" "));
        prop_assert_eq!(svix::verify(&key, &headers, &body, at(t), TOLERANCE), Ok(()));
    }

    #[test]
    fn meta_sign_then_verify(
        (secret, other) in ("[a-f0-9]{12,40}", "[a-f0-9]{12,40}").prop_filter("differ", |(a, b)| a != b),
        (body, tampered) in body_and_tampered(),
    ) {
        let key = SecretString::from(secret.clone());
        let header = meta::sign(&key, &body);
        let headers = meta_headers(&header);
        prop_assert_eq!(meta::verify(&key, &headers, &body), Ok(()));

        let mut errors = vec![];
        let err = meta::verify(&key, &headers, &tampered).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);
        let err = meta::verify(&SecretString::from(other.clone()), &headers, &body).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::SignatureMismatch);
        errors.push(err);
        let err = meta::verify(&key, &HeaderMap::new(), &body).unwrap_err();
        prop_assert_eq!(&err, &WebhookError::MissingHeader(meta::SIGNATURE_HEADER));
        errors.push(err);

        let signature = header.trim_start_matches("sha256=");
        for err in &errors {
            assert_hides(err, &[&secret, &other, signature]);
        }
    }

    #[test]
    fn dispatch_reports_missing_headers(
        secret in "whsec_[A-Za-z0-9]{4,32}",
        body in proptest::collection::vec(any::<u8>(), 0..64),
        t in timestamps(),
    ) {
        let key = SecretString::from(secret);
        let empty = HeaderMap::new();
        let request = WebhookRequest { headers: &empty, body: &body };
        for (scheme, header) in [
            (WebhookScheme::Stripe { tolerance_secs: TOLERANCE_SECS }, stripe::SIGNATURE_HEADER),
            (WebhookScheme::Svix { tolerance_secs: TOLERANCE_SECS }, svix::ID_HEADER),
            (WebhookScheme::MetaHubSignature256, meta::SIGNATURE_HEADER),
        ] {
            prop_assert_eq!(
                webhook::verify(scheme, &key, &request, at(t)),
                Err(WebhookError::MissingHeader(header))
            );
        }
    }
}

#[test]
fn no_error_message_contains_a_secret() {
    // Every variant's Display, with the values an attacker could plant.
    let errors = [
        WebhookError::MissingHeader("svix-id"),
        WebhookError::MalformedHeader("Stripe-Signature"),
        WebhookError::SignatureMismatch,
        WebhookError::StaleTimestamp,
        WebhookError::InvalidSecret,
        WebhookError::InvalidPayload("expected value at line 1 column 1".into()),
        WebhookError::Unsupported,
        WebhookError::MissingParameter("hub.mode"),
        WebhookError::InvalidParameter("hub.mode"),
        WebhookError::VerifyTokenMismatch,
    ];
    for err in &errors {
        assert_hides(
            err,
            &["whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "sha256="],
        );
    }
    // A malformed secret is reported without being echoed.
    let bad = SecretString::from("whsec_not base64 TOPSECRET!");
    let err = svix::sign(&bad, "m", 1, b"x").unwrap_err();
    assert_hides(&err, &["TOPSECRET"]);
}

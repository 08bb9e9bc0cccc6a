//! Webhook verification and effects: the official Svix test vector through
//! `verify_webhook` with the clock pinned, Resend events signed with `svix::sign`,
//! and every refusal (tampered body, wrong secret, stale or future timestamp,
//! missing headers, malformed secret) before anything is parsed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue};
use junction_core::{
    Adapter, Context, FixedClock, Suppression,
    webhook::{WebhookError, WebhookRequest, svix},
};
use junction_resend::Resend;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::*;

/// The Svix vector of crates/core/tests/fixtures/webhook-vectors.json.
struct Vector {
    secret: String,
    msg_id: String,
    timestamp: i64,
    payload: String,
    signature: String,
}

fn vector() -> Vector {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../core/tests/fixtures/webhook-vectors.json"
    );
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let svix = &all["svix_official"];
    Vector {
        secret: svix["secret"].as_str().unwrap().into(),
        msg_id: svix["msg_id"].as_str().unwrap().into(),
        timestamp: svix["timestamp"].as_i64().unwrap(),
        payload: svix["payload"].as_str().unwrap().into(),
        signature: svix["expected_signature"].as_str().unwrap().into(),
    }
}

fn at(seconds: i64) -> Context {
    Context::new(reqwest::Client::new()).with_clock(Arc::new(FixedClock(
        DateTime::from_timestamp(seconds, 0).unwrap(),
    )))
}

fn headers(id: &str, timestamp: &str, signature: &str) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("svix-id", HeaderValue::from_str(id).unwrap());
    map.insert("svix-timestamp", HeaderValue::from_str(timestamp).unwrap());
    map.insert("svix-signature", HeaderValue::from_str(signature).unwrap());
    map
}

fn verify(
    ctx: &Context,
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<junction_core::webhook::WebhookEvent>, WebhookError> {
    Resend.verify_webhook(
        ctx,
        &SecretString::from(secret.to_owned()),
        &WebhookRequest { headers, body },
    )
}

#[test]
fn the_official_svix_vector_verifies() {
    let v = vector();
    let map = headers(&v.msg_id, &v.timestamp.to_string(), &v.signature);
    let events = verify(&at(v.timestamp), &v.secret, &map, v.payload.as_bytes()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, v.msg_id);
    // The vector's body is no Resend event: authentic, but of no known type.
    assert_eq!(events[0].event_type, junction_resend::UNKNOWN_EVENT);
    assert_eq!(events[0].payload, json!({"test": 2432232314u64}));
    // svix::sign reproduces the vector's signature.
    assert_eq!(
        svix::sign(
            &SecretString::from(v.secret.clone()),
            &v.msg_id,
            v.timestamp,
            v.payload.as_bytes()
        )
        .unwrap(),
        v.signature
    );
}

#[test]
fn the_vector_is_accepted_within_five_minutes_only() {
    let v = vector();
    let map = headers(&v.msg_id, &v.timestamp.to_string(), &v.signature);
    let body = v.payload.as_bytes();
    for skew in [-300, 300] {
        assert!(
            verify(&at(v.timestamp + skew), &v.secret, &map, body).is_ok(),
            "{skew}"
        );
    }
    for skew in [-301, 301, 86_400] {
        assert_eq!(
            verify(&at(v.timestamp + skew), &v.secret, &map, body),
            Err(WebhookError::StaleTimestamp),
            "{skew}"
        );
    }
}

#[test]
fn tampering_and_wrong_secrets_are_refused() {
    let v = vector();
    let ctx = at(v.timestamp);
    let map = headers(&v.msg_id, &v.timestamp.to_string(), &v.signature);
    assert_eq!(
        verify(&ctx, &v.secret, &map, br#"{"test": 2432232315}"#),
        Err(WebhookError::SignatureMismatch)
    );
    assert_eq!(
        verify(
            &ctx,
            "whsec_dGhpcyBpcyBhbm90aGVyIHNlY3JldA==",
            &map,
            v.payload.as_bytes()
        ),
        Err(WebhookError::SignatureMismatch)
    );
    // The signed id and timestamp are part of the signature too.
    let other_id = headers("msg_other", &v.timestamp.to_string(), &v.signature);
    assert_eq!(
        verify(&ctx, &v.secret, &other_id, v.payload.as_bytes()),
        Err(WebhookError::SignatureMismatch)
    );
    let other_time = headers(&v.msg_id, &(v.timestamp + 1).to_string(), &v.signature);
    assert_eq!(
        verify(&ctx, &v.secret, &other_time, v.payload.as_bytes()),
        Err(WebhookError::SignatureMismatch)
    );
    assert_eq!(
        verify(&ctx, "whsec_not base64!", &map, v.payload.as_bytes()),
        Err(WebhookError::InvalidSecret)
    );
    // A forged body that is not even JSON is refused for its signature, not parsed.
    assert_eq!(
        verify(&ctx, &v.secret, &map, b"not json"),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn missing_headers_are_named() {
    let v = vector();
    let ctx = at(v.timestamp);
    for name in ["svix-id", "svix-timestamp", "svix-signature"] {
        let mut map = headers(&v.msg_id, &v.timestamp.to_string(), &v.signature);
        map.remove(name);
        let expected = match name {
            "svix-id" => svix::ID_HEADER,
            "svix-timestamp" => svix::TIMESTAMP_HEADER,
            _ => svix::SIGNATURE_HEADER,
        };
        assert_eq!(
            verify(&ctx, &v.secret, &map, v.payload.as_bytes()),
            Err(WebhookError::MissingHeader(expected))
        );
    }
}

/// A Resend `email.bounced` event as the spec's `EmailBouncedEvent` describes it.
fn bounced_event() -> Value {
    json!({
        "type": "email.bounced",
        "created_at": "2026-03-15T11:59:30.000Z",
        "data": {
            "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
            "created_at": "2026-03-15T11:59:00.000Z",
            "from": "Acme <onboarding@resend.dev>",
            "to": ["Delivered <BOUNCED@resend.dev>"],
            "subject": "Sending this example",
            "tags": {"category": "kpi_alert"},
            "bounce": {
                "diagnosticCode": ["smtp; 550 5.1.1 user unknown"],
                "message": "The recipient's email address is on the suppression list because it has a recent history of producing hard bounces.",
                "subType": "Suppressed",
                "type": "Permanent"
            }
        }
    })
}

fn signed(secret: &str, id: &str, body: &[u8]) -> HeaderMap {
    let signature = svix::sign(
        &SecretString::from(secret.to_owned()),
        id,
        now().timestamp(),
        body,
    )
    .unwrap();
    headers(id, &now().timestamp().to_string(), &signature)
}

#[tokio::test]
async fn a_signed_bounce_suppresses_the_recipient_and_updates_the_email() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = bounced_event().to_string();
    let map = signed(secret, "msg_2bounce", body.as_bytes());
    let ctx = at(now().timestamp());
    let events = verify(&ctx, secret, &map, body.as_bytes()).unwrap();
    assert_eq!(events[0].id, "msg_2bounce");
    assert_eq!(events[0].event_type, "email.bounced");
    assert_eq!(
        events[0].occurred_at,
        Some("2026-03-15T11:59:30Z".parse::<DateTime<Utc>>().unwrap())
    );
    let effects = Resend
        .apply_webhook(&ctx, &connection(json!({})), &events[0])
        .await
        .unwrap();
    assert_eq!(
        effects.suppressions,
        [Suppression {
            address: "bounced@resend.dev".into(),
            reason: "bounce".into()
        }]
    );
    assert!(effects.kpis.is_empty());
    let record = &effects.records[0];
    assert_eq!(record.stream, "emails");
    assert_eq!(
        record.record.external_id,
        "56761188-7520-42d8-8898-ff6fc54ce618"
    );
    assert_eq!(record.record.data["last_event"], "bounced");
    assert_eq!(record.record.data["bounce"]["subType"], "Suppressed");
    // Applying the same event again gives the same effects (redeliveries are safe).
    assert_eq!(
        Resend
            .apply_webhook(&ctx, &connection(json!({})), &events[0])
            .await
            .unwrap(),
        effects
    );
}

#[tokio::test]
async fn complaints_suppress_and_deliveries_only_update() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let ctx = at(now().timestamp());
    for (event_type, suppressed) in [("email.complained", true), ("email.delivered", false)] {
        let mut event = bounced_event();
        event["type"] = json!(event_type);
        event["data"].as_object_mut().unwrap().remove("bounce");
        let body = event.to_string();
        let map = signed(secret, "msg_x", body.as_bytes());
        let events = verify(&ctx, secret, &map, body.as_bytes()).unwrap();
        let effects = Resend
            .apply_webhook(&ctx, &connection(json!({})), &events[0])
            .await
            .unwrap();
        assert_eq!(!effects.suppressions.is_empty(), suppressed, "{event_type}");
        if suppressed {
            assert_eq!(effects.suppressions[0].reason, "complaint");
        }
        assert_eq!(
            effects.records[0].record.data["last_event"],
            event_type.trim_start_matches("email.")
        );
    }
}

#[test]
fn standard_webhooks_header_names_are_accepted() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = bounced_event().to_string();
    let svix_headers = signed(secret, "msg_std", body.as_bytes());
    let mut map = HeaderMap::new();
    for (from, to) in [
        ("svix-id", "webhook-id"),
        ("svix-timestamp", "webhook-timestamp"),
        ("svix-signature", "webhook-signature"),
    ] {
        map.insert(to, svix_headers.get(from).unwrap().clone());
    }
    let events = verify(&at(now().timestamp()), secret, &map, body.as_bytes()).unwrap();
    assert_eq!(events[0].id, "msg_std");
}

#[test]
fn a_signed_body_that_is_not_an_event_object_is_invalid() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let ctx = at(now().timestamp());
    for body in [&b"not json"[..], b"[1, 2]"] {
        let map = signed(secret, "msg_bad", body);
        assert!(matches!(
            verify(&ctx, secret, &map, body),
            Err(WebhookError::InvalidPayload(_))
        ));
    }
}

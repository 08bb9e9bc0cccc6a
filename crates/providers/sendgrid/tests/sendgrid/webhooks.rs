//! SendGrid's own Signed Event Webhook vectors (provider-specs/sendgrid) through the
//! adapter: each valid one verifies and parses, each invalid one (wrong key, wrong
//! signature, tampered payload, payload without its CRLF, wrong timestamp) and every
//! stale delivery is refused before anything is parsed — so nothing is stored.

use std::sync::Arc;

use chrono::DateTime;
use http::{HeaderMap, HeaderValue};
use junction_core::{
    Adapter, Context, FixedClock,
    webhook::{WebhookError, WebhookRequest, sendgrid},
};
use junction_sendgrid::{REASON_BOUNCE, Sendgrid};
use secrecy::SecretString;
use serde_json::Value;

const VECTORS: &str = include_str!("../../../../conformance/vectors/sendgrid-event-webhook.json");

fn at(seconds: i64) -> Context {
    Context::new(reqwest::Client::new()).with_clock(Arc::new(FixedClock(
        DateTime::from_timestamp(seconds, 0).unwrap(),
    )))
}

fn headers(vector: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert(
        sendgrid::SIGNATURE_HEADER,
        HeaderValue::from_str(vector["signature"].as_str().unwrap()).unwrap(),
    );
    map.insert(
        sendgrid::TIMESTAMP_HEADER,
        HeaderValue::from_str(vector["timestamp"].as_str().unwrap()).unwrap(),
    );
    map
}

fn vectors() -> Vec<Value> {
    let file: Value = serde_json::from_str(VECTORS).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

#[test]
fn every_official_vector_is_accepted_or_refused_as_expected() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 7);
    for vector in &vectors {
        let name = vector["name"].as_str().unwrap();
        let key = SecretString::from(vector["public_key"].as_str().unwrap().to_owned());
        let body = vector["payload"].as_str().unwrap().as_bytes();
        let headers = headers(vector);
        let request = WebhookRequest {
            headers: &headers,
            body,
        };
        // At the moment SendGrid signed (the wrong-timestamp vector's is not a number).
        let signed_at = vector["timestamp"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap_or(1_600_112_502);
        let result = Sendgrid.verify_webhook(&at(signed_at), &key, &request);
        if vector["expected"] == true {
            let events = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!events.is_empty(), "{name}");
            assert!(events.iter().all(|e| !e.id.is_empty()), "{name}");
            // The same delivery half an hour later is a replay.
            assert_eq!(
                Sendgrid.verify_webhook(&at(signed_at + 1800), &key, &request),
                Err(WebhookError::StaleTimestamp),
                "{name}"
            );
        } else {
            let error = result.expect_err(name);
            assert!(
                matches!(
                    error,
                    WebhookError::SignatureMismatch | WebhookError::MalformedHeader(_)
                ),
                "{name}: {error:?}"
            );
        }
    }
}

/// The vector's bounce is `type: blocked` (the mailbox is over quota): SendGrid
/// puts such addresses on its temporary Blocks list, and Junction does not suppress
/// them for good; a hard bounce of the same delivery does.
#[tokio::test]
async fn the_multiple_events_vector_updates_status_and_only_hard_bounces_suppress() {
    let vector = vectors()
        .into_iter()
        .find(|v| v["name"] == "multiple_events")
        .unwrap();
    let key = SecretString::from(vector["public_key"].as_str().unwrap().to_owned());
    let headers = headers(&vector);
    let body = vector["payload"].as_str().unwrap().as_bytes();
    let ctx = at(1_619_651_159);
    let events = Sendgrid
        .verify_webhook(
            &ctx,
            &key,
            &WebhookRequest {
                headers: &headers,
                body,
            },
        )
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["processed", "bounce"]);
    assert_eq!(
        events[0].id,
        "cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA"
    );
    let conn = crate::support::any();
    let processed = Sendgrid
        .apply_webhook(&ctx, &conn, &events[0])
        .await
        .unwrap();
    assert!(processed.suppressions.is_empty());
    assert_eq!(
        processed.records[0].record.external_id,
        "qNwBLgPQQjW6DJvKQwSAbw:invalid@gmail.com"
    );
    let blocked = Sendgrid
        .apply_webhook(&ctx, &conn, &events[1])
        .await
        .unwrap();
    assert!(blocked.suppressions.is_empty());
    assert_eq!(blocked.records[0].record.data["type"], "blocked");
    let mut hard = events[1].clone();
    hard.payload["type"] = serde_json::json!("bounce");
    let bounce = Sendgrid.apply_webhook(&ctx, &conn, &hard).await.unwrap();
    assert_eq!(bounce.suppressions.len(), 1);
    assert_eq!(bounce.suppressions[0].address, "invalid@gmail.com");
    assert_eq!(bounce.suppressions[0].reason, REASON_BOUNCE);
    assert_eq!(bounce.records[0].record.data["last_event"], "bounce");
    assert_eq!(bounce.records[0].record.data["status"], "5.2.2");
}

#[test]
fn a_connection_without_a_usable_key_is_refused_not_parsed() {
    let vector = &vectors()[0];
    let headers = headers(vector);
    let body = vector["payload"].as_str().unwrap().as_bytes();
    let request = WebhookRequest {
        headers: &headers,
        body,
    };
    assert_eq!(
        Sendgrid.verify_webhook(
            &at(1_600_112_502),
            &SecretString::from("whsec_not_a_key"),
            &request
        ),
        Err(WebhookError::InvalidSecret)
    );
    let empty = HeaderMap::new();
    assert_eq!(
        Sendgrid.verify_webhook(
            &at(1_600_112_502),
            &SecretString::from(vector["public_key"].as_str().unwrap().to_owned()),
            &WebhookRequest {
                headers: &empty,
                body
            }
        ),
        Err(WebhookError::MissingHeader(sendgrid::SIGNATURE_HEADER))
    );
}

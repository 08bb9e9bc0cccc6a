//! Webhooks: the official `X-Hub-Signature-256` vector, refusals, stable event ids,
//! and the day's insights re-read on a campaign change.

use http::{HeaderMap, HeaderValue};
use junction_core::{
    Adapter,
    webhook::{WebhookError, WebhookRequest, meta},
};
use junction_meta_ads::MetaAds;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

use crate::support::{ACCOUNT, INSIGHTS_PATH, connection, context, now, row};

const APP_SECRET: &str = "meta-app-secret";

fn vector() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/meta_ads/test-vectors.json"
    ))
    .unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["meta_x_hub_signature_256_computed"].clone()
}

fn signed(body: &[u8], secret: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        meta::SIGNATURE_HEADER,
        HeaderValue::from_str(&meta::sign(&SecretString::from(secret), body)).unwrap(),
    );
    headers
}

fn delivery() -> Vec<u8> {
    json!({"object": "ad_account", "entry": [{
        "id": ACCOUNT, "time": now().timestamp(),
        "changes": [
            {"field": "with_issues_ad_objects",
             "value": {"id": "23850000000000001", "level": "CAMPAIGN", "error_code": 1815}},
            {"field": "in_process_ad_objects",
             "value": {"id": "23850000000000002", "level": "AD_SET", "status_name": "ACTIVE"}}
        ]
    }]})
    .to_string()
    .into_bytes()
}

fn verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
) -> Result<Vec<junction_core::webhook::WebhookEvent>, WebhookError> {
    let ctx = junction_core::Context::new(reqwest::Client::new());
    MetaAds.verify_webhook(
        &ctx,
        &SecretString::from(secret),
        &WebhookRequest { headers, body },
    )
}

#[test]
fn the_official_vector_verifies() {
    let vector = vector();
    let secret = vector["secret"].as_str().unwrap();
    let payload = vector["payload"].as_str().unwrap().as_bytes();
    let mut headers = HeaderMap::new();
    headers.insert(
        meta::SIGNATURE_HEADER,
        HeaderValue::from_str(vector["header"].as_str().unwrap()).unwrap(),
    );
    // The signature holds; the vector's payload is not a delivery, so parsing says so.
    assert!(matches!(
        verify(&headers, payload, secret),
        Err(WebhookError::InvalidPayload(_))
    ));
    assert_eq!(
        verify(&headers, b"tesT", secret).unwrap_err(),
        WebhookError::SignatureMismatch
    );
}

#[test]
fn a_signed_delivery_parses_into_one_event_per_change() {
    let body = delivery();
    let events = verify(&signed(&body, APP_SECRET), &body, APP_SECRET).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_type, "with_issues_ad_objects");
    assert_eq!(events[1].event_type, "in_process_ad_objects");
    assert_eq!(events[0].occurred_at, Some(now()));
    assert_eq!(events[0].payload["ad_account_id"], json!(ACCOUNT));
    assert_ne!(events[0].id, events[1].id);
    // A redelivery of the same body gives the same ids (deduplicated downstream).
    let again = verify(&signed(&body, APP_SECRET), &body, APP_SECRET).unwrap();
    let ids = |e: &[junction_core::webhook::WebhookEvent]| {
        e.iter().map(|e| e.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&events), ids(&again));
}

#[test]
fn tampered_unsigned_and_wrongly_signed_deliveries_are_refused() {
    let body = delivery();
    let headers = signed(&body, APP_SECRET);
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] = b' ';
    assert_eq!(
        verify(&headers, &tampered, APP_SECRET).unwrap_err(),
        WebhookError::SignatureMismatch
    );
    assert_eq!(
        verify(&headers, &body, "another-secret").unwrap_err(),
        WebhookError::SignatureMismatch
    );
    assert_eq!(
        verify(&HeaderMap::new(), &body, APP_SECRET).unwrap_err(),
        WebhookError::MissingHeader(meta::SIGNATURE_HEADER)
    );
    let mut sha1 = HeaderMap::new();
    sha1.insert(meta::SIGNATURE_HEADER, HeaderValue::from_static("sha1=abc"));
    assert_eq!(
        verify(&sha1, &body, APP_SECRET).unwrap_err(),
        WebhookError::MalformedHeader(meta::SIGNATURE_HEADER)
    );
}

#[tokio::test]
async fn a_campaign_change_rereads_the_days_insights_as_day_totals() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .and(query_param(
            "time_range",
            r#"{"since":"2026-03-30","until":"2026-03-31"}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [row("23850000000000001", "2026-03-31", "15.00", "1", "42.00")]
        })))
        .expect(2)
        .mount(&server)
        .await;
    let body = delivery();
    let events = verify(&signed(&body, APP_SECRET), &body, APP_SECRET).unwrap();
    let ctx = context(&server);
    let first = MetaAds
        .apply_webhook(&ctx, &connection(), &events[0])
        .await
        .unwrap();
    let second = MetaAds
        .apply_webhook(&ctx, &connection(), &events[0])
        .await
        .unwrap();
    // Idempotent: the same day totals each time.
    assert_eq!(first, second);
    assert_eq!(first.records[0].stream, "insights");
    assert_eq!(
        first.records[0].record.external_id,
        "23850000000000001:2026-03-31"
    );
    let spend = first
        .kpis
        .iter()
        .find(|k| k.point.metric == "spend")
        .map(|k| k.point.value);
    assert_eq!(spend, Some(15.0));
}

#[tokio::test]
async fn events_of_other_accounts_or_fields_change_nothing() {
    let server = MockServer::start().await;
    let body = json!({"object": "ad_account", "entry": [{
        "id": "999", "time": now().timestamp(),
        "changes": [{"field": "with_issues_ad_objects", "value": {"id": "1"}}]
    }, {
        "id": ACCOUNT, "time": now().timestamp(),
        "changes": [{"field": "product_set_issue", "value": {"id": "2"}}]
    }]})
    .to_string()
    .into_bytes();
    let events = verify(&signed(&body, APP_SECRET), &body, APP_SECRET).unwrap();
    let ctx = context(&server);
    for event in &events {
        let effects = MetaAds
            .apply_webhook(&ctx, &connection(), event)
            .await
            .unwrap();
        assert_eq!(effects, Default::default());
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

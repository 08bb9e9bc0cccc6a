//! Input Postgres cannot store — NUL (U+0000) in text and in JSON strings and keys,
//! invalid UTF-8 where text is expected — is refused with 422 `validation_failed`
//! naming the field, in query strings, path parameters and JSON bodies alike, never
//! a 500. Webhook deliveries are the exception that must not be refused: what the
//! provider signed is kept as received and processed with such characters handled.

use chrono::Utc;
use serde_json::{Value, json};

use crate::{
    support::{TestApp, assert_problem},
    webhooks::{Worker, connect_stripe, post_stripe, sandbox_charge, stripe_event, wait_count},
};

const STRIPE_WEBHOOK_SECRET: &str = "whsec_junctionsandbox";

/// Asserts a 422 `validation_failed` whose first field error names `field`.
async fn assert_refused(response: reqwest::Response, field: &str) {
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    assert!(
        !problem.to_string().contains("\\u0000"),
        "the answer never carries the NUL back: {problem}"
    );
}

#[tokio::test]
async fn query_filters_with_nul_or_invalid_utf8_are_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let cases = [
        ("/v1/kpis?metric=%00", "metric"),
        ("/v1/kpis?metric=sessions%00", "metric"),
        ("/v1/integrations?provider=%00", "provider"),
        (
            "/v1/webhook-events?event_type=charge.%00refunded",
            "event_type",
        ),
        ("/v1/dead-letters?error_code=%00", "error_code"),
        ("/v1/integrations?provider=%FF%FE", "provider"),
        ("/v1/kpis?metric=%C0%80", "metric"),
        ("/v1/providers/stripe%00", "provider"),
    ];
    for (path, field) in cases {
        let response = app.get(path).send().await.unwrap();
        assert_refused(response, field).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_bodies_with_nul_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let ga4 = app.connect_ga4("123").await;
    let stripe = connect_stripe(&app).await;

    let started = app
        .post("/v1/connect/google-analytics")
        .json(&json!({"config": {"property_id": "1"}, "display_name": "Shop\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_refused(started, "display_name").await;
    let renamed = app
        .patch(&format!("/v1/integrations/{ga4}"))
        .json(&json!({"display_name": "\u{0}"}))
        .send()
        .await
        .unwrap();
    assert_refused(renamed, "display_name").await;
    let action = app
        .post(&format!("/v1/integrations/{stripe}/actions/refund"))
        .json(&json!({"charge": "ch_\u{0}", "metadata": {"order": "1042"}}))
        .send()
        .await
        .unwrap();
    assert_refused(action, "charge").await;
    let nested = app
        .post(&format!("/v1/integrations/{stripe}/actions/refund"))
        .json(&json!({"charge": "ch_1", "metadata": {"order\u{0}": "1042"}}))
        .send()
        .await
        .unwrap();
    assert_refused(nested, "metadata.order\u{fffd}").await;
    let replay = app
        .post("/v1/dead-letters/replay")
        .json(&json!({"error_code": "provider_\u{0}error"}))
        .send()
        .await
        .unwrap();
    assert_refused(replay, "error_code").await;
    let alert = app
        .post("/v1/alerts")
        .json(&json!({
            "name": "Sessions\u{0}", "integration_id": ga4, "metric": "sessions",
            "condition": "below", "threshold": 10, "recipients": ["ops@acme.example"]
        }))
        .send()
        .await
        .unwrap();
    assert_refused(alert, "name").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM action_runs").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM alert_rules").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_delivery_carrying_nul_is_stored_as_received_and_processed() {
    let app = TestApp::spawn().await;
    let integration = connect_stripe(&app).await;
    let mut charge = sandbox_charge(&app).await;
    charge["refunded"] = json!(true);
    charge["description"] = json!("gift\u{0}card");
    charge["metadata"] = json!({"note\u{0}": "a\u{0}b"});
    let body = stripe_event("evt_nul_payload", "charge.refunded", charge.clone());
    let now = Utc::now().timestamp();
    let response = post_stripe(&app, integration, &body, STRIPE_WEBHOOK_SECRET, now).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"accepted": 1, "duplicates": 0})
    );
    // The body is kept byte for byte as the provider signed it.
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM webhook_events WHERE body = decode('{}', 'hex')",
            hex::encode(&body)
        ))
        .await,
        1
    );

    let worker = Worker::start(&app).await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    let charge_id = charge["id"].as_str().unwrap();
    wait_count(
        &app,
        &format!(
            "SELECT count(*) AS n FROM records WHERE stream = 'charges' AND external_id = '{charge_id}' \
             AND data->>'description' = 'gift\u{fffd}card' AND data->'metadata'->>'note\u{fffd}' = 'a\u{fffd}b'"
        ),
        1,
    )
    .await;
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_delivery_with_nul_in_its_event_id_and_type_is_accepted_once_and_processed() {
    let app = TestApp::spawn().await;
    let integration = connect_stripe(&app).await;
    let body = stripe_event("evt_\u{0}nul", "invoice.\u{0}paid", json!({"id": "in_1"}));
    let now = Utc::now().timestamp();
    let first = post_stripe(&app, integration, &body, STRIPE_WEBHOOK_SECRET, now).await;
    assert_eq!(first.status(), 200, "{}", first.text().await.unwrap());
    assert_eq!(
        first.json::<Value>().await.unwrap(),
        json!({"accepted": 1, "duplicates": 0})
    );
    // The provider's retry is recognised as the same event.
    let again = post_stripe(&app, integration, &body, STRIPE_WEBHOOK_SECRET, now + 5).await;
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        json!({"accepted": 0, "duplicates": 1})
    );
    let listed: Value = app
        .get("/v1/webhook-events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["event_id"], "evt_\u{fffd}nul");
    assert_eq!(listed["data"][0]["event_type"], "invoice.\u{fffd}paid");

    let worker = Worker::start(&app).await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    worker.stop().await;
}

#[tokio::test]
async fn a_signed_delivery_that_is_not_json_has_its_own_code() {
    let app = TestApp::spawn().await;
    let integration = connect_stripe(&app).await;
    let now = Utc::now().timestamp();
    for body in [
        &b"not json at all"[..],
        b"\xff\xfe\x00",
        b"{\"object\": \"event\"}",
    ] {
        let response = post_stripe(&app, integration, body, STRIPE_WEBHOOK_SECRET, now).await;
        let problem = assert_problem(response, 422, "webhook_payload_invalid").await;
        assert_ne!(problem["code"], "webhook_signature_invalid");
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM webhook_events").await,
        0
    );
}

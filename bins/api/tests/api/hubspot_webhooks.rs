//! HubSpot's webhooks end to end: a delivery signed with v3 for the URL Junction gave
//! HubSpot is stored once and applied (the contact re-read from the sandbox and its
//! record written); tampered, wrong-secret, stale and other-URL deliveries — and one
//! whose sender claims another URL in Junction's own header — are refused with
//! nothing stored.

use chrono::Utc;
use junction_core::webhook::{REQUEST_URL_HEADER, hubspot};
use reqwest::Response;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    support::{TestApp, assert_problem},
    webhooks::{Worker, wait_count},
};

/// The HubSpot sandbox's private app.
const TOKEN: &str = "pat-na1-7f3c2a90-sandbox-4b1e-9d2f-junction0001";
const SECRET: &str = "hubspot-sandbox-client-secret-5e8a";

async fn connect(app: &TestApp) -> Uuid {
    let response = app
        .post("/v1/integrations")
        .json(&json!({
            "provider": "hubspot",
            "credentials": {"access_token": TOKEN, "webhook_secret": SECRET}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn post(
    app: &TestApp,
    integration: Uuid,
    body: &[u8],
    headers: &[(&str, String)],
) -> Response {
    let mut request = app
        .client
        .post(format!("{}/webhooks/hubspot/{integration}", app.url))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.unwrap()
}

fn signed(secret: &str, url: &str, body: &[u8], millis: i64) -> Vec<(&'static str, String)> {
    let signature = hubspot::sign(&SecretString::from(secret), "POST", url, body, millis);
    vec![
        (hubspot::SIGNATURE_HEADER, signature),
        (hubspot::TIMESTAMP_HEADER, millis.to_string()),
    ]
}

async fn stored(app: &TestApp) -> i64 {
    app.count("SELECT count(*) AS n FROM webhook_events").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_deliveries_are_verified_for_junctions_url_stored_once_and_applied() {
    let app = TestApp::spawn().await;
    let integration = connect(&app).await;
    let url = format!("{}/webhooks/hubspot/{integration}", app.url);
    let body = serde_json::to_vec(&json!([{
        "eventId": 100, "subscriptionId": 7, "portalId": 24681357, "appId": 1,
        "occurredAt": Utc::now().timestamp_millis(), "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0, "objectId": 101, "propertyName": "lastname",
        "propertyValue": "Lovelace", "changeSource": "CRM"
    }]))
    .unwrap();
    let now = Utc::now().timestamp_millis();

    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let refusals = [
        (tampered.clone(), signed(SECRET, &url, &body, now)),
        (body.clone(), signed("another-secret", &url, &body, now)),
        (body.clone(), signed(SECRET, &url, &body, now - 301_000)),
        (
            body.clone(),
            signed(SECRET, "https://elsewhere.example/hook", &body, now),
        ),
    ];
    for (sent, headers) in refusals {
        let response = post(&app, integration, &sent, &headers).await;
        let problem = assert_problem(response, 400, "webhook_signature_invalid").await;
        assert!(!problem["detail"].as_str().unwrap().contains(SECRET));
    }
    // A sender cannot choose the URL that is checked: Junction's header is its own.
    let elsewhere = "https://elsewhere.example/hook";
    let mut claimed = signed(SECRET, elsewhere, &body, now);
    claimed.push((REQUEST_URL_HEADER, elsewhere.to_owned()));
    let response = post(&app, integration, &body, &claimed).await;
    assert_problem(response, 400, "webhook_signature_invalid").await;
    assert_eq!(stored(&app).await, 0);

    let first = post(&app, integration, &body, &signed(SECRET, &url, &body, now)).await;
    assert_eq!(first.status(), 200);
    let receipt: Value = first.json().await.unwrap();
    assert_eq!(receipt, json!({"accepted": 1, "duplicates": 0}));
    // HubSpot retries: the same event, signed anew.
    let again = post(
        &app,
        integration,
        &body,
        &signed(SECRET, &url, &body, now + 5_000),
    )
    .await;
    let receipt: Value = again.json().await.unwrap();
    assert_eq!(receipt, json!({"accepted": 0, "duplicates": 1}));
    assert_eq!(stored(&app).await, 1);

    // The worker verifies the stored delivery again and applies it: the contact is
    // re-read from the sandbox and its record written.
    let worker = Worker::start(&app).await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM records WHERE stream = 'contacts' AND external_id = '101' \
         AND data->'properties'->>'lastname' = 'Lovelace'",
        1,
    )
    .await;
    worker.stop().await;
}

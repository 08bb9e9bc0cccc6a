//! Inbound webhooks end to end: the signature schemes at the ingress (Stripe's and
//! Svix's here; Meta's handshake and signature with the Meta provider), nothing stored
//! for a refused delivery, a redelivery stored once, and the worker applying the
//! stored event once — however often it arrived — with replay by ops.

use std::time::Duration;

use chrono::Utc;
use junction_app::Config;
use junction_core::webhook::{stripe, svix};
use junction_registry::Registry;
use reqwest::Response;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem};

/// The Stripe sandbox's published test values.
pub const STRIPE_KEY: &str = "sk_test_sandbox";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_junctionsandbox";
/// The Resend sandbox's.
const RESEND_KEY: &str = "re_sandbox_full_access";
pub const RESEND_WEBHOOK_SECRET: &str = "whsec_anVuY3Rpb24tcmVzZW5kLXNhbmRib3gtc2lnbmluZyE=";

pub async fn connect_stripe(app: &TestApp) -> Uuid {
    let response = app
        .post("/v1/integrations")
        .json(&json!({
            "provider": "stripe",
            "credentials": {"secret_key": STRIPE_KEY, "webhook_secret": STRIPE_WEBHOOK_SECRET}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

async fn connect_resend(app: &TestApp) -> Uuid {
    let response = app
        .post("/v1/integrations")
        .json(&json!({
            "provider": "resend",
            "config": {"from": "Acme Alerts <alerts@acme.example>"},
            "credentials": {"api_key": RESEND_KEY, "webhook_secret": RESEND_WEBHOOK_SECRET}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

/// A Stripe event as Stripe sends it, for a charge of the sandbox.
pub fn stripe_event(id: &str, event_type: &str, object: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": Utc::now().timestamp(),
        "type": event_type,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "data": {"object": object}
    }))
    .unwrap()
}

pub async fn post_stripe(
    app: &TestApp,
    integration: Uuid,
    body: &[u8],
    secret: &str,
    at: i64,
) -> Response {
    let signature = stripe::sign(&SecretString::from(secret), body, at);
    app.client
        .post(format!("{}/webhooks/stripe/{integration}", app.url))
        .header("Stripe-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

/// A charge of the Stripe sandbox, read with the sandbox key.
pub async fn sandbox_charge(app: &TestApp) -> Value {
    let charges: Value = app
        .client
        .get(format!("{}stripe/v1/charges?limit=20", app.sandbox.url))
        .bearer_auth(STRIPE_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    charges["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "succeeded" && c["refunded"] == false)
        .cloned()
        .expect("the sandbox has a refundable charge")
}

async fn stored_events(app: &TestApp) -> i64 {
    app.count("SELECT count(*) AS n FROM webhook_events").await
}

/// A worker for the same app (its queues, database and sandbox), in this process.
pub struct Worker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Worker {
    pub async fn start(app: &TestApp) -> Self {
        let config = Config::from_figment(
            app.figment
                .clone()
                .merge(("worker.metrics_bind", ""))
                .merge(("worker.poll_interval_ms", 50))
                .merge(("worker.retry_base_ms", 50))
                .merge(("worker.retry_cap_seconds", 1)),
        )
        .unwrap();
        let app =
            junction_app::App::connect(config, Registry::builtin(), junction_app::Role::Worker)
                .await
                .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(junction_app::worker::Worker::new(app).run(async move {
            let _ = stopped.await;
        }));
        Self {
            stop: Some(stop),
            task,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// Polls `sql` (a count) until it reaches `want`.
pub async fn wait_count(app: &TestApp, sql: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = app.count(sql).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "`{sql}` stayed at {got}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_deliveries_are_verified_stored_once_and_applied_once() {
    let app = TestApp::spawn().await;
    let integration = connect_stripe(&app).await;
    let mut charge = sandbox_charge(&app).await;
    charge["refunded"] = json!(true);
    charge["amount_refunded"] = charge["amount"].clone();
    let body = stripe_event("evt_junction_test_1", "charge.refunded", charge.clone());
    let now = Utc::now().timestamp();

    let first = post_stripe(&app, integration, &body, STRIPE_WEBHOOK_SECRET, now).await;
    assert_eq!(first.status(), 200);
    let receipt: Value = first.json().await.unwrap();
    assert_eq!(receipt, json!({"accepted": 1, "duplicates": 0}));
    // Stripe retries a delivery it thinks failed: the same event, signed anew.
    let again = post_stripe(&app, integration, &body, STRIPE_WEBHOOK_SECRET, now + 30).await;
    assert_eq!(again.status(), 200);
    let receipt: Value = again.json().await.unwrap();
    assert_eq!(receipt, json!({"accepted": 0, "duplicates": 1}));
    assert_eq!(stored_events(&app).await, 1);

    let listed: Value = app
        .get("/v1/webhook-events?status=received")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["event_id"], "evt_junction_test_1");
    assert_eq!(listed["data"][0]["event_type"], "charge.refunded");

    let worker = Worker::start(&app).await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    // The charge's record carries the refund the event reported.
    let charge_id = charge["id"].as_str().unwrap();
    wait_count(
        &app,
        &format!(
            "SELECT count(*) AS n FROM records WHERE stream = 'charges' AND external_id = '{charge_id}' \
             AND data->>'refunded' = 'true'"
        ),
        1,
    )
    .await;
    // A third delivery after processing changes nothing and queues nothing.
    let late = post_stripe(&app, integration, &body, STRIPE_WEBHOOK_SECRET, now + 60).await;
    assert_eq!(late.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM integration_logs WHERE operation = 'webhook' \
             AND message LIKE 'webhook `charge.refunded` processed'"
        )
        .await,
        1,
        "the event is applied once however often it arrives"
    );

    // Ops replay the stored event: processed again (idempotently), logged again.
    let event_id = listed["data"][0]["id"].as_str().unwrap();
    let replay = app
        .post(&format!("/v1/webhook-events/{event_id}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 202);
    wait_count(
        &app,
        "SELECT count(*) AS n FROM integration_logs WHERE operation = 'webhook' \
         AND message LIKE 'webhook `charge.refunded` processed'",
        2,
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM records WHERE stream = 'charges' AND external_id = '{charge_id}'"
        ))
        .await,
        1
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_stripe_deliveries_store_nothing() {
    let app = TestApp::spawn().await;
    let integration = connect_stripe(&app).await;
    let body = stripe_event("evt_refused", "invoice.paid", json!({"id": "in_1"}));
    let now = Utc::now().timestamp();

    // Tampered body: signed, then changed.
    let signature = stripe::sign(&SecretString::from(STRIPE_WEBHOOK_SECRET), &body, now);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let response = app
        .client
        .post(format!("{}/webhooks/stripe/{integration}", app.url))
        .header("Stripe-Signature", &signature)
        .body(tampered)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 400, "webhook_signature_invalid").await;
    assert!(!problem["detail"].as_str().unwrap().contains("whsec_"));

    // Wrong secret.
    let response = post_stripe(&app, integration, &body, "whsec_not_the_one", now).await;
    assert_problem(response, 400, "webhook_signature_invalid").await;

    // Stale timestamp: beyond Stripe's five minutes.
    let response = post_stripe(&app, integration, &body, STRIPE_WEBHOOK_SECRET, now - 301).await;
    let problem = assert_problem(response, 400, "webhook_signature_invalid").await;
    assert!(problem["detail"].as_str().unwrap().contains("timestamp"));

    // Missing header.
    let response = app
        .client
        .post(format!("{}/webhooks/stripe/{integration}", app.url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 400, "webhook_signature_invalid").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Stripe-Signature")
    );

    // An integration of another provider, or none at all: the same 404.
    let response = post_stripe(&app, Uuid::new_v4(), &body, STRIPE_WEBHOOK_SECRET, now).await;
    assert_problem(response, 404, "integration_not_found").await;
    let response = app
        .client
        .post(format!("{}/webhooks/resend/{integration}", app.url))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "integration_not_found").await;

    assert_eq!(stored_events(&app).await, 0);
    // The valid delivery still goes through afterwards.
    let response = post_stripe(&app, integration, &body, STRIPE_WEBHOOK_SECRET, now).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stored_events(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_integration_without_a_signing_secret_takes_no_webhooks() {
    let app = TestApp::spawn().await;
    let response = app
        .post("/v1/integrations")
        .json(&json!({"provider": "stripe", "credentials": {"secret_key": STRIPE_KEY}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = stripe_event("evt_x", "invoice.paid", json!({"id": "in_1"}));
    let response = post_stripe(
        &app,
        id.parse().unwrap(),
        &body,
        STRIPE_WEBHOOK_SECRET,
        Utc::now().timestamp(),
    )
    .await;
    assert_problem(response, 400, "webhook_not_configured").await;
    assert_eq!(stored_events(&app).await, 0);

    // The signing secret is set afterwards, checked by Stripe's field rules.
    let bad = app
        .put(&format!("/v1/integrations/{id}/webhook"))
        .json(&json!({"signing_secret": "not-a-secret"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(bad, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "signing_secret");
    let set: Value = app
        .put(&format!("/v1/integrations/{id}/webhook"))
        .json(&json!({"signing_secret": STRIPE_WEBHOOK_SECRET}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["secret_set"], true);
    assert_eq!(set["scheme"], "stripe");
    assert!(!set.to_string().contains(STRIPE_WEBHOOK_SECRET));
    let response = post_stripe(
        &app,
        id.parse().unwrap(),
        &body,
        STRIPE_WEBHOOK_SECRET,
        Utc::now().timestamp(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(stored_events(&app).await, 1);
}

pub fn svix_headers(secret: &str, msg_id: &str, at: i64, body: &[u8]) -> [(String, String); 3] {
    let signature = svix::sign(&SecretString::from(secret), msg_id, at, body).unwrap();
    [
        ("svix-id".to_owned(), msg_id.to_owned()),
        ("svix-timestamp".to_owned(), at.to_string()),
        ("svix-signature".to_owned(), signature),
    ]
}

pub async fn post_resend(
    app: &TestApp,
    integration: Uuid,
    headers: &[(String, String)],
    body: &[u8],
) -> Response {
    let mut request = app
        .client
        .post(format!("{}/webhooks/resend/{integration}", app.url))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_bounces_arrive_signed_by_svix_and_suppress_the_address_once() {
    let app = TestApp::spawn().await;
    let integration = connect_resend(&app).await;
    let body = serde_json::to_vec(&json!({
        "type": "email.bounced",
        "created_at": Utc::now().to_rfc3339(),
        "data": {
            "email_id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c",
            "from": "Acme Alerts <alerts@acme.example>",
            "to": ["Bounced@Resend.dev"],
            "subject": "KPI alert",
            "created_at": Utc::now().to_rfc3339(),
            "bounce": {"type": "Permanent", "subType": "General", "message": "mailbox does not exist"}
        }
    }))
    .unwrap();
    let now = Utc::now().timestamp();

    // Refused: wrong secret, stale, tampered, missing headers.
    let wrong = svix_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_1",
        now,
        &body,
    );
    assert_problem(
        post_resend(&app, integration, &wrong, &body).await,
        400,
        "webhook_signature_invalid",
    )
    .await;
    let stale = svix_headers(RESEND_WEBHOOK_SECRET, "msg_1", now - 3600, &body);
    assert_problem(
        post_resend(&app, integration, &stale, &body).await,
        400,
        "webhook_signature_invalid",
    )
    .await;
    let good = svix_headers(RESEND_WEBHOOK_SECRET, "msg_1", now, &body);
    let mut tampered = body.clone();
    tampered[0] = b' ';
    assert_problem(
        post_resend(&app, integration, &good, &tampered).await,
        400,
        "webhook_signature_invalid",
    )
    .await;
    assert_problem(
        post_resend(&app, integration, &good[..2], &body).await,
        400,
        "webhook_signature_invalid",
    )
    .await;
    assert_eq!(stored_events(&app).await, 0);

    // Accepted, then redelivered by Svix under the same message id.
    let response = post_resend(&app, integration, &good, &body).await;
    assert_eq!(response.status(), 200);
    let retry = svix_headers(RESEND_WEBHOOK_SECRET, "msg_1", now + 5, &body);
    let response = post_resend(&app, integration, &retry, &body).await;
    assert_eq!(response.json::<Value>().await.unwrap()["duplicates"], 1);

    let worker = Worker::start(&app).await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    worker.stop().await;
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM email_suppressions \
             WHERE address = 'bounced@resend.dev' AND reason = 'bounce'"
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM records WHERE stream = 'emails' \
             AND external_id = '4ef9a417-02e9-4d39-ad75-9611e0fcc33c' AND data->>'last_event' = 'bounced'"
        )
        .await,
        1
    );
}

/// Connects the sandbox's Meta Ads through the OAuth flow.
async fn connect_meta(app: &TestApp) -> Uuid {
    let response = app
        .post("/v1/connect/meta-ads")
        .json(&json!({"config": {"ad_account_id": "act_1234567890"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    let authorize = url::Url::parse(body["authorize_url"].as_str().unwrap()).unwrap();
    let callback = app.consent(&authorize, "approve").await;
    let outcome: Value = app.callback(&callback).await.json().await.unwrap();
    outcome["integration_id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_handshakes_and_signed_deliveries_use_the_verify_token_and_the_app_secret() {
    let app = TestApp::spawn().await;
    let meta = connect_meta(&app).await;
    let handshake = |token: &str| {
        app.client
            .get(format!(
                "{}/webhooks/meta-ads/{meta}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444",
                app.url
            ))
            .send()
    };
    // No verify token set yet.
    assert_problem(
        handshake("tok").await.unwrap(),
        400,
        "webhook_not_configured",
    )
    .await;

    let setup: Value = app
        .get(&format!("/v1/integrations/{meta}/webhook"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        setup["url"],
        format!("{}/webhooks/meta-ads/{meta}", app.url)
    );
    assert_eq!(setup["secret_source"], "app_client_secret");
    assert_eq!(setup["secret_set"], true);
    assert_eq!(setup["verify_token_set"], false);
    // Meta signs with the app secret: there is no signing secret to set here.
    let refused = app
        .put(&format!("/v1/integrations/{meta}/webhook"))
        .json(&json!({"signing_secret": "whsec_nope"}))
        .send()
        .await
        .unwrap();
    assert_problem(refused, 422, "validation_failed").await;
    let set: Value = app
        .put(&format!("/v1/integrations/{meta}/webhook"))
        .json(&json!({"verify_token": "meta-verify-7d1c"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["verify_token_set"], true);

    let answered = handshake("meta-verify-7d1c").await.unwrap();
    assert_eq!(answered.status(), 200);
    assert_eq!(answered.text().await.unwrap(), "1158201444");
    assert_problem(handshake("wrong").await.unwrap(), 403, "forbidden").await;

    let body = br#"{"object":"ad_account","entry":[{"id":"act_1234567890","time":1763800000,"changes":[{"field":"with_issues_ad_objects","value":{"id":"23850000000000001","level":"CAMPAIGN","error_code":1487,"error_summary":"Ad account has no payment method"}}]}]}"#;
    // The demo and test app's sandbox client secret is the Meta app secret here.
    let app_secret = SecretString::from("junction-sandbox-secret");
    let post = |signature: String, body: &'static [u8]| {
        app.client
            .post(format!("{}/webhooks/meta-ads/{meta}", app.url))
            .header("X-Hub-Signature-256", signature)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let wrong = junction_core::webhook::meta::sign(&SecretString::from("not-the-app-secret"), body);
    assert_problem(
        post(wrong, body).await.unwrap(),
        400,
        "webhook_signature_invalid",
    )
    .await;
    assert_eq!(stored_events(&app).await, 0);
    let good = junction_core::webhook::meta::sign(&app_secret, body);
    let response = post(good.clone(), body).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["accepted"], 1);
    let response = post(good, body).await.unwrap();
    assert_eq!(response.json::<Value>().await.unwrap()["duplicates"], 1);
    assert_eq!(stored_events(&app).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_cannot_be_applied_is_dead_lettered_and_replayed_once_fixed() {
    let app = TestApp::spawn().await;
    let integration = connect_stripe(&app).await;
    // Failure notices go to the recipients of the workspace's alert rules.
    let rule = app
        .post("/v1/alerts")
        .json(&json!({
            "name": "Revenue drop",
            "integration_id": integration,
            "metric": "gross_revenue",
            "condition": "below",
            "threshold": 0.0,
            "window_days": 1,
            "recipients": ["ops@acme.example"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), 201);
    let charge = sandbox_charge(&app).await;
    let body = stripe_event("evt_junction_rotated", "charge.refunded", charge);
    let response = post_stripe(
        &app,
        integration,
        &body,
        STRIPE_WEBHOOK_SECRET,
        Utc::now().timestamp(),
    )
    .await;
    assert_eq!(response.status(), 200);
    // The signing secret is rotated before the worker gets to the event: the stored
    // delivery no longer verifies, and retrying cannot help.
    let rotated = app
        .put(&format!("/v1/integrations/{integration}/webhook"))
        .json(&json!({"signing_secret": "whsec_rotatedsecret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);

    let worker = Worker::start(&app).await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'dead'",
        1,
    )
    .await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM dead_letters WHERE queue = 'webhook' \
         AND error_code = 'webhook_signature_invalid'",
        1,
    )
    .await;
    let dead: Value = app
        .get("/v1/webhook-events?status=dead")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event = dead["data"][0]["id"].as_str().unwrap().to_owned();
    wait_count(
        &app,
        "SELECT count(*) AS n FROM notifications WHERE kind = 'dead_letter'",
        1,
    )
    .await;
    assert!(
        dead["data"][0]["error_message"]
            .as_str()
            .unwrap()
            .contains("no longer verifies")
    );

    // Ops put the secret the delivery was signed with back and replay the event.
    app.put(&format!("/v1/integrations/{integration}/webhook"))
        .json(&json!({"signing_secret": STRIPE_WEBHOOK_SECRET}))
        .send()
        .await
        .unwrap();
    let replay = app
        .post(&format!("/v1/webhook-events/{event}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 202);
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    worker.stop().await;
}

/// A page of the integration list shows each integration's own stored secret
/// fields (read for the whole page at once, not one query per integration).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integration_list_shows_each_integrations_own_secret_fields() {
    let app = TestApp::spawn().await;
    let with_secret = connect_stripe(&app).await;
    let response = app
        .post("/v1/integrations")
        .json(&json!({"provider": "stripe", "credentials": {"secret_key": STRIPE_KEY}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let without_secret = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed: Value = app
        .get("/v1/integrations")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fields = |id: &str| {
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|integration| integration["id"] == id)
            .map(|integration| integration["credential_fields"].clone())
            .unwrap()
    };
    assert_eq!(
        fields(&with_secret.to_string()),
        json!(["secret_key", "webhook_secret"])
    );
    assert_eq!(fields(&without_secret), json!(["secret_key"]));
}

//! Outbound webhooks through the API: endpoints managed as Svix users expect
//! (validation as problem+json, the secret read and rotated, other workspaces kept
//! out), and a failing endpoint retried on Svix's schedule — the scheduled times
//! read from the dead letter and the attempts, the queue's clock moved forward
//! instead of waiting hours — then dead-lettered and delivered by
//! `POST /v1/dead-letters/{id}/replay`.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use junction_registry::Registry;
use junction_testkit::{create_integration, create_workspace};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

use crate::{
    support::{TestApp, assert_problem},
    webhooks::{
        STRIPE_KEY, STRIPE_WEBHOOK_SECRET, Worker, connect_stripe, post_stripe, sandbox_charge,
        stripe_event, wait_count,
    },
};

/// Svix's retry schedule: the wait after each failed attempt, in seconds.
const SVIX_SCHEDULE: [i64; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

async fn spawn_allowing_private_networks() -> TestApp {
    TestApp::spawn_with(Registry::builtin(), |figment| {
        figment.merge(("outbound_allow_private_networks", true))
    })
    .await
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_endpoints_are_managed_as_svix_users_expect() {
    let app = TestApp::spawn().await;

    let types = json_of(app.get("/v1/event-types").send().await.unwrap(), 200).await;
    let names: Vec<&str> = types["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "connection.created",
            "connection.needs_reauth",
            "connection.deleted",
            "sync.succeeded",
            "sync.failed",
            "records.changed",
            "action.finished",
            "provider_event.received"
        ]
    );
    assert!(
        types["data"][5]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "modified_after")
    );

    // Every field at fault, at once, as problem+json.
    let refused = assert_problem(
        app.post("/v1/webhook-endpoints")
            .json(&json!({
                "url": "ftp://hooks.example.com/x",
                "event_types": ["sync.exploded"],
                "secret": "not-a-secret",
            }))
            .send()
            .await
            .unwrap(),
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["url", "event_types", "secret"], "{refused}");
    assert!(!refused.to_string().contains("not-a-secret"));
    for url in [
        "http://127.0.0.1:9000/hooks",
        "http://localhost/hooks",
        "http://169.254.169.254/latest/meta-data",
        "https://user:password@hooks.example.com/x",
    ] {
        assert_problem(
            app.post("/v1/webhook-endpoints")
                .json(&json!({ "url": url }))
                .send()
                .await
                .unwrap(),
            422,
            "validation_failed",
        )
        .await;
    }
    assert_problem(
        app.post("/v1/webhook-endpoints")
            .json(&json!({ "description": "no url" }))
            .send()
            .await
            .unwrap(),
        422,
        "validation_failed",
    )
    .await;

    // Kept as written: at the length limit, even where the URL standard would add a
    // `/` before the query.
    let longest = format!("HTTPS://Hooks.Example.COM?{}", "q".repeat(2048 - 26));
    assert_eq!(longest.len(), 2048);
    let kept = json_of(
        app.post("/v1/webhook-endpoints")
            .json(&json!({ "url": longest }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(kept["url"], longest.as_str());
    let removed = app
        .delete(&format!(
            "/v1/webhook-endpoints/{}",
            kept["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);

    let response = app
        .post("/v1/webhook-endpoints")
        .json(&json!({
            "url": "https://hooks.example.com/junction",
            "description": "Our app",
            "event_types": ["sync.failed", "connection.created", "sync.failed"],
        }))
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created = json_of(response, 201).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/webhook-endpoints/{id}"));
    assert_eq!(
        created["event_types"],
        json!(["connection.created", "sync.failed"])
    );
    assert_eq!(created["enabled"], true);
    assert!(created.get("secret").is_none() && !created.to_string().contains("whsec_"));

    let secret = json_of(
        app.get(&format!("/v1/webhook-endpoints/{id}/secret"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let key = secret["key"].as_str().unwrap().to_owned();
    let raw = STANDARD
        .decode(key.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(raw.len(), 32);

    // Rotation without a body makes a new secret; with a key, that one.
    let rotated = app
        .post(&format!("/v1/webhook-endpoints/{id}/rotate-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 204);
    let after = json_of(
        app.get(&format!("/v1/webhook-endpoints/{id}/secret"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_ne!(after["key"], key.as_str());
    let mine = format!("whsec_{}", STANDARD.encode([42u8; 24]));
    let rotated = app
        .post(&format!("/v1/webhook-endpoints/{id}/rotate-secret"))
        .json(&json!({ "key": mine }))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 204);
    let after = json_of(
        app.get(&format!("/v1/webhook-endpoints/{id}/secret"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(after["key"], mine.as_str());
    assert_problem(
        app.post(&format!("/v1/webhook-endpoints/{id}/rotate-secret"))
            .json(&json!({ "key": "whsec_short" }))
            .send()
            .await
            .unwrap(),
        422,
        "validation_failed",
    )
    .await;

    let patched = json_of(
        app.patch(&format!("/v1/webhook-endpoints/{id}"))
            .json(&json!({ "enabled": false, "event_types": [] }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        (patched["enabled"].clone(), patched["event_types"].clone()),
        (json!(false), json!([]))
    );
    assert_eq!(patched["description"], "Our app");
    let listed = json_of(app.get("/v1/webhook-endpoints").send().await.unwrap(), 200).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let attempts = json_of(
        app.get(&format!("/v1/webhook-endpoints/{id}/attempts"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(attempts["data"], json!([]));

    // Another workspace's key sees none of it.
    let (_, other_key) = create_workspace(app.db.store(), "Other").await;
    for path in [
        format!("/v1/webhook-endpoints/{id}"),
        format!("/v1/webhook-endpoints/{id}/secret"),
        format!("/v1/webhook-endpoints/{id}/attempts"),
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.url))
            .bearer_auth(other_key.expose_secret())
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "not_found").await;
    }

    let deleted = app
        .delete(&format!("/v1/webhook-endpoints/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(
        app.get(&format!("/v1/webhook-endpoints/{id}"))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM webhook_endpoint_secrets")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_nobody_subscribes_to_is_not_stored() {
    let app = TestApp::spawn().await;
    json_of(
        app.post("/v1/webhook-endpoints")
            .json(&json!({
                "url": "https://hooks.example.com/junction",
                "event_types": ["sync.failed"],
            }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let integration = create_integration(app.db.store(), app.workspace, "stripe").await;
    let deleted = app
        .delete(&format!("/v1/integrations/{}", integration.id))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let events = json_of(app.get("/v1/events").send().await.unwrap(), 200).await;
    assert_eq!(events["data"], json!([]));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outbound_events").await,
        0
    );
    assert_eq!(app.staged_jobs().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_endpoint_is_retried_on_svix_schedule_then_dead_lettered_and_replayed() {
    let app = spawn_allowing_private_networks().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("down for maintenance"))
        .mount(&receiver)
        .await;
    let worker = Worker::start(&app).await;
    let endpoint = json_of(
        app.post("/v1/webhook-endpoints")
            .json(&json!({
                "url": format!("{}/hooks", receiver.uri()),
                "event_types": ["connection.deleted"],
            }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_owned();
    let integration = create_integration(app.db.store(), app.workspace, "stripe").await;
    let deleted = app
        .delete(&format!("/v1/integrations/{}", integration.id))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    // Eight attempts: after each of the first seven the retry is scheduled at its
    // place in the schedule; the test then moves the queue's clock to it.
    for attempt in 1..=8_i64 {
        wait_count(&app, "SELECT count(*) AS n FROM outbound_attempts", attempt).await;
        if attempt == 8 {
            break;
        }
        wait_count(
            &app,
            &format!(
                "SELECT count(*) AS n FROM outbound_attempts WHERE attempt = {attempt} \
                 AND next_attempt_at IS NOT NULL"
            ),
            1,
        )
        .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while app.redis.make_delayed_due().await == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "retry {attempt} never queued"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    wait_count(
        &app,
        "SELECT count(*) AS n FROM dead_letters WHERE queue = 'outbound'",
        1,
    )
    .await;
    // The dead letter's hook marks the delivery right after the letter is stored.
    wait_count(
        &app,
        "SELECT count(*) AS n FROM outbound_deliveries WHERE status = 'failed'",
        1,
    )
    .await;

    // The dead letter: eight attempts, each retry scheduled exactly on Svix's
    // schedule after the failure before it.
    let letters = json_of(
        app.get("/v1/dead-letters?queue=outbound")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let letter = &letters["data"][0];
    assert_eq!(letter["attempts"], 8);
    assert_eq!(letter["error_code"], "webhook_endpoint_rejected");
    assert_eq!(letter["job"]["kind"], "outbound");
    let log = letter["attempt_log"].as_array().unwrap();
    assert_eq!(log.len(), 8);
    let moment =
        |value: &Value| -> Option<DateTime<Utc>> { serde_json::from_value(value.clone()).unwrap() };
    let waits: Vec<Option<i64>> = log
        .iter()
        .map(|entry| {
            let at = moment(&entry["at"]).unwrap();
            moment(&entry["retry_at"]).map(|retry| (retry - at).num_milliseconds())
        })
        .collect();
    let mut expected: Vec<Option<i64>> = SVIX_SCHEDULE.iter().map(|s| Some(s * 1000)).collect();
    expected.push(None);
    assert_eq!(waits, expected);

    // Every attempt is listed with its status code, latency and the answer; each
    // one's next attempt is the dead letter's retry time.
    let attempts = json_of(
        app.get(&format!("/v1/webhook-endpoints/{endpoint_id}/attempts"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let attempts = attempts["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 8);
    for (listed, entry) in attempts.iter().rev().zip(log) {
        assert_eq!(listed["attempt"], entry["attempt"]);
        assert_eq!(listed["status_code"], 500);
        assert_eq!(listed["succeeded"], false);
        assert!(listed["latency_ms"].as_i64().unwrap() >= 0);
        assert_eq!(listed["response_excerpt"], "down for maintenance");
        assert_eq!(listed["error_code"], "webhook_endpoint_rejected");
        // Postgres keeps microseconds.
        let micros = |value: &Value| moment(value).map(|at| at.timestamp_micros());
        assert_eq!(
            micros(&listed["next_attempt_at"]),
            micros(&entry["retry_at"])
        );
    }
    let event_id = attempts[0]["event_id"].as_str().unwrap().to_owned();
    let event = json_of(
        app.get(&format!("/v1/events/{event_id}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(event["type"], "connection.deleted");
    assert_eq!(event["deliveries"][0]["status"], "failed");
    assert_eq!(event["deliveries"][0]["attempts"], 8);
    let tried = receiver.received_requests().await.unwrap();
    assert_eq!(tried.len(), 8);
    assert!(
        tried
            .iter()
            .all(|r| r.headers["webhook-id"] == event_id.as_str() && r.body == tried[0].body)
    );

    // The endpoint is back: the dead letter's replay delivers the same event.
    receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let letter_id = letter["id"].as_str().unwrap();
    let replayed = json_of(
        app.post(&format!("/v1/dead-letters/{letter_id}/replay"))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    assert!(replayed["job_id"].as_str().unwrap().ends_with("-replay-1"));
    wait_count(
        &app,
        "SELECT count(*) AS n FROM outbound_deliveries WHERE status = 'succeeded'",
        1,
    )
    .await;
    let attempts = json_of(
        app.get(&format!("/v1/events/{event_id}/attempts"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let newest = &attempts["data"][0];
    assert_eq!(
        (newest["attempt"].clone(), newest["status_code"].clone()),
        (json!(9), json!(200))
    );
    assert_eq!(newest["succeeded"], true);
    let delivered = receiver.received_requests().await.unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].headers["webhook-id"], event_id.as_str());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_actions_and_provider_webhooks_become_events() {
    let app = spawn_allowing_private_networks().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    json_of(
        app.post("/v1/webhook-endpoints")
            .json(&json!({ "url": format!("{}/hooks", receiver.uri()) }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let worker = Worker::start(&app).await;

    // A connection, an inline action, a provider's webhook (which the worker then
    // applies, changing a charge's record).
    let stripe = connect_stripe(&app).await;
    let action = json_of(
        app.post(&format!(
            "/v1/integrations/{stripe}/actions/create_customer"
        ))
        .json(&json!({"email": "ada@example.com", "name": "Ada"}))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let mut charge = sandbox_charge(&app).await;
    charge["refunded"] = json!(true);
    let body = stripe_event("evt_outbound_1", "charge.refunded", charge.clone());
    let delivered = post_stripe(
        &app,
        stripe,
        &body,
        STRIPE_WEBHOOK_SECRET,
        Utc::now().timestamp(),
    )
    .await;
    assert_eq!(delivered.status(), 200);

    wait_count(
        &app,
        "SELECT count(*) AS n FROM outbound_deliveries WHERE status = 'succeeded'",
        4,
    )
    .await;
    let requests = receiver.received_requests().await.unwrap();
    let bodies: Vec<Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let of = |kind: &str| -> Value {
        let found: Vec<&Value> = bodies.iter().filter(|b| b["type"] == kind).collect();
        assert_eq!(found.len(), 1, "{kind}: {bodies:#?}");
        found[0]["data"].clone()
    };
    let created = of("connection.created");
    assert_eq!(created["integration_id"], stripe.to_string());
    assert_eq!(
        (created["provider"].clone(), created["auth_kind"].clone()),
        (json!("stripe"), json!("api_key"))
    );
    let finished = of("action.finished");
    assert_eq!(finished["action_run_id"], action["id"]);
    assert_eq!(finished["status"], "succeeded");
    assert_eq!(finished["mode"], "inline");
    assert_eq!(finished["external_id"], action["external_id"]);
    let received = of("provider_event.received");
    assert_eq!(received["event_id"], "evt_outbound_1");
    assert_eq!(received["event_type"], "charge.refunded");
    assert_eq!(received["payload"]["data"]["object"]["id"], charge["id"]);
    let changed = of("records.changed");
    assert_eq!(changed["stream"], "charges");
    assert_eq!(changed["records_changed"], 1);
    assert_eq!(changed["webhook_event_id"], received["webhook_event_id"]);
    // The records changed since `modified_after` are the refunded charge.
    let records = json_of(
        app.get(&format!(
            "/v1/records?integration_id={stripe}&stream=charges&modified_after={}",
            changed["modified_after"]
                .as_str()
                .unwrap()
                .replace('+', "%2B")
        ))
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let ids: Vec<&str> = records["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [charge["id"].as_str().unwrap()]);
    // No credential of the integration travels.
    for request in &requests {
        let text = String::from_utf8_lossy(&request.body);
        assert!(!text.contains(STRIPE_KEY) && !text.contains(STRIPE_WEBHOOK_SECRET));
    }
    worker.stop().await;
}

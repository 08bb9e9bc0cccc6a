//! Actions through the API: schema validation (422 naming the fields), inline runs,
//! queued runs on the action queue, and idempotency end to end — a Stripe refund
//! retried with the same `Idempotency-Key` reaches the Stripe sandbox once, even when
//! the first answer was lost.

use serde_json::{Value, json};

use crate::{
    support::{TestApp, assert_problem},
    webhooks::{Worker, connect_stripe, sandbox_charge, wait_count},
};

async fn refunds_of(app: &TestApp, charge: &str) -> Vec<Value> {
    let refunds: Value = app
        .client
        .get(format!(
            "{}stripe/v1/refunds?charge={charge}",
            app.sandbox.url
        ))
        .bearer_auth("sk_test_sandbox")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    refunds["data"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_input_is_checked_against_the_schema_before_anything_runs() {
    let app = TestApp::spawn().await;
    let stripe = connect_stripe(&app).await;

    let response = app
        .post(&format!("/v1/integrations/{stripe}/actions/refund"))
        .json(&json!({"amount": "ten", "surprise": true}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"amount"), "{problem}");
    assert!(fields.contains(&"surprise"), "{problem}");
    assert!(
        !problem.to_string().contains("ten"),
        "values are not echoed"
    );

    let response = app
        .post(&format!("/v1/integrations/{stripe}/actions/launch_rocket"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "unknown_action").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM action_runs").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_retried_with_the_same_idempotency_key_reaches_stripe_once() {
    let app = TestApp::spawn().await;
    let stripe = connect_stripe(&app).await;
    let charge = sandbox_charge(&app).await;
    let charge_id = charge["id"].as_str().unwrap();
    let path = format!("/v1/integrations/{stripe}/actions/refund");
    let input = json!({"charge": charge_id, "reason": "requested_by_customer"});

    let first = app
        .post(&path)
        .header("Idempotency-Key", "refund-order-1042")
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "succeeded");
    assert_eq!(first["mode"], "inline");
    let refund_id = first["external_id"].as_str().unwrap().to_owned();
    assert!(refund_id.starts_with("re_"), "{first}");
    assert_eq!(first["output"]["charge"], charge_id);

    // The client retries (a timeout on its side): the stored answer comes back.
    let replay: Value = app
        .post(&path)
        .header("Idempotency-Key", "refund-order-1042")
        .json(&input)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(replay, first);

    // The answer is lost before Junction stored it (as after a crash): the retry runs
    // the action again, and Stripe sees the same key and refunds nothing more.
    app.count(
        "WITH gone AS (DELETE FROM idempotency_keys RETURNING 1) SELECT count(*) AS n FROM gone",
    )
    .await;
    let again = app
        .post(&path)
        .header("Idempotency-Key", "refund-order-1042")
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["id"], first["id"], "a new run of the same request");
    assert_eq!(again["external_id"], refund_id.as_str());

    let refunds = refunds_of(&app, charge_id).await;
    assert_eq!(refunds.len(), 1, "one refund at Stripe: {refunds:?}");
    assert_eq!(
        app.count("SELECT count(DISTINCT provider_idempotency_key) AS n FROM action_runs")
            .await,
        1
    );
    // Another key is another request.
    let other = app
        .post(&path)
        .header("Idempotency-Key", "refund-order-1043")
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_problem(other, 502, "provider_rejected").await;
    assert_eq!(refunds_of(&app, charge_id).await.len(), 1);
    let runs: Value = app
        .get(&format!("/v1/integrations/{stripe}/action-runs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = runs["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "succeeded", "succeeded"]);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM integration_logs WHERE operation = 'action'")
            .await,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_actions_run_on_the_action_queue() {
    let app = TestApp::spawn().await;
    let stripe = connect_stripe(&app).await;
    let response = app
        .post(&format!(
            "/v1/integrations/{stripe}/actions/create_customer?async=true"
        ))
        .json(&json!({"email": "jenny@example.com", "name": "Jenny Rosen"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let queued: Value = response.json().await.unwrap();
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["mode"], "queued");
    assert_eq!(
        location,
        format!("/v1/action-runs/{}", queued["id"].as_str().unwrap())
    );

    let worker = Worker::start(&app).await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM action_runs WHERE status = 'succeeded'",
        1,
    )
    .await;
    worker.stop().await;
    let run: Value = app
        .get(&location)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(run["attempts"], 1);
    assert!(run["external_id"].as_str().unwrap().starts_with("cus_"));
    assert_eq!(run["output"]["email"], "jenny@example.com");
}

//! Streams under control over the API — listing, rescheduling, disabling and
//! resetting a stream, with problem+json for what is refused — and deletions: a
//! record removed upstream comes back from `GET /v1/records?modified_after=` marked
//! deleted, found by a full-refresh sync (Resend's `domains`, served by wiremock so
//! a domain can go away) and announced by a webhook (Resend's `domain.deleted`,
//! Stripe's `customer.deleted`).

use chrono::{DateTime, Utc};
use junction_registry::Registry;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{
    support::{TestApp, assert_problem},
    webhooks::{
        RESEND_WEBHOOK_SECRET, Worker, connect_stripe, post_resend, post_stripe, stripe_event,
        svix_headers, wait_count,
    },
};

const STRIPE_WEBHOOK_SECRET: &str = "whsec_junctionsandbox";

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

/// Streams 202-queues a sync of and waits for its run to end; returns the run.
async fn sync(app: &TestApp, integration: Uuid, body: Value) -> Value {
    let accepted = json_of(
        app.post(&format!("/v1/integrations/{integration}/sync"))
            .json(&body)
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    let run_id = accepted["run_id"].as_str().unwrap().to_owned();
    run_ended(app, integration, &run_id).await
}

/// Turns the integration's scheduled syncs off: the test runs each sync itself (a
/// scheduled run the worker started at once would take the test's requests in).
async fn unscheduled(app: &TestApp, integration: Uuid) {
    let patched = json_of(
        app.patch(&format!("/v1/integrations/{integration}"))
            .json(&json!({"sync_enabled": false}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(patched["sync_enabled"], false);
}

/// Polls a run until it has ended; a run that does not end within a minute fails
/// the test with the run and the integration's log.
async fn run_ended(app: &TestApp, integration: Uuid, run_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let run = json_of(
            app.get(&format!("/v1/runs/{run_id}")).send().await.unwrap(),
            200,
        )
        .await;
        if !run["finished_at"].is_null() {
            return run;
        }
        if tokio::time::Instant::now() > deadline {
            let logs = json_of(
                app.get(&format!("/v1/integrations/{integration}/logs?limit=50"))
                    .send()
                    .await
                    .unwrap(),
                200,
            )
            .await;
            panic!("the run did not end: {run:#}\n{logs:#}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn records(
    app: &TestApp,
    integration: Uuid,
    stream: &str,
    modified_after: Option<DateTime<Utc>>,
) -> Vec<Value> {
    let mut url = format!("/v1/records?integration_id={integration}&stream={stream}&limit=200");
    if let Some(after) = modified_after {
        url.push_str(&format!(
            "&modified_after={}",
            urlencode(&after.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        ));
    }
    let body = json_of(app.get(&url).send().await.unwrap(), 200).await;
    body["data"].as_array().unwrap().clone()
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}

/// The newest `updated_at` of some records: a follower's `modified_after`.
fn newest(rows: &[Value]) -> DateTime<Utc> {
    rows.iter()
        .map(|r| {
            r["updated_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
        })
        .max()
        .unwrap()
}

async fn streams(app: &TestApp, integration: Uuid) -> Vec<Value> {
    let body = json_of(
        app.get(&format!("/v1/integrations/{integration}/streams"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    body["data"].as_array().unwrap().clone()
}

fn stream<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter().find(|s| s["name"] == name).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_listed_rescheduled_disabled_and_reset() {
    let app = TestApp::spawn().await;
    let stripe = connect_stripe(&app).await;

    let list = streams(&app, stripe).await;
    let names: Vec<&str> = list.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "charges",
            "payment_intents",
            "customers",
            "subscriptions",
            "invoices",
            "refunds"
        ]
    );
    let charges = stream(&list, "charges");
    assert_eq!(charges["enabled"], true);
    assert_eq!(charges["full_refresh"], false);
    assert_eq!(charges["schedule_seconds"], 3600);
    assert_eq!(charges["default_schedule_seconds"], 3600);
    assert_eq!(charges["cursor"], Value::Null);
    assert_eq!(charges["last_sync_at"], Value::Null);
    assert_eq!(charges["records"], 0);
    // Never synced: due with the integration's first scheduled sync.
    let integration = json_of(
        app.get(&format!("/v1/integrations/{stripe}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(charges["next_sync_at"], integration["next_sync_at"]);
    assert_eq!(integration["schedule_seconds"], 3600);
    assert_eq!(stream(&list, "subscriptions")["full_refresh"], true);
    assert_eq!(stream(&list, "subscriptions")["schedule_seconds"], 6 * 3600);

    // Reschedule one, disable others.
    let customers = json_of(
        app.patch(&format!("/v1/integrations/{stripe}/streams/customers"))
            .json(&json!({"schedule_seconds": 86_400}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(customers["schedule_seconds"], 86_400);
    assert_eq!(customers["default_schedule_seconds"], 6 * 3600);
    assert_eq!(customers["enabled"], true);
    for name in ["charges", "payment_intents", "invoices", "refunds"] {
        let off = json_of(
            app.patch(&format!("/v1/integrations/{stripe}/streams/{name}"))
                .json(&json!({"enabled": false}))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(
            (&off["enabled"], &off["next_sync_at"]),
            (&json!(false), &Value::Null)
        );
    }
    // The integration's schedule is its shortest enabled stream's: subscriptions.
    let integration = json_of(
        app.get(&format!("/v1/integrations/{stripe}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(integration["schedule_seconds"], 6 * 3600);
    let logs = json_of(
        app.get(&format!("/v1/integrations/{stripe}/logs?operation=update"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert!(
        logs["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"] == "stream `customers` updated"),
        "{logs}"
    );

    // What is refused, and how.
    for seconds in [60, 299, 2_592_001] {
        let refused = app
            .patch(&format!("/v1/integrations/{stripe}/streams/customers"))
            .json(&json!({"schedule_seconds": seconds}))
            .send()
            .await
            .unwrap();
        let body = assert_problem(refused, 422, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "schedule_seconds", "{body}");
    }
    let unknown = app
        .patch(&format!("/v1/integrations/{stripe}/streams/nope"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404, "unknown_stream").await;
    let unknown = app
        .post(&format!("/v1/integrations/{stripe}/streams/nope/reset"))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404, "unknown_stream").await;
    let elsewhere = app
        .get(&format!("/v1/integrations/{}/streams", Uuid::new_v4()))
        .send()
        .await
        .unwrap();
    assert_problem(elsewhere, 404, "integration_not_found").await;
    for (body, status, code) in [
        (
            json!({"streams": ["charges", "nope"]}),
            404,
            "unknown_stream",
        ),
        (json!({"streams": []}), 422, "validation_failed"),
        // `stream` and `streams` together ask for every stream named.
        (
            json!({"stream": "nope", "streams": ["customers"]}),
            404,
            "unknown_stream",
        ),
    ] {
        let refused = app
            .post(&format!("/v1/integrations/{stripe}/sync"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_problem(refused, status, code).await;
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM sync_runs").await, 0);

    // A sync without names reads the enabled streams; one that names a disabled
    // stream reads it anyway.
    unscheduled(&app, stripe).await;
    let worker = Worker::start(&app).await;
    let enabled = sync(&app, stripe, json!({})).await;
    assert_eq!(enabled["status"], "succeeded", "{enabled}");
    assert_eq!(enabled["streams"], json!(["customers", "subscriptions"]));
    assert_eq!(enabled["stream"], Value::Null);
    let named = sync(
        &app,
        stripe,
        json!({"streams": ["charges", "refunds", "charges"]}),
    )
    .await;
    assert_eq!(named["streams"], json!(["charges", "refunds"]));
    let list = streams(&app, stripe).await;
    let charges = stream(&list, "charges");
    assert!(charges["cursor"].is_object(), "{charges}");
    let total = charges["records"].as_i64().unwrap();
    assert!(total > 20, "{charges}");
    assert!(stream(&list, "payment_intents")["last_sync_at"].is_null());

    // A reset reads the stream whole again, at once.
    let accepted = json_of(
        app.post(&format!("/v1/integrations/{stripe}/streams/charges/reset"))
            .send()
            .await
            .unwrap(),
        202,
    )
    .await;
    assert_eq!(accepted["streams"], json!(["charges"]));
    assert_eq!(accepted["joined"], false);
    let run = run_ended(&app, stripe, accepted["run_id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["stream"], "charges");
    assert_eq!(run["records_read"], total);
    assert_eq!(run["records_written"], 0);
    assert_eq!(
        stream(&streams(&app, stripe).await, "charges")["records"],
        total
    );

    // An integration's schedule is every stream's.
    let patched = json_of(
        app.patch(&format!("/v1/integrations/{stripe}"))
            .json(&json!({"schedule_seconds": 1800}))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(patched["schedule_seconds"], 1800);
    let list = streams(&app, stripe).await;
    assert!(
        list.iter().all(|s| s["schedule_seconds"] == 1800),
        "{list:#?}"
    );
    assert_eq!(
        stream(&list, "payment_intents")["enabled"],
        false,
        "settings stay"
    );
    worker.stop().await;
}

/// Resend's domain list as the mock serves it.
fn domains(ids: &[&str]) -> Value {
    json!({
        "object": "list",
        "has_more": false,
        "data": ids.iter().map(|id| json!({
            "id": id,
            "name": format!("{id}.acme.example"),
            "status": "verified",
            "region": "us-east-1",
            "created_at": "2026-11-01T10:00:00.000Z",
        })).collect::<Vec<_>>(),
    })
}

async fn serve_domains(provider: &MockServer, ids: &[&str]) {
    provider.reset().await;
    Mock::given(method("GET"))
        .and(path("/domains"))
        .respond_with(ResponseTemplate::new(200).set_body_json(domains(ids)))
        .mount(provider)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_gone_from_a_full_refresh_comes_back_marked_deleted() {
    let provider = MockServer::start().await;
    let base = provider.uri();
    let app = TestApp::spawn_with(Registry::builtin(), move |figment| {
        figment.merge(("providers.resend.api_base_url", base))
    })
    .await;
    serve_domains(&provider, &["dom_a", "dom_b", "dom_c"]).await;
    let created = json_of(
        app.post("/v1/integrations")
            .json(&json!({
                "provider": "resend",
                "config": {"from": "Acme Alerts <alerts@acme.example>"},
                "schedule_seconds": 7200,
                "credentials": {
                    "api_key": "re_sandbox_full_access",
                    "webhook_secret": RESEND_WEBHOOK_SECRET
                }
            }))
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    let resend: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(created["schedule_seconds"], 7200);
    let list = streams(&app, resend).await;
    // A schedule given at connect is every stream's (Resend's defaults: 1 to 24 h).
    assert!(
        list.iter().all(|s| s["schedule_seconds"] == 7200),
        "{list:#?}"
    );
    assert_eq!(stream(&list, "domains")["default_schedule_seconds"], 86_400);
    assert_eq!(stream(&list, "domains")["full_refresh"], true);
    unscheduled(&app, resend).await;
    let worker = Worker::start(&app).await;

    let first = sync(&app, resend, json!({"stream": "domains"})).await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(
        (&first["records_read"], &first["records_deleted"]),
        (&json!(3), &json!(0))
    );
    let before = records(&app, resend, "domains", None).await;
    assert_eq!(before.len(), 3);
    assert!(before.iter().all(|r| r["deleted_at"].is_null()));
    let since = newest(&before);

    // dom_b is deleted at Resend: the next whole read no longer lists it.
    serve_domains(&provider, &["dom_a", "dom_c"]).await;
    let second = sync(&app, resend, json!({"stream": "domains"})).await;
    assert_eq!(second["status"], "succeeded", "{second}");
    assert_eq!(
        (
            &second["records_read"],
            &second["records_written"],
            &second["records_deleted"]
        ),
        (&json!(2), &json!(0), &json!(1))
    );
    let changed = records(&app, resend, "domains", Some(since)).await;
    assert_eq!(changed.len(), 1, "only the deletion changed: {changed:#?}");
    assert_eq!(changed[0]["external_id"], "dom_b");
    let deleted_at = changed[0]["deleted_at"].as_str().expect("marked deleted");
    assert_eq!(changed[0]["updated_at"].as_str(), Some(deleted_at));
    assert_eq!(
        changed[0]["data"]["name"], "dom_b.acme.example",
        "kept as it was"
    );
    let domains_stream = stream(&streams(&app, resend).await, "domains").clone();
    assert_eq!(
        (
            &domains_stream["records"],
            &domains_stream["deleted_records"]
        ),
        (&json!(2), &json!(1))
    );

    // It comes back: live again, and followers learn that too.
    let since = newest(&changed);
    serve_domains(&provider, &["dom_a", "dom_b", "dom_c"]).await;
    let third = sync(&app, resend, json!({"stream": "domains"})).await;
    assert_eq!(
        (&third["records_written"], &third["records_deleted"]),
        (&json!(1), &json!(0))
    );
    let changed = records(&app, resend, "domains", Some(since)).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0]["external_id"], "dom_b");
    assert!(changed[0]["deleted_at"].is_null());

    // Resend announces a deletion too (`domain.deleted`, Svix-signed): marked at
    // once, without waiting for the next sync.
    let since = newest(&changed);
    let body = serde_json::to_vec(&json!({
        "type": "domain.deleted",
        "created_at": Utc::now().to_rfc3339(),
        "data": {"id": "dom_c", "name": "dom_c.acme.example", "status": "verified",
                 "created_at": "2026-11-01T10:00:00.000Z", "region": "us-east-1", "records": []}
    }))
    .unwrap();
    let headers = svix_headers(
        RESEND_WEBHOOK_SECRET,
        "msg_domain_deleted",
        Utc::now().timestamp(),
        &body,
    );
    assert_eq!(
        post_resend(&app, resend, &headers, &body).await.status(),
        200
    );
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    let changed = records(&app, resend, "domains", Some(since)).await;
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!(changed[0]["external_id"], "dom_c");
    assert!(changed[0]["deleted_at"].is_string());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_customer_deleted_event_marks_its_record_deleted() {
    let app = TestApp::spawn().await;
    let stripe = connect_stripe(&app).await;
    unscheduled(&app, stripe).await;
    let worker = Worker::start(&app).await;
    let run = sync(&app, stripe, json!({"stream": "customers"})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let customers = records(&app, stripe, "customers", None).await;
    assert!(customers.len() > 5, "{}", customers.len());
    assert_eq!(run["records_read"], customers.len());
    let since = newest(&customers);
    let gone = customers[0]["external_id"].as_str().unwrap().to_owned();

    // Stripe sends the deleted customer (its API answers this shape from then on).
    let body = stripe_event(
        "evt_junction_customer_deleted",
        "customer.deleted",
        json!({"id": gone, "object": "customer", "deleted": true}),
    );
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
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    let changed = records(&app, stripe, "customers", Some(since)).await;
    assert_eq!(changed.len(), 1, "{changed:#?}");
    assert_eq!(changed[0]["external_id"], gone.as_str());
    assert!(changed[0]["deleted_at"].is_string(), "{}", changed[0]);
    assert_eq!(
        changed[0]["data"], customers[0]["data"],
        "the record keeps what was synced"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) AS n FROM integration_logs WHERE operation = 'webhook' \
             AND message = 'webhook `customer.deleted` processed' \
             AND details->>'records_deleted' = '1'"
        )
        .await,
        1
    );
    let list = streams(&app, stripe).await;
    assert_eq!(
        (
            &stream(&list, "customers")["records"],
            &stream(&list, "customers")["deleted_records"]
        ),
        (&json!(customers.len() - 1), &json!(1))
    );
    worker.stop().await;
}

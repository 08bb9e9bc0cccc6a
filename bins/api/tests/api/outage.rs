//! Fail fast and heal. With Redis gone, every route that starts work still answers at
//! once (the job waits in the outbox) and its job reaches its queue once Redis is
//! back; what reads Redis itself (`/readyz`, the queue figures) answers 503
//! problem+json with `Retry-After` in under 2 s; provider calls go on (the shared
//! budget lets them through). With Postgres gone, requests answer 503 at once. After
//! either comes back — a restart nobody noticed included — the very first request
//! succeeds and `/readyz` says so.

use std::time::{Duration, Instant};

use chrono::Utc;
use junction_app::{App, Config, Role};
use junction_core::ErrorCode;
use junction_jobs::{Queues, Relay, RelayOptions};
use junction_registry::Registry;
use junction_store::models::Queue;
use junction_testkit::{TcpCut, url_addr};
use reqwest::Response;
use serde_json::{Value, json};

use crate::{
    support::{TestApp, assert_problem},
    webhooks::{connect_stripe, post_stripe, sandbox_charge, stripe_event},
};

const STRIPE_WEBHOOK_SECRET: &str = "whsec_junctionsandbox";

/// The API with its Redis behind a cut, and the cut.
async fn api_with_redis_behind_a_cut() -> (TestApp, TcpCut) {
    let cut = TcpCut::start(url_addr(&junction_testkit::redis_url())).await;
    let through_cut = format!("redis://{}", cut.addr());
    let app = TestApp::spawn_with(Registry::builtin(), move |figment| {
        figment.merge(("redis_url", through_cut))
    })
    .await;
    (app, cut)
}

/// Cuts every connection and waits for the forwarder to drop them.
async fn take_away(cut: &TcpCut) {
    cut.cut();
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Sends a request, printing how long the answer took.
async fn timed(what: &str, request: reqwest::RequestBuilder) -> (Response, Duration) {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let took = started.elapsed();
    eprintln!("{what}: {} in {took:?}", response.status());
    (response, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_that_starts_work_answers_while_redis_is_down_and_its_job_reaches_its_queue() {
    let (app, cut) = api_with_redis_behind_a_cut().await;
    let stripe = connect_stripe(&app).await;
    app.db
        .execute("UPDATE integrations SET next_sync_at = NULL")
        .await;
    let letters = app
        .dead_sync_letters(stripe, &["provider_unavailable"; 2])
        .await;
    // The worker's relay, on its own connection through the same cut.
    let relay = Relay::new(
        app.db.system_store().clone(),
        Queues::connect(&format!("redis://{}", cut.addr()), app.redis.prefix())
            .await
            .unwrap(),
        RelayOptions {
            retry_after: Duration::from_millis(1),
            ..RelayOptions::default()
        },
    );
    // A delivery stored (and relayed) before the outage, to replay during it.
    let charge = sandbox_charge(&app).await;
    let first = stripe_event("evt_outage_1", "charge.succeeded", charge.clone());
    let delivered = post_stripe(
        &app,
        stripe,
        &first,
        STRIPE_WEBHOOK_SECRET,
        Utc::now().timestamp(),
    )
    .await;
    assert_eq!(delivered.status(), 200);
    assert_eq!(relay.relay_once().await.unwrap().relayed, 1);
    let events: Value = app
        .get("/v1/webhook-events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let event_id = events["data"][0]["id"].as_str().unwrap().to_owned();

    take_away(&cut).await;
    let second = stripe_event("evt_outage_2", "charge.refunded", charge);
    let signature = junction_core::webhook::stripe::sign(
        &secrecy::SecretString::from(STRIPE_WEBHOOK_SECRET),
        &second,
        Utc::now().timestamp(),
    );
    let requests = [
        (
            "POST /v1/integrations/{id}/sync",
            app.post(&format!("/v1/integrations/{stripe}/sync"))
                .json(&json!({"stream": "customers"})),
        ),
        (
            "POST /v1/integrations/{id}/actions/create_customer?async=true",
            app.post(&format!(
                "/v1/integrations/{stripe}/actions/create_customer?async=true"
            ))
            .json(&json!({"email": "outage@example.com", "name": "Outage"})),
        ),
        (
            "POST /webhooks/stripe/{id}",
            app.client
                .post(format!("{}/webhooks/stripe/{stripe}", app.url))
                .header("Stripe-Signature", signature)
                .header("Content-Type", "application/json")
                .body(second),
        ),
        (
            "POST /v1/webhook-events/{id}/replay",
            app.post(&format!("/v1/webhook-events/{event_id}/replay")),
        ),
        (
            "POST /v1/dead-letters/{id}/replay",
            app.post(&format!("/v1/dead-letters/{}/replay", letters[0])),
        ),
        (
            "POST /v1/dead-letters/replay",
            app.post("/v1/dead-letters/replay").json(&json!({})),
        ),
    ];
    for (what, request) in requests {
        let (response, _) = timed(what, request).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_success(), "{what}: {status} {body}");
    }
    // Sync, action, delivery, event replay and two dead-letter replays: committed and
    // waiting, nothing lost while the relay cannot reach Redis.
    assert_eq!(app.staged_jobs().await, 6);
    let report = relay.relay_once().await.unwrap();
    assert_eq!((report.relayed, report.deferred), (0, 6));
    assert_eq!(app.staged_jobs().await, 6);

    cut.restore();
    // The relay's first pass after Redis is back moves every one of them.
    assert_eq!(relay.relay_once().await.unwrap().relayed, 6);
    assert_eq!(app.staged_jobs().await, 0);
    let queues = Queues::connect(app.redis.url(), app.redis.prefix())
        .await
        .unwrap();
    for (queue, pending) in [(Queue::Sync, 3), (Queue::Action, 1), (Queue::Webhook, 3)] {
        assert_eq!(
            queues.queue_stats(queue).await.unwrap().pending,
            pending,
            "jobs on the {queue} queue"
        );
    }
}

/// `/readyz` answers 503 problem+json naming what is down, with the checks of the
/// 200 answer beside the problem; returns the body.
async fn assert_not_ready(response: Response, code: &str) -> Value {
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503, code).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_figures_and_readiness_answer_503_fast_while_redis_is_down_and_recover_at_once() {
    let (app, cut) = api_with_redis_behind_a_cut().await;
    let readyz = || app.client.get(format!("{}/readyz", app.url));
    let ready = json!({"postgres": {"ok": true}, "redis": {"ok": true}});
    // The queue figures as the API reads them for `/v1/jobs/stats` (the route itself
    // is not asked: which key sees which figures is another matter), on an App built
    // from the API's settings, so through the same cut.
    let api = App::connect(
        Config::from_figment(app.figment.clone()).unwrap(),
        Registry::builtin(),
        Role::Api,
    )
    .await
    .unwrap();

    // A restart nobody noticed: the connections are dead, and the next requests do
    // not see it.
    take_away(&cut).await;
    cut.restore();
    let (ready_now, _) = timed("GET /readyz after a restart", readyz()).await;
    assert_eq!(ready_now.status(), 200);
    assert_eq!(ready_now.json::<Value>().await.unwrap(), ready);
    api.queue_stats()
        .await
        .expect("the first queue figures after a restart");

    // Redis down: 503 within 2 s, each time.
    take_away(&cut).await;
    for attempt in 1..=3 {
        let (not_ready, took) = timed(
            &format!("GET /readyz with Redis down ({attempt})"),
            readyz(),
        )
        .await;
        let body = assert_not_ready(not_ready, "queue_unavailable").await;
        assert_eq!(body["postgres"], json!({"ok": true}));
        assert_eq!(body["redis"]["ok"], false, "{body}");
        assert!(body["detail"].as_str().unwrap().contains("redis"), "{body}");
        assert!(took < Duration::from_secs(2), "answered after {took:?}");
        let started = Instant::now();
        let error = api.queue_stats().await.unwrap_err();
        let took = started.elapsed();
        eprintln!("queue figures with Redis down ({attempt}): {error} in {took:?}");
        assert_eq!(error.code, ErrorCode::QueueUnavailable);
        assert!(error.retry_after.is_some());
        assert!(took < Duration::from_secs(2), "failed after {took:?}");
    }

    // Back: the first request of each kind succeeds.
    cut.restore();
    api.queue_stats()
        .await
        .expect("the first queue figures after the outage");
    let (ready_now, _) = timed("GET /readyz after the outage", readyz()).await;
    assert_eq!(ready_now.status(), 200);
    assert_eq!(ready_now.json::<Value>().await.unwrap(), ready);
}

/// Provider calls take their budget from Redis; while it is down the budget lets
/// them through instead of failing every call (see junction-ratelimit), and they
/// answer as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_calls_go_on_while_redis_is_down() {
    let (app, cut) = api_with_redis_behind_a_cut().await;
    let stripe = connect_stripe(&app).await;
    take_away(&cut).await;
    let (action, _) = timed(
        "POST /v1/integrations/{id}/actions/create_customer (inline)",
        app.post(&format!(
            "/v1/integrations/{stripe}/actions/create_customer"
        ))
        .json(&json!({"email": "inline@example.com", "name": "Inline"})),
    )
    .await;
    assert_eq!(action.status(), 200, "{}", action.text().await.unwrap());
    let (tested, _) = timed(
        "POST /v1/integrations/{id}/test",
        app.post(&format!("/v1/integrations/{stripe}/test")),
    )
    .await;
    assert_eq!(tested.status(), 200, "{}", tested.text().await.unwrap());
    cut.restore();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_and_the_first_request_after_it_succeeds() {
    let server = url_addr(junction_testkit::server_url().expose());
    let cut = TcpCut::start(server).await;
    let port = cut.addr().port();
    let app = TestApp::spawn_with(Registry::builtin(), move |figment| {
        let direct: String = figment.extract_inner("database_url").unwrap();
        let mut url = url::Url::parse(&direct).unwrap();
        // A password the answers must never show (the test server trusts anyone).
        url.set_password(Some("hunter2")).unwrap();
        url.set_port(Some(port)).unwrap();
        figment.merge(("database_url", url.to_string()))
    })
    .await;
    let readyz = || app.client.get(format!("{}/readyz", app.url));
    let (listed, _) = timed("GET /v1/integrations", app.get("/v1/integrations")).await;
    assert_eq!(listed.status(), 200);

    // A restart nobody noticed: the pooled connections are dead.
    take_away(&cut).await;
    cut.restore();
    let (listed, _) = timed(
        "GET /v1/integrations after a restart",
        app.get("/v1/integrations"),
    )
    .await;
    assert_eq!(listed.status(), 200, "{}", listed.text().await.unwrap());

    take_away(&cut).await;
    for attempt in 1..=2 {
        let (listed, _) = timed(
            &format!("GET /v1/integrations with Postgres down ({attempt})"),
            app.get("/v1/integrations"),
        )
        .await;
        assert!(listed.headers().contains_key("retry-after"));
        let body = assert_problem(listed, 503, "database_unavailable").await;
        assert!(!body.to_string().contains("hunter2"), "{body}");
        let (not_ready, _) = timed(
            &format!("GET /readyz with Postgres down ({attempt})"),
            readyz(),
        )
        .await;
        let body = assert_not_ready(not_ready, "database_unavailable").await;
        assert_eq!(body["postgres"]["ok"], false, "{body}");
        assert_eq!(body["redis"], json!({"ok": true}));
        let text = body.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains(&port.to_string()),
            "{text}"
        );
    }

    cut.restore();
    let (listed, _) = timed(
        "GET /v1/integrations after the outage",
        app.get("/v1/integrations"),
    )
    .await;
    assert_eq!(listed.status(), 200);
    let (ready_now, _) = timed("GET /readyz after the outage", readyz()).await;
    assert_eq!(ready_now.status(), 200);
}

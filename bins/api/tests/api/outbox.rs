//! Jobs are committed with the rows they serve: with Redis unreachable at the moment
//! a sync run, a webhook event and an action are committed, the API still answers,
//! nothing is lost, and once Redis is back each job runs exactly once.

use std::time::Duration;

use chrono::Utc;
use junction_testkit::{TcpCut, url_addr};
use serde_json::{Value, json};

use crate::{
    support::TestApp,
    webhooks::{Worker, connect_stripe, post_stripe, sandbox_charge, stripe_event, wait_count},
};

const STRIPE_WEBHOOK_SECRET: &str = "whsec_junctionsandbox";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_committed_while_redis_is_down_run_once_when_it_returns() {
    let redis = junction_testkit::TestRedis::new().await;
    let cut = TcpCut::start(url_addr(redis.url())).await;
    let through_cut = format!("redis://{}", cut.addr());
    let app = TestApp::spawn_with(junction_registry::Registry::builtin(), move |figment| {
        figment.merge(("redis_url", through_cut))
    })
    .await;
    let stripe = connect_stripe(&app).await;
    // Not scheduled: only the runs this test starts.
    app.db
        .execute("UPDATE integrations SET next_sync_at = NULL")
        .await;
    let worker = Worker::start(&app).await;
    // A first sync proves the worker is up (it needs Redis to start).
    let first = app
        .post(&format!("/v1/integrations/{stripe}/sync"))
        .json(&json!({"stream": "customers"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    wait_count(
        &app,
        "SELECT count(*) AS n FROM sync_runs WHERE status = 'succeeded'",
        1,
    )
    .await;

    cut.cut();
    let sync: Value = app
        .post(&format!("/v1/integrations/{stripe}/sync"))
        .json(&json!({"stream": "customers"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sync["status"], "queued", "{sync}");
    let mut charge = sandbox_charge(&app).await;
    charge["refunded"] = json!(true);
    let event = stripe_event("evt_outbox_1", "charge.refunded", charge);
    let delivered = post_stripe(
        &app,
        stripe,
        &event,
        STRIPE_WEBHOOK_SECRET,
        Utc::now().timestamp(),
    )
    .await;
    assert_eq!(delivered.status(), 200);
    let action = app
        .post(&format!(
            "/v1/integrations/{stripe}/actions/create_customer?async=true"
        ))
        .json(&json!({"email": "outbox@example.com", "name": "Outbox"}))
        .send()
        .await
        .unwrap();
    assert_eq!(action.status(), 202);

    // Committed, staged, and waiting: the relay cannot reach Redis.
    assert_eq!(app.staged_jobs().await, 3);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        app.staged_jobs().await,
        3,
        "nothing is lost while Redis is away"
    );
    for (what, sql) in [
        (
            "the sync run",
            "SELECT count(*) AS n FROM sync_runs WHERE status = 'queued'",
        ),
        (
            "the webhook event",
            "SELECT count(*) AS n FROM webhook_events WHERE status = 'received'",
        ),
        (
            "the action",
            "SELECT count(*) AS n FROM action_runs WHERE status = 'queued'",
        ),
    ] {
        assert_eq!(app.count(sql).await, 1, "{what} waits for its job");
    }

    cut.restore();
    wait_count(
        &app,
        "SELECT count(*) AS n FROM sync_runs WHERE status = 'succeeded'",
        2,
    )
    .await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM webhook_events WHERE status = 'processed'",
        1,
    )
    .await;
    wait_count(
        &app,
        "SELECT count(*) AS n FROM action_runs WHERE status = 'succeeded'",
        1,
    )
    .await;
    wait_count(&app, "SELECT count(*) AS n FROM outbox", 0).await;
    // Settle, then check that every job ran exactly once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (what, sql) in [
        (
            "the sync run",
            "SELECT max(attempts)::bigint AS n FROM sync_runs",
        ),
        (
            "the webhook event",
            "SELECT attempts::bigint AS n FROM webhook_events",
        ),
        (
            "the action",
            "SELECT attempts::bigint AS n FROM action_runs",
        ),
        (
            "the webhook's effects",
            "SELECT count(*) AS n FROM integration_logs WHERE operation = 'webhook' \
             AND message LIKE 'webhook % processed'",
        ),
        (
            "the action's effect",
            "SELECT count(*) AS n FROM integration_logs WHERE operation = 'action' \
             AND message = 'action `create_customer` succeeded'",
        ),
    ] {
        assert_eq!(app.count(sql).await, 1, "{what} ran once");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM dead_letters").await, 0);
    worker.stop().await;
    drop(redis);
}

//! One run of an integration at a time: a manual sync and the scheduler's claim of a
//! due integration make one run, concurrent requests make one run, and a run of
//! another stream waits for the run in progress instead of racing it.

use std::time::Duration;

use junction_core::WorkspaceId;
use junction_store::models::{RunStatus, SyncRun, SyncTrigger};
use uuid::Uuid;

use crate::support::*;

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_sync_of_a_due_integration_and_the_schedule_make_one_run() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let app = env.app(env.config(&[])).await;

    // Manual first, then the scheduler claims the integration, which is due.
    let due = env.create_ga4(workspace, Ga4::due(3, ""), &tokens).await;
    let manual = app
        .start_sync(workspace, due, None, SyncTrigger::Manual)
        .await
        .unwrap();
    assert!(!manual.joined);
    let pass = app.scheduler_pass().await.unwrap();
    assert_eq!(pass.claimed, 1);
    assert_eq!(pass.enqueued, vec![(due, manual.run.id)]);
    let runs = env.runs(workspace, due).await;
    assert_eq!(runs.len(), 1, "no scheduled twin: {runs:#?}");

    // A second request joins the same run, and says so.
    let again = app
        .start_sync(workspace, due, None, SyncTrigger::Manual)
        .await
        .unwrap();
    assert!(again.joined);
    assert_eq!(again.run.id, manual.run.id);
    assert_eq!(again.job_id, manual.job_id);
    // So does a request for one stream: the run in progress reads every stream.
    let one = app
        .start_sync(workspace, due, Some("daily_report"), SyncTrigger::Manual)
        .await
        .unwrap();
    assert!(one.joined);
    assert_eq!(one.run.id, manual.run.id);

    // The scheduler first, then a manual request joins its run.
    let scheduled = env.create_ga4(workspace, Ga4::due(3, ""), &tokens).await;
    let pass = app.scheduler_pass().await.unwrap();
    let (_, scheduled_run) = *pass
        .enqueued
        .iter()
        .find(|(id, _)| *id == scheduled)
        .unwrap();
    let joined = app
        .start_sync(workspace, scheduled, None, SyncTrigger::Manual)
        .await
        .unwrap();
    assert!(joined.joined);
    assert_eq!(joined.run.id, scheduled_run);

    // Requests at the same moment make one run between them.
    let mut ga4 = Ga4::due(3, "");
    ga4.next_sync_at = None;
    let idle = env.create_ga4(workspace, ga4, &tokens).await;
    let (a, b) = tokio::join!(
        app.start_sync(workspace, idle, None, SyncTrigger::Manual),
        app.start_sync(workspace, idle, None, SyncTrigger::Manual),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.run.id, b.run.id);
    assert!(a.joined != b.joined);
    assert_eq!(env.runs(workspace, idle).await.len(), 1);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM outbox WHERE job->>'integration_id' = '{idle}'"
        ))
        .await,
        1,
        "one job staged"
    );
}

async fn run(env: &TestEnv, workspace: WorkspaceId, integration: Uuid, id: Uuid) -> SyncRun {
    env.runs(workspace, integration)
        .await
        .into_iter()
        .find(|run| run.id == id)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_another_stream_waits_for_the_run_in_progress() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let stripe = env.create_stripe(workspace).await;
    env.sandbox_control(
        "/_sandbox/latency",
        serde_json::json!({"provider": "stripe", "millis": 1500}),
    )
    .await;
    // Room for both runs at once: only the one-run rule keeps them apart.
    let worker = env
        .start_worker(env.config(&[
            ("WORKER__SYNC_CONCURRENCY", "4"),
            ("WORKER__CLAIM_LEASE_SECONDS", "10"),
        ]))
        .await;
    let app = &worker.app;
    let charges = app
        .start_sync(workspace, stripe, Some("charges"), SyncTrigger::Manual)
        .await
        .unwrap();
    wait_for("the charges run to start", TIMEOUT, || async {
        (run(&env, workspace, stripe, charges.run.id).await.status == RunStatus::Running)
            .then_some(())
    })
    .await;

    // Another stream: not covered by the run in progress, so a run of its own…
    let customers = app
        .start_sync(workspace, stripe, Some("customers"), SyncTrigger::Manual)
        .await
        .unwrap();
    assert!(!customers.joined);
    assert_ne!(customers.run.id, charges.run.id);
    // …and every stream, likewise; a second request for every stream joins that one.
    let all = app
        .start_sync(workspace, stripe, None, SyncTrigger::Manual)
        .await
        .unwrap();
    assert!(!all.joined);
    let all_again = app
        .start_sync(workspace, stripe, None, SyncTrigger::Manual)
        .await
        .unwrap();
    assert!(all_again.joined);
    assert_eq!(all_again.run.id, all.run.id);

    wait_for("every run to end", TIMEOUT, || async {
        let runs = env.runs(workspace, stripe).await;
        runs.iter().all(|r| r.finished_at.is_some()).then_some(())
    })
    .await;
    worker.stop().await;

    let mut runs = env.runs(workspace, stripe).await;
    assert_eq!(runs.len(), 3, "{runs:#?}");
    runs.sort_by_key(|r| r.started_at);
    for pair in runs.windows(2) {
        assert!(
            pair[1].started_at >= pair[0].finished_at,
            "runs of one integration never overlap: {runs:#?}"
        );
    }
    for r in &runs {
        assert_eq!(r.status, RunStatus::Succeeded, "{r:#?}");
        // Waiting is no failure: the runs that waited used one attempt.
        assert_eq!(r.attempts, 1, "{r:#?}");
        assert_eq!(r.error_code, None);
    }
}

//! Sync semantics with an in-process worker: a scheduled sync end to end, a token
//! refreshed ahead of expiry, a revoked grant, and a provider 429 with Retry-After.

use std::time::Duration;

use chrono::{DateTime, Utc};
use junction_core::fake::Fault;
use junction_sandbox::{GrantType, TokenFailure};
use junction_store::models::{IntegrationStatus, LogLevel, Operation, RunStatus, SyncTrigger};

use crate::support::*;

const RUN_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_sync_writes_records_kpis_a_run_and_logs_and_moves_the_schedule() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let id = env
        .create_ga4(workspace, Ga4::due(30, "country"), &tokens)
        .await;
    let expected = env.ga4_row_count(&tokens, 30, &["country"]).await;
    assert!(expected > 31, "a row per day and country: {expected}");

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.trigger, SyncTrigger::Schedule);
    assert_eq!(run.attempts, 1);
    assert_eq!(
        run.job_id.as_deref(),
        Some(format!("sync-{}", run.id).as_str())
    );
    assert_eq!(run.records_read, expected);
    assert_eq!(run.records_written, expected);
    assert_eq!(run.kpi_points_written, expected * 7);
    assert_eq!(run.error_code, None);

    let records = env
        .count(&format!(
            "SELECT count(*) AS n FROM records WHERE integration_id = '{id}'"
        ))
        .await;
    assert_eq!(records, expected);
    let kpis = env
        .count(&format!(
            "SELECT count(*) AS n FROM kpi_points WHERE integration_id = '{id}'"
        ))
        .await;
    assert_eq!(kpis, expected * 7);
    let pages = env
        .count(&format!(
            "SELECT pages_committed AS n FROM stream_states WHERE integration_id = '{id}' AND stream = 'daily_report'"
        ))
        .await;
    assert_eq!(pages, 1);

    let logs = env.logs(workspace, id).await;
    let run_logs: Vec<_> = logs.iter().filter(|l| l.run_id == Some(run.id)).collect();
    assert_eq!(run_logs.len(), 2, "{run_logs:#?}");
    assert_eq!(run_logs[0].message, "sync started (attempt 1)");
    assert_eq!(
        run_logs[1].message,
        format!(
            "sync finished: {expected} records read, {expected} written, {} KPI points",
            expected * 7
        )
    );
    assert!(
        run_logs
            .iter()
            .all(|l| l.level == LogLevel::Info && l.operation == Operation::Sync)
    );

    let integration = env.integration(workspace, id).await;
    let last = integration.last_sync_at.expect("last_sync_at is set");
    assert_eq!(
        integration.next_sync_at,
        Some(last + chrono::Duration::hours(6))
    );
    assert!((last - run.finished_at.unwrap()).num_seconds().abs() < 5);
    assert_eq!(integration.last_error_code, None);

    // Later passes of the scheduler do not run it again: it is not due for 6 hours.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(env.runs(workspace, id).await.len(), 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_token_is_refreshed_before_the_sync() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let mut ga4 = Ga4::due(3, "");
    // Within the default 300 s refresh window.
    ga4.token_expires_at = Some(Utc::now() + chrono::Duration::seconds(60));
    let id = env.create_ga4(workspace, ga4, &tokens).await;
    let before = env.secrets(workspace, id).await;

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");

    let after = env.secrets(workspace, id).await;
    assert_ne!(after["access_token"], before["access_token"]);
    assert_eq!(after["refresh_token"], before["refresh_token"]);
    let integration = env.integration(workspace, id).await;
    assert!(
        integration.token_expires_at.unwrap() > Utc::now() + chrono::Duration::minutes(30),
        "{:?}",
        integration.token_expires_at
    );
    let logs = env.logs(workspace, id).await;
    let refreshed = logs
        .iter()
        .position(|l| l.operation == Operation::Refresh && l.message == "Access token refreshed.")
        .expect("a refresh log entry");
    let finished = logs
        .iter()
        .position(|l| l.message.starts_with("sync finished"))
        .expect("a sync log entry");
    assert!(refreshed < finished, "refreshed before the sync read");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_fails_the_run_without_a_dead_letter_and_stops_the_schedule() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let mut ga4 = Ga4::due(3, "");
    ga4.token_expires_at = Some(Utc::now() - chrono::Duration::seconds(60));
    let id = env.create_ga4(workspace, ga4, &tokens).await;
    env.sandbox
        .sandbox
        .script_token_failure(GA4, GrantType::RefreshToken, TokenFailure::InvalidGrant, 1)
        .unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(run.error_code.as_deref(), Some("integration_needs_reauth"));
    assert_eq!(run.attempts, 1);
    let integration = env.integration(workspace, id).await;
    assert_eq!(integration.status, IntegrationStatus::NeedsReauth);

    // No retry and no dead letter, now or a little later.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(env.count("SELECT count(*) AS n FROM dead_letters").await, 0);
    let runs = env.runs(workspace, id).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].attempts, 1);
    assert_eq!(records_of(&env, id).await, 0);

    let logs = env.logs(workspace, id).await;
    assert!(
        logs.iter().any(|l| l.operation == Operation::Refresh
            && l.level == LogLevel::Error
            && l.message.contains("invalid_grant")),
        "{logs:#?}"
    );
    assert!(logs.iter().any(|l| l.run_id == Some(run.id)
        && l.level == LogLevel::Error
        && l.message.starts_with("sync stopped:")));

    // Even when due, a needs_reauth integration is not claimed again.
    env.execute(&format!(
        "UPDATE integrations SET next_sync_at = now() - interval '1 minute' WHERE id = '{id}'"
    ))
    .await;
    let pass = worker.app.scheduler_pass().await.unwrap();
    assert_eq!(pass.claimed, 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.runs(workspace, id).await.len(), 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_429_is_retried_no_sooner_than_its_retry_after() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let id = env.create_ga4(workspace, Ga4::due(5, ""), &tokens).await;
    let expected = env.ga4_row_count(&tokens, 5, &[]).await;
    env.sandbox
        .sandbox
        .arm_fault(
            GA4,
            Fault::RateLimited {
                retry_after_secs: 2,
            },
            1,
        )
        .unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.attempts, 2);
    assert_eq!(run.records_read, expected);
    assert_eq!(records_of(&env, id).await, expected);
    assert_eq!(env.count("SELECT count(*) AS n FROM dead_letters").await, 0);

    let logs = env.logs(workspace, id).await;
    let at = |message: &str| {
        logs.iter()
            .find(|l| l.run_id == Some(run.id) && l.message.starts_with(message))
            .unwrap_or_else(|| panic!("no `{message}` entry in {logs:#?}"))
    };
    let first = at("sync started (attempt 1)").at;
    let failed = at("sync attempt 1 failed");
    assert_eq!(failed.level, LogLevel::Warn);
    assert_eq!(failed.details["error_code"], "provider_rate_limited");
    let retry_at: DateTime<Utc> =
        serde_json::from_value(failed.details["retry_at"].clone()).unwrap();
    let second = at("sync started (attempt 2)").at;
    assert!(
        retry_at - first >= chrono::Duration::seconds(2),
        "retry planned {retry_at} only {} after the first attempt started",
        retry_at - first
    );
    assert!(
        second >= retry_at,
        "the second attempt started at {second}, before the Retry-After ({retry_at})"
    );
    worker.stop().await;
}

async fn records_of(env: &TestEnv, id: uuid::Uuid) -> i64 {
    env.count(&format!(
        "SELECT count(*) AS n FROM records WHERE integration_id = '{id}'"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_refreshed_once_and_the_page_read_again() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let id = env.create_ga4(workspace, Ga4::due(3, ""), &tokens).await;
    let expected = env.ga4_row_count(&tokens, 3, &[]).await;
    let before = env.secrets(workspace, id).await;
    // The next GA4 request answers 401 although the token looks valid for an hour.
    env.sandbox
        .sandbox
        .arm_fault(GA4, Fault::ExpiredToken, 1)
        .unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    // Recovered inside the attempt: no retry.
    assert_eq!(run.attempts, 1);
    assert_eq!(run.records_read, expected);
    let after = env.secrets(workspace, id).await;
    assert_ne!(after["access_token"], before["access_token"]);
    let logs = env.logs(workspace, id).await;
    assert_eq!(
        logs.iter()
            .filter(|l| l.operation == Operation::Refresh && l.message == "Access token refreshed.")
            .count(),
        1
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_failing_every_attempt_is_dead_lettered_and_recorded() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let id = env.create_ga4(workspace, Ga4::due(3, ""), &tokens).await;
    // Every one of the 3 allowed attempts meets a 503.
    env.sandbox
        .sandbox
        .arm_fault(GA4, Fault::ServerError, 3)
        .unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Dead, "{run:?}");
    assert_eq!(run.attempts, 3);
    assert_eq!(run.error_code.as_deref(), Some("provider_unavailable"));
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM dead_letters WHERE job_id = 'sync-{}' AND attempts = 3",
            run.id
        ))
        .await,
        1
    );
    let integration = env.integration(workspace, id).await;
    assert_eq!(integration.status, IntegrationStatus::Active);
    assert_eq!(
        integration.last_error_code.as_deref(),
        Some("provider_unavailable")
    );
    // Not retried every lease: due again a whole schedule later.
    let next = integration.next_sync_at.unwrap();
    assert!(next > Utc::now() + chrono::Duration::hours(5), "{next}");
    let logs = env.logs(workspace, id).await;
    let run_logs: Vec<_> = logs.iter().filter(|l| l.run_id == Some(run.id)).collect();
    assert_eq!(
        run_logs
            .iter()
            .filter(|l| l.level == LogLevel::Warn && l.message.starts_with("sync attempt"))
            .count(),
        2,
        "{run_logs:#?}"
    );
    assert!(
        run_logs.iter().any(|l| l.level == LogLevel::Error
            && l.message.starts_with("sync failed after 3 attempt(s)"))
    );

    // Replaying the dead letter (the API's and CLI's path) runs the same run again.
    let letters = {
        let mut tx = env.db.store().begin(workspace).await.unwrap();
        let letters =
            junction_store::repo::dead_letters::list(tx.conn(), &Default::default(), None, 10)
                .await
                .unwrap();
        tx.commit().await.unwrap();
        letters
    };
    assert_eq!(letters.len(), 1);
    let replayed = junction_app::dead_letters::replay(env.db.store(), workspace, letters[0].id)
        .await
        .unwrap();
    let run = wait_for("the replayed run to succeed", RUN_TIMEOUT, || async {
        let run = env.runs(workspace, id).await.remove(0);
        (run.status == RunStatus::Succeeded).then_some(run)
    })
    .await;
    assert_eq!(run.attempts, 4);
    assert_eq!(run.job_id.as_deref(), Some(replayed.job_id.as_str()));
    assert_eq!(run.error_code, None);
    assert!(records_of(&env, id).await > 0);
    assert_eq!(env.runs(workspace, id).await.len(), 1);
    let logs = env.logs(workspace, id).await;
    assert!(
        logs.iter()
            .any(|l| l.message == "sync replayed (attempt 4)")
    );
    let integration = env.integration(workspace, id).await;
    assert_eq!(integration.last_error_code, None);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_sync_holds_off_the_scheduler() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let mut ga4 = Ga4::due(20, "");
    // Falls due while the manual sync below is still running.
    ga4.next_sync_at = Some(Utc::now() + chrono::Duration::seconds(2));
    let id = env.create_ga4(workspace, ga4, &tokens).await;
    env.sandbox_control(
        "/_sandbox/latency",
        serde_json::json!({"provider": GA4, "millis": 300}),
    )
    .await;

    // 21 pages of one day each, 300 ms apiece: the scheduler passes every second
    // meanwhile, well after the integration fell due.
    let worker = env
        .start_worker(env.config(&[("WORKER__PAGE_SIZE", "1")]))
        .await;
    // A manual sync, started as the API starts it.
    let run_id = worker
        .app
        .start_sync(workspace, id, None, SyncTrigger::Manual)
        .await
        .unwrap()
        .run
        .id;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.id, run_id);
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(
        run.finished_at.unwrap() - run.started_at.unwrap() > chrono::Duration::seconds(4),
        "the sync outlasted the due time"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let runs = env.runs(workspace, id).await;
    assert_eq!(
        runs.len(),
        1,
        "no scheduled run beside the manual one: {runs:#?}"
    );
    let integration = env.integration(workspace, id).await;
    assert_eq!(
        integration.next_sync_at,
        Some(integration.last_sync_at.unwrap() + chrono::Duration::hours(6))
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_refused_even_with_a_fresh_token_needs_a_reconnect_not_a_dead_letter() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let id = env.create_ga4(workspace, Ga4::due(3, ""), &tokens).await;
    // 401 on the page, and again on the page read with the refreshed token.
    env.sandbox
        .sandbox
        .arm_fault(GA4, Fault::ExpiredToken, 2)
        .unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, RUN_TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(run.error_code.as_deref(), Some("integration_needs_reauth"));
    assert_eq!(run.attempts, 1);
    let integration = env.integration(workspace, id).await;
    assert_eq!(integration.status, IntegrationStatus::NeedsReauth);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.count("SELECT count(*) AS n FROM dead_letters").await, 0);
    let logs = env.logs(workspace, id).await;
    assert!(
        logs.iter().any(|l| l.level == LogLevel::Error
            && l.message
                .starts_with("the provider refused the connection's grant")),
        "{logs:#?}"
    );
    worker.stop().await;
}

/// A pass over many due integrations starts one run for each, several of a
/// workspace in one transaction; one that cannot start (its provider is not in this
/// build) fails alone, and the others of its group still start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pass_starts_each_due_integration_once_and_one_that_cannot_start_holds_none_back() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let acme = env.workspace("Acme").await;
    let globex = env.workspace("Globex").await;
    let mut started = Vec::new();
    for _ in 0..30 {
        started.push((acme, env.create_ga4(acme, Ga4::due(3, ""), &tokens).await));
    }
    for _ in 0..3 {
        started.push((
            globex,
            env.create_ga4(globex, Ga4::due(3, ""), &tokens).await,
        ));
    }
    // A copy of one of them under a provider this build does not have.
    env.execute(
        "INSERT INTO integrations (id, workspace_id, provider, display_name, status, auth_kind, \
             config, scopes, schedule_seconds, next_sync_at) \
         SELECT gen_random_uuid(), workspace_id, 'retired-provider', 'Retired', status, \
             auth_kind, config, scopes, schedule_seconds, next_sync_at \
         FROM integrations ORDER BY created_at LIMIT 1",
    )
    .await;

    let app = env.app(env.config(&[])).await;
    let pass = app.scheduler_pass().await.unwrap();
    assert_eq!(pass.claimed, 34);
    assert_eq!(pass.enqueued.len(), 33);
    assert_eq!(pass.failed, 1);
    for (workspace, id) in started {
        let runs = env.runs(workspace, id).await;
        assert_eq!(runs.len(), 1, "one run for {id}");
        assert_eq!(runs[0].trigger, SyncTrigger::Schedule);
    }
    assert_eq!(
        env.count("SELECT count(*) AS n FROM sync_runs r JOIN integrations i ON i.id = r.integration_id WHERE i.provider = 'retired-provider'")
            .await,
        0
    );
}

/// A group of one workspace starts as one set (a few statements for all of it):
/// each due integration gets one run and one staged job, one whose run has not
/// started yet joins that run instead of getting a second, and one none of whose
/// streams is due after all is only rescheduled; every claim ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_starts_as_one_set_joining_waiting_runs_and_rescheduling_the_not_due() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let acme = env.workspace("Acme").await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(env.create_ga4(acme, Ga4::due(3, ""), &tokens).await);
    }
    let app = env.app(env.config(&[])).await;
    // ids[0] has a manual run waiting; ids[1]'s one enabled stream is not due.
    let manual = app
        .start_sync(acme, ids[0], None, SyncTrigger::Manual)
        .await
        .unwrap();
    env.execute(&format!(
        "INSERT INTO stream_states (workspace_id, integration_id, stream, next_sync_at) \
         SELECT workspace_id, id, 'daily_report', now() + interval '1 hour' \
         FROM integrations WHERE id = '{}' \
         ON CONFLICT (integration_id, stream) DO UPDATE SET next_sync_at = excluded.next_sync_at",
        ids[1]
    ))
    .await;

    let pass = app.scheduler_pass().await.unwrap();
    assert_eq!(pass.claimed, 6);
    assert_eq!((pass.enqueued.len(), pass.not_due, pass.failed), (5, 1, 0));
    assert!(pass.enqueued.contains(&(ids[0], manual.run.id)), "joined");

    let runs = env.runs(acme, ids[0]).await;
    assert_eq!(runs.len(), 1, "the waiting run was joined: {runs:#?}");
    assert_eq!(runs[0].id, manual.run.id);
    assert!(env.runs(acme, ids[1]).await.is_empty());
    let rescheduled = env.integration(acme, ids[1]).await;
    assert!(rescheduled.next_sync_at.unwrap() > Utc::now() + chrono::Duration::minutes(50));
    for id in &ids[2..] {
        let runs = env.runs(acme, *id).await;
        assert_eq!(runs.len(), 1, "one run for {id}");
        assert_eq!(runs[0].trigger, SyncTrigger::Schedule);
        assert_eq!(runs[0].status, RunStatus::Queued);
        assert_eq!(
            runs[0].streams.as_deref(),
            Some(&["daily_report".to_owned()][..])
        );
        assert!(pass.enqueued.contains(&(*id, runs[0].id)));
        assert_eq!(
            env.count(&format!(
                "SELECT count(*) AS n FROM outbox WHERE job_id = 'sync-{}' \
                 AND job->>'run_id' = '{}' AND queue = 'sync'",
                runs[0].id, runs[0].id
            ))
            .await,
            1,
            "one job staged for {id}'s run"
        );
    }
    // The four new runs' jobs and the manual run's, nothing else.
    assert_eq!(env.count("SELECT count(*) AS n FROM outbox").await, 5);
    assert_eq!(
        env.count("SELECT count(*) AS n FROM integrations WHERE claimed_at IS NOT NULL")
            .await,
        0,
        "every claim ended"
    );
    // Nothing is due any more: a second pass claims none.
    assert_eq!(app.scheduler_pass().await.unwrap().claimed, 0);
}

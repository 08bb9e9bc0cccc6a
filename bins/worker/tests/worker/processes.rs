//! `junction-worker` processes: two pods scheduling the same integrations, a worker
//! killed with SIGKILL in the middle of a sync, and SIGTERM draining a sync.

use std::time::{Duration, Instant};

use junction_app::models::RunStatus;
use serde_json::json;

use crate::{process::WorkerProcess, support::*};

/// Two pods over 200 due integrations in four workspaces: each is synced exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_sync_every_due_integration_exactly_once() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let mut workspaces = Vec::new();
    for name in ["North", "South", "East", "West"] {
        workspaces.push(env.workspace(name).await);
    }
    let mut ids = Vec::new();
    for i in 0..200 {
        let mut ga4 = Ga4::due(2, "");
        // Not due yet: both pods must be up when the integrations fall due.
        ga4.next_sync_at = None;
        ids.push(env.create_ga4(workspaces[i % 4], ga4, &tokens).await);
    }
    let process_env = env.process_env(&[
        ("WORKER__CLAIM_BATCH", "5"),
        ("WORKER__METRICS_BIND", "127.0.0.1:0"),
    ]);
    let (mut a, mut b) = tokio::join!(
        WorkerProcess::spawn(&process_env),
        WorkerProcess::spawn(&process_env)
    );
    for process in [&a, &b] {
        let addr = process.metrics.unwrap();
        let health = reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
        assert_eq!(ready.status(), 200);
        let ready: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(ready["postgres"]["ok"], true);
        assert_eq!(ready["redis"]["ok"], true);
    }
    env.execute("UPDATE integrations SET next_sync_at = now()")
        .await;

    let started = Instant::now();
    wait_for("200 succeeded runs", Duration::from_secs(60), || async {
        let done = env
            .count("SELECT count(*) AS n FROM sync_runs WHERE status = 'succeeded'")
            .await;
        (done == 200).then_some(())
    })
    .await;
    eprintln!(
        "200 integrations synced by two processes in {:?}",
        started.elapsed()
    );
    // A few more scheduler intervals: nothing is claimed again.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    assert_eq!(env.count("SELECT count(*) AS n FROM sync_runs").await, 200);
    assert_eq!(
        env.count(
            "SELECT count(*) AS n FROM (SELECT integration_id FROM sync_runs \
             GROUP BY integration_id HAVING count(*) <> 1) twice"
        )
        .await,
        0
    );
    assert_eq!(
        env.count("SELECT count(DISTINCT integration_id) AS n FROM sync_runs")
            .await,
        200
    );
    assert_eq!(
        env.count(
            "SELECT count(*) AS n FROM integrations \
             WHERE next_sync_at < now() + interval '5 hours'"
        )
        .await,
        0,
        "every integration is scheduled a whole schedule ahead"
    );
    assert_eq!(env.count("SELECT count(*) AS n FROM dead_letters").await, 0);

    // Both pods claimed; together exactly 200 claims and 200 successful runs.
    let claimed_a = a.metric("junction_scheduler_claimed_total", "").await;
    let claimed_b = b.metric("junction_scheduler_claimed_total", "").await;
    eprintln!("claims: {claimed_a} + {claimed_b}");
    assert_eq!(claimed_a + claimed_b, 200.0);
    assert!(claimed_a > 0.0 && claimed_b > 0.0, "both pods scheduled");
    let succeeded = a
        .metric("junction_sync_runs_total", "outcome=\"succeeded\"")
        .await
        + b.metric("junction_sync_runs_total", "outcome=\"succeeded\"")
            .await;
    assert_eq!(succeeded, 200.0);

    a.terminate();
    b.terminate();
    assert!(a.wait_exit(Duration::from_secs(30)).await.success());
    assert!(b.wait_exit(Duration::from_secs(30)).await.success());
}

/// Days a slow sync reads back (and the report's days: today included).
const SLOW_LOOKBACK: i64 = 60;
const SLOW_DAYS: i64 = SLOW_LOOKBACK + 1;

/// A sync that takes a few seconds: 21 pages of 24 rows (61 days times 8
/// countries), each answered after 250 ms.
async fn slow_sync(env: &TestEnv) -> (junction_core::WorkspaceId, uuid::Uuid, i64) {
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let id = env
        .create_ga4(
            workspace,
            Ga4::due(SLOW_LOOKBACK as u32, "country"),
            &tokens,
        )
        .await;
    let expected = env
        .ga4_row_count(&tokens, SLOW_LOOKBACK, &["country"])
        .await;
    assert_eq!(expected, SLOW_DAYS * 8);
    env.sandbox_control("/_sandbox/latency", json!({"provider": GA4, "millis": 250}))
        .await;
    (workspace, id, expected)
}

const SLOW_PAGE_SIZE: &str = "24";

async fn pages_committed(env: &TestEnv, id: uuid::Uuid) -> i64 {
    env.count(&format!(
        "SELECT coalesce(sum(pages_committed), 0)::bigint AS n FROM stream_states WHERE integration_id = '{id}'"
    ))
    .await
}

/// Every expected record once: the count, every day, 8 countries each.
async fn assert_exact_records(env: &TestEnv, id: uuid::Uuid, expected: i64) {
    let records = format!("FROM records WHERE integration_id = '{id}'");
    assert_eq!(
        env.count(&format!("SELECT count(*) AS n {records}")).await,
        expected
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(DISTINCT data->>'date') AS n {records}"
        ))
        .await,
        SLOW_DAYS
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM (SELECT data->>'date' {records} \
             GROUP BY data->>'date' HAVING count(*) <> 8) odd"
        ))
        .await,
        0
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM kpi_points WHERE integration_id = '{id}'"
        ))
        .await,
        expected * 7
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_sync_loses_nothing_and_duplicates_nothing() {
    let env = TestEnv::new().await;
    let (workspace, id, expected) = slow_sync(&env).await;
    let process_env = env.process_env(&[("WORKER__PAGE_SIZE", SLOW_PAGE_SIZE)]);

    let mut first = WorkerProcess::spawn(&process_env).await;
    let at_kill = wait_for("4 committed pages", Duration::from_secs(30), || async {
        let pages = pages_committed(&env, id).await;
        (pages >= 4).then_some(pages)
    })
    .await;
    first.kill().await;
    let killed_at = Instant::now();
    let pages_after_kill = pages_committed(&env, id).await;
    assert!(pages_after_kill < 21, "killed in the middle of the sync");
    let run = env.runs(workspace, id).await.remove(0);
    assert_eq!(run.status, RunStatus::Running);
    assert!(run.records_read < expected);

    let mut second = WorkerProcess::spawn(&process_env).await;
    let run = env
        .wait_run_ended(workspace, id, Duration::from_secs(50))
        .await;
    eprintln!(
        "killed after {at_kill} pages; the run finished {:?} later",
        killed_at.elapsed()
    );
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    // Started by the killed worker, resumed by the new one.
    assert_eq!(run.attempts, 2);
    // Each committed page counted once: nothing read twice into the totals.
    assert_eq!(run.records_read, expected);
    assert_eq!(pages_committed(&env, id).await, 21);
    assert_exact_records(&env, id, expected).await;
    assert_eq!(env.runs(workspace, id).await.len(), 1);
    assert_eq!(env.count("SELECT count(*) AS n FROM dead_letters").await, 0);

    second.terminate();
    assert!(second.wait_exit(Duration::from_secs(30)).await.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_sync_finish_and_exits_zero() {
    let env = TestEnv::new().await;
    let (workspace, id, expected) = slow_sync(&env).await;
    let process_env = env.process_env(&[("WORKER__PAGE_SIZE", SLOW_PAGE_SIZE)]);

    let mut worker = WorkerProcess::spawn(&process_env).await;
    wait_for("2 committed pages", Duration::from_secs(30), || async {
        (pages_committed(&env, id).await >= 2).then_some(())
    })
    .await;
    worker.terminate();
    let status = worker.wait_exit(Duration::from_secs(40)).await;
    assert!(status.success(), "{status:?}; log:\n{}", worker.log_text());

    // The run finished in that process, before it exited: no other worker runs.
    let run = env.runs(workspace, id).await.remove(0);
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.attempts, 1);
    assert_eq!(run.records_read, expected);
    assert_exact_records(&env, id, expected).await;
}

#[tokio::test]
async fn a_bad_configuration_is_one_line_and_exit_1() {
    let env = TestEnv::new().await;
    let mut process_env = env.process_env(&[("WORKER__MAX_ATTEMPTS", "0")]);
    let run = |env: Vec<(String, String)>| async move {
        tokio::time::timeout(
            Duration::from_secs(30),
            tokio::process::Command::new(env!("CARGO_BIN_EXE_junction-worker"))
                .env_clear()
                .envs(env)
                .output(),
        )
        .await
        .expect("the worker exits at once")
        .unwrap()
    };
    let output = run(process_env.clone()).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr,
        "error: JUNCTION_WORKER__MAX_ATTEMPTS must be at least 1\n"
    );

    process_env.retain(|(key, _)| key != "DATABASE_URL" && key != "JUNCTION_WORKER__MAX_ATTEMPTS");
    let output = run(process_env).await;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "error: DATABASE_URL is not set\n"
    );
}

/// A key ring whose key id is known but whose key is not the one that sealed before
/// stops the worker at start-up: exit 1, one line naming the id, never a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_under_a_known_id_is_one_line_and_exit_1() {
    use secrecy::ExposeSecret;
    let env = TestEnv::new().await;
    // The first start stores the ring's check values.
    let process_env = env.process_env(&[]);
    let mut first = WorkerProcess::spawn(&process_env).await;
    first.terminate();
    assert!(first.wait_exit(Duration::from_secs(30)).await.success());
    assert_eq!(
        env.count("SELECT count(*) AS n FROM key_checks WHERE key_id = 'test'")
            .await,
        1
    );

    let right = env.db.key_spec().expose_secret().to_owned();
    let wrong_key = junction_testkit::random_key();
    let mut wrong_env = process_env.clone();
    for (key, value) in &mut wrong_env {
        if key == "JUNCTION_KEYS" {
            *value = format!("test:{wrong_key}");
        }
    }
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_junction-worker"))
            .env_clear()
            .envs(wrong_env)
            .output(),
    )
    .await
    .expect("the worker exits at once")
    .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(
        stderr,
        "error: JUNCTION_KEYS: key `test` does not open what it sealed before (a different key under the same id?)\n"
    );
    assert!(!stderr.contains(&wrong_key));
    assert!(!stderr.contains(right.trim_start_matches("test:")));
    assert!(output.stdout.is_empty(), "not ready, so no ready line");
}

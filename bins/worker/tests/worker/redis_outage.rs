//! `junction-worker` without Redis: started while Redis is away, it waits (one log
//! line per check) instead of exiting, starts taking jobs once Redis answers, and
//! keeps running through a later outage, the work committed meanwhile done once Redis
//! is back; SIGTERM while it waits ends it cleanly.

use std::time::Duration;

use junction_testkit::{TcpCut, url_addr};

use crate::{process::WorkerProcess, support::*};

const SUCCEEDED: &str = "SELECT count(*) AS n FROM sync_runs WHERE status = 'succeeded'";

/// A cut in front of the test's Redis, and a worker environment that goes through it.
async fn redis_behind_a_cut(env: &TestEnv) -> (TcpCut, Vec<(String, String)>) {
    let cut = TcpCut::start(url_addr(env.redis.url())).await;
    let mut process_env = env.process_env(&[]);
    for (key, value) in &mut process_env {
        if key == "REDIS_URL" {
            *value = format!("redis://{}", cut.addr());
        }
    }
    (cut, process_env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_without_redis_waits_for_it_and_rides_out_a_later_outage() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let (cut, process_env) = redis_behind_a_cut(&env).await;
    cut.cut();

    let mut worker = WorkerProcess::start(&process_env);
    let log = worker.log.clone();
    wait_for(
        "two start-up checks that found Redis away",
        Duration::from_secs(30),
        || {
            let log = log.clone();
            async move {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let waiting: Vec<&str> = text
                    .lines()
                    .filter(|line| line.contains("waiting for Redis"))
                    .collect();
                (waiting.len() >= 2).then(|| waiting.join("\n"))
            }
        },
    )
    .await;
    assert!(worker.is_running(), "it waits instead of exiting");
    let text = worker.log_text();
    let first = text
        .lines()
        .find(|line| line.contains("waiting for Redis"))
        .unwrap();
    assert!(
        first.contains("attempt") && first.contains(r#""redis":{"error":"#),
        "one line per check, saying what is down: {first}"
    );
    assert!(!text.contains(&cut.addr().to_string()), "{text}");

    cut.restore();
    worker.wait_ready(Duration::from_secs(30)).await;
    env.create_ga4(workspace, Ga4::due(2, ""), &tokens).await;
    wait_for("the first sync", Duration::from_secs(60), || async {
        (env.count(SUCCEEDED).await == 1).then_some(())
    })
    .await;

    // Redis goes away under a running worker: it keeps running; a sync the scheduler
    // starts meanwhile waits in the outbox and runs once Redis is back.
    cut.cut();
    // Let the forwarder drop the worker's connection before the work arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    env.create_ga4(workspace, Ga4::due(2, ""), &tokens).await;
    wait_for(
        "the second run, queued",
        Duration::from_secs(30),
        || async { (env.count("SELECT count(*) AS n FROM outbox").await == 1).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(worker.is_running(), "it rides out the outage");
    assert_eq!(env.count(SUCCEEDED).await, 1);
    cut.restore();
    wait_for("the second sync", Duration::from_secs(60), || async {
        (env.count(SUCCEEDED).await == 2).then_some(())
    })
    .await;
    assert!(worker.is_running());
    worker.terminate();
    assert!(worker.wait_exit(Duration::from_secs(30)).await.success());
}

/// SIGTERM while it waits for Redis ends it cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_waiting_for_redis_stops_on_sigterm() {
    let env = TestEnv::new().await;
    let (cut, process_env) = redis_behind_a_cut(&env).await;
    cut.cut();
    let mut worker = WorkerProcess::start(&process_env);
    let log = worker.log.clone();
    wait_for(
        "a check that found Redis away",
        Duration::from_secs(30),
        || {
            let log = log.clone();
            async move {
                std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("waiting for Redis")
                    .then_some(())
            }
        },
    )
    .await;
    worker.terminate();
    assert!(worker.wait_exit(Duration::from_secs(30)).await.success());
}

//! The outbox: a job reaches its queue only when the transaction that staged it
//! commits, at least once and run once however often it is relayed, and it waits
//! through a Redis outage instead of being lost.

use std::time::Duration;

use junction_jobs::{Job, JobsError, Queues, RelayOptions, TaskState, outbox};
use junction_store::{models::Queue, repo};
use junction_testkit::{TcpCut, url_addr};

use crate::support::{Env, Scripted, eventually, quick_liveness, quick_policy};

const WAIT: Duration = Duration::from_secs(20);

async fn stage(env: &Env, job: &Job, commit: bool) -> String {
    let mut tx = env.store().begin(env.workspace_id).await.unwrap();
    let job_id = outbox::stage(tx.conn(), job).await.unwrap();
    if commit {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
    job_id
}

async fn staged(env: &Env) -> i64 {
    env.db.count("SELECT count(*) AS n FROM outbox").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_reaches_its_queue_only_when_its_transaction_commits() {
    let env = Env::new().await;
    let committed = env.sync_job();
    let rolled_back = env.sync_job();
    let committed_id = stage(&env, &committed, true).await;
    let rolled_back_id = stage(&env, &rolled_back, false).await;
    assert_eq!(committed_id, committed.default_job_id());
    assert_eq!(staged(&env).await, 1);

    let report = env.relay().await;
    assert_eq!((report.relayed, report.deferred), (1, 0));
    assert_eq!(staged(&env).await, 0);
    let found = env
        .queues
        .lookup(Queue::Sync, &committed_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.attempt, found.state), (1, TaskState::Pending));
    assert!(
        env.queues
            .lookup(Queue::Sync, &rolled_back_id)
            .await
            .unwrap()
            .is_none()
    );
    // Nothing is left to relay.
    assert_eq!(env.relay().await.relayed, 0);
}

/// Jobs staged together (one statement) keep their order in the outbox and reach
/// their queues together once the transaction commits, and not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_staged_together_go_out_in_order_once_their_transaction_commits() {
    let env = Env::new().await;
    let jobs: Vec<Job> = (0..3).map(|_| env.sync_job()).collect();
    let mut tx = env.store().begin(env.workspace_id).await.unwrap();
    let job_ids = outbox::stage_all(tx.conn(), &jobs).await.unwrap();
    assert_eq!(
        job_ids,
        jobs.iter().map(Job::default_job_id).collect::<Vec<_>>()
    );
    assert!(outbox::stage_all(tx.conn(), &[]).await.unwrap().is_empty());
    // Not committed yet: nothing to relay.
    assert_eq!(env.relay().await.relayed, 0);
    tx.commit().await.unwrap();
    let in_order: Vec<String> = {
        let mut conn = env.db.system_store().unscoped().await.unwrap();
        let mut claimed = repo::outbox::claim(&mut conn, 10, Duration::from_millis(1))
            .await
            .unwrap();
        claimed.sort_by_key(|staged| staged.id);
        claimed.into_iter().map(|staged| staged.job_id).collect()
    };
    assert_eq!(in_order, job_ids, "oldest first, in the order staged");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(env.relay().await.relayed, 3);
    for job_id in &job_ids {
        let found = env
            .queues
            .lookup(Queue::Sync, job_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found.attempt, found.state), (1, TaskState::Pending));
    }
    assert_eq!(staged(&env).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_dies_after_pushing_runs_the_job_once() {
    let env = Env::new().await;
    let job = env.sync_job();
    let job_id = stage(&env, &job, true).await;
    // A relay claims the job and pushes it, then dies before removing it.
    let claimed = {
        let mut conn = env.db.system_store().unscoped().await.unwrap();
        repo::outbox::claim(&mut conn, 10, Duration::from_millis(300))
            .await
            .unwrap()
    };
    assert_eq!(claimed.len(), 1);
    assert!(
        env.queues
            .enqueue_staged(
                claimed[0].job_id.clone(),
                job.clone(),
                claimed[0].created_at
            )
            .await
            .unwrap()
    );
    // While its lease holds, no other relay takes it.
    assert_eq!(env.relay().await.relayed, 0);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Then the next relay pushes it again (a no-op on the queue) and removes it.
    assert_eq!(env.relay().await.relayed, 1);
    assert_eq!(staged(&env).await, 0);
    assert_eq!(env.stats(Queue::Sync).await.pending, 1);

    let handler = Scripted::new(|_, _| async { Ok(()) });
    let runner = env.start_runner(
        "outbox-twice",
        vec![(Queue::Sync, 2, handler.clone())],
        quick_policy(3),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the job to run", WAIT, || async {
        matches!(
            env.queues.lookup(Queue::Sync, &job_id).await.unwrap(),
            Some(found) if found.state == TaskState::Succeeded
        )
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    runner.shutdown().await.unwrap();
    assert_eq!(handler.calls().len(), 1, "the job ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_jobs_wait_out_a_redis_outage_and_go_out_once_it_returns() {
    let env = Env::new().await;
    let cut = TcpCut::start(url_addr(env.redis.url())).await;
    let through_cut = Queues::connect(&format!("redis://{}", cut.addr()), env.redis.prefix())
        .await
        .unwrap();
    let relay = junction_jobs::Relay::new(
        env.db.system_store().clone(),
        through_cut,
        RelayOptions {
            retry_after: Duration::from_millis(100),
            ..RelayOptions::default()
        },
    );
    // The relay's connection is in use when Redis goes away.
    stage(&env, &env.sync_job(), true).await;
    assert_eq!(relay.relay_once().await.unwrap().relayed, 1);
    cut.cut();
    let jobs = [env.sync_job(), env.notify_job(), env.sync_job()];
    for job in &jobs {
        stage(&env, job, true).await;
    }
    let started = std::time::Instant::now();
    let report = relay.relay_once().await.unwrap();
    eprintln!("relay_once took {:?}", started.elapsed());
    assert_eq!((report.relayed, report.deferred), (0, 3));
    assert_eq!(staged(&env).await, 3, "nothing is lost while Redis is away");
    let reason = env
        .db
        .count("SELECT count(*) AS n FROM outbox WHERE last_error IS NOT NULL")
        .await;
    assert_eq!(reason, 3, "each waiting job says why");

    cut.restore();
    let relayed = eventually_relayed(&relay, 3).await;
    assert_eq!(relayed, 3);
    assert_eq!(staged(&env).await, 0);
    for job in &jobs {
        let found = env
            .queues
            .lookup(job.queue(), &job.default_job_id())
            .await
            .unwrap();
        assert!(found.is_some(), "{} was relayed", job.default_job_id());
    }
}

/// Runs relay passes until `want` jobs went out (the connection may need a pass to
/// come back after an outage).
async fn eventually_relayed(relay: &junction_jobs::Relay, want: usize) -> usize {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut relayed = 0;
    while relayed < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {relayed} of {want} relayed"
        );
        match relay.relay_once().await {
            Ok(report) => relayed += report.relayed,
            Err(JobsError::Redis(_)) => {}
            Err(other) => panic!("{other}"),
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    relayed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_only_a_newer_build_reads_waits_then_becomes_a_dead_letter() {
    let env = Env::new().await;
    let good = env.sync_job();
    env.db
        .execute(&format!(
            "INSERT INTO outbox (workspace_id, queue, job_id, job) VALUES \
             ('{}', 'sync', 'sync-from-the-future', '{{\"kind\": \"teleport\"}}')",
            env.workspace_id
        ))
        .await;
    stage(&env, &good, true).await;
    // A rolling deploy: a newer worker may read it, so it waits, and it does not hold
    // up the jobs behind it.
    let report = env.relay().await;
    assert_eq!(
        (report.relayed, report.deferred, report.unreadable),
        (1, 1, 0)
    );
    assert_eq!(staged(&env).await, 1);
    assert!(env.dead_letters().await.is_empty());
    // No worker read it in all its tries: a dead letter, where operators see it.
    env.db
        .execute(&format!(
            "UPDATE outbox SET leased_until = NULL, relay_attempts = {} \
             WHERE job_id = 'sync-from-the-future'",
            junction_jobs::outbox::MAX_UNREADABLE_ATTEMPTS
        ))
        .await;
    let report = env.relay().await;
    assert_eq!((report.relayed, report.unreadable), (0, 1));
    assert_eq!(staged(&env).await, 0);
    let letters = env.dead_letters().await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].job_id, "sync-from-the-future");
    assert_eq!(letters[0].job["kind"], "teleport");
}

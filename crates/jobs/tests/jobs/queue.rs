//! Queues: keys under the prefix, idempotent enqueue, lookups and stats that follow
//! jobs as they move.

use std::time::Duration;

use chrono::Utc;
use junction_core::{AdapterError, ErrorCode};
use junction_jobs::{Envelope, JobFailure, Queues, TaskState};
use junction_store::models::Queue;

use crate::support::{Env, Scripted, eventually, quick_liveness, quick_policy};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_is_under_the_prefix_and_enqueue_is_idempotent() {
    let env = Env::new().await;
    let job = env.sync_job();
    let job_id = env.queues.enqueue(job.clone()).await.unwrap();
    assert_eq!(job_id, job.default_job_id());
    assert_eq!(env.queues.enqueue(job.clone()).await.unwrap(), job_id);
    let custom = env
        .queues
        .enqueue_with_id("manual-1".into(), job.clone())
        .await
        .unwrap();
    assert_eq!(custom, "manual-1");
    assert!(
        env.queues
            .enqueue_with_id(String::new(), job)
            .await
            .is_err()
    );
    assert_eq!(env.stats(Queue::Sync).await.pending, 2);

    let client = redis::Client::open(env.redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", env.redis.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    assert!(
        keys.iter()
            .all(|k| k.starts_with(&format!("{}jobs:sync:", env.redis.prefix()))),
        "{keys:?}"
    );
    assert_eq!(env.queues.prefix(), env.redis.prefix());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_finds_the_latest_attempt() {
    let env = Env::new().await;
    assert!(
        env.queues
            .lookup(Queue::Sync, "nope")
            .await
            .unwrap()
            .is_none()
    );
    let job_id = env.queues.enqueue(env.sync_job()).await.unwrap();
    let found = env
        .queues
        .lookup(Queue::Sync, &job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.attempt, 1);
    assert_eq!(found.task_id, Queues::task_id(&job_id, 1));
    assert_eq!(found.state, TaskState::Pending);
    // Another queue does not know the job.
    assert!(
        env.queues
            .lookup(Queue::Action, &job_id)
            .await
            .unwrap()
            .is_none()
    );

    let later = Utc::now() + chrono::Duration::hours(1);
    let envelope = Envelope::new("sync-later", env.sync_job(), Utc::now());
    env.queues.schedule(envelope, later).await.unwrap();
    let found = env
        .queues
        .lookup(Queue::Sync, "sync-later")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.state, TaskState::Scheduled);
    let run_at = found.run_at.unwrap();
    assert!(run_at >= later && run_at - later < chrono::Duration::seconds(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_follow_jobs_as_they_move() {
    let env = Env::new().await;
    let empty = env.stats(Queue::Sync).await;
    assert_eq!(
        (
            empty.pending,
            empty.scheduled,
            empty.running,
            empty.dead,
            empty.failed
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(empty.oldest_pending_age_seconds, None);

    let good = env.queues.enqueue(env.sync_job()).await.unwrap();
    let bad = env.queues.enqueue(env.sync_job()).await.unwrap();
    let later = Envelope::new("sync-later", env.sync_job(), Utc::now());
    env.queues
        .schedule(later, Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    env.queues.enqueue(env.notify_job()).await.unwrap();

    let before = env.stats(Queue::Sync).await;
    assert_eq!((before.pending, before.scheduled, before.dead), (2, 1, 0));
    assert!(before.oldest_pending_age_seconds.is_some());
    let all = env.queues.stats().await.unwrap();
    assert_eq!(all.len(), Queue::ALL.len());
    let notify = all.iter().find(|s| s.queue == Queue::Notify).unwrap();
    assert_eq!(notify.pending, 1);
    let json = serde_json::to_value(&all).unwrap();
    assert_eq!(json[0]["queue"], "sync");

    let bad_id = bad.clone();
    let handler = Scripted::new(move |envelope: Envelope, _| {
        let bad_id = bad_id.clone();
        async move {
            if envelope.job_id == bad_id {
                Err(JobFailure::from_adapter(
                    &AdapterError::invalid("no"),
                    Utc::now(),
                ))
            } else {
                Ok(())
            }
        }
    });
    let runner = env.start_runner(
        "stats",
        vec![(Queue::Sync, 2, handler.clone())],
        quick_policy(3),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("both due jobs to finish", WAIT, || async {
        let stats = env.stats(Queue::Sync).await;
        stats.pending == 0 && stats.running == 0 && stats.dead == 1
    })
    .await;
    runner.shutdown().await.unwrap();
    let after = env.stats(Queue::Sync).await;
    assert_eq!((after.pending, after.scheduled, after.dead), (0, 1, 1));
    assert_eq!(after.oldest_pending_age_seconds, None);
    let good = env
        .queues
        .lookup(Queue::Sync, &good)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(good.state, TaskState::Succeeded);
    assert_eq!(handler.call_count(), 2);

    // A retry in backoff counts as scheduled.
    let envelope = Envelope::new("sync-retry", env.sync_job(), Utc::now());
    let failure = JobFailure::retryable(ErrorCode::ProviderUnavailable, "503");
    let next = envelope.next_attempt(junction_jobs::AttemptRecord {
        attempt: 1,
        at: Utc::now(),
        error_code: failure.code.name().into(),
        error_message: failure.message,
        retry_at: None,
    });
    env.queues
        .schedule(next, Utc::now() + chrono::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(env.stats(Queue::Sync).await.scheduled, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purging_removes_whole_finished_jobs_only() {
    let env = Env::new().await;
    let succeeded = env.queues.enqueue(env.sync_job()).await.unwrap();
    let dead = env.queues.enqueue(env.sync_job()).await.unwrap();
    let waiting = env.queues.enqueue(env.sync_job()).await.unwrap();
    let (s, d, w) = (succeeded.clone(), dead.clone(), waiting.clone());
    let handler = Scripted::new(move |envelope: Envelope, _| {
        let (s, d, w) = (s.clone(), d.clone(), w.clone());
        async move {
            let id = envelope.job_id.as_str();
            if id == s && envelope.attempt == 1 {
                Err(JobFailure::retryable(ErrorCode::ProviderUnavailable, "503"))
            } else if id == d {
                Err(JobFailure::permanent(
                    ErrorCode::ProviderRejected,
                    "invalid",
                ))
            } else if id == w {
                // Its retry waits an hour: attempt 1 is finished, the job is not.
                Err(JobFailure::retryable_after(
                    ErrorCode::ProviderQuotaExhausted,
                    "quota",
                    Utc::now() + chrono::Duration::hours(1),
                ))
            } else {
                Ok(())
            }
        }
    });
    let runner = env.start_runner(
        "purge",
        vec![(Queue::Sync, 3, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("every job to settle", WAIT, || async {
        let state = |id: String| {
            let queues = env.queues.clone();
            async move {
                queues
                    .lookup(Queue::Sync, &id)
                    .await
                    .unwrap()
                    .map(|f| f.state)
            }
        };
        state(succeeded.clone()).await == Some(TaskState::Succeeded)
            && state(dead.clone()).await == Some(TaskState::Dead)
            && state(waiting.clone()).await == Some(TaskState::Scheduled)
    })
    .await;
    runner.shutdown().await.unwrap();

    assert_eq!(
        env.queues
            .purge_finished(Queue::Sync, Duration::from_secs(3600))
            .await
            .unwrap(),
        0,
        "nothing is old enough"
    );
    assert_eq!(
        env.queues
            .purge_finished(Queue::Sync, Duration::ZERO)
            .await
            .unwrap(),
        3,
        "two attempts of one job and one dead job"
    );
    assert!(
        env.queues
            .lookup(Queue::Sync, &succeeded)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.queues
            .lookup(Queue::Sync, &dead)
            .await
            .unwrap()
            .is_none()
    );
    let found = env
        .queues
        .lookup(Queue::Sync, &waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.attempt, found.state), (2, TaskState::Scheduled));
    let stats = env.stats(Queue::Sync).await;
    assert_eq!((stats.dead, stats.scheduled, stats.pending), (0, 1, 0));

    let client = redis::Client::open(env.redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let left: Vec<String> = redis::cmd("HKEYS")
        .arg(env.key(Queue::Sync, "data"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut left = left;
    left.sort();
    let mut expected = vec![Queues::task_id(&waiting, 1), Queues::task_id(&waiting, 2)];
    expected.sort();
    assert_eq!(left, expected);
}

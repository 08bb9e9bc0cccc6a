//! The runner against the real Redis and Postgres: retries with history, provider
//! hints, dead letters, graceful shutdown and recovery from a killed worker.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use apalis::prelude::{TaskBuilder, TaskId};
use chrono::Utc;
use junction_core::{AdapterError, ErrorCode};
use junction_jobs::{
    Envelope, JobFailure, Liveness, PAYLOAD_VERSION, QueueWorker, Queues, RetrySchedule, TaskState,
};
use junction_store::models::Queue;

use crate::support::{Env, Scripted, eventually, quick_liveness, quick_policy};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failing_twice_then_succeeding_runs_three_attempts() {
    let env = Env::new().await;
    let handler = Scripted::new(|_, n| async move {
        if n < 2 {
            Err(JobFailure::retryable(
                ErrorCode::ProviderUnavailable,
                format!("HTTP 503 on call {n}"),
            ))
        } else {
            Ok(())
        }
    });
    let job_id = env.queues.enqueue(env.sync_job()).await.unwrap();
    let runner = env.start_runner(
        "retry",
        vec![(Queue::Sync, 2, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );

    eventually("the third attempt to succeed", WAIT, || async {
        matches!(
            env.queues.lookup(Queue::Sync, &job_id).await.unwrap(),
            Some(found) if found.state == TaskState::Succeeded
        )
    })
    .await;
    runner.shutdown().await.unwrap();

    let calls = handler.calls();
    assert_eq!(calls.len(), 3);
    let attempts: Vec<u32> = calls.iter().map(|c| c.envelope.attempt).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    assert!(calls.iter().all(|c| c.envelope.job_id == job_id));
    let last = &calls[2].envelope;
    let history: Vec<u32> = last.history.iter().map(|h| h.attempt).collect();
    assert_eq!(history, vec![1, 2]);
    assert_eq!(last.history[1].error_message, "HTTP 503 on call 1");
    assert!(
        last.history
            .iter()
            .all(|h| h.error_code == "provider_unavailable" && h.retry_at.is_some())
    );
    assert_eq!(last.first_enqueued_at, calls[0].envelope.first_enqueued_at);
    assert_eq!(handler.retries.lock().unwrap().len(), 2);
    assert_eq!(handler.dead_count(), 0);
    assert!(env.dead_letters().await.is_empty());

    let found = env
        .queues
        .lookup(Queue::Sync, &job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.attempt, 3);
    assert_eq!(found.task_id, Queues::task_id(&job_id, 3));
    let stats = env.stats(Queue::Sync).await;
    assert_eq!((stats.pending, stats.scheduled, stats.dead), (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_from_a_429_is_honoured() {
    let env = Env::new().await;
    let handler = Scripted::new(|_, n| async move {
        if n == 0 {
            let error = AdapterError::RateLimited {
                retry_after: Some(Duration::from_secs(2)),
            };
            Err(JobFailure::from_adapter(&error, Utc::now()))
        } else {
            Ok(())
        }
    });
    let job_id = env.queues.enqueue(env.sync_job()).await.unwrap();
    let runner = env.start_runner(
        "retry-after",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the retry to run", WAIT, || async {
        handler.call_count() >= 2
    })
    .await;
    runner.shutdown().await.unwrap();

    let calls = handler.calls();
    assert_eq!(calls.len(), 2);
    let waited = (calls[1].at - calls[0].at).to_std().unwrap();
    assert!(
        waited >= Duration::from_secs(2),
        "the retry ran {waited:?} after the 429 that said Retry-After: 2"
    );
    let record = &calls[1].envelope.history[0];
    assert_eq!(record.error_code, "provider_rate_limited");
    assert!(record.retry_at.unwrap() >= calls[0].at + chrono::Duration::seconds(2));
    assert_eq!(calls[1].envelope.job_id, job_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_error_dead_letters_at_once() {
    let env = Env::new().await;
    let handler = Scripted::new(|_, _| async {
        Err(JobFailure::from_adapter(
            &AdapterError::invalid_field("property_id", "must be digits"),
            Utc::now(),
        ))
    });
    let job = env.sync_job();
    let job_id = env.queues.enqueue(job.clone()).await.unwrap();
    let runner = env.start_runner(
        "invalid",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the task to be dead in Redis", WAIT, || async {
        matches!(
            env.queues.lookup(Queue::Sync, &job_id).await.unwrap(),
            Some(found) if found.state == TaskState::Dead
        )
    })
    .await;
    // Long enough for apalis's own rescheduling (now + attempt seconds) to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    runner.shutdown().await.unwrap();

    assert_eq!(handler.call_count(), 1, "a permanent failure was retried");
    assert_eq!(handler.dead_count(), 1);
    let letters = env.dead_letters().await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.job_id, job_id);
    assert_eq!(letter.queue, Queue::Sync);
    assert_eq!(letter.integration_id, Some(env.integration_id));
    assert_eq!(letter.attempts, 1);
    assert_eq!(letter.error_code, "provider_rejected");
    assert!(letter.error_message.contains("property_id"));
    assert_eq!(letter.job, serde_json::to_value(&job).unwrap());
    let log = letter.attempt_log.as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["error_code"], "provider_rejected");

    let found = env
        .queues
        .lookup(Queue::Sync, &job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.attempt, found.state), (1, TaskState::Dead));
    let stats = env.stats(Queue::Sync).await;
    assert_eq!((stats.dead, stats.pending, stats.scheduled), (1, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_always_fails_dead_letters_after_max_attempts() {
    let env = Env::new().await;
    let handler = Scripted::new(|envelope: Envelope, _| async move {
        Err(JobFailure::retryable(
            ErrorCode::ProviderUnavailable,
            format!("timeout on attempt {}", envelope.attempt),
        ))
    });
    let job_id = env.queues.enqueue(env.sync_job()).await.unwrap();
    let runner = env.start_runner(
        "always-fails",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(3),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the dead letter", WAIT, || async {
        handler.dead_count() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    runner.shutdown().await.unwrap();

    assert_eq!(handler.call_count(), 3);
    let letters = env.dead_letters().await;
    assert_eq!(letters.len(), 1);
    let letter = &letters[0];
    assert_eq!(letter.job_id, job_id);
    assert_eq!(letter.attempts, 3);
    let log = letter.attempt_log.as_array().unwrap();
    let attempts: Vec<u64> = log.iter().map(|a| a["attempt"].as_u64().unwrap()).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    for (entry, attempt) in log.iter().zip(1..) {
        assert_eq!(entry["error_code"], "provider_unavailable");
        assert_eq!(
            entry["error_message"],
            format!("timeout on attempt {attempt}")
        );
    }
    assert!(!log[0]["retry_at"].is_null() && !log[1]["retry_at"].is_null());
    assert!(log[2]["retry_at"].is_null());
    let first_at: chrono::DateTime<Utc> = serde_json::from_value(log[0]["at"].clone()).unwrap();
    // Postgres keeps microseconds.
    assert_eq!(
        letter.first_failed_at.timestamp_micros(),
        first_at.timestamp_micros()
    );

    let found = env
        .queues
        .lookup(Queue::Sync, &job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.attempt, found.state), (3, TaskState::Dead));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_with_its_own_schedule_retries_at_its_delays_then_dead_letters() {
    let env = Env::new().await;
    let handler = Scripted::new(|envelope: Envelope, _| async move {
        Err(JobFailure::retryable(
            ErrorCode::ProviderUnavailable,
            format!("HTTP 500 on attempt {}", envelope.attempt),
        ))
    });
    let job_id = env.queues.enqueue(env.sync_job()).await.unwrap();
    // The policy would allow ten attempts with jittered backoff; the queue's schedule
    // allows three, one second and then no time apart.
    let schedule = RetrySchedule::new(vec![Duration::from_secs(1), Duration::ZERO]);
    let runner = env.start_workers(
        "scheduled",
        vec![QueueWorker {
            queue: Queue::Sync,
            concurrency: 1,
            handler: handler.clone(),
            schedule: Some(schedule),
        }],
        quick_policy(10),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the dead letter", WAIT, || async {
        handler.dead_count() == 1
    })
    .await;
    runner.shutdown().await.unwrap();

    assert_eq!(handler.call_count(), 3);
    let letters = env.dead_letters().await;
    assert_eq!(letters.len(), 1);
    assert_eq!(
        (letters[0].job_id.as_str(), letters[0].attempts),
        (job_id.as_str(), 3)
    );
    let log = letters[0].attempt_log.as_array().unwrap();
    let delays: Vec<Option<i64>> = log
        .iter()
        .map(|entry| {
            let at: chrono::DateTime<Utc> = serde_json::from_value(entry["at"].clone()).unwrap();
            let retry_at: Option<chrono::DateTime<Utc>> =
                serde_json::from_value(entry["retry_at"].clone()).unwrap();
            retry_at.map(|retry_at| (retry_at - at).num_milliseconds())
        })
        .collect();
    assert_eq!(delays, vec![Some(1000), Some(0), None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_jobs_stop_without_a_dead_letter() {
    let env = Env::new().await;
    let handler = Scripted::new(|_, _| async {
        Err(JobFailure::abandon(
            ErrorCode::IntegrationNeedsReauth,
            "the grant was revoked",
        ))
    });
    let job_id = env.queues.enqueue(env.sync_job()).await.unwrap();
    let runner = env.start_runner(
        "abandon",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the job to be abandoned", WAIT, || async {
        matches!(
            env.queues.lookup(Queue::Sync, &job_id).await.unwrap(),
            Some(found) if found.state == TaskState::Abandoned
        )
    })
    .await;
    runner.shutdown().await.unwrap();
    assert_eq!(handler.call_count(), 1);
    assert_eq!(handler.dead_count(), 0);
    assert!(env.dead_letters().await.is_empty());
    let retries = handler.retries.lock().unwrap().clone();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].1.kind, junction_jobs::FailureKind::Abandon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_retried_then_dead_lettered() {
    let env = Env::new().await;
    let handler = Scripted::new(|_, _| async { panic!("handler bug") });
    env.queues.enqueue(env.sync_job()).await.unwrap();
    let runner = env.start_runner(
        "panics",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(2),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the dead letter", WAIT, || async {
        env.dead_letters().await.len() == 1
    })
    .await;
    runner.shutdown().await.unwrap();
    let letter = &env.dead_letters().await[0];
    assert_eq!(letter.attempts, 2);
    assert_eq!(letter.error_code, "internal");
    assert!(letter.error_message.contains("handler bug"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_payload_is_dead_lettered_not_dropped() {
    let env = Env::new().await;
    let handler = Scripted::new(|_, _| async { Ok(()) });
    let mut payload = Envelope::new("sync-future", env.sync_job(), Utc::now())
        .to_json()
        .unwrap();
    payload["v"] = serde_json::json!(PAYLOAD_VERSION + 1);
    // Written as the push script writes a task (a future version's payload).
    let task_id = Queues::task_id("sync-future", 1);
    let client = redis::Client::open(env.redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::pipe()
        .hset(
            env.key(Queue::Sync, "data"),
            &task_id,
            serde_json::to_vec(&payload).unwrap(),
        )
        .hset(env.key(Queue::Sync, "state"), &task_id, "pending 0")
        .rpush(env.key(Queue::Sync, "active"), &task_id)
        .query_async(&mut conn)
        .await
        .unwrap();

    let runner = env.start_runner(
        "unreadable",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the dead letter", WAIT, || async {
        env.dead_letters().await.len() == 1
    })
    .await;
    eventually("the task to be dead in Redis", WAIT, || async {
        env.stats(Queue::Sync).await.dead == 1
    })
    .await;
    runner.shutdown().await.unwrap();
    assert_eq!(handler.call_count(), 0);
    let letter = &env.dead_letters().await[0];
    assert_eq!(letter.job_id, "sync-future");
    assert_eq!(letter.error_code, "internal");
    assert!(letter.error_message.contains("version"));
    assert_eq!(letter.job, payload, "the raw payload is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_jobs_and_returns_prefetched_ones() {
    let env = Env::new().await;
    let first_started = Arc::new(tokio::sync::Notify::new());
    let signal = first_started.clone();
    let handler = Scripted::new(move |_, n| {
        let signal = signal.clone();
        async move {
            if n == 0 {
                signal.notify_one();
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            Ok(())
        }
    });
    let mut job_ids = Vec::new();
    for _ in 0..3 {
        job_ids.push(env.queues.enqueue(env.notify_job()).await.unwrap());
    }
    // One handler slot, three tasks fetched at once: one runs, two wait in the worker.
    let liveness = Liveness {
        prefetch: Some(3),
        ..quick_liveness()
    };
    let runner = env.start_runner(
        "drain",
        vec![(Queue::Notify, 1, handler.clone())],
        quick_policy(5),
        liveness,
        Duration::from_secs(10),
    );
    tokio::time::timeout(WAIT, first_started.notified())
        .await
        .expect("no job started");
    let running = env.stats(Queue::Notify).await;
    assert_eq!(running.running, 3, "all three are claimed by the worker");
    let shutdown_started = std::time::Instant::now();
    runner.shutdown().await.unwrap();

    // The in-flight job ran to the end; the other two never started.
    assert_eq!(handler.call_count(), 1);
    assert_eq!(handler.finished.lock().unwrap().len(), 1);
    assert!(shutdown_started.elapsed() < Duration::from_secs(10));
    let finished_id = handler.calls()[0].envelope.job_id.clone();
    let found = env
        .queues
        .lookup(Queue::Notify, &finished_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.state, TaskState::Succeeded);
    let stats = env.stats(Queue::Notify).await;
    assert_eq!((stats.pending, stats.running), (2, 0), "{stats:?}");
    for job_id in job_ids.iter().filter(|id| **id != finished_id) {
        let found = env
            .queues
            .lookup(Queue::Notify, job_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.state, TaskState::Pending);
    }

    // A second runner picks the returned jobs up.
    let runner = env.start_runner(
        "drain-2",
        vec![(Queue::Notify, 2, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the returned jobs to run", WAIT, || async {
        handler.call_count() == 3
    })
    .await;
    runner.shutdown().await.unwrap();
    let ran = handler.job_ids_run();
    job_ids.sort();
    assert_eq!(ran, job_ids, "every job ran exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_running_past_the_grace_period_goes_back_to_the_queue() {
    let env = Env::new().await;
    let hang = Arc::new(AtomicBool::new(true));
    let hanging = hang.clone();
    let handler = Scripted::new(move |_, _| {
        let hanging = hanging.clone();
        async move {
            if hanging.load(Ordering::SeqCst) {
                futures::future::pending::<()>().await;
            }
            Ok(())
        }
    });
    let job_id = env.queues.enqueue(env.sync_job()).await.unwrap();
    let runner = env.start_runner(
        "cut-off",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_millis(300),
    );
    eventually("the job to start", WAIT, || async {
        handler.call_count() == 1
    })
    .await;
    runner.shutdown().await.unwrap();
    let stats = env.stats(Queue::Sync).await;
    assert_eq!((stats.pending, stats.running), (1, 0), "{stats:?}");

    hang.store(false, Ordering::SeqCst);
    let runner = env.start_runner(
        "cut-off-2",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the job to run again and succeed", WAIT, || async {
        matches!(
            env.queues.lookup(Queue::Sync, &job_id).await.unwrap(),
            Some(found) if found.state == TaskState::Succeeded
        )
    })
    .await;
    runner.shutdown().await.unwrap();
    assert_eq!(handler.call_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_job_is_recovered_by_another_worker() {
    let env = Env::new().await;
    let handler = Scripted::new(|_, n| async move {
        if n == 0 {
            // The first delivery hangs until its process "dies".
            futures::future::pending::<()>().await;
        }
        Ok(())
    });
    // Heartbeat every second, dead after two missed: a 2 s orphan timeout.
    let liveness = Liveness {
        heartbeat_interval: Duration::from_secs(1),
        missed_heartbeats: 2,
        ..quick_liveness()
    };
    assert_eq!(liveness.orphan_timeout(), Duration::from_secs(2));
    let job_id = env.queues.enqueue(env.sync_job()).await.unwrap();
    let doomed = env.start_runner(
        "doomed",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        liveness,
        Duration::from_secs(5),
    );
    eventually("the job to start", WAIT, || async {
        handler.call_count() == 1
    })
    .await;
    doomed.kill().await;
    assert_eq!(
        env.stats(Queue::Sync).await.running,
        1,
        "the dead worker still holds it"
    );

    let survivor = env.start_runner(
        "survivor",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        liveness,
        Duration::from_secs(5),
    );
    eventually("the orphaned job to run again", WAIT, || async {
        matches!(
            env.queues.lookup(Queue::Sync, &job_id).await.unwrap(),
            Some(found) if found.state == TaskState::Succeeded
        )
    })
    .await;
    survivor.shutdown().await.unwrap();
    assert_eq!(handler.call_count(), 2);
    assert_eq!(
        handler.calls()[1].envelope.attempt,
        1,
        "a recovery is not a retry"
    );
}

/// Redis's Lua cannot `unpack()` 8,000 values; apalis-redis's fetch once promoted
/// every due task with one `unpack()`, so a backlog that size stalled the queue.
/// Both kinds of backlog must drain: tasks an installation upgraded from the
/// apalis-redis layout still has parked in its scheduled set (the migration moves
/// them) and retries falling due in the same second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlogs_of_more_than_eight_thousand_due_tasks_all_run() {
    use futures::{StreamExt, TryStreamExt};

    const PARKED_BY_APALIS: usize = 9_000;
    const DUE_IN_THE_SAME_SECOND: usize = 10_000;
    let env = Env::new().await;
    let handler = Scripted::new(|_, _| async { Ok(()) });

    let mut conn = apalis_redis::connect(env.redis.url()).await.unwrap();
    let config = env.legacy_config(Queue::Sync);
    let now = Utc::now();
    for chunk in (0..PARKED_BY_APALIS).collect::<Vec<_>>().chunks(1_000) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|i| {
                let job_id = format!("parked-{i}");
                let payload = Envelope::new(job_id.clone(), env.sync_job(), now)
                    .to_json()
                    .unwrap();
                TaskBuilder::new(serde_json::to_vec(&payload).unwrap())
                    .task_id(TaskId::from_string(Queues::task_id(&job_id, 1)))
                    .build()
            })
            .collect();
        apalis_redis::queries::push_tasks(&mut conn, &config, &tasks)
            .await
            .unwrap();
    }
    let due_at = now + chrono::Duration::seconds(2);
    futures::stream::iter(0..DUE_IN_THE_SAME_SECOND)
        .map(|i| {
            let envelope = Envelope::new(format!("due-{i}"), env.sync_job(), now);
            env.queues.schedule(envelope, due_at)
        })
        .buffer_unordered(64)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let moved = junction_jobs::migrate_legacy_layout(&env.queues, Queue::Sync)
        .await
        .unwrap();
    assert_eq!(moved.rescheduled, PARKED_BY_APALIS as u64);
    let before = env.stats(Queue::Sync).await;
    assert_eq!(
        before.pending + before.scheduled,
        (PARKED_BY_APALIS + DUE_IN_THE_SAME_SECOND) as u64
    );

    let runner = env.start_runner(
        "backlog",
        vec![(Queue::Sync, 50, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually(
        "every task of both backlogs to run",
        Duration::from_secs(120),
        || async { handler.call_count() >= PARKED_BY_APALIS + DUE_IN_THE_SAME_SECOND },
    )
    .await;
    runner.shutdown().await.unwrap();

    let calls = handler.calls();
    let distinct: std::collections::HashSet<&str> =
        calls.iter().map(|c| c.envelope.job_id.as_str()).collect();
    assert_eq!(distinct.len(), PARKED_BY_APALIS + DUE_IN_THE_SAME_SECOND);
    assert_eq!(calls.len(), distinct.len(), "no task ran twice");
    assert!(
        calls
            .iter()
            .filter(|c| c.envelope.job_id.starts_with("due-"))
            .all(|c| c.at >= due_at),
        "no delayed task ran before its time"
    );
    let after = env.stats(Queue::Sync).await;
    assert_eq!((after.pending, after.scheduled, after.dead), (0, 0, 0));
}

/// A worker whose handler slots are all busy while it holds prefetched tasks is
/// alive: its heartbeats go on (the runner beats for it), so another worker never
/// takes its jobs, however long the running one takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_worker_holding_prefetched_jobs_keeps_them() {
    let env = Env::new().await;
    let handler = Scripted::new(|_, n| async move {
        if n == 0 {
            // Well past the orphan timeout below.
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        Ok(())
    });
    let liveness = Liveness {
        heartbeat_interval: Duration::from_secs(1),
        missed_heartbeats: 2,
        prefetch: Some(3),
        ..quick_liveness()
    };
    let mut job_ids = Vec::new();
    for _ in 0..3 {
        job_ids.push(env.queues.enqueue(env.notify_job()).await.unwrap());
    }
    // One slot, three tasks claimed: one runs for 5 s, two wait in the worker.
    let busy = env.start_runner(
        "busy",
        vec![(Queue::Notify, 1, handler.clone())],
        quick_policy(5),
        liveness,
        Duration::from_secs(10),
    );
    eventually("the first job to start", WAIT, || async {
        handler.call_count() == 1
    })
    .await;
    assert_eq!(env.stats(Queue::Notify).await.running, 3);
    let other = env.start_runner(
        "idle",
        vec![(Queue::Notify, 1, handler.clone())],
        quick_policy(5),
        liveness,
        Duration::from_secs(5),
    );
    eventually("all three jobs to run", WAIT, || async {
        handler.call_count() >= 3
    })
    .await;
    // Room for a wrongly recovered job to run a second time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    busy.shutdown().await.unwrap();
    other.shutdown().await.unwrap();
    let ran = handler.job_ids_run();
    job_ids.sort();
    assert_eq!(ran, job_ids, "every job ran exactly once");
}

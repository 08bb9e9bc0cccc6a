//! The queue's own Redis layout: tasks left in apalis-redis's layout by the version
//! before are brought over, an outcome the runner could not record runs again, and
//! many workers of two runners take each of many tasks exactly once.

use std::{collections::HashMap, time::Duration};

use apalis::prelude::{TaskBuilder, TaskId};
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use junction_core::{ErrorCode, WorkspaceId};
use junction_jobs::{
    Envelope, Job, JobFailure, LAYOUT_VERSION, MigrationReport, Queues, SyncJob, TaskState,
    migrate_legacy_layout,
};
use junction_store::models::Queue;
use uuid::Uuid;

use crate::support::{Env, Scripted, eventually, quick_liveness, quick_policy};

const WAIT: Duration = Duration::from_secs(20);

async fn redis(env: &Env) -> redis::aio::MultiplexedConnection {
    redis::Client::open(env.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Writes a task as the version before this one left it: its data, a metadata hash
/// with apalis-redis's fields, and its entry in `index` (a list or set) when given.
async fn legacy_task(env: &Env, job_id: &str, attempt: u32, meta: &[(&str, String)]) -> String {
    let mut conn = redis(env).await;
    let task_id = Queues::task_id(job_id, attempt);
    let mut envelope = Envelope::new(job_id, env.sync_job(), Utc::now());
    envelope.attempt = attempt;
    let mut fields: Vec<(&str, String)> = vec![
        ("attempts", "0".to_owned()),
        ("max_attempts", "25".to_owned()),
    ];
    fields.extend(meta.iter().cloned());
    let _: () = redis::pipe()
        .hset(
            env.key(Queue::Sync, "data"),
            &task_id,
            serde_json::to_vec(&envelope).unwrap(),
        )
        .hset_multiple(env.key(Queue::Sync, &format!("meta:{task_id}")), &fields)
        .query_async(&mut conn)
        .await
        .unwrap();
    task_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_left_in_the_legacy_layout_keep_their_state_and_run() {
    let env = Env::new().await;
    let mut conn = redis(&env).await;
    let now = Utc::now().timestamp();
    let old = (now - 3600).to_string();

    // Pushed by apalis-redis itself: parked in its scheduled set, due now.
    let parked = Envelope::new("legacy-parked", env.sync_job(), Utc::now());
    let task = TaskBuilder::new(serde_json::to_vec(&parked).unwrap())
        .task_id(TaskId::from_string(Queues::task_id("legacy-parked", 1)))
        .build();
    let mut apalis = apalis_redis::connect(env.redis.url()).await.unwrap();
    apalis_redis::queries::push_tasks(&mut apalis, &env.legacy_config(Queue::Sync), &[task])
        .await
        .unwrap();
    // Pushed by the version before: on the active list with a Pending metadata hash.
    let active = legacy_task(
        &env,
        "legacy-active",
        1,
        &[
            ("status", "Pending".into()),
            ("junction_due_at", old.clone()),
        ],
    )
    .await;
    let _: () = redis::cmd("RPUSH")
        .arg(env.key(Queue::Sync, "active"))
        .arg(&active)
        .query_async(&mut conn)
        .await
        .unwrap();
    // Finished ones: succeeded, dead, and a job whose retry waits an hour.
    let done = legacy_task(
        &env,
        "legacy-done",
        1,
        &[
            ("status", "Done".into()),
            ("result", r#"{"Ok":"succeeded"}"#.into()),
            ("done_at", old.clone()),
        ],
    )
    .await;
    let dead = legacy_task(
        &env,
        "legacy-dead",
        1,
        &[("status", "Killed".into()), ("done_at", old.clone())],
    )
    .await;
    legacy_task(
        &env,
        "legacy-retrying",
        1,
        &[
            ("status", "Done".into()),
            ("result", r#"{"Ok":"retried"}"#.into()),
            ("done_at", old.clone()),
        ],
    )
    .await;
    let waiting = legacy_task(
        &env,
        "legacy-retrying",
        2,
        &[
            ("status", "Pending".into()),
            ("junction_due_at", (now + 3600).to_string()),
        ],
    )
    .await;
    let _: () = redis::pipe()
        .sadd(env.key(Queue::Sync, "done"), &done)
        .sadd(env.key(Queue::Sync, "dead"), &dead)
        .zadd(env.key(Queue::Sync, "delayed"), &waiting, now + 3600)
        .lpush(env.key(Queue::Sync, "signal"), 1)
        .query_async(&mut conn)
        .await
        .unwrap();

    // The runner migrates its queues before it fetches.
    let handler = Scripted::new(|_, _| async { Ok(()) });
    let runner = env.start_runner(
        "after-upgrade",
        vec![(Queue::Sync, 4, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("both waiting legacy tasks to run", WAIT, || async {
        handler.call_count() == 2
    })
    .await;
    runner.shutdown().await.unwrap();
    let ran = handler.job_ids_run();
    assert_eq!(ran, ["legacy-active", "legacy-parked"]);

    let state = |job_id: &'static str| {
        let queues = env.queues.clone();
        async move {
            let found = queues.lookup(Queue::Sync, job_id).await.unwrap().unwrap();
            (found.attempt, found.state)
        }
    };
    assert_eq!(state("legacy-parked").await, (1, TaskState::Succeeded));
    assert_eq!(state("legacy-active").await, (1, TaskState::Succeeded));
    assert_eq!(state("legacy-done").await, (1, TaskState::Succeeded));
    assert_eq!(state("legacy-dead").await, (1, TaskState::Dead));
    assert_eq!(state("legacy-retrying").await, (2, TaskState::Scheduled));
    let stats = env.stats(Queue::Sync).await;
    assert_eq!(
        (stats.pending, stats.scheduled, stats.running, stats.dead),
        (0, 1, 0, 1),
        "{stats:?}"
    );

    // Nothing of the legacy layout is left, and the queue says which layout it is in.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", env.queues.queue_name(Queue::Sync)))
        .query_async(&mut conn)
        .await
        .unwrap();
    let legacy: Vec<&String> = keys
        .iter()
        .filter(|k| {
            k.contains(":meta:")
                || ["done", "dead", "scheduled", "signal"]
                    .iter()
                    .any(|name| **k == env.key(Queue::Sync, name))
        })
        .collect();
    assert!(legacy.is_empty(), "legacy keys left: {legacy:?}");
    let layout: u32 = redis::cmd("GET")
        .arg(env.key(Queue::Sync, "layout"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(layout, LAYOUT_VERSION);
    assert_eq!(
        migrate_legacy_layout(&env.queues, Queue::Sync)
            .await
            .unwrap(),
        MigrationReport::default(),
        "a second migration has nothing to do"
    );

    // Finished legacy jobs are purged like any other.
    let purged = env
        .queues
        .purge_finished(Queue::Sync, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(purged, 2, "the legacy succeeded and dead jobs, old enough");
    assert!(
        env.queues
            .lookup(Queue::Sync, "legacy-done")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.queues
            .lookup(Queue::Sync, "legacy-dead")
            .await
            .unwrap()
            .is_none()
    );
}

/// When the runner cannot record an outcome (here: the dead letter cannot be stored,
/// its workspace is gone), the task is not lost: it is marked failed and runs again
/// after a second, the same attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_the_runner_cannot_record_runs_the_task_again() {
    let env = Env::new().await;
    let orphan_job = Job::Sync(SyncJob {
        workspace_id: WorkspaceId::new(),
        integration_id: Uuid::new_v4(),
        run_id: Uuid::new_v4(),
        stream: None,
    });
    let job_id = env.queues.enqueue(orphan_job).await.unwrap();
    let handler = Scripted::new(|_, n| async move {
        if n == 0 {
            Err(JobFailure::permanent(
                ErrorCode::ProviderRejected,
                "invalid",
            ))
        } else {
            Ok(())
        }
    });
    let runner = env.start_runner(
        "unrecordable",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the task to be failed and waiting", WAIT, || async {
        env.stats(Queue::Sync).await.failed == 1
    })
    .await;
    eventually("the task to run again and succeed", WAIT, || async {
        matches!(
            env.queues.lookup(Queue::Sync, &job_id).await.unwrap(),
            Some(found) if found.state == TaskState::Succeeded
        )
    })
    .await;
    runner.shutdown().await.unwrap();
    let calls = handler.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].envelope.attempt, calls[1].envelope.attempt),
        (1, 1),
        "the same attempt ran again, not a retry"
    );
    // Due one whole second after the failure was recorded.
    assert!(calls[1].at.timestamp() > calls[0].at.timestamp());
    assert!(env.dead_letters().await.is_empty());
    let stats = env.stats(Queue::Sync).await;
    assert_eq!((stats.failed, stats.pending, stats.dead), (0, 0, 0));
}

/// 50,000 jobs, two runners at concurrency 200 each: every job runs exactly once,
/// and both runners take part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_jobs_across_two_runners_run_exactly_once() {
    const JOBS: usize = 50_000;
    let env = Env::new().await;
    let job_ids: Vec<String> = futures::stream::iter(0..JOBS)
        .map(|i| {
            env.queues
                .enqueue_with_id(format!("many-{i}"), env.notify_job())
        })
        .buffer_unordered(64)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(env.stats(Queue::Notify).await.pending, JOBS as u64);

    let first = Scripted::new(|_, _| async { Ok(()) });
    let second = Scripted::new(|_, _| async { Ok(()) });
    let runners = [
        env.start_runner(
            "many-1",
            vec![(Queue::Notify, 200, first.clone())],
            quick_policy(5),
            quick_liveness(),
            Duration::from_secs(5),
        ),
        env.start_runner(
            "many-2",
            vec![(Queue::Notify, 200, second.clone())],
            quick_policy(5),
            quick_liveness(),
            Duration::from_secs(5),
        ),
    ];
    eventually("every job to run", Duration::from_secs(240), || async {
        first.call_count() + second.call_count() >= JOBS
    })
    .await;
    eventually("every job to be acknowledged", WAIT, || async {
        let stats = env.stats(Queue::Notify).await;
        stats.pending == 0 && stats.running == 0
    })
    .await;
    for runner in runners {
        runner.shutdown().await.unwrap();
    }

    let (a, b) = (first.call_count(), second.call_count());
    assert!(a > 0 && b > 0, "both runners take jobs ({a} and {b})");
    let mut runs: HashMap<String, usize> = HashMap::new();
    for call in first.calls().into_iter().chain(second.calls()) {
        *runs.entry(call.envelope.job_id).or_default() += 1;
    }
    assert_eq!(runs.len(), JOBS, "every job ran");
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(twice.is_empty(), "jobs ran more than once: {twice:?}");
    assert!(job_ids.iter().all(|id| runs.contains_key(id)));
    let stats = env.stats(Queue::Notify).await;
    assert_eq!(
        (
            stats.pending,
            stats.scheduled,
            stats.running,
            stats.failed,
            stats.dead
        ),
        (0, 0, 0, 0, 0)
    );
    for job_id in job_ids.iter().step_by(5_000) {
        let found = env
            .queues
            .lookup(Queue::Notify, job_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.state, TaskState::Succeeded, "{job_id}");
    }
}

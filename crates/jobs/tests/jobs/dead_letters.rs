//! Dead letters: burying keeps every attempt; replay runs the job again once, alone
//! or in bulk with a filter.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::Utc;
use junction_core::{AdapterError, ErrorCode, WorkspaceId};
use junction_jobs::{
    AttemptRecord, Envelope, JobFailure, JobsError, TaskState, bury, replay, replay_matching,
};
use junction_store::{models::Queue, repo::dead_letters::DeadLetterFilter};
use uuid::Uuid;

use crate::support::{Env, Scripted, eventually, quick_liveness, quick_policy};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_dead_letter_runs_again_and_succeeds_once_the_cause_is_gone() {
    let env = Env::new().await;
    let broken = Arc::new(AtomicBool::new(true));
    let is_broken = broken.clone();
    let handler = Scripted::new(move |_, _| {
        let is_broken = is_broken.clone();
        async move {
            if is_broken.load(Ordering::SeqCst) {
                Err(JobFailure::from_adapter(
                    &AdapterError::invalid("the property was deleted"),
                    Utc::now(),
                ))
            } else {
                Ok(())
            }
        }
    });
    let job = env.sync_job();
    let job_id = env.queues.enqueue(job.clone()).await.unwrap();
    let runner = env.start_runner(
        "replay",
        vec![(Queue::Sync, 1, handler.clone())],
        quick_policy(5),
        quick_liveness(),
        Duration::from_secs(5),
    );
    eventually("the dead letter", WAIT, || async {
        handler.dead_count() == 1
    })
    .await;
    let letter = env.dead_letters().await.remove(0);
    assert_eq!(letter.job_id, job_id);

    broken.store(false, Ordering::SeqCst);
    let replayed = replay(env.store(), env.workspace_id, letter.id)
        .await
        .unwrap();
    assert_eq!(replayed.dead_letter_id, letter.id);
    assert_eq!(replayed.job_id, format!("{job_id}-replay-1"));
    assert_eq!(env.relay().await.relayed, 1);
    eventually("the replay to succeed", WAIT, || async {
        matches!(
            env.queues.lookup(Queue::Sync, &replayed.job_id).await.unwrap(),
            Some(found) if found.state == TaskState::Succeeded
        )
    })
    .await;
    runner.shutdown().await.unwrap();

    let calls = handler.calls();
    assert_eq!(calls.len(), 2);
    let replay_call = &calls[1].envelope;
    assert_eq!(replay_call.job, job, "the replay runs the same job");
    assert_eq!(replay_call.attempt, 1);
    assert!(replay_call.history.is_empty());

    let letter = env.dead_letters().await.remove(0);
    assert!(letter.replayed_at.is_some());
    assert_eq!(
        letter.replay_job_id.as_deref(),
        Some(replayed.job_id.as_str())
    );

    let again = replay(env.store(), env.workspace_id, letter.id).await;
    assert!(
        matches!(again, Err(JobsError::AlreadyReplayed)),
        "{again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replays_of_one_letter_enqueue_one_job() {
    let env = Env::new().await;
    let envelope = Envelope::new("sync-race", env.sync_job(), Utc::now());
    let failure = JobFailure::permanent(ErrorCode::ProviderRejected, "invalid");
    let letter = bury(env.store(), &envelope, &failure, Utc::now())
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        replay(env.store(), env.workspace_id, letter.id),
        replay(env.store(), env.workspace_id, letter.id),
    );
    let wins = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    assert!(
        [&a, &b]
            .iter()
            .any(|r| matches!(r, Err(JobsError::AlreadyReplayed)))
    );
    assert_eq!(env.relay().await.relayed, 1);
    assert_eq!(env.stats(Queue::Sync).await.pending, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_is_scoped_to_the_workspace() {
    let env = Env::new().await;
    let envelope = Envelope::new("sync-scoped", env.sync_job(), Utc::now());
    let failure = JobFailure::permanent(ErrorCode::ProviderRejected, "invalid");
    let letter = bury(env.store(), &envelope, &failure, Utc::now())
        .await
        .unwrap();
    let (other_workspace, _) = junction_testkit::create_workspace(env.store(), "other").await;
    let result = replay(env.store(), other_workspace, letter.id).await;
    assert!(matches!(result, Err(JobsError::NotFound(_))), "{result:?}");
    let result = replay(env.store(), env.workspace_id, Uuid::new_v4()).await;
    assert!(matches!(result, Err(JobsError::NotFound(_))), "{result:?}");
    let result = replay(env.store(), WorkspaceId::new(), letter.id).await;
    assert!(result.is_err());
    assert_eq!(env.relay().await.relayed, 0);
    assert_eq!(env.stats(Queue::Sync).await.pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bury_keeps_every_attempt() {
    let env = Env::new().await;
    let first = Utc::now() - chrono::Duration::minutes(5);
    let envelope =
        Envelope::new("sync-history", env.sync_job(), first).next_attempt(AttemptRecord {
            attempt: 1,
            at: first,
            error_code: "provider_unavailable".into(),
            error_message: "HTTP 502".into(),
            retry_at: Some(first + chrono::Duration::seconds(3)),
        });
    let failure = JobFailure::permanent(ErrorCode::ProviderRejected, "bad input");
    let now = Utc::now();
    let letter = bury(env.store(), &envelope, &failure, now).await.unwrap();
    assert_eq!(letter.attempts, 2);
    assert_eq!(letter.error_code, "provider_rejected");
    assert_eq!(letter.error_message, "bad input");
    assert_eq!(
        letter.first_failed_at.timestamp_micros(),
        first.timestamp_micros()
    );
    let log = letter.attempt_log.as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["error_code"], "provider_unavailable");
    assert_eq!(log[1]["error_code"], "provider_rejected");
    assert_eq!(log[1]["attempt"], 2);
    // Burying the same job again (a redelivered task) keeps one row.
    let again = bury(env.store(), &envelope, &failure, Utc::now())
        .await
        .unwrap();
    assert_eq!(again.id, letter.id);
    assert_eq!(env.dead_letters().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_replay_takes_only_matching_letters() {
    let env = Env::new().await;
    let failure = JobFailure::permanent(ErrorCode::ProviderRejected, "invalid");
    let mut matching = Vec::new();
    for n in 0..2 {
        let envelope = Envelope::new(format!("sync-a-{n}"), env.sync_job(), Utc::now());
        matching.push(
            bury(env.store(), &envelope, &failure, Utc::now())
                .await
                .unwrap()
                .id,
        );
    }
    let other = Envelope::new(
        "sync-b",
        env.sync_job_of(env.other_integration_id),
        Utc::now(),
    );
    let other_letter = bury(env.store(), &other, &failure, Utc::now())
        .await
        .unwrap();

    let filter = DeadLetterFilter {
        integration_id: Some(env.integration_id),
        ..DeadLetterFilter::default()
    };
    let mut replayed = replay_matching(env.store(), env.workspace_id, &filter, 100)
        .await
        .unwrap();
    replayed.sort_by(|a, b| a.job_id.cmp(&b.job_id));
    let ids: Vec<&str> = replayed.iter().map(|r| r.job_id.as_str()).collect();
    assert_eq!(ids, vec!["sync-a-0-replay-1", "sync-a-1-replay-1"]);
    let mut letter_ids: Vec<Uuid> = replayed.iter().map(|r| r.dead_letter_id).collect();
    letter_ids.sort();
    matching.sort();
    assert_eq!(letter_ids, matching);
    assert_eq!(env.relay().await.relayed, 2);
    for r in &replayed {
        let found = env
            .queues
            .lookup(Queue::Sync, &r.job_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found.attempt, found.state), (1, TaskState::Pending));
    }
    assert_eq!(env.stats(Queue::Sync).await.pending, 2);

    // Already replayed letters are not replayed again; the other integration's
    // letter was never touched.
    let again = replay_matching(env.store(), env.workspace_id, &filter, 100)
        .await
        .unwrap();
    assert!(again.is_empty());
    let letters = env.dead_letters().await;
    let untouched = letters.iter().find(|l| l.id == other_letter.id).unwrap();
    assert!(untouched.replayed_at.is_none());

    // Without a filter, what is left is the other integration's letter.
    let everything = DeadLetterFilter::default();
    let rest = replay_matching(env.store(), env.workspace_id, &everything, 1)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].dead_letter_id, other_letter.id);
}

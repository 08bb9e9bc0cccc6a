//! Reconciliation: Redis forgets every job — first while they all wait on their
//! queues, then again while some run — and every sync run, webhook event, queued
//! action and notification still reaches its final state, exactly once.

use std::{collections::BTreeSet, time::Duration};

use chrono::Utc;
use junction_app::{App, actions::ActionRequest};
use junction_core::WorkspaceId;
use junction_jobs::{Relay, RelayOptions, TaskState};
use junction_resend::sandbox as resend;
use junction_store::{
    models::{
        ActionRun, ActionStatus, Notification, NotificationStatus, Queue, RunStatus, SyncTrigger,
        WebhookEventRow, WebhookStatus,
    },
    repo,
};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::{notifications::record_failure_notice, resend::ResendWorld, support::*};

const EACH: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(120);

/// Everything the test created, by kind.
struct Rows {
    runs: Vec<(Uuid, Uuid)>,
    events: Vec<Uuid>,
    actions: Vec<Uuid>,
    notifications: Vec<Uuid>,
}

async fn create_rows(env: &TestEnv, app: &App, workspace: WorkspaceId) -> Rows {
    let tokens = env.ga4_tokens().await;
    let resend_id = env.create_resend(workspace).await;
    let mut rows = Rows {
        runs: Vec::new(),
        events: Vec::new(),
        actions: Vec::new(),
        notifications: Vec::new(),
    };
    for _ in 0..EACH {
        let mut ga4 = Ga4::due(3, "");
        ga4.next_sync_at = None;
        let integration = env.create_ga4(workspace, ga4, &tokens).await;
        let started = app
            .start_sync(workspace, integration, None, SyncTrigger::Manual)
            .await
            .unwrap();
        rows.runs.push((integration, started.run.id));
    }
    for n in 0..EACH {
        let event = json!({
            "type": "email.bounced",
            "created_at": Utc::now().to_rfc3339(),
            "data": {
                "email_id": Uuid::new_v4().to_string(),
                "from": resend::SANDBOX_SENDER,
                "to": [format!("bounced-{n}@acme.example")],
                "subject": "Welcome",
                "created_at": Utc::now().to_rfc3339(),
                "bounce": {"type": "Permanent", "subType": "General", "message": "no mailbox"}
            }
        });
        let signed = resend::sign_event(
            &event,
            &format!("msg_reconcile_{n}"),
            Utc::now().timestamp(),
            &SecretString::from(resend::SANDBOX_WEBHOOK_SECRET),
        )
        .unwrap();
        let receipt = app
            .receive_webhook("resend", resend_id, &signed.header_map(), &signed.body)
            .await
            .unwrap();
        assert_eq!(receipt.accepted, 1);
    }
    rows.events = events(env, workspace)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    for n in 0..EACH {
        let outcome = app
            .perform_action(
                workspace,
                ActionRequest {
                    integration_id: resend_id,
                    action: "send_email",
                    input: json!({
                        "from": resend::SANDBOX_SENDER,
                        "to": [format!("customer-{n}@acme.example")],
                        "subject": format!("Order {n}"),
                        "text": "Thank you",
                    }),
                    client_key: None,
                    queue: true,
                },
            )
            .await
            .unwrap();
        let junction_app::actions::ActionOutcome::Queued(run) = outcome else {
            panic!("the action was asked to be queued");
        };
        rows.actions.push(run.id);
    }
    for n in 0..EACH {
        let recipient = format!("ops-{n}@acme.example");
        let key = format!("sync_failed:reconcile-{n}");
        let id = record_failure_notice(env, workspace, &key, &[recipient.as_str()]).await;
        rows.notifications.push(id);
    }
    rows
}

async fn events(env: &TestEnv, workspace: WorkspaceId) -> Vec<WebhookEventRow> {
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    let list = repo::webhook_events::list(tx.conn(), &Default::default(), None, 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    list
}

async fn action_runs(env: &TestEnv, workspace: WorkspaceId, ids: &[Uuid]) -> Vec<ActionRun> {
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    let mut runs = Vec::new();
    for id in ids {
        runs.push(repo::action_runs::get(tx.conn(), *id).await.unwrap());
    }
    tx.commit().await.unwrap();
    runs
}

async fn notifications(env: &TestEnv, workspace: WorkspaceId, ids: &[Uuid]) -> Vec<Notification> {
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    let mut all = Vec::new();
    for id in ids {
        all.push(repo::notifications::get(tx.conn(), *id).await.unwrap());
    }
    tx.commit().await.unwrap();
    all
}

/// Whether every row of the test has reached a final state.
async fn all_final(env: &TestEnv, workspace: WorkspaceId, rows: &Rows) -> bool {
    for (integration, run_id) in &rows.runs {
        let runs = env.runs(workspace, *integration).await;
        if !runs
            .iter()
            .any(|run| run.id == *run_id && run.finished_at.is_some())
        {
            return false;
        }
    }
    let events = events(env, workspace).await;
    if events.iter().any(|e| {
        matches!(
            e.status,
            WebhookStatus::Received | WebhookStatus::Processing
        )
    }) {
        return false;
    }
    let actions = action_runs(env, workspace, &rows.actions).await;
    if actions
        .iter()
        .any(|a| matches!(a.status, ActionStatus::Queued | ActionStatus::Running))
    {
        return false;
    }
    let notes = notifications(env, workspace, &rows.notifications).await;
    !notes
        .iter()
        .any(|n| n.status == NotificationStatus::Pending)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_row_reaches_its_final_state_once_after_redis_forgets_its_jobs() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let config = || {
        env.config(&[
            ("WORKER__RECONCILE_INTERVAL_SECONDS", "1"),
            ("WORKER__RECONCILE_GRACE_SECONDS", "1"),
            // Room for more than the test's jobs: a job run again while it still
            // runs would run beside itself, and show.
            ("WORKER__SYNC_CONCURRENCY", "4"),
            ("WORKER__ACTION_CONCURRENCY", "4"),
            ("WORKER__NOTIFY_CONCURRENCY", "4"),
            ("WORKER__WEBHOOK_CONCURRENCY", "4"),
        ])
    };
    let app = env.app(config()).await;
    let rows = create_rows(&env, &app, workspace).await;

    // Every job reaches Redis, then Redis forgets them all before any worker ran.
    let relay = Relay::new(
        env.db.system_store().clone(),
        app.queues.clone(),
        RelayOptions::default(),
    );
    let relayed = relay.relay_once().await.unwrap();
    assert_eq!(relayed.relayed, 4 * EACH, "{relayed:?}");
    let (_, first_run) = rows.runs[0];
    let known = app
        .queues
        .lookup(Queue::Sync, &format!("sync-{first_run}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(known.state, TaskState::Pending);
    assert!(env.redis.forget_all().await > 0);
    assert!(
        app.queues
            .lookup(Queue::Sync, &format!("sync-{first_run}"))
            .await
            .unwrap()
            .is_none()
    );

    // Slow providers keep jobs in flight past the sweep's grace period and its
    // second look, so a sweep that cannot tell a running job from a lost one would
    // run it twice.
    for (provider, millis) in [(GA4, 5_000), ("resend", 5_000)] {
        env.sandbox_control(
            "_sandbox/latency",
            json!({"provider": provider, "millis": millis}),
        )
        .await;
    }
    let worker = env.start_worker(config()).await;

    // The sweep gives the jobs back; once a sync and an action run, Redis forgets
    // everything again — the running jobs and the ones still waiting.
    wait_for("a sync run and an action in flight", TIMEOUT, || async {
        let syncing = {
            let mut any = false;
            for (integration, _) in &rows.runs {
                any |= env
                    .runs(workspace, *integration)
                    .await
                    .iter()
                    .any(|run| run.status == RunStatus::Running);
            }
            any
        };
        let acting = action_runs(&env, workspace, &rows.actions)
            .await
            .iter()
            .any(|a| a.status == ActionStatus::Running);
        (syncing && acting).then_some(())
    })
    .await;
    assert!(env.redis.forget_all().await > 0);

    wait_for("every row to reach a final state", TIMEOUT, || async {
        all_final(&env, workspace, &rows).await.then_some(())
    })
    .await;
    worker.stop().await;

    // Final, and reached once: one started attempt per run, one attempt per action,
    // one email per action and per notification.
    for (integration, run_id) in &rows.runs {
        let runs = env.runs(workspace, *integration).await;
        assert_eq!(runs.len(), 1, "one run per integration: {runs:#?}");
        assert_eq!(runs[0].id, *run_id);
        assert_eq!(runs[0].status, RunStatus::Succeeded, "{:#?}", runs[0]);
        let logs = env.logs(workspace, *integration).await;
        assert_eq!(
            runs[0].attempts,
            1,
            "{:#?}",
            logs.iter()
                .map(|l| format!("{} {} {}", l.at, l.message, l.details))
                .collect::<Vec<_>>()
        );
        let started = logs
            .iter()
            .filter(|l| l.message.starts_with("sync started"))
            .count();
        assert_eq!(started, 1, "{logs:#?}");
        assert!(
            logs.iter()
                .any(|l| l.message == "the job queue lost this job; it was queued again"),
            "{logs:#?}"
        );
    }
    for event in events(&env, workspace).await {
        assert_eq!(event.status, WebhookStatus::Processed, "{event:#?}");
        assert_eq!(event.attempts, 1, "{event:#?}");
    }
    let suppressed = env
        .count("SELECT count(*) AS n FROM email_suppressions WHERE address LIKE 'bounced-%'")
        .await;
    assert_eq!(suppressed, EACH as i64);
    for run in action_runs(&env, workspace, &rows.actions).await {
        assert_eq!(run.status, ActionStatus::Succeeded, "{run:#?}");
        assert_eq!(run.attempts, 1, "{run:#?}");
    }
    let sent = emails(&env).await;
    for n in 0..EACH {
        let to = format!("customer-{n}@acme.example");
        assert_eq!(sent.iter().filter(|m| **m == to).count(), 1, "{sent:?}");
        let ops = format!("ops-{n}@acme.example");
        assert_eq!(sent.iter().filter(|m| **m == ops).count(), 1, "{sent:?}");
    }
    for note in notifications(&env, workspace, &rows.notifications).await {
        assert_eq!(note.status, NotificationStatus::Sent, "{note:#?}");
    }
    // Nothing is left for the sweep: a pass now finds every row final.
    let report = app.reconcile_pass("test").await.unwrap();
    assert!(report.restaged.is_empty(), "{report:?}");
}

/// The recipients of every email the Resend fake accepted (one entry per email
/// and recipient).
async fn emails(env: &TestEnv) -> Vec<String> {
    let mut out = Vec::new();
    for email in env.resend_emails().await {
        let to: BTreeSet<String> = email["to"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        out.extend(to);
    }
    out
}

/// A scheduler claim whose run never started (its pod died in between) is released
/// by the sweep once older than the grace period; a claim whose run started is not.
#[tokio::test]
async fn a_claim_whose_run_never_started_is_released_by_the_sweep() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let tokens = env.ga4_tokens().await;
    let orphaned = env.create_ga4(workspace, Ga4::due(3, ""), &tokens).await;
    let started = env.create_ga4(workspace, Ga4::due(3, ""), &tokens).await;
    let app = env
        .app(env.config(&[("WORKER__RECONCILE_GRACE_SECONDS", "1")]))
        .await;

    // Both claimed, as a scheduler pass does; only one gets its run.
    let claimed = {
        let mut conn = env.db.system_store().unscoped().await.unwrap();
        repo::integrations::claim_due(&mut conn, 10, Duration::from_secs(600), chrono::Utc::now())
            .await
            .unwrap()
    };
    assert_eq!(claimed.len(), 2);
    app.start_sync(workspace, started, None, SyncTrigger::Schedule)
        .await
        .unwrap();
    let leased = |id: Uuid| {
        format!(
            "SELECT count(*) AS n FROM integrations WHERE id = '{id}' AND next_sync_at > now() + interval '1 minute'"
        )
    };
    assert_eq!(env.count(&leased(orphaned)).await, 1);

    // Within the grace period nothing is released.
    let report = app.reconcile_pass("test").await.unwrap();
    assert!(report.swept);
    assert_eq!(report.released_claims, 0);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The lease taken by the first pass is this holder's: it sweeps again at once.
    let report = app.reconcile_pass("test").await.unwrap();
    assert_eq!(report.released_claims, 1, "{report:?}");
    assert_eq!(env.count(&leased(orphaned)).await, 0);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM integrations WHERE id = '{orphaned}' AND next_sync_at <= now() AND claimed_at IS NULL"
        ))
        .await,
        1
    );
    // The started one keeps its lease (its run holds the schedule).
    assert_eq!(env.count(&leased(started)).await, 1);
    // Another holder does not sweep while the lease runs.
    assert!(!app.reconcile_pass("another").await.unwrap().swept);
}

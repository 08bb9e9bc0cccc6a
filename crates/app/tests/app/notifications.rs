//! Alerts and notifications with an in-process worker, the real sandbox's Resend
//! fake and GA4 fake: a rule crossing its threshold mails once however many syncs
//! follow, suppressed recipients are skipped, a workspace without Resend gets a
//! clear failure, and a revoked grant notifies once.

use std::time::Duration;

use chrono::Utc;
use junction_app::{
    App,
    notifications::{Draft, record},
};
use junction_core::WorkspaceId;
use junction_jobs::Queues;
use junction_resend::sandbox::SANDBOX_SENDER;
use junction_sandbox::{GrantType, TokenFailure};
use junction_store::{
    models::{
        AlertCondition, AlertRule, IntegrationStatus, Notification, NotificationKind,
        NotificationStatus, Operation, RunStatus, SyncTrigger,
    },
    repo::{self, alerts::NewAlertRule},
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    resend::{ResendWorld, SendgridWorld},
    support::*,
};

const TIMEOUT: Duration = Duration::from_secs(30);
const OPS: &str = "ops@acme.example";

async fn create_rule(
    env: &TestEnv,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    condition: AlertCondition,
    threshold: f64,
    recipients: &[&str],
) -> AlertRule {
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    let rule = repo::alerts::create(
        tx.conn(),
        workspace_id,
        NewAlertRule {
            integration_id: Some(integration_id),
            name: "Traffic watch".into(),
            metric: "sessions".into(),
            condition,
            threshold,
            window_days: 7,
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
            currency: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    rule
}

async fn rule(env: &TestEnv, workspace_id: WorkspaceId, id: Uuid) -> AlertRule {
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    let rule = repo::alerts::get(tx.conn(), id).await.unwrap();
    tx.commit().await.unwrap();
    rule
}

async fn notifications(env: &TestEnv, workspace_id: WorkspaceId) -> Vec<Notification> {
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    let list = repo::notifications::list(tx.conn(), None, None, 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    list
}

/// Waits until every notification of the workspace has left `pending`.
async fn wait_delivered(
    env: &TestEnv,
    workspace_id: WorkspaceId,
    count: usize,
) -> Vec<Notification> {
    wait_for("notifications to be handled", TIMEOUT, || async {
        let list = notifications(env, workspace_id).await;
        (list.len() == count && list.iter().all(|n| n.status != NotificationStatus::Pending))
            .then_some(list)
    })
    .await
}

async fn queues(env: &TestEnv) -> Queues {
    Queues::connect(env.redis.url(), env.redis.prefix())
        .await
        .unwrap()
}

/// A manual sync run of the integration, started as the API does; waits for it to
/// end.
async fn sync_now(
    env: &TestEnv,
    app: &App,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
) -> RunStatus {
    let started = app
        .start_sync(workspace_id, integration_id, None, SyncTrigger::Manual)
        .await
        .unwrap();
    wait_for("the manual sync to end", TIMEOUT, || async {
        env.runs(workspace_id, integration_id)
            .await
            .into_iter()
            .find(|r| r.id == started.run.id && r.finished_at.is_some())
            .map(|r| r.status)
    })
    .await
}

/// A sync run that was queued before the integration's state changed (its run and
/// job written as `start_sync` writes them, without its checks); waits for it to end.
async fn run_queued_earlier(
    env: &TestEnv,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
) -> RunStatus {
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    let run = repo::sync_runs::create(
        tx.conn(),
        workspace_id,
        integration_id,
        None,
        SyncTrigger::Manual,
    )
    .await
    .unwrap();
    junction_jobs::outbox::stage(
        tx.conn(),
        &junction_jobs::Job::Sync(junction_jobs::SyncJob {
            workspace_id,
            integration_id,
            run_id: run.id,
            stream: None,
        }),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    wait_for("the earlier run to end", TIMEOUT, || async {
        env.runs(workspace_id, integration_id)
            .await
            .into_iter()
            .find(|r| r.id == run.id && r.finished_at.is_some())
            .map(|r| r.status)
    })
    .await
}

/// The emails the sandbox's Resend fake received for `address`, newest first.
async fn emails_to(env: &TestEnv, address: &str) -> Vec<Value> {
    env.resend_emails()
        .await
        .into_iter()
        .filter(|email| {
            email["to"]
                .as_array()
                .is_some_and(|to| to.iter().any(|t| t == address))
        })
        .collect()
}

/// A sync-failure notification recorded with its delivery job, as the notifier
/// records one (the delivery's own tests).
async fn queue_notification(env: &TestEnv, workspace_id: WorkspaceId, recipients: &[&str]) -> Uuid {
    record_failure_notice(env, workspace_id, "sync_failed:test-job", recipients).await
}

/// A sync-failure notice under dedupe `key`, recorded with its delivery job.
pub(crate) async fn record_failure_notice(
    env: &TestEnv,
    workspace_id: WorkspaceId,
    key: &str,
    recipients: &[&str],
) -> Uuid {
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    let id = record(
        tx.conn(),
        workspace_id,
        "Acme",
        Draft {
            kind: NotificationKind::SyncFailed,
            dedupe_key: key.to_owned(),
            alert_rule_id: None,
            integration_id: None,
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
            details: json!({
                "integration": "GA4 test",
                "provider": "google-analytics",
                "stream": null,
                "error_code": "provider_unavailable",
                "error_message": "the provider answered 503",
                "failed_at": "2026-11-22T07:00:00Z",
                "attempts": 3,
            }),
        },
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_rule_crossing_its_threshold_mails_once_across_syncs() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let resend = env.create_resend(workspace).await;
    let ga4 = env.create_ga4(workspace, Ga4::due(30, ""), &tokens).await;
    // GA4's fake reports sessions every day: any 7-day total is above 1.
    let watch = create_rule(&env, workspace, ga4, AlertCondition::Above, 1.0, &[OPS]).await;
    // A rule whose condition never holds stays quiet.
    let quiet = create_rule(&env, workspace, ga4, AlertCondition::Below, 0.0, &[OPS]).await;

    let worker = env.start_worker(env.config(&[])).await;
    let first = env.wait_run_ended(workspace, ga4, TIMEOUT).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{first:?}");
    for _ in 0..2 {
        assert_eq!(
            sync_now(&env, &worker.app, workspace, ga4).await,
            RunStatus::Succeeded
        );
    }
    assert_eq!(env.runs(workspace, ga4).await.len(), 3);

    let sent = wait_delivered(&env, workspace, 1).await;
    let note = &sent[0];
    assert_eq!(note.kind, NotificationKind::KpiAlert);
    assert_eq!(note.status, NotificationStatus::Sent, "{note:?}");
    assert_eq!(note.alert_rule_id, Some(watch.id));
    assert_eq!(
        note.dedupe_key,
        format!("alert:{}:{}", watch.id, Utc::now().date_naive())
    );
    assert_eq!(note.recipients, vec![OPS.to_owned()]);
    let value = note.details["value"].as_f64().unwrap();
    assert!(value > 1.0, "{:?}", note.details);

    // Exactly one email reached Resend, with Resend's id recorded.
    let emails = emails_to(&env, OPS).await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert_eq!(
        note.provider_message_id.as_deref(),
        emails[0]["id"].as_str()
    );
    assert_eq!(emails[0]["subject"].as_str(), Some(note.subject.as_str()));
    assert!(
        note.subject.contains("sessions (over 7 days) is above 1"),
        "{}",
        note.subject
    );
    assert_eq!(emails[0]["from"].as_str(), Some(SANDBOX_SENDER));

    let watch = rule(&env, workspace, watch.id).await;
    assert!(watch.firing_since.is_some());
    assert!(watch.last_triggered_at.is_some());
    assert_eq!(watch.last_value, Some(value));
    let quiet = rule(&env, workspace, quiet.id).await;
    assert_eq!(quiet.firing_since, None);
    assert_eq!(quiet.last_triggered_at, None);
    assert!(quiet.last_evaluated_at.is_some());

    // The firing is logged on GA4, the delivery on Resend.
    let ga4_logs = env.logs(workspace, ga4).await;
    assert_eq!(
        ga4_logs
            .iter()
            .filter(|l| l.operation == Operation::Alert)
            .count(),
        1,
        "{ga4_logs:#?}"
    );
    let resend_logs = env.logs(workspace, resend).await;
    assert!(
        resend_logs.iter().any(|l| l.operation == Operation::Alert
            && l.message == "kpi_alert notification sent to 1 recipient(s)"),
        "{resend_logs:#?}"
    );

    // Once the condition stops holding, the rule resets without mailing.
    env.execute(&format!(
        "UPDATE alert_rules SET threshold = 1e12 WHERE id = '{}'",
        watch.id
    ))
    .await;
    assert_eq!(
        sync_now(&env, &worker.app, workspace, ga4).await,
        RunStatus::Succeeded
    );
    // The rules are evaluated right after the run is recorded as succeeded.
    let watch = wait_for("the rule to reset", TIMEOUT, || async {
        let watch = rule(&env, workspace, watch.id).await;
        watch.firing_since.is_none().then_some(watch)
    })
    .await;
    assert_eq!(watch.last_value, Some(value));
    assert_eq!(notifications(&env, workspace).await.len(), 1);
    assert_eq!(emails_to(&env, OPS).await.len(), 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppressed_recipients_are_not_mailed() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    env.create_resend(workspace).await;
    {
        let mut tx = env.db.store().begin(workspace).await.unwrap();
        repo::email_suppressions::suppress(
            tx.conn(),
            workspace,
            "Bounced@Acme.example",
            "bounce",
            None,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let worker = env.start_worker(env.config(&[])).await;

    let mixed = queue_notification(&env, workspace, &[OPS, "bounced@acme.example"]).await;
    let handled = wait_delivered(&env, workspace, 1).await;
    assert_eq!(handled[0].id, mixed);
    assert_eq!(
        handled[0].status,
        NotificationStatus::Sent,
        "{:?}",
        handled[0]
    );
    let emails = emails_to(&env, OPS).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0]["to"],
        json!([OPS]),
        "only the deliverable address"
    );
    assert!(emails_to(&env, "bounced@acme.example").await.is_empty());

    // Every recipient suppressed: nothing is sent at all.
    let only = record_failure_notice(
        &env,
        workspace,
        "sync_failed:suppressed-job",
        &["BOUNCED@acme.example"],
    )
    .await;
    let handled = wait_delivered(&env, workspace, 2).await;
    let suppressed = handled.iter().find(|n| n.id == only).unwrap();
    assert_eq!(suppressed.status, NotificationStatus::Suppressed);
    assert_eq!(suppressed.provider_message_id, None);
    assert!(emails_to(&env, "bounced@acme.example").await.is_empty());
    assert_eq!(emails_to(&env, OPS).await.len(), 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_without_a_resend_integration_fails_clearly_without_retries() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let worker = env.start_worker(env.config(&[])).await;

    let id = queue_notification(&env, workspace, &[OPS]).await;
    let handled = wait_delivered(&env, workspace, 1).await;
    assert_eq!(handled[0].id, id);
    assert_eq!(handled[0].status, NotificationStatus::Failed);
    assert!(
        handled[0]
            .error_message
            .as_deref()
            .is_some_and(|m| m.contains("can send email") && m.contains("connect Resend")),
        "{:?}",
        handled[0].error_message
    );
    // Abandoned: no dead letter and no retry, now or a little later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(env.count("SELECT count(*) AS n FROM dead_letters").await, 0);
    let queues = queues(&env).await;
    let lookup = queues
        .lookup(
            junction_store::models::Queue::Notify,
            &format!("notify-{id}"),
        )
        .await
        .unwrap();
    assert!(
        lookup.as_ref().is_none_or(|job| job.attempt <= 1),
        "one attempt only: {lookup:?}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_notifies_once() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    env.create_resend(workspace).await;
    let mut ga4 = Ga4::due(3, "");
    ga4.token_expires_at = Some(Utc::now() - chrono::Duration::seconds(60));
    let id = env.create_ga4(workspace, ga4, &tokens).await;
    // The recipients of the workspace's rules hear about its integrations.
    create_rule(&env, workspace, id, AlertCondition::Below, 0.0, &[OPS]).await;
    env.sandbox
        .sandbox
        .script_token_failure(GA4, GrantType::RefreshToken, TokenFailure::InvalidGrant, 1)
        .unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(
        env.integration(workspace, id).await.status,
        IntegrationStatus::NeedsReauth
    );
    // A run queued before the grant was lost meets the same revoked grant.
    assert_eq!(
        run_queued_earlier(&env, workspace, id).await,
        RunStatus::Failed
    );

    let handled = wait_delivered(&env, workspace, 1).await;
    let note = &handled[0];
    assert_eq!(note.kind, NotificationKind::NeedsReauth);
    assert_eq!(note.status, NotificationStatus::Sent, "{note:?}");
    assert_eq!(note.integration_id, Some(id));
    // Created without a connect log entry: the initial connection was lost.
    assert_eq!(note.dedupe_key, format!("needs_reauth:{id}:initial"));
    assert_eq!(note.details["error_code"], "integration_needs_reauth");
    let emails = emails_to(&env, OPS).await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert!(
        emails[0]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("integration_needs_reauth")),
        "{}",
        emails[0]["subject"]
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(notifications(&env, workspace).await.len(), 1);

    // The user reconnects; later the new grant is revoked too: that mails again.
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    repo::integrations::set_status(tx.conn(), id, IntegrationStatus::Active, None)
        .await
        .unwrap();
    let reconnect = repo::logs::append(
        tx.conn(),
        repo::logs::NewLog {
            workspace_id: workspace,
            integration_id: id,
            level: junction_store::models::LogLevel::Info,
            operation: Operation::Reconnect,
            message: "reconnected through OAuth; health check passed",
            details: json!({}),
            run_id: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    env.execute(&format!(
        "UPDATE integrations SET token_expires_at = now() - interval '1 minute' WHERE id = '{id}'"
    ))
    .await;
    env.sandbox
        .sandbox
        .script_token_failure(GA4, GrantType::RefreshToken, TokenFailure::InvalidGrant, 1)
        .unwrap();
    assert_eq!(
        sync_now(&env, &worker.app, workspace, id).await,
        RunStatus::Failed
    );
    let handled = wait_delivered(&env, workspace, 2).await;
    assert_eq!(
        handled[0].dedupe_key,
        format!("needs_reauth:{id}:conn-{}", reconnect.id)
    );
    assert_eq!(handled[0].status, NotificationStatus::Sent);
    assert_eq!(emails_to(&env, OPS).await.len(), 2);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_sync_notifies_once_with_its_error() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    env.create_resend(workspace).await;
    let id = env.create_ga4(workspace, Ga4::due(3, ""), &tokens).await;
    create_rule(&env, workspace, id, AlertCondition::Below, 0.0, &[OPS]).await;
    // Every one of the 3 allowed attempts meets a 503.
    env.sandbox
        .sandbox
        .arm_fault(GA4, junction_core::fake::Fault::ServerError, 3)
        .unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Dead, "{run:?}");

    let handled = wait_delivered(&env, workspace, 1).await;
    let note = &handled[0];
    assert_eq!(note.kind, NotificationKind::SyncFailed);
    assert_eq!(note.status, NotificationStatus::Sent, "{note:?}");
    assert_eq!(note.dedupe_key, format!("sync_failed:sync-{}", run.id));
    assert_eq!(note.integration_id, Some(id));
    assert_eq!(note.details["error_code"], "provider_unavailable");
    assert_eq!(note.details["attempts"], 3);
    let emails = emails_to(&env, OPS).await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert!(
        note.subject
            .contains("Sync failed: GA4 test (provider_unavailable)"),
        "{}",
        note.subject
    );
    // No alert evaluation ran: the sync did not succeed.
    assert_eq!(
        env.count("SELECT count(*) AS n FROM alert_rules WHERE last_evaluated_at IS NOT NULL")
            .await,
        0
    );
    worker.stop().await;
}

/// A workspace whose email provider is SendGrid, not Resend: the notification goes
/// out through SendGrid's `mail/send` (seen through the fake's Email Activity API),
/// with SendGrid's message id recorded, and is not sent again by a relayed job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_goes_out_through_sendgrid_when_that_is_the_workspaces_sender() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let sendgrid = env.create_sendgrid(workspace).await;
    let to = "ops-sendgrid@acme.example";
    let id = record_failure_notice(&env, workspace, "sync_failed:via-sendgrid", &[to]).await;
    let worker = env.start_worker(env.config(&[])).await;
    let sent = wait_for("the notification to be sent", TIMEOUT, || async {
        notifications(&env, workspace)
            .await
            .into_iter()
            .find(|n| n.id == id && n.status == NotificationStatus::Sent)
    })
    .await;
    let messages = env.sendgrid_messages(to).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert_eq!(
        sent.provider_message_id.as_deref(),
        messages[0]["msg_id"].as_str()
    );
    assert_eq!(messages[0]["subject"].as_str(), Some(sent.subject.as_str()));
    assert_eq!(messages[0]["from_email"], "alerts@junction-demo.dev");
    let logs = env.logs(workspace, sendgrid).await;
    assert!(
        logs.iter().any(|l| l.operation == Operation::Alert
            && l.message == "sync_failed notification sent to 1 recipient(s)"),
        "{logs:#?}"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_notification_goes_out_once_however_often_its_job_is_relayed() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    env.create_resend(workspace).await;
    // Recorded with no worker running: the job waits in the outbox.
    let id = record_failure_notice(&env, workspace, "sync_failed:lost-job", &[OPS]).await;
    assert_eq!(
        env.count("SELECT count(*) AS n FROM outbox WHERE queue = 'notify'")
            .await,
        1
    );
    // A relay that pushed the job but died before removing it: the same job is
    // staged twice, and both copies are relayed.
    env.execute(
        "INSERT INTO outbox (workspace_id, queue, job_id, job) \
         SELECT workspace_id, queue, job_id, job FROM outbox",
    )
    .await;

    let worker = env.start_worker(env.config(&[])).await;
    let sent = wait_for("the notification to be sent", TIMEOUT, || async {
        notifications(&env, workspace)
            .await
            .into_iter()
            .find(|n| n.id == id && n.status == NotificationStatus::Sent)
    })
    .await;
    assert!(sent.provider_message_id.is_some());
    wait_for("the outbox to empty", TIMEOUT, || async {
        (env.count("SELECT count(*) AS n FROM outbox").await == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(emails_to(&env, OPS).await.len(), 1, "mailed once");
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_lost_outside_a_sync_is_notified_once_by_the_scheduler() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    env.create_resend(workspace).await;
    let mut ga4 = Ga4::due(3, "");
    // Not due: no sync will meet the lost grant.
    ga4.next_sync_at = Some(Utc::now() + chrono::Duration::hours(6));
    let id = env.create_ga4(workspace, ga4, &tokens).await;
    create_rule(&env, workspace, id, AlertCondition::Below, 0.0, &[OPS]).await;
    // A refresh during an API call found the grant revoked (as junction-oauth records it).
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    repo::integrations::set_status(
        tx.conn(),
        id,
        IntegrationStatus::NeedsReauth,
        Some((
            "integration_needs_reauth",
            "The provider rejected the refresh token (invalid_grant).",
        )),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let pass = worker.app.scheduler_pass().await.unwrap();
    assert_eq!(pass.claimed, 0);
    let handled = wait_delivered(&env, workspace, 1).await;
    assert_eq!(handled[0].kind, NotificationKind::NeedsReauth);
    assert_eq!(
        handled[0].status,
        NotificationStatus::Sent,
        "{:?}",
        handled[0]
    );
    assert!(
        handled[0].details["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid_grant")),
        "{:?}",
        handled[0].details
    );
    // Later passes (the worker's own loop and this one) send nothing more.
    let again = worker.app.scheduler_pass().await.unwrap();
    assert_eq!(again.reauth_notices, 0);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(notifications(&env, workspace).await.len(), 1);
    assert_eq!(emails_to(&env, OPS).await.len(), 1);
    worker.stop().await;
}

//! Streams under control, with an in-process worker on a clock the test advances:
//! each stream syncs on its own schedule (hourly streams every hour, a daily one
//! once a day, a disabled one never), and a reset stream is read again whole.

use std::{collections::BTreeMap, time::Duration};

use chrono::Utc;
use junction_app::streams::{StreamChanges, StreamStatus};
use junction_core::{Clock, ErrorCode, WorkspaceId};
use junction_store::models::{RunStatus, SyncRun, SyncTrigger};
use junction_testkit::ManualClock;
use uuid::Uuid;

use crate::support::*;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Stripe's streams syncing hourly by default.
const HOURLY: [&str; 3] = ["charges", "invoices", "refunds"];

async fn run_ended(env: &TestEnv, workspace: WorkspaceId, integration: Uuid, id: Uuid) -> SyncRun {
    wait_for("the run to end", TIMEOUT, || async {
        env.runs(workspace, integration)
            .await
            .into_iter()
            .find(|run| run.id == id && run.finished_at.is_some())
    })
    .await
}

fn by_name(streams: Vec<StreamStatus>) -> BTreeMap<&'static str, StreamStatus> {
    streams.into_iter().map(|s| (s.name, s)).collect()
}

fn names(run: &SyncRun) -> Vec<&str> {
    run.streams
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stream_syncs_on_its_own_schedule() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let stripe = env.create_stripe(workspace).await;
    let clock = ManualClock::starting_at(Utc::now());
    let t0 = clock.now();
    // The worker's own scheduler passes once at its start and then not for an hour
    // of real time: the test runs each pass, after moving the clock.
    let app = env
        .app(env.config(&[("WORKER__SCHEDULER_INTERVAL_SECONDS", "3600")]))
        .await
        .with_clock(clock.clone());
    let mut worker = None;

    // Customers once a day instead of every 6 hours; payment intents off.
    let customers = app
        .update_stream(
            workspace,
            stripe,
            "customers",
            StreamChanges {
                schedule_seconds: Some(86_400),
                ..StreamChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            customers.schedule_seconds,
            customers.default_schedule_seconds
        ),
        (86_400, 6 * 3600)
    );
    app.update_stream(
        workspace,
        stripe,
        "payment_intents",
        StreamChanges {
            enabled: Some(false),
            ..StreamChanges::default()
        },
    )
    .await
    .unwrap();
    // Never synced: every enabled stream is due now, and so the integration.
    assert_eq!(
        env.integration(workspace, stripe).await.next_sync_at,
        Some(t0)
    );

    // Each step: the clock moves to t0 + hours, one scheduler pass, and the run
    // it started reads exactly these streams.
    let steps: [(i64, &[&str]); 5] = [
        (
            0,
            &[
                "charges",
                "customers",
                "subscriptions",
                "invoices",
                "refunds",
            ],
        ),
        (1, &HOURLY),
        (2, &HOURLY),
        (6, &["charges", "subscriptions", "invoices", "refunds"]),
        (
            24,
            &[
                "charges",
                "customers",
                "subscriptions",
                "invoices",
                "refunds",
            ],
        ),
    ];
    let mut customers_synced = Vec::new();
    for (hours, expected) in steps {
        let now = clock.set(t0 + chrono::Duration::hours(hours));
        let pass = app.scheduler_pass().await.unwrap();
        assert_eq!(pass.claimed, 1, "at +{hours} h");
        let [(_, run_id)] = pass.enqueued[..] else {
            panic!("one run at +{hours} h: {pass:?}")
        };
        if worker.is_none() {
            // Started after the first claim, which holds the integration: the
            // worker's own pass at its start finds nothing due.
            worker = Some(env.start_worker_on(app.clone()));
        }
        let run = run_ended(&env, workspace, stripe, run_id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
        assert_eq!(run.trigger, SyncTrigger::Schedule);
        assert_eq!(names(&run), expected, "at +{hours} h");

        let streams = by_name(app.streams(workspace, stripe).await.unwrap());
        for name in expected {
            assert_eq!(
                streams[name].last_synced_at,
                Some(now),
                "{name} at +{hours} h"
            );
        }
        for name in HOURLY {
            assert_eq!(
                streams[name].next_sync_at,
                Some(now + chrono::Duration::hours(1)),
                "{name}"
            );
        }
        customers_synced.push(streams["customers"].last_synced_at);
        // Disabled: never synced, never scheduled.
        let intents = &streams["payment_intents"];
        assert!(!intents.enabled);
        assert_eq!((intents.last_synced_at, intents.next_sync_at), (None, None));
        assert_eq!(intents.records, 0);
        // The integration is due when its hourly streams are.
        assert_eq!(
            env.integration(workspace, stripe).await.next_sync_at,
            Some(now + chrono::Duration::hours(1))
        );

        // Half an hour later nothing is due: a pass claims nothing.
        clock.set(now + chrono::Duration::minutes(30));
        let idle = app.scheduler_pass().await.unwrap();
        assert_eq!((idle.claimed, idle.enqueued.len()), (0, 0), "+{hours}h30");
    }
    // Customers synced at t0 and at t0 + 24 h, and at no step between.
    assert_eq!(
        customers_synced,
        [0, 0, 0, 0, 24].map(|h| Some(t0 + chrono::Duration::hours(h)))
    );
    assert_eq!(env.runs(workspace, stripe).await.len(), 5);
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM records WHERE integration_id = '{stripe}' \
             AND stream = 'payment_intents'"
        ))
        .await,
        0
    );
    if let Some(worker) = worker {
        worker.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_stream_is_read_again_whole() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let stripe = env.create_stripe(workspace).await;
    let clock = ManualClock::starting_at(Utc::now());
    // Nothing is scheduled when the worker's own scheduler passes at its start, and
    // it does not pass again for an hour of real time: every run here is asked for.
    let app = env
        .app(env.config(&[("WORKER__SCHEDULER_INTERVAL_SECONDS", "3600")]))
        .await
        .with_clock(clock.clone());
    let worker = env.start_worker_on(app.clone());
    let charges = || async {
        by_name(app.streams(workspace, stripe).await.unwrap())
            .remove("charges")
            .unwrap()
    };

    // A first sync reads every charge.
    let first = app
        .start_sync(workspace, stripe, Some("charges"), SyncTrigger::Manual)
        .await
        .unwrap();
    let first = run_ended(&env, workspace, stripe, first.run.id).await;
    assert_eq!(first.status, RunStatus::Succeeded, "{first:#?}");
    let total = charges().await.records;
    assert!(total > 20, "the sandbox has charges: {total}");
    assert_eq!(first.records_read, total);
    assert!(charges().await.cursor.is_some());

    // The next sync resumes from the cursor: only the last days again.
    clock.advance(chrono::Duration::hours(1));
    let incremental = app
        .start_sync(workspace, stripe, Some("charges"), SyncTrigger::Manual)
        .await
        .unwrap();
    let incremental = run_ended(&env, workspace, stripe, incremental.run.id).await;
    assert!(
        incremental.records_read < total,
        "{} of {total}",
        incremental.records_read
    );

    // A reset forgets the cursor and reads the stream whole, at once.
    clock.advance(chrono::Duration::hours(1));
    let reset = app
        .reset_stream(workspace, stripe, "charges")
        .await
        .unwrap();
    assert!(!reset.joined);
    assert_eq!(reset.run.stream.as_deref(), Some("charges"));
    assert_eq!(names(&reset.run), ["charges"]);
    let reset = run_ended(&env, workspace, stripe, reset.run.id).await;
    assert_eq!(reset.status, RunStatus::Succeeded, "{reset:#?}");
    assert_eq!(reset.records_read, total, "every charge again");
    assert_eq!(reset.records_written, 0, "nothing changed upstream");
    let after = charges().await;
    assert_eq!(after.records, total, "no duplicate");
    assert_eq!(after.last_synced_at, Some(clock.now()));
    let logs = env.logs(workspace, stripe).await;
    assert!(
        logs.iter().any(|l| l.message
            == "stream `charges` reset: its cursor is forgotten and it is read again whole"),
        "{logs:#?}"
    );

    // Unknown streams are refused by name.
    let unknown = app
        .reset_stream(workspace, stripe, "nope")
        .await
        .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::UnknownStream);
    worker.stop().await;
}

/// SendGrid's `messages` is fed by the Event Webhook alone: it has no cursor, yet a
/// sync of it must not compare (its read is empty) — a message a webhook wrote stays
/// live through any number of syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_only_stream_keeps_what_webhooks_wrote_through_its_syncs() {
    use junction_sendgrid::sandbox as sendgrid;

    use crate::resend::SendgridWorld;

    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let integration = env.create_sendgrid(workspace).await;
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    junction_store::repo::credentials::put(
        tx.conn(),
        env.db.vault(),
        workspace,
        integration,
        &BTreeMap::from([(
            "webhook_public_key".to_owned(),
            secrecy::SecretString::from(sendgrid::SANDBOX_WEBHOOK_PUBLIC_KEY.to_owned()),
        )]),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let app = env
        .app(env.config(&[("WORKER__SCHEDULER_INTERVAL_SECONDS", "3600")]))
        .await;
    let worker = env.start_worker_on(app.clone());

    let messages = by_name(app.streams(workspace, integration).await.unwrap())
        .remove("messages")
        .unwrap();
    assert_eq!(
        (messages.webhook_only, messages.full_refresh),
        (true, false)
    );

    let delivered = serde_json::json!({
        "email": "reader@acme.example",
        "timestamp": Utc::now().timestamp(),
        "event": "delivered",
        "sg_event_id": "evt-delivered-1",
        "sg_message_id": "msg-1.filter0001.16648.5515E0B88.0",
    });
    let signed = sendgrid::sign_events(&[delivered], Utc::now()).unwrap();
    let receipt = app
        .receive_webhook("sendgrid", integration, &signed.header_map(), &signed.body)
        .await
        .unwrap();
    assert_eq!(receipt.accepted, 1);
    let live = format!(
        "SELECT count(*) AS n FROM records WHERE integration_id = '{integration}' \
         AND stream = 'messages' AND deleted_at IS NULL"
    );
    wait_for("the webhook's message record", TIMEOUT, || async {
        (env.count(&live).await == 1).then_some(())
    })
    .await;

    for _ in 0..2 {
        let started = app
            .start_sync(
                workspace,
                integration,
                Some("messages"),
                SyncTrigger::Manual,
            )
            .await
            .unwrap();
        let run = run_ended(&env, workspace, integration, started.run.id).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{run:#?}");
        assert_eq!((run.records_read, run.records_deleted), (0, 0), "{run:#?}");
    }
    assert_eq!(env.count(&live).await, 1, "the message is still live");
    let messages = by_name(app.streams(workspace, integration).await.unwrap())
        .remove("messages")
        .unwrap();
    assert_eq!((messages.records, messages.deleted_records), (1, 0));
    assert!(messages.last_synced_at.is_some());
    worker.stop().await;
}

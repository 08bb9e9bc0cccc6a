//! The workspace's notices with an in-process worker and the real sandbox's Resend
//! fake, the application's clock pinned: the weekly KPI report (once per week and
//! workspace, with the week's figures), failure notices to the notification
//! settings' recipients without any alert rule (at once, or in one daily digest), the
//! suppression list honoured by `send_email`, and a lost grant shown in the health.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, NaiveDate, Utc};
use junction_app::{
    App,
    actions::{ActionOutcome, ActionRequest},
    notifications::{report::WeeklyReportInput, settings::NotificationSettingsInput},
    worker::Worker,
};
use junction_core::{Clock, ErrorCode, KpiPoint, WorkspaceId};
use junction_jobs::JobFailure;
use junction_sandbox::{GrantType, TokenFailure};
use junction_store::{
    models::{
        AuthKind, Health, IntegrationStatus, NewIntegration, Notification, NotificationKind,
        NotificationStatus, Queue, RunStatus,
    },
    repo::{self, weekly_report_settings::ReportSchedule},
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{resend::ResendWorld, support::*};

const TIMEOUT: Duration = Duration::from_secs(30);
const CFO: &str = "cfo@acme.example";
const OPS: &str = "ops@acme.example";
const OWNER: &str = "owner@acme.example";
const BOUNCED: &str = "bounced@acme.example";

/// A clock the test sets.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn at(moment: &str) -> Arc<Self> {
        Arc::new(Self(Mutex::new(utc(moment))))
    }

    fn set(&self, moment: &str) {
        *self.0.lock().unwrap() = utc(moment);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn utc(moment: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(moment)
        .unwrap()
        .with_timezone(&Utc)
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// The application on `clock`.
async fn pinned(env: &TestEnv, clock: &Arc<TestClock>) -> App {
    let mut app = env.app(env.config(&[])).await;
    app.connections.clock = clock.clone();
    app
}

/// An active GA4 integration that is never scheduled, straight into the database.
async fn integration(env: &TestEnv, workspace_id: WorkspaceId, name: &str) -> Uuid {
    integration_of(env, workspace_id, GA4, name).await
}

/// An active integration of `provider` that is never scheduled (no credentials:
/// only its KPI points are read).
async fn integration_of(
    env: &TestEnv,
    workspace_id: WorkspaceId,
    provider: &str,
    name: &str,
) -> Uuid {
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    let row = repo::integrations::insert(
        tx.conn(),
        &NewIntegration {
            id: Uuid::new_v4(),
            workspace_id: workspace_id.as_uuid(),
            provider: provider.to_owned(),
            display_name: name.to_owned(),
            status: IntegrationStatus::Active,
            auth_kind: AuthKind::OAuth2,
            config: json!({"property_id": PROPERTY}),
            scopes: vec![],
            token_expires_at: None,
            schedule_seconds: 6 * 3600,
            next_sync_at: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row.id
}

/// `sessions` of an integration: one point per `(day, country, value)` (no country:
/// the day's total).
async fn sessions(
    env: &TestEnv,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    points: &[(&str, Option<&str>, f64)],
) {
    let points: Vec<KpiPoint> = points
        .iter()
        .map(|(date, country, value)| {
            let mut point = KpiPoint::total("sessions", day(date), *value);
            if let Some(country) = country {
                point
                    .dimensions
                    .insert("country".into(), (*country).to_owned());
            }
            point
        })
        .collect();
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    repo::kpis::upsert(
        tx.conn(),
        workspace_id,
        integration_id,
        "daily_report",
        &points,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// KPI points of `stream` of an integration.
async fn points(
    env: &TestEnv,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
    stream: &str,
    points: &[KpiPoint],
) {
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    repo::kpis::upsert(tx.conn(), workspace_id, integration_id, stream, points)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn notifications(env: &TestEnv, workspace_id: WorkspaceId) -> Vec<Notification> {
    let mut tx = env.db.store().begin(workspace_id).await.unwrap();
    let list = repo::notifications::list(tx.conn(), None, None, 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    list
}

/// Waits until the workspace has `count` notifications of `kind` in `status`.
async fn wait_notifications(
    env: &TestEnv,
    workspace_id: WorkspaceId,
    kind: NotificationKind,
    status: NotificationStatus,
    count: usize,
) -> Vec<Notification> {
    wait_for(&format!("{count} {kind} {status}"), TIMEOUT, || async {
        let found: Vec<Notification> = notifications(env, workspace_id)
            .await
            .into_iter()
            .filter(|n| n.kind == kind && n.status == status)
            .collect();
        (found.len() == count).then_some(found)
    })
    .await
}

/// The emails the Resend fake accepted for `address`, newest first, each as
/// `GET /emails/{id}` shows it (with its text).
async fn emails_to(env: &TestEnv, address: &str) -> Vec<Value> {
    let mut found = Vec::new();
    for email in env.resend_emails().await {
        let to_them = email["to"]
            .as_array()
            .is_some_and(|to| to.iter().any(|t| t == address));
        if !to_them {
            continue;
        }
        let id = email["id"].as_str().unwrap();
        let full: Value = env
            .http
            .get(
                env.sandbox
                    .url
                    .join(&format!("resend/emails/{id}"))
                    .unwrap(),
            )
            .bearer_auth(junction_resend::sandbox::SANDBOX_API_KEY)
            .header("user-agent", "junction-app-tests")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        found.push(full);
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_report_reaches_resend_once_per_week_with_the_weeks_figures() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    env.create_resend(workspace).await;
    let web = integration(&env, workspace, "GA4 Web").await;
    let app_stream = integration(&env, workspace, "GA4 App").await;
    // GA4 Web writes day totals: 90..=96 in the week of 23 November (651), 100..=106
    // in the week of 30 November (721), and 1,000 on Monday 7 December.
    let week_48 = [
        "2026-11-23",
        "2026-11-24",
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
        "2026-11-28",
        "2026-11-29",
    ];
    let week_49 = [
        "2026-11-30",
        "2026-12-01",
        "2026-12-02",
        "2026-12-03",
        "2026-12-04",
        "2026-12-05",
        "2026-12-06",
    ];
    let mut web_points = Vec::new();
    for (i, date) in week_48.iter().enumerate() {
        web_points.push((*date, None, 90.0 + i as f64));
    }
    for (i, date) in week_49.iter().enumerate() {
        web_points.push((*date, None, 100.0 + i as f64));
    }
    web_points.push(("2026-12-07", None, 1000.0));
    sessions(&env, workspace, web, &web_points).await;
    // GA4 App writes a country breakdown only: 10 + 5 a day in the week of 30
    // November (105), nothing before.
    let mut breakdown = Vec::new();
    for date in week_49 {
        breakdown.push((date, Some("DE"), 10.0));
        breakdown.push((date, Some("FR"), 5.0));
    }
    sessions(&env, workspace, app_stream, &breakdown).await;

    // Monday 7 December, 09:30 in Berlin: the report of 09:00 is due.
    let clock = TestClock::at("2026-12-07T08:30:00Z");
    let app = pinned(&env, &clock).await;
    let settings = app
        .put_weekly_report(
            workspace,
            WeeklyReportInput {
                enabled: Some(true),
                recipients: Some(vec![CFO.into()]),
                weekday: Some("monday".into()),
                hour: Some(9),
                time_zone: Some("Europe/Berlin".into()),
                metrics: Some(vec!["sessions".into()]),
            },
        )
        .await
        .unwrap();
    assert_eq!(settings.next_send_at, Some(utc("2026-12-14T08:00:00Z")));

    // Two workers racing on the same schedule record one report.
    let other = pinned(&env, &clock).await;
    let schedule = ReportSchedule {
        workspace_id: workspace.as_uuid(),
        weekday: 1,
        hour: 9,
        time_zone: "Europe/Berlin".into(),
    };
    let now = clock.now();
    let (first, second) = tokio::join!(
        app.send_weekly_report_if_due(&schedule, now),
        other.send_weekly_report_if_due(&schedule, now)
    );
    let recorded: Vec<Uuid> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(recorded.len(), 1, "one report, whichever worker won");
    // The sweep, twice more in the same week: nothing new.
    let holder = Worker::new(app.clone()).name().to_owned();
    for _ in 0..2 {
        let pass = app
            .notice_sweep(&holder, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(pass.swept);
        assert_eq!(pass.reports, Vec::<Uuid>::new());
        assert_eq!(pass.failed, 0);
    }

    let worker = env.start_worker_on(app.clone());
    let sent = wait_notifications(
        &env,
        workspace,
        NotificationKind::WeeklyReport,
        NotificationStatus::Sent,
        1,
    )
    .await;
    assert_eq!(sent[0].id, recorded[0]);
    assert_eq!(
        sent[0].dedupe_key,
        format!("weekly_report:{workspace}:2026-W49")
    );
    assert_eq!(sent[0].recipients, vec![CFO.to_owned()]);
    let emails = emails_to(&env, CFO).await;
    assert_eq!(emails.len(), 1, "{emails:#?}");
    assert_eq!(
        emails[0]["subject"],
        "[Acme] Weekly KPI report, 2026-11-30 – 2026-12-06"
    );
    let text = emails[0]["text"].as_str().unwrap();
    assert!(
        text.contains(
            "- GA4 App / sessions: 105 (previous week –, –)\n\
             - GA4 Web / sessions: 721 (previous week 651, +10.8%)\n"
        ),
        "{text}"
    );

    // Wednesday of the same week: no second report.
    clock.set("2026-12-09T08:30:00Z");
    let pass = app
        .notice_sweep(&holder, Duration::from_secs(1))
        .await
        .unwrap();
    assert!(pass.reports.is_empty());

    // The next Monday, 09:05 in Berlin: the report of the week of 7 December.
    clock.set("2026-12-14T08:05:00Z");
    app.notice_sweep(&holder, Duration::from_secs(1))
        .await
        .unwrap();
    let sent = wait_notifications(
        &env,
        workspace,
        NotificationKind::WeeklyReport,
        NotificationStatus::Sent,
        2,
    )
    .await;
    assert_eq!(
        sent[0].dedupe_key,
        format!("weekly_report:{workspace}:2026-W50")
    );
    let emails = emails_to(&env, CFO).await;
    assert_eq!(emails.len(), 2, "{emails:#?}");
    assert_eq!(
        emails[0]["subject"],
        "[Acme] Weekly KPI report, 2026-12-07 – 2026-12-13"
    );
    let text = emails[0]["text"].as_str().unwrap();
    assert!(
        text.contains(
            "- GA4 App / sessions: 0 (previous week 105, -100.0%)\n\
             - GA4 Web / sessions: 1,000 (previous week 721, +38.7%)\n"
        ),
        "{text}"
    );
    // More passes that week change nothing.
    for _ in 0..2 {
        app.notice_sweep(&holder, Duration::from_secs(1))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(emails_to(&env, CFO).await.len(), 2);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_renders_the_last_whole_week() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let web = integration(&env, workspace, "GA4 Web").await;
    sessions(
        &env,
        workspace,
        web,
        &[
            ("2026-11-24", None, 40.0),
            ("2026-12-01", None, 30.0),
            ("2026-12-06", None, 20.0),
        ],
    )
    .await;
    // Sunday 6 December 23:30 UTC is already Monday in Tokyo: the last whole week
    // there is the one of 30 November.
    let clock = TestClock::at("2026-12-06T23:30:00Z");
    let app = pinned(&env, &clock).await;
    app.put_weekly_report(
        workspace,
        WeeklyReportInput {
            time_zone: Some("Asia/Tokyo".into()),
            ..WeeklyReportInput::default()
        },
    )
    .await
    .unwrap();
    let preview = app.preview_weekly_report(workspace).await.unwrap();
    assert_eq!(
        (preview.week_start, preview.week_end),
        (day("2026-11-30"), day("2026-12-06"))
    );
    // No metrics saved: every metric of the workspace's integrations (GA4's).
    assert!(preview.metrics.contains(&"sessions".to_owned()));
    assert!(
        preview
            .text
            .contains("- GA4 Web / sessions: 50 (previous week 40, +25.0%)\n"),
        "{}",
        preview.text
    );
    assert!(preview.html.contains("<td>GA4 Web</td><td>sessions</td>"));
    // In UTC it is still Sunday: the last whole week is the one before.
    app.put_weekly_report(workspace, WeeklyReportInput::default())
        .await
        .unwrap();
    let utc_preview = app.preview_weekly_report(workspace).await.unwrap();
    assert_eq!(utc_preview.week_start, day("2026-11-23"));
}

/// The report reads its weeks in the workspace's calendar (here from Sunday), a
/// money gauge once per currency at the week's last day with a point, a ratio from
/// its summed components, and a gauge or ratio without data in the week as "–".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_reads_gauges_per_currency_and_ratios_in_the_workspaces_weeks() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let stripe = integration_of(&env, workspace, "stripe", "Stripe").await;
    let eu = integration_of(&env, workspace, "meta-ads", "Meta EU").await;
    let us = integration_of(&env, workspace, "meta-ads", "Meta US").await;
    let mrr = |date: &str, currency: &str, value: f64| {
        KpiPoint::total("mrr", day(date), value).with_dimension("currency", currency)
    };
    // Weeks run Sunday to Saturday: 22-28 November, then 29 November - 5 December.
    points(
        &env,
        workspace,
        stripe,
        "subscriptions",
        &[
            mrr("2026-11-27", "EUR", 500.0),
            mrr("2026-11-28", "USD", 1000.0),
            mrr("2026-11-29", "USD", 1100.0),
            mrr("2026-12-01", "JPY", 150_000.0),
            mrr("2026-12-05", "USD", 1250.0),
            // Sunday 6 December starts the next week (in a Monday week it would be
            // this week's last day).
            mrr("2026-12-06", "USD", 9999.0),
        ],
    )
    .await;
    let ads = |date: &str, clicks: f64, impressions: f64| {
        [
            KpiPoint::total("clicks", day(date), clicks),
            KpiPoint::total("impressions", day(date), impressions),
        ]
    };
    let eu_points: Vec<KpiPoint> = [
        ads("2026-11-25", 20.0, 1000.0),
        ads("2026-11-29", 10.0, 500.0),
        ads("2026-12-03", 20.0, 500.0),
        ads("2026-12-06", 100.0, 100.0),
    ]
    .concat();
    points(&env, workspace, eu, "insights", &eu_points).await;
    points(
        &env,
        workspace,
        us,
        "insights",
        &ads("2026-11-24", 5.0, 200.0),
    )
    .await;

    // Monday 7 December: the last whole week is 29 November - 5 December.
    let clock = TestClock::at("2026-12-07T08:30:00Z");
    let app = pinned(&env, &clock).await;
    app.update_workspace(
        workspace,
        junction_app::kpis::WorkspaceChanges {
            week_start: Some("sunday".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    app.put_weekly_report(
        workspace,
        WeeklyReportInput {
            enabled: Some(true),
            recipients: Some(vec![CFO.into()]),
            weekday: Some("monday".into()),
            hour: Some(8),
            metrics: Some(vec!["mrr".into(), "ctr".into()]),
            ..WeeklyReportInput::default()
        },
    )
    .await
    .unwrap();
    let preview = app.preview_weekly_report(workspace).await.unwrap();
    assert_eq!(
        (preview.week_start, preview.week_end),
        (day("2026-11-29"), day("2026-12-05"))
    );
    assert!(
        preview.text.contains(
            "- Meta EU / ctr: 3 (previous week 2, +50.0%)\n\
             - Meta US / ctr: – (previous week 2.50, –)\n\
             - Stripe / mrr (EUR): – (previous week 500, –)\n\
             - Stripe / mrr (JPY): 150,000 (previous week –, –)\n\
             - Stripe / mrr (USD): 1,250 (previous week 1,000, +25.0%)\n"
        ),
        "{}",
        preview.text
    );

    // Sent, it is the same report, keyed by the ISO week its last day is in.
    let schedule = ReportSchedule {
        workspace_id: workspace.as_uuid(),
        weekday: 1,
        hour: 8,
        time_zone: "UTC".into(),
    };
    let id = app
        .send_weekly_report_if_due(&schedule, clock.now())
        .await
        .unwrap()
        .expect("due");
    let recorded = notifications(&env, workspace).await;
    let report = recorded.iter().find(|n| n.id == id).unwrap();
    assert_eq!(
        report.dedupe_key,
        format!("weekly_report:{workspace}:2026-W49")
    );
    assert_eq!(report.subject, preview.subject);
    assert_eq!(report.details["week_start"], "2026-11-29");
    let eur = report.details["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|line| line["metric"] == "mrr (EUR)")
        .unwrap();
    assert_eq!(
        (&eur["value"], &eur["previous"]),
        (&Value::Null, &json!(500.0))
    );
}

fn failure(message: &str) -> JobFailure {
    JobFailure::permanent(ErrorCode::ProviderUnavailable, message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_notices_reach_the_settings_recipients_at_once_or_in_one_daily_digest() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    env.create_resend(workspace).await;
    let ga4 = integration(&env, workspace, "GA4 Web").await;
    assert_eq!(
        env.count("SELECT count(*) AS n FROM alert_rules").await,
        0,
        "no alert rule anywhere"
    );
    // Monday 7 December, 07:00 in Berlin.
    let clock = TestClock::at("2026-12-07T06:00:00Z");
    let app = pinned(&env, &clock).await;
    let settings = |delivery: &str| NotificationSettingsInput {
        sync_failed: Some(vec![OPS.into()]),
        needs_reauth: Some(vec![OPS.into(), OWNER.into()]),
        dead_letter: Some(vec![OPS.into()]),
        delivery: Some(delivery.into()),
        digest_hour: Some(8),
        time_zone: Some("Europe/Berlin".into()),
    };
    app.put_notification_settings(workspace, settings("immediate"))
        .await
        .unwrap();
    let worker = env.start_worker_on(app.clone());

    // At once: a dead-lettered sync mails its recipients, with no alert rule.
    app.notify_sync_failed(
        workspace,
        ga4,
        "sync-1",
        Some("daily_report"),
        &failure("the provider answered 503"),
        3,
    )
    .await;
    wait_notifications(
        &env,
        workspace,
        NotificationKind::SyncFailed,
        NotificationStatus::Sent,
        1,
    )
    .await;
    let immediate = emails_to(&env, OPS).await;
    assert_eq!(immediate.len(), 1);
    assert!(
        immediate[0]["subject"]
            .as_str()
            .unwrap()
            .contains("Sync failed: GA4 Web (provider_unavailable)")
    );

    // The daily digest at 08:00: switching at 07:00 makes today's the first.
    let switched = app
        .put_notification_settings(workspace, settings("daily_digest"))
        .await
        .unwrap();
    assert_eq!(switched.next_digest_at, Some(utc("2026-12-07T07:00:00Z")));
    app.notify_sync_failed(
        workspace,
        ga4,
        "sync-2",
        None,
        &failure("the provider answered 502"),
        3,
    )
    .await;
    app.notify_needs_reauth(workspace, ga4, "The provider refused the refresh token.")
        .await;
    app.notify_dead_letter(
        workspace,
        ga4,
        Queue::Action,
        "action-1",
        &failure("timed out"),
        5,
    )
    .await;
    let held = wait_notifications(
        &env,
        workspace,
        NotificationKind::SyncFailed,
        NotificationStatus::AwaitingDigest,
        1,
    )
    .await;
    assert_eq!(held[0].dedupe_key, "sync_failed:sync-2");
    let holder = Worker::new(app.clone()).name().to_owned();
    let pass = app
        .notice_sweep(&holder, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(pass.digests, 0, "not before 08:00");
    assert_eq!(emails_to(&env, OPS).await.len(), 1);

    // 08:30 in Berlin: one digest per recipient with the notices they hear of.
    clock.set("2026-12-07T07:30:00Z");
    app.notice_sweep(&holder, Duration::from_secs(1))
        .await
        .unwrap();
    let digests = wait_notifications(
        &env,
        workspace,
        NotificationKind::DailyDigest,
        NotificationStatus::Sent,
        2,
    )
    .await;
    let to_ops = digests.iter().find(|d| d.recipients == [OPS]).unwrap();
    assert_eq!(to_ops.dedupe_key, format!("daily_digest:2026-12-07:{OPS}"));
    let kinds: Vec<&str> = to_ops.details["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sync_failed", "needs_reauth", "dead_letter"]);
    let to_owner = digests.iter().find(|d| d.recipients == [OWNER]).unwrap();
    assert_eq!(to_owner.details["notices"].as_array().unwrap().len(), 1);
    assert_eq!(to_owner.details["notices"][0]["kind"], "needs_reauth");
    let ops_mail = emails_to(&env, OPS).await;
    assert_eq!(ops_mail.len(), 2);
    assert_eq!(
        ops_mail[0]["subject"],
        "[Acme] Daily digest, 2026-12-07: 3 notices"
    );
    let text = ops_mail[0]["text"].as_str().unwrap();
    assert!(
        text.contains(
            "Sync failed: GA4 Web (google-analytics), (all streams), provider_unavailable: \
             the provider answered 502"
        ),
        "{text}"
    );
    assert!(text.contains("Dead letter: GA4 Web"), "{text}");
    assert_eq!(emails_to(&env, OWNER).await.len(), 1);
    assert_eq!(
        notifications(&env, workspace)
            .await
            .iter()
            .filter(|n| n.status == NotificationStatus::Digested)
            .count(),
        3
    );

    // A notice after the digest waits for tomorrow's, however many passes run.
    app.notify_sync_failed(workspace, ga4, "sync-3", None, &failure("503 again"), 3)
        .await;
    for _ in 0..2 {
        let pass = app
            .notice_sweep(&holder, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(pass.digests, 0);
    }
    clock.set("2026-12-08T07:01:00Z");
    app.notice_sweep(&holder, Duration::from_secs(1))
        .await
        .unwrap();
    wait_notifications(
        &env,
        workspace,
        NotificationKind::DailyDigest,
        NotificationStatus::Sent,
        3,
    )
    .await;
    let ops_mail = emails_to(&env, OPS).await;
    assert_eq!(ops_mail.len(), 3);
    assert_eq!(
        ops_mail[0]["subject"],
        "[Acme] Daily digest, 2026-12-08: 1 notice"
    );

    // Back to immediate delivery: a notice held for the digest goes out at once.
    app.notify_sync_failed(workspace, ga4, "sync-4", None, &failure("503"), 3)
        .await;
    wait_notifications(
        &env,
        workspace,
        NotificationKind::SyncFailed,
        NotificationStatus::AwaitingDigest,
        1,
    )
    .await;
    app.put_notification_settings(workspace, settings("immediate"))
        .await
        .unwrap();
    wait_for("the held notice to be sent", TIMEOUT, || async {
        notifications(&env, workspace)
            .await
            .into_iter()
            .find(|n| n.dedupe_key == "sync_failed:sync-4" && n.status == NotificationStatus::Sent)
    })
    .await;
    assert_eq!(emails_to(&env, OPS).await.len(), 4);

    // A kind with nobody to tell records nothing.
    app.put_notification_settings(
        workspace,
        NotificationSettingsInput {
            sync_failed: Some(vec![OPS.into()]),
            ..NotificationSettingsInput::default()
        },
    )
    .await
    .unwrap();
    app.notify_dead_letter(
        workspace,
        ga4,
        Queue::Webhook,
        "webhook-1",
        &failure("bad"),
        5,
    )
    .await;
    assert!(
        !notifications(&env, workspace)
            .await
            .iter()
            .any(|n| n.dedupe_key == "dead_letter:webhook:webhook-1")
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppressed_address_is_not_mailed_by_send_email_and_the_run_says_so() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let resend = env.create_resend(workspace).await;
    let app = env.app(env.config(&[])).await;
    app.add_email_suppression(workspace, Some(" Bounced@Acme.example "), None)
        .await
        .unwrap();

    let outcome = app
        .perform_action(
            workspace,
            ActionRequest {
                integration_id: resend,
                action: "send_email",
                input: json!({
                    "to": [OPS, format!("Bounced Mailbox <{BOUNCED}>")],
                    "cc": BOUNCED,
                    "subject": "Quarterly numbers",
                    "text": "Attached.",
                }),
                client_key: None,
                queue: false,
            },
        )
        .await
        .unwrap();
    let ActionOutcome::Done(run) = outcome else {
        panic!("send_email runs inline");
    };
    assert_eq!(
        run.suppressed_recipients,
        vec![format!("Bounced Mailbox <{BOUNCED}>"), BOUNCED.to_owned()]
    );
    assert_eq!(run.input["to"], json!([OPS]));
    assert!(run.input.get("cc").is_none());
    let sent = emails_to(&env, OPS).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["id"].as_str(), run.external_id.as_deref());
    assert_eq!(sent[0]["to"], json!([OPS]));
    assert_eq!(sent[0]["cc"], Value::Null);
    assert!(emails_to(&env, BOUNCED).await.is_empty());

    // Only suppressed addresses where the email needs one: refused, nothing sent,
    // no run recorded.
    let refused = app
        .perform_action(
            workspace,
            ActionRequest {
                integration_id: resend,
                action: "send_batch",
                input: json!({"emails": [
                    {"to": OPS, "subject": "One", "text": "1"},
                    {"to": [BOUNCED], "subject": "Two", "text": "2"},
                ]}),
                client_key: None,
                queue: false,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::RecipientsSuppressed);
    assert!(
        refused.detail.contains("`emails[1].to`"),
        "{}",
        refused.detail
    );
    assert!(
        !refused.detail.contains(BOUNCED),
        "addresses are not echoed"
    );
    assert_eq!(emails_to(&env, OPS).await.len(), 1);
    assert_eq!(env.count("SELECT count(*) AS n FROM action_runs").await, 1);

    // Off the list, the address is mailed again.
    app.remove_email_suppression(workspace, "BOUNCED@acme.example")
        .await
        .unwrap();
    let outcome = app
        .perform_action(
            workspace,
            ActionRequest {
                integration_id: resend,
                action: "send_email",
                input: json!({"to": BOUNCED, "subject": "Welcome back", "text": "Hi."}),
                client_key: None,
                queue: false,
            },
        )
        .await
        .unwrap();
    let ActionOutcome::Done(run) = outcome else {
        panic!("send_email runs inline");
    };
    assert!(run.suppressed_recipients.is_empty());
    assert_eq!(emails_to(&env, BOUNCED).await.len(), 1);
}

#[test]
fn the_actions_that_send_email_name_their_recipient_fields() {
    // Marketing platforms' broadcasts mail their own audiences, not addresses in the
    // input, but their opt-in confirmations mail the input's address: Mailchimp's
    // to a contact made `pending` (the same field, once per status field that can
    // make it so), Kit's incentive email of a double opt-in form. Stripe mails the
    // receipt of a payment intent to `receipt_email`, and of a Checkout Session's
    // payment to `payment_intent_data.receipt_email`.
    let registry = junction_registry::Registry::builtin();
    let mut senders: Vec<(String, String, Vec<&str>)> = Vec::new();
    for spec in registry.specs() {
        for action in &spec.actions {
            if !action.email_recipients.is_empty() {
                senders.push((
                    spec.id.to_owned(),
                    action.name.to_owned(),
                    action.email_recipients.iter().map(|f| f.path).collect(),
                ));
            }
        }
    }
    let expected = [
        (
            "resend",
            "send_batch",
            vec!["emails[].to", "emails[].cc", "emails[].bcc"],
        ),
        ("resend", "send_email", vec!["to", "cc", "bcc"]),
        (
            "sendgrid",
            "send_mail",
            vec![
                "to",
                "cc",
                "bcc",
                "personalizations[].to",
                "personalizations[].cc",
                "personalizations[].bcc",
            ],
        ),
        ("stripe", "create_payment_intent", vec!["receipt_email"]),
        ("kit", "add_subscriber_to_form", vec!["email_address"]),
        ("kit-oauth", "add_subscriber_to_form", vec!["email_address"]),
        (
            "mailchimp",
            "upsert_contact",
            vec!["email_address", "email_address"],
        ),
        (
            "mailchimp",
            "bulk_sync_contacts",
            vec!["contacts[].email_address", "contacts[].email_address"],
        ),
        (
            "mailchimp-oauth",
            "upsert_contact",
            vec!["email_address", "email_address"],
        ),
        (
            "mailchimp-oauth",
            "bulk_sync_contacts",
            vec!["contacts[].email_address", "contacts[].email_address"],
        ),
        (
            "stripe",
            "create_checkout_session",
            vec!["payment_intent_data.receipt_email"],
        ),
    ];
    let mut expected: Vec<(String, String, Vec<&str>)> = expected
        .into_iter()
        .map(|(p, a, f)| (p.to_owned(), a.to_owned(), f))
        .collect();
    senders.sort();
    expected.sort();
    assert_eq!(senders, expected);

    // Whom the provider emails beyond the input: Stripe's invoices, to the customer.
    let mut mailing: Vec<(&str, &str)> = registry
        .specs()
        .flat_map(|spec| {
            spec.actions
                .iter()
                .filter(|action| action.provider_recipients.is_some())
                .map(move |action| (spec.id, action.name))
        })
        .collect();
    mailing.sort_unstable();
    assert_eq!(
        mailing,
        [
            ("stripe", "create_invoice"),
            ("stripe", "create_subscription"),
            ("stripe", "finalize_invoice"),
            ("stripe", "send_invoice"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_that_needs_a_reconnect_says_so_in_its_health() {
    let env = TestEnv::new().await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let mut ga4 = Ga4::due(3, "");
    ga4.token_expires_at = Some(Utc::now() - chrono::Duration::seconds(60));
    let id = env.create_ga4(workspace, ga4, &tokens).await;
    // Its last check was good.
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    repo::integrations::record_health(tx.conn(), id, Health::Healthy, Some("property 123"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    env.sandbox
        .sandbox
        .script_token_failure(GA4, GrantType::RefreshToken, TokenFailure::InvalidGrant, 2)
        .unwrap();

    let worker = env.start_worker(env.config(&[])).await;
    let run = env.wait_run_ended(workspace, id, TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let integration = env.integration(workspace, id).await;
    assert_eq!(integration.status, IntegrationStatus::NeedsReauth);
    assert_eq!(integration.health, Health::NeedsReauth);
    assert!(
        integration
            .health_message
            .as_deref()
            .is_some_and(|m| m.contains("invalid_grant")),
        "{integration:?}"
    );
    // Testing it now does not bring the old "healthy" back.
    let check = worker.app.check_integration(workspace, id).await.unwrap();
    assert!(check.outcome.is_err());
    assert_eq!(
        env.integration(workspace, id).await.health,
        Health::NeedsReauth
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_lost_outside_a_sync_reaches_the_settings_recipients_without_alert_rules() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    env.create_resend(workspace).await;
    let quiet = env.workspace("Quiet").await;
    let ga4 = integration(&env, workspace, "GA4 Web").await;
    let unheard = integration(&env, quiet, "GA4 Quiet").await;
    let app = env.app(env.config(&[])).await;
    app.put_notification_settings(
        workspace,
        NotificationSettingsInput {
            needs_reauth: Some(vec![OWNER.into()]),
            ..NotificationSettingsInput::default()
        },
    )
    .await
    .unwrap();
    // The other workspace saved settings in which nobody hears of lost grants.
    app.put_notification_settings(
        quiet,
        NotificationSettingsInput {
            sync_failed: Some(vec![OPS.into()]),
            ..NotificationSettingsInput::default()
        },
    )
    .await
    .unwrap();
    for (ws, id) in [(workspace, ga4), (quiet, unheard)] {
        let mut tx = env.db.store().begin(ws).await.unwrap();
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
    }

    let worker = env.start_worker_on(app.clone());
    let pass = app.scheduler_pass().await.unwrap();
    assert!(pass.reauth_notices <= 1, "only Acme has someone to tell");
    let sent = wait_notifications(
        &env,
        workspace,
        NotificationKind::NeedsReauth,
        NotificationStatus::Sent,
        1,
    )
    .await;
    assert_eq!(sent[0].recipients, vec![OWNER.to_owned()]);
    assert_eq!(emails_to(&env, OWNER).await.len(), 1);
    // Later passes find nothing more to tell, in either workspace.
    assert_eq!(app.scheduler_pass().await.unwrap().reauth_notices, 0);
    assert!(notifications(&env, quiet).await.is_empty());
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_send_is_screened_again_when_it_runs() {
    let env = TestEnv::new().await;
    let workspace = env.workspace("Acme").await;
    let resend = env.create_resend(workspace).await;
    let app = env.app(env.config(&[])).await;
    let queue = |input: Value| ActionRequest {
        integration_id: resend,
        action: "send_email",
        input,
        client_key: None,
        queue: true,
    };
    // Queued while no worker runs; the addresses bounce before it runs.
    let ActionOutcome::Queued(mixed) = app
        .perform_action(
            workspace,
            queue(json!({"to": [OPS, BOUNCED], "subject": "Mixed", "text": "1"})),
        )
        .await
        .unwrap()
    else {
        panic!("asked to queue");
    };
    let ActionOutcome::Queued(only) = app
        .perform_action(
            workspace,
            queue(json!({"to": BOUNCED, "subject": "Only", "text": "2"})),
        )
        .await
        .unwrap()
    else {
        panic!("asked to queue");
    };
    assert!(mixed.suppressed_recipients.is_empty());
    app.add_email_suppression(workspace, Some(BOUNCED), Some("bounce"))
        .await
        .unwrap();

    let worker = env.start_worker_on(app.clone());
    let mixed = wait_for("the mixed send to run", TIMEOUT, || async {
        let run = app.action_run(workspace, mixed.id).await.unwrap();
        (run.finished_at.is_some()).then_some(run)
    })
    .await;
    assert_eq!(
        mixed.status,
        junction_store::models::ActionStatus::Succeeded,
        "{mixed:?}"
    );
    assert_eq!(mixed.suppressed_recipients, vec![BOUNCED.to_owned()]);
    assert_eq!(mixed.input["to"], json!([OPS]));
    let only = wait_for("the suppressed send to end", TIMEOUT, || async {
        let run = app.action_run(workspace, only.id).await.unwrap();
        (run.finished_at.is_some()).then_some(run)
    })
    .await;
    assert_eq!(
        only.status,
        junction_store::models::ActionStatus::Failed,
        "{only:?}"
    );
    assert_eq!(only.error_code.as_deref(), Some("recipients_suppressed"));
    assert_eq!(emails_to(&env, OPS).await.len(), 1);
    assert!(emails_to(&env, BOUNCED).await.is_empty());
    assert_eq!(
        env.count("SELECT count(*) AS n FROM dead_letters").await,
        0,
        "a refusal, not a dead letter"
    );
    worker.stop().await;
}

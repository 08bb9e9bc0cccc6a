//! Row-level security: inside one workspace's scope, unfiltered queries see that
//! workspace only, and writes for another workspace are refused.

use std::collections::BTreeMap;

use crate::assert_refused_by_row_security;
use chrono::{Duration, NaiveDate, Utc};
use junction_core::{KpiPoint, Page, Record, WorkspaceId};
use junction_store::{
    Store, StoreError, Vault,
    ingest::commit_page,
    models::{AlertCondition, NotificationKind, OutboundEventType, Queue, SyncTrigger},
    repo::{self, alerts::NewAlertRule},
};
use junction_testkit::{TestDb, create_integration, create_workspace};
use secrecy::SecretString;
use serde_json::json;

use diesel_async::RunQueryDsl;

use crate::{TENANT_TABLES, count};

/// Puts at least one row of the workspace into every tenant table.
pub async fn populate(
    store: &Store,
    vault: &Vault,
    workspace: WorkspaceId,
    secret: &str,
) -> uuid::Uuid {
    let integration = create_integration(store, workspace, "stripe").await;
    let page = Page {
        records: vec![Record {
            external_id: "ch_1".into(),
            data: json!({"id": "ch_1", "amount": 100}),
            modified_at: None,
        }],
        kpis: vec![KpiPoint::total(
            "gross_revenue",
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            1.0,
        )],
        next_cursor: Some(json!("ch_1")),
        has_more: false,
    };
    commit_page(store, workspace, integration.id, "charges", &page, None)
        .await
        .unwrap();
    let mut tx = store.begin(workspace).await.unwrap();
    let c = tx.conn();
    repo::credentials::put(
        c,
        vault,
        workspace,
        integration.id,
        &BTreeMap::from([("api_key".to_owned(), SecretString::from(secret.to_owned()))]),
    )
    .await
    .unwrap();
    repo::oauth_states::insert(
        c,
        vault,
        repo::oauth_states::NewOAuthState {
            workspace_id: workspace,
            provider: "google-analytics",
            integration_id: None,
            state: &SecretString::from(format!("state-{workspace}")),
            pkce_verifier: Some(&SecretString::from(format!("{secret}-pkce"))),
            redirect_uri: "http://127.0.0.1:8080/oauth/callback",
            return_to: None,
            config: json!({}),
            display_name: None,
            schedule_seconds: None,
            expires_at: Utc::now() + Duration::minutes(10),
            connect_session_id: None,
        },
    )
    .await
    .unwrap();
    repo::sync_runs::create(c, workspace, integration.id, None, SyncTrigger::Manual)
        .await
        .unwrap();
    repo::webhook_events::insert_if_new(
        c,
        repo::webhook_events::NewWebhookEvent {
            workspace_id: workspace,
            integration_id: integration.id,
            provider: "stripe",
            event_id: "evt_1",
            event_type: "charge.refunded",
            headers: json!({}),
            body: b"{}",
        },
    )
    .await
    .unwrap();
    repo::dead_letters::insert(
        c,
        repo::dead_letters::NewDeadLetter {
            workspace_id: workspace,
            integration_id: Some(integration.id),
            queue: Queue::Sync,
            job_id: &format!("job-{workspace}"),
            job: json!({"kind": "sync"}),
            error_code: "provider_rejected",
            error_message: "bad",
            attempts: 1,
            attempt_log: json!([]),
            first_failed_at: Utc::now(),
        },
    )
    .await
    .unwrap();
    repo::logs::append(
        c,
        repo::logs::NewLog {
            workspace_id: workspace,
            integration_id: integration.id,
            level: junction_store::models::LogLevel::Info,
            operation: junction_store::models::Operation::Connect,
            message: "connected",
            details: json!({}),
            run_id: None,
        },
    )
    .await
    .unwrap();
    repo::idempotency::claim(
        c,
        workspace,
        "key-1",
        "POST",
        "/v1/x",
        &[0u8; 32],
        Utc::now() + Duration::hours(24),
    )
    .await
    .unwrap();
    let rule = repo::alerts::create(
        c,
        workspace,
        NewAlertRule {
            integration_id: Some(integration.id),
            name: "revenue drop".into(),
            metric: "gross_revenue".into(),
            condition: AlertCondition::Below,
            threshold: 10.0,
            window_days: 1,
            recipients: vec!["ops@example.com".into()],
            currency: Some("USD".into()),
        },
    )
    .await
    .unwrap();
    repo::notifications::insert_once(
        c,
        repo::notifications::NewNotification {
            workspace_id: workspace,
            kind: NotificationKind::KpiAlert,
            dedupe_key: "alert-1",
            alert_rule_id: Some(rule.id),
            integration_id: Some(integration.id),
            recipients: vec!["ops@example.com".into()],
            subject: "Revenue dropped",
            details: serde_json::json!({}),
            status: junction_store::models::NotificationStatus::Pending,
        },
    )
    .await
    .unwrap();
    repo::email_suppressions::suppress(
        c,
        workspace,
        "bounced@example.com",
        "bounce",
        Some(integration.id),
    )
    .await
    .unwrap();
    repo::action_runs::create(
        c,
        repo::action_runs::NewActionRun {
            id: uuid::Uuid::new_v4(),
            workspace_id: workspace,
            integration_id: integration.id,
            action: "create_customer",
            mode: junction_store::models::ActionMode::Queued,
            input: &json!({}),
            provider_idempotency_key: "jct-run-1",
            suppressed_recipients: &[],
        },
    )
    .await
    .unwrap();
    repo::notification_settings::put(
        c,
        workspace,
        &repo::notification_settings::NewNotificationSettings {
            sync_failed_recipients: vec!["ops@example.com".into()],
            needs_reauth_recipients: vec![],
            dead_letter_recipients: vec![],
            delivery: junction_store::models::NoticeDelivery::DailyDigest,
            digest_hour: 8,
            time_zone: "Europe/Berlin".into(),
        },
    )
    .await
    .unwrap();
    repo::weekly_report_settings::put(
        c,
        workspace,
        &repo::weekly_report_settings::NewWeeklyReportSettings {
            enabled: true,
            recipients: vec!["cfo@example.com".into()],
            weekday: 1,
            hour: 8,
            time_zone: "UTC".into(),
            metrics: vec!["gross_revenue".into()],
        },
    )
    .await
    .unwrap();
    repo::outbox::insert(
        c,
        repo::outbox::NewOutboxJob {
            workspace_id: workspace,
            queue: junction_store::models::Queue::Notify,
            job_id: "notify-1",
            job: json!({"kind": "notify"}),
        },
    )
    .await
    .unwrap();
    let endpoint = repo::webhook_endpoints::create(
        c,
        workspace,
        uuid::Uuid::new_v4(),
        &repo::webhook_endpoints::NewEndpoint {
            url: "https://hooks.example.com/junction".into(),
            description: String::new(),
            event_types: vec![],
            enabled: true,
        },
    )
    .await
    .unwrap();
    repo::webhook_endpoint_secrets::replace_current(
        c,
        vault,
        workspace,
        endpoint.id,
        &SecretString::from(format!("whsec_{secret}")),
        Utc::now(),
        Utc::now(),
    )
    .await
    .unwrap();
    let event = repo::outbound_events::insert_once(
        c,
        repo::outbound_events::NewOutboundEvent {
            id: uuid::Uuid::new_v4(),
            workspace_id: workspace,
            event_type: OutboundEventType::SyncSucceeded,
            integration_id: Some(integration.id),
            dedupe_key: "sync.succeeded:1",
            payload: &json!({"type": "sync.succeeded"}),
            created_at: Utc::now(),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let delivery = repo::outbound_deliveries::create(c, workspace, event.id, endpoint.id)
        .await
        .unwrap();
    repo::outbound_attempts::insert(
        c,
        &junction_store::models::OutboundAttempt {
            id: uuid::Uuid::new_v4(),
            workspace_id: workspace.as_uuid(),
            delivery_id: delivery.id,
            event_id: event.id,
            endpoint_id: endpoint.id,
            attempt: 1,
            url: endpoint.url.clone(),
            status_code: Some(500),
            latency_ms: 12,
            response_excerpt: Some("oops".into()),
            succeeded: false,
            error_code: Some("webhook_endpoint_rejected".into()),
            error_message: Some("the endpoint answered HTTP 500".into()),
            attempted_at: Utc::now(),
            next_attempt_at: None,
        },
    )
    .await
    .unwrap();
    repo::dashboard_sessions::create(c, workspace, None, Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    repo::dashboard_sign_in_links::create(c, workspace, Utc::now() + chrono::Duration::minutes(15))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    integration.id
}

#[tokio::test]
async fn each_workspace_sees_only_its_own_rows_in_every_table() {
    let db = TestDb::new().await;
    let (a, _) = create_workspace(db.store(), "A").await;
    let (b, _) = create_workspace(db.store(), "B").await;
    populate(db.store(), db.vault(), a, "secret-a").await;
    populate(db.store(), db.vault(), b, "secret-b").await;

    let mut admin = db.admin().await;
    for (scope, other) in [(a, b), (b, a)] {
        let mut tx = db.store().begin(scope).await.unwrap();
        for table in TENANT_TABLES {
            let visible = count(tx.conn(), &format!("SELECT count(*) AS n FROM {table}")).await;
            let foreign = count(
                tx.conn(),
                &format!("SELECT count(*) AS n FROM {table} WHERE workspace_id <> '{scope}'"),
            )
            .await;
            let owned = count(
                admin.conn(),
                &format!("SELECT count(*) AS n FROM {table} WHERE workspace_id = '{scope}'"),
            )
            .await;
            assert!(
                owned > 0,
                "{table} must have rows of the workspace for this test"
            );
            assert_eq!(
                visible, owned,
                "{table}: unfiltered SELECT must show exactly the scoped rows"
            );
            assert_eq!(foreign, 0, "{table}: another workspace's rows leaked");
        }
        let workspaces = count(tx.conn(), "SELECT count(*) AS n FROM workspaces").await;
        assert_eq!(workspaces, 1);
        let other_ws = count(
            tx.conn(),
            &format!("SELECT count(*) AS n FROM workspaces WHERE id = '{other}'"),
        )
        .await;
        assert_eq!(other_ws, 0);
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn writes_for_another_workspace_are_refused_and_nothing_is_visible_unscoped() {
    let db = TestDb::new().await;
    let (a, _) = create_workspace(db.store(), "A").await;
    let (b, _) = create_workspace(db.store(), "B").await;
    let integration_b = create_integration(db.store(), b, "stripe").await;

    // In A's scope, B's integration does not exist...
    let mut tx = db.store().begin(a).await.unwrap();
    let err = repo::integrations::get(tx.conn(), integration_b.id)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("integration")));
    // ...cannot be deleted...
    assert!(
        repo::integrations::delete(tx.conn(), integration_b.id)
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();
    // ...and a row claiming B's workspace is refused by the policy.
    let mut tx = db.store().begin(a).await.unwrap();
    let err = repo::sync_runs::create(tx.conn(), b, integration_b.id, None, SyncTrigger::Manual)
        .await
        .unwrap_err();
    assert_refused_by_row_security(&err);
    drop(tx);
    // Creating another tenant's workspace row from A's scope is refused too.
    let mut tx = db.store().begin(a).await.unwrap();
    assert!(
        repo::workspaces::create(tx.conn(), WorkspaceId::new(), "sneaky")
            .await
            .is_err()
    );
    drop(tx);

    // Outside any scope the app role sees nothing at all.
    let mut conn = db.store().unscoped().await.unwrap();
    for table in TENANT_TABLES.iter().chain(&["workspaces"]) {
        assert_eq!(
            count(&mut conn, &format!("SELECT count(*) AS n FROM {table}")).await,
            0,
            "{table}"
        );
    }
    // B's integration is untouched.
    let mut tx = db.store().begin(b).await.unwrap();
    assert_eq!(
        repo::integrations::get(tx.conn(), integration_b.id)
            .await
            .unwrap()
            .id,
        integration_b.id
    );
}

#[tokio::test]
async fn the_scope_ends_with_the_transaction() {
    let db = TestDb::new().await;
    let (a, _) = create_workspace(db.store(), "A").await;
    create_integration(db.store(), a, "stripe").await;
    // Reuse the same pooled connections after scoped work: nothing stays visible.
    for _ in 0..3 {
        let mut tx = db.store().begin(a).await.unwrap();
        assert_eq!(
            count(tx.conn(), "SELECT count(*) AS n FROM integrations").await,
            1
        );
        tx.commit().await.unwrap();
        let mut conn = db.store().unscoped().await.unwrap();
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM integrations").await,
            0
        );
    }
}

/// Row-level security is forced: the schema owner — the role the processes log in
/// as, not a superuser in production — sees no tenant's rows when a path forgets to
/// switch roles; the system role sees every workspace's. (The test server's own
/// login is a superuser, which no policy binds: the tables are handed to a plain
/// owner role first, as in a production install.)
#[tokio::test]
async fn the_owner_sees_no_tenant_rows_and_the_system_role_sees_all() {
    let db = TestDb::new().await;
    for name in ["A", "B"] {
        let (workspace, _) = create_workspace(db.store(), name).await;
        populate(db.store(), db.vault(), workspace, "secret").await;
    }
    let mut owner = db.admin().await;
    // Roles are the cluster's: made once, whichever test database gets there first.
    diesel::sql_query(
        "DO $$ BEGIN CREATE ROLE junction_test_owner NOLOGIN NOSUPERUSER NOBYPASSRLS; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$",
    )
    .execute(owner.conn())
    .await
    .unwrap();
    for table in TENANT_TABLES.iter().chain(&["workspaces"]) {
        diesel::sql_query(format!("ALTER TABLE {table} OWNER TO junction_test_owner"))
            .execute(owner.conn())
            .await
            .unwrap();
    }
    diesel::sql_query("SET ROLE junction_test_owner")
        .execute(owner.conn())
        .await
        .unwrap();
    let mut system = db.operator().await;
    for table in TENANT_TABLES.iter().chain(&["workspaces"]) {
        let sql = format!("SELECT count(*) AS n FROM {table}");
        assert_eq!(count(owner.conn(), &sql).await, 0, "{table} as the owner");
        assert!(
            count(system.conn(), &sql).await >= 2,
            "{table} as the system role"
        );
    }
}

/// The cross-tenant functions the worker and the operator need are the system
/// role's alone; the API's role keeps only its lookups.
#[tokio::test]
async fn the_cross_tenant_functions_are_the_system_roles() {
    let db = TestDb::new().await;
    let system_only = [
        "SELECT count(*) AS n FROM junction_claim_due_integrations(1, interval '1 minute', now())",
        "SELECT count(*) AS n FROM junction_unnotified_reauth(1)",
        "SELECT count(*) AS n FROM junction_unannounced_reauth(1)",
        "SELECT count(*) AS n FROM junction_outbox_claim(1, interval '1 minute')",
        "SELECT junction_outbox_relayed('{}')::bigint AS n",
        "SELECT junction_outbox_failed('{}', 'x', now())::bigint AS n",
        "SELECT junction_take_lease('test', 'me', interval '1 second')::int::bigint AS n",
        "SELECT junction_release_stale_claims(interval '1 minute')::bigint AS n",
        "SELECT count(*) AS n FROM junction_unfinished_jobs(interval '1 minute', NULL, NULL, 1)",
        "SELECT count(*) AS n FROM junction_weekly_report_schedules(NULL, 1)",
        "SELECT count(*) AS n FROM junction_digest_schedules(NULL, 1)",
    ];
    let lookups = [
        "SELECT count(*) AS n FROM junction_authenticate_api_key('\\x00')",
        "SELECT count(*) AS n FROM junction_authenticate_operator_key('\\x00')",
        "SELECT count(*) AS n FROM junction_integration_workspace(gen_random_uuid(), 'stripe')",
        "SELECT count(*) AS n FROM junction_oauth_state_workspace('\\x00')",
        "SELECT count(*) AS n FROM junction_outbox_depth()",
        "SELECT count(*) AS n FROM junction_dashboard_session('\\x00', interval '1 hour')",
        "SELECT count(*) AS n FROM junction_dashboard_use_link('\\x00')",
    ];
    let mut app = db.store().unscoped().await.unwrap();
    let mut system = db.system_store().unscoped().await.unwrap();
    for sql in system_only {
        let refused = diesel::sql_query(sql)
            .get_result::<crate::Count>(&mut *app)
            .await
            .map(|c| c.n);
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("permission denied")),
            "the app role ran {sql}: {refused:?}"
        );
        count(&mut system, sql).await;
    }
    for sql in lookups {
        count(&mut app, sql).await;
    }
}

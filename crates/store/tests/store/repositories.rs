//! Behaviour of the repositories that later layers rely on.

use chrono::{Duration, Utc};
use diesel::{QueryableByName, sql_types};
use diesel_async::RunQueryDsl;
use junction_store::{
    models::{
        Health, IntegrationStatus, LogLevel, NotificationKind, NotificationStatus, Operation,
        Queue, RunStatus, SyncTrigger,
    },
    repo::{
        self,
        api_keys::Authentication,
        idempotency::{Answer, Claim, fingerprint},
        integrations::IntegrationPatch,
        oauth_states::{ConsumeError, NewOAuthState},
    },
};
use junction_testkit::{TestDb, create_integration, create_workspace};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

#[tokio::test]
async fn api_keys_authenticate_until_revoked() {
    let db = TestDb::new().await;
    let (ws, key) = create_workspace(db.store(), "A").await;
    assert!(key.expose_secret().starts_with("jct_"));
    let mut conn = db.store().unscoped().await.unwrap();
    let Authentication::Valid {
        workspace_id,
        api_key_id,
    } = repo::api_keys::authenticate(&mut conn, &key).await.unwrap()
    else {
        panic!("the key must authenticate");
    };
    assert_eq!(workspace_id, ws);
    let wrong = SecretString::from(format!("{}x", key.expose_secret()));
    assert_eq!(
        repo::api_keys::authenticate(&mut conn, &wrong)
            .await
            .unwrap(),
        Authentication::Unknown
    );
    assert_eq!(
        repo::api_keys::authenticate(&mut conn, &SecretString::from("nope"))
            .await
            .unwrap(),
        Authentication::Unknown
    );

    let mut tx = db.store().begin(ws).await.unwrap();
    let (second, second_key) = repo::api_keys::create(tx.conn(), ws, "ci").await.unwrap();
    assert!(
        second_key
            .expose_secret()
            .starts_with(&second.display_prefix)
    );
    let revoked = repo::api_keys::revoke(tx.conn(), api_key_id).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    let listed = repo::api_keys::list(tx.conn()).await.unwrap();
    assert_eq!(listed.len(), 2);
    tx.commit().await.unwrap();
    assert_eq!(
        repo::api_keys::authenticate(&mut conn, &key).await.unwrap(),
        Authentication::Revoked
    );
    assert!(matches!(
        repo::api_keys::authenticate(&mut conn, &second_key)
            .await
            .unwrap(),
        Authentication::Valid { .. }
    ));
}

#[tokio::test]
async fn oauth_states_are_single_use_and_expire() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let state = SecretString::from("state-abc");
    let expired_state = SecretString::from("state-old");
    let verifier = SecretString::from("verifier-123");
    let mut tx = db.store().begin(ws).await.unwrap();
    for (s, expires) in [
        (&state, Utc::now() + Duration::minutes(10)),
        (&expired_state, Utc::now() + Duration::seconds(1)),
    ] {
        repo::oauth_states::insert(
            tx.conn(),
            db.vault(),
            NewOAuthState {
                workspace_id: ws,
                provider: "google-analytics",
                integration_id: None,
                state: s,
                pkce_verifier: Some(&verifier),
                redirect_uri: "http://127.0.0.1/oauth/callback",
                return_to: Some("http://app.example/done"),
                config: json!({"property_id": "123"}),
                display_name: Some("GA"),
                schedule_seconds: None,
                expires_at: expires,
                connect_session_id: None,
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let mut conn = db.store().unscoped().await.unwrap();
    assert_eq!(
        repo::oauth_states::workspace_of(&mut conn, &state)
            .await
            .unwrap(),
        Some(ws)
    );
    assert_eq!(
        repo::oauth_states::workspace_of(&mut conn, &SecretString::from("x"))
            .await
            .unwrap(),
        None
    );

    let mut tx = db.store().begin(ws).await.unwrap();
    let (row, opened) = repo::oauth_states::consume(tx.conn(), db.vault(), &state, Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.provider, "google-analytics");
    assert_eq!(opened.unwrap().expose_secret(), "verifier-123");
    let again = repo::oauth_states::consume(tx.conn(), db.vault(), &state, Utc::now())
        .await
        .unwrap();
    assert_eq!(again.err(), Some(ConsumeError::AlreadyUsed));
    let late = repo::oauth_states::consume(
        tx.conn(),
        db.vault(),
        &expired_state,
        Utc::now() + Duration::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(late.err(), Some(ConsumeError::Expired));
    let unknown = repo::oauth_states::consume(
        tx.conn(),
        db.vault(),
        &SecretString::from("zzz"),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(unknown.err(), Some(ConsumeError::Unknown));
}

#[tokio::test]
async fn idempotency_keys_replay_conflict_and_release() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let hash = fingerprint("POST", "/v1/integrations", br#"{"a":1}"#);
    let other = fingerprint("POST", "/v1/integrations", br#"{"a":2}"#);
    let expires = Utc::now() + Duration::hours(24);
    let mut tx = db.store().begin(ws).await.unwrap();
    let c = tx.conn();
    assert_eq!(
        repo::idempotency::claim(c, ws, "k1", "POST", "/v1/integrations", &hash, expires)
            .await
            .unwrap(),
        Claim::New
    );
    assert_eq!(
        repo::idempotency::claim(c, ws, "k1", "POST", "/v1/integrations", &hash, expires)
            .await
            .unwrap(),
        Claim::InFlight
    );
    // Kept as sent: the content type and the body's bytes, JSON or not.
    let answer = Answer {
        status: 201,
        content_type: Some("text/csv; charset=utf-8".into()),
        body: b"id\nx\n".to_vec(),
    };
    repo::idempotency::complete(c, ws, "k1", &answer)
        .await
        .unwrap();
    assert_eq!(
        repo::idempotency::claim(c, ws, "k1", "POST", "/v1/integrations", &hash, expires)
            .await
            .unwrap(),
        Claim::Replay(answer)
    );
    assert_eq!(
        repo::idempotency::claim(c, ws, "k1", "POST", "/v1/integrations", &other, expires)
            .await
            .unwrap(),
        Claim::Mismatch
    );
    // A row kept before the raw body was replays its JSON, without a content type.
    assert_eq!(
        repo::idempotency::claim(c, ws, "k0", "POST", "/p", &hash, expires)
            .await
            .unwrap(),
        Claim::New
    );
    diesel::sql_query(
        "UPDATE idempotency_keys SET response_status = 200, response_body = '{\"a\": 1}' \
         WHERE key = 'k0'",
    )
    .execute(c)
    .await
    .unwrap();
    assert_eq!(
        repo::idempotency::claim(c, ws, "k0", "POST", "/p", &hash, expires)
            .await
            .unwrap(),
        Claim::Replay(Answer {
            status: 200,
            content_type: None,
            body: br#"{"a":1}"#.to_vec(),
        })
    );
    // A released key may be claimed again; an expired one is replaced.
    assert_eq!(
        repo::idempotency::claim(c, ws, "k2", "POST", "/p", &hash, expires)
            .await
            .unwrap(),
        Claim::New
    );
    repo::idempotency::release(c, ws, "k2").await.unwrap();
    assert_eq!(
        repo::idempotency::claim(c, ws, "k2", "POST", "/p", &other, expires)
            .await
            .unwrap(),
        Claim::New
    );
    assert_eq!(
        repo::idempotency::claim(
            c,
            ws,
            "k3",
            "POST",
            "/p",
            &hash,
            Utc::now() - Duration::seconds(1)
        )
        .await
        .unwrap(),
        Claim::New
    );
    assert_eq!(
        repo::idempotency::claim(c, ws, "k3", "POST", "/p", &other, expires)
            .await
            .unwrap(),
        Claim::New
    );
    assert!(
        repo::idempotency::claim(c, ws, "", "POST", "/p", &hash, expires)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn events_notifications_and_dead_letters_are_recorded_once() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let mut tx = db.store().begin(ws).await.unwrap();
    let c = tx.conn();
    let event = || repo::webhook_events::NewWebhookEvent {
        workspace_id: ws,
        integration_id: integration.id,
        provider: "stripe",
        event_id: "evt_1",
        event_type: "invoice.paid",
        headers: json!({"stripe-signature": "t=1,v1=x"}),
        body: br#"{"id":"evt_1"}"#,
    };
    assert!(
        repo::webhook_events::insert_if_new(c, event())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        repo::webhook_events::insert_if_new(c, event())
            .await
            .unwrap()
            .is_none(),
        "a redelivery is a no-op"
    );

    let note = || repo::notifications::NewNotification {
        workspace_id: ws,
        kind: NotificationKind::SyncFailed,
        dedupe_key: "sync-failed:run-1",
        alert_rule_id: None,
        integration_id: Some(integration.id),
        recipients: vec!["ops@example.com".into()],
        subject: "Sync failed",
        details: json!({"run_id": "run-1"}),
        status: NotificationStatus::Pending,
    };
    assert!(
        repo::notifications::insert_once(c, note())
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        repo::notifications::insert_once(c, note())
            .await
            .unwrap()
            .is_none()
    );

    let letter = || repo::dead_letters::NewDeadLetter {
        workspace_id: ws,
        integration_id: Some(integration.id),
        queue: Queue::Sync,
        job_id: "job-1",
        job: json!({"v": 1, "kind": "sync"}),
        error_code: "provider_rejected",
        error_message: "invalid property",
        attempts: 3,
        attempt_log: json!([{"attempt": 1}, {"attempt": 2}, {"attempt": 3}]),
        first_failed_at: Utc::now(),
    };
    let first = repo::dead_letters::insert(c, letter()).await.unwrap();
    let second = repo::dead_letters::insert(c, letter()).await.unwrap();
    assert_eq!(first.id, second.id);
    assert!(
        repo::dead_letters::mark_replayed(c, first.id, "job-2")
            .await
            .unwrap()
    );
    assert!(
        !repo::dead_letters::mark_replayed(c, first.id, "job-3")
            .await
            .unwrap(),
        "only the first replay wins"
    );
    let pending = repo::dead_letters::list(
        c,
        &repo::dead_letters::DeadLetterFilter {
            pending_only: true,
            ..Default::default()
        },
        None,
        50,
    )
    .await
    .unwrap();
    assert!(pending.is_empty());
}

#[tokio::test]
async fn lists_page_by_keyset_and_patches_apply() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(create_integration(db.store(), ws, "stripe").await.id);
    }
    let mut tx = db.store().begin(ws).await.unwrap();
    let c = tx.conn();
    let first = repo::integrations::list(c, None, &Default::default(), 2)
        .await
        .unwrap();
    let last = first.last().unwrap();
    let rest =
        repo::integrations::list(c, Some((last.created_at, last.id)), &Default::default(), 10)
            .await
            .unwrap();
    let mut seen: Vec<_> = first.iter().chain(&rest).map(|i| i.id).collect();
    assert_eq!(seen.len(), 5);
    seen.sort();
    ids.sort();
    assert_eq!(seen, ids);

    let patched = repo::integrations::update(
        c,
        ids[0],
        &IntegrationPatch {
            display_name: Some("Renamed".into()),
            schedule_seconds: Some(900),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (patched.display_name.as_str(), patched.schedule_seconds),
        ("Renamed", 900)
    );
    assert!(
        repo::integrations::update(
            c,
            ids[0],
            &IntegrationPatch {
                schedule_seconds: Some(5),
                ..Default::default()
            }
        )
        .await
        .is_err(),
        "a schedule below a minute is refused by the schema"
    );
}

#[tokio::test]
async fn logs_and_runs_follow_their_lifecycle() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "stripe").await;
    let mut tx = db.store().begin(ws).await.unwrap();
    let c = tx.conn();
    for i in 0..5 {
        repo::logs::append(
            c,
            repo::logs::NewLog {
                workspace_id: ws,
                integration_id: integration.id,
                level: LogLevel::Info,
                operation: if i % 2 == 0 {
                    Operation::Sync
                } else {
                    Operation::Check
                },
                message: &format!("entry {i}"),
                details: json!({"i": i}),
                run_id: None,
            },
        )
        .await
        .unwrap();
    }
    let newest = repo::logs::list(c, integration.id, None, None, 2)
        .await
        .unwrap();
    assert_eq!(
        newest
            .iter()
            .map(|l| l.message.as_str())
            .collect::<Vec<_>>(),
        ["entry 4", "entry 3"]
    );
    let older = repo::logs::list(c, integration.id, None, Some(newest[1].id), 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 3);
    let syncs = repo::logs::list(c, integration.id, Some(Operation::Sync), None, 10)
        .await
        .unwrap();
    assert_eq!(syncs.len(), 3);

    let run = repo::sync_runs::create(
        c,
        ws,
        integration.id,
        Some("charges"),
        SyncTrigger::Schedule,
    )
    .await
    .unwrap();
    assert_eq!(run.status, RunStatus::Queued);
    let started = repo::sync_runs::start_attempt(c, run.id, Some("job-1"))
        .await
        .unwrap();
    assert_eq!((started.status, started.attempts), (RunStatus::Running, 1));
    let again = repo::sync_runs::start_attempt(c, run.id, Some("job-1"))
        .await
        .unwrap();
    assert_eq!((again.attempts, again.started_at), (2, started.started_at));
    let done = repo::sync_runs::finish(
        c,
        run.id,
        RunStatus::Failed,
        Some(("provider_unavailable", "503")),
    )
    .await
    .unwrap();
    assert!(done.finished_at.is_some());
    assert_eq!(done.error_code.as_deref(), Some("provider_unavailable"));
}

#[derive(Debug, QueryableByName)]
struct Claimed {
    #[diesel(sql_type = sql_types::Uuid)]
    integration_id: uuid::Uuid,
}

#[tokio::test]
async fn the_scheduler_claim_is_the_one_cross_tenant_path_and_never_double_claims() {
    let db = TestDb::new().await;
    let mut due = Vec::new();
    for name in ["A", "B"] {
        let (ws, _) = create_workspace(db.store(), name).await;
        for _ in 0..3 {
            let integration = create_integration(db.store(), ws, "stripe").await;
            let mut tx = db.store().begin(ws).await.unwrap();
            repo::integrations::update(
                tx.conn(),
                integration.id,
                &IntegrationPatch {
                    next_sync_at: Some(Some(Utc::now() - Duration::minutes(1))),
                    status: Some(IntegrationStatus::Active),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            due.push(integration.id);
        }
    }
    let claim = "SELECT integration_id FROM junction_claim_due_integrations(4, interval '5 minutes', now())";
    // Not the API's role: only the system role claims.
    let mut app_conn = db.store().unscoped().await.unwrap();
    let refused = diesel::sql_query(claim)
        .load::<Claimed>(&mut *app_conn)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    let mut conn = db.system_store().unscoped().await.unwrap();
    let first: Vec<Claimed> = diesel::sql_query(claim).load(&mut *conn).await.unwrap();
    let second: Vec<Claimed> = diesel::sql_query(claim).load(&mut *conn).await.unwrap();
    let third: Vec<Claimed> = diesel::sql_query(claim).load(&mut *conn).await.unwrap();
    assert_eq!((first.len(), second.len(), third.len()), (4, 2, 0));
    let mut all: Vec<_> = first
        .iter()
        .chain(&second)
        .map(|c| c.integration_id)
        .collect();
    all.sort();
    due.sort();
    assert_eq!(
        all, due,
        "both workspaces' due integrations, each exactly once"
    );
}

/// The plan Postgres makes of a claim function's statement as the function runs it
/// (its parameters unknown: a generic plan), as the system role the function runs
/// as; `params` replaces the function's parameter names by `$1`, `$2`, ... in order.
async fn generic_plan(db: &TestDb, function: &str, params: &[(&str, &str)], call: &str) -> String {
    #[derive(QueryableByName)]
    struct Source {
        #[diesel(sql_type = sql_types::Text)]
        prosrc: String,
    }
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = sql_types::Text)]
        line: String,
    }
    let mut op = db.operator().await;
    let source: Source = diesel::sql_query("SELECT prosrc FROM pg_proc WHERE proname = $1")
        .bind::<sql_types::Text, _>(function)
        .get_result(op.conn())
        .await
        .unwrap();
    let mut body = source.prosrc.trim().trim_end_matches(';').to_owned();
    let mut types = Vec::new();
    for (n, (name, ty)) in params.iter().enumerate() {
        body = body.replace(name, &format!("${}", n + 1));
        types.push(*ty);
    }
    for sql in [
        "SET plan_cache_mode = force_generic_plan".to_owned(),
        format!("PREPARE claim({}) AS {body}", types.join(", ")),
        "CREATE FUNCTION pg_temp.plan(q text) RETURNS SETOF text LANGUAGE plpgsql AS \
         $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'EXPLAIN ' || q LOOP \
         RETURN NEXT r.\"QUERY PLAN\"; END LOOP; END $$"
            .to_owned(),
    ] {
        diesel::sql_query(&sql)
            .execute(op.conn())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let lines: Vec<Line> = diesel::sql_query("SELECT line FROM pg_temp.plan($1) AS line")
        .bind::<sql_types::Text, _>(format!("EXECUTE claim({call})"))
        .load(op.conn())
        .await
        .unwrap();
    lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The scheduler's and the relay's claims read only the rows they claim, however
/// many wait: planned without their parameters' values, they once joined the
/// claimed rows back to the whole table by a sequential scan, so every claim cost
/// as much as the backlog.
#[tokio::test]
async fn claims_are_served_from_indexes_not_a_scan_of_the_backlog() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    create_integration(db.store(), ws, "stripe").await;
    TestDb::execute(
        &db,
        "INSERT INTO integrations (id, workspace_id, provider, display_name, status, auth_kind, \
             config, scopes, schedule_seconds, next_sync_at) \
         SELECT gen_random_uuid(), workspace_id, provider, display_name, 'active', auth_kind, \
             config, scopes, schedule_seconds, now() - interval '1 minute' \
         FROM integrations, generate_series(1, 20000)",
    )
    .await;
    TestDb::execute(
        &db,
        "INSERT INTO outbox (workspace_id, queue, job_id, job) \
         SELECT workspace_id, 'sync', 'sync-' || gen_random_uuid(), '{}'::jsonb \
         FROM integrations",
    )
    .await;
    let mut admin = db.admin().await;
    diesel::sql_query("ANALYZE integrations, outbox")
        .execute(admin.conn())
        .await
        .unwrap();

    let plan = generic_plan(
        &db,
        "junction_claim_due_integrations",
        &[
            ("p_limit", "integer"),
            ("p_lease", "interval"),
            ("p_now", "timestamptz"),
        ],
        "100, interval '5 minutes', now()",
    )
    .await;
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(plan.contains("integrations_pkey"), "{plan}");
    let plan = generic_plan(
        &db,
        "junction_outbox_claim",
        &[("p_limit", "integer"), ("p_lease", "interval")],
        "200, interval '30 seconds'",
    )
    .await;
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(plan.contains("outbox_pkey"), "{plan}");
}

#[tokio::test]
async fn suppressions_are_per_workspace_case_insensitive_and_keep_the_first_reason() {
    let db = TestDb::new().await;
    let (a, _) = create_workspace(db.store(), "A").await;
    let (b, _) = create_workspace(db.store(), "B").await;
    let mut tx = db.store().begin(a).await.unwrap();
    let first =
        repo::email_suppressions::suppress(tx.conn(), a, "Bounced@Example.com", "bounced", None)
            .await
            .unwrap();
    let again =
        repo::email_suppressions::suppress(tx.conn(), a, "bounced@example.com", "complained", None)
            .await
            .unwrap();
    assert!(first && !again);
    let among = repo::email_suppressions::suppressed_among(
        tx.conn(),
        &[
            "BOUNCED@example.com".to_owned(),
            "ok@example.com".to_owned(),
        ],
    )
    .await
    .unwrap();
    assert_eq!(among, vec!["bounced@example.com".to_owned()]);
    let listed = repo::email_suppressions::list(tx.conn(), None, 10)
        .await
        .unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|s| (s.address.as_str(), s.reason.as_str()))
            .collect::<Vec<_>>(),
        [("bounced@example.com", "bounced")]
    );
    repo::email_suppressions::suppress(tx.conn(), a, "later@example.com", "manual", None)
        .await
        .unwrap();
    // One transaction: both rows have the same created_at, so the address orders them.
    let first_page = repo::email_suppressions::list(tx.conn(), None, 1)
        .await
        .unwrap();
    assert_eq!(first_page[0].address, "later@example.com");
    let next = (first_page[0].created_at, first_page[0].address.clone());
    let second_page = repo::email_suppressions::list(tx.conn(), Some(next), 10)
        .await
        .unwrap();
    assert_eq!(second_page.len(), 1);
    assert_eq!(second_page[0].address, "bounced@example.com");
    assert!(
        repo::email_suppressions::remove(tx.conn(), "LATER@example.com")
            .await
            .unwrap()
    );
    assert!(
        !repo::email_suppressions::remove(tx.conn(), "later@example.com")
            .await
            .unwrap()
    );
    assert!(matches!(
        repo::email_suppressions::get(tx.conn(), "later@example.com").await,
        Err(junction_store::StoreError::NotFound(_))
    ));
    tx.commit().await.unwrap();

    let mut tx = db.store().begin(b).await.unwrap();
    let among =
        repo::email_suppressions::suppressed_among(tx.conn(), &["bounced@example.com".to_owned()])
            .await
            .unwrap();
    assert!(
        among.is_empty(),
        "another workspace's suppressions do not apply"
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_lost_grant_shows_in_the_health_until_the_next_check() {
    let db = TestDb::new().await;
    let (ws, _) = create_workspace(db.store(), "A").await;
    let integration = create_integration(db.store(), ws, "google-analytics").await;
    let mut tx = db.store().begin(ws).await.unwrap();
    let c = tx.conn();
    let checked = repo::integrations::record_health(c, integration.id, Health::Healthy, None)
        .await
        .unwrap();
    assert_eq!(checked.health, Health::Healthy);

    let lost = repo::integrations::set_status(
        c,
        integration.id,
        IntegrationStatus::NeedsReauth,
        Some(("integration_needs_reauth", "invalid_grant")),
    )
    .await
    .unwrap();
    assert_eq!(lost.health, Health::NeedsReauth);
    assert_eq!(lost.health_message.as_deref(), Some("invalid_grant"));
    // Meeting the lost grant again keeps the first reason.
    let again = repo::integrations::set_status(
        c,
        integration.id,
        IntegrationStatus::NeedsReauth,
        Some(("provider_unavailable", "a later sync's error")),
    )
    .await
    .unwrap();
    assert_eq!(again.health_message.as_deref(), Some("invalid_grant"));
    assert_eq!(
        again.last_error_code.as_deref(),
        Some("provider_unavailable")
    );

    // Back to active: no check since, so the health is unknown until one runs.
    let back = repo::integrations::set_status(c, integration.id, IntegrationStatus::Active, None)
        .await
        .unwrap();
    assert_eq!(back.health, Health::Unknown);
    assert_eq!(back.health_checked_at, None);
    // An unhealthy check result is not touched by a status change.
    repo::integrations::record_health(c, integration.id, Health::Unhealthy, Some("503"))
        .await
        .unwrap();
    let still = repo::integrations::set_status(c, integration.id, IntegrationStatus::Active, None)
        .await
        .unwrap();
    assert_eq!(still.health, Health::Unhealthy);
    tx.commit().await.unwrap();
}

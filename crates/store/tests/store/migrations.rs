//! Migrations apply, revert and re-apply; the schema has the constraints that keep
//! data whole.

use diesel::{QueryableByName, sql_types};
use diesel_async::RunQueryDsl;
use junction_store::migrate;
use junction_testkit::TestDb;

use crate::{TENANT_TABLES, count};

#[tokio::test]
async fn migrations_run_up_down_and_up_again() {
    let db = TestDb::new().await;
    assert!(migrate::pending(db.url()).await.unwrap().is_empty());
    let reverted = migrate::revert_all(db.url()).await.unwrap();
    assert_eq!(reverted.len(), migrate::embedded_versions().len());
    let mut admin = db.admin().await;
    let tables = count(
        admin.conn(),
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> '__diesel_schema_migrations'",
    )
    .await;
    assert_eq!(tables, 0, "down migrations must remove every table");
    let functions = count(
        admin.conn(),
        "SELECT count(*) AS n FROM pg_proc WHERE proname LIKE 'junction\\_%'",
    )
    .await;
    assert_eq!(functions, 0, "down migrations must remove every function");
    let applied = migrate::run_pending(db.url()).await.unwrap();
    assert_eq!(applied.len(), migrate::embedded_versions().len());
    assert!(migrate::pending(db.url()).await.unwrap().is_empty());
    // The store works on the re-applied schema.
    let (workspace, _) = junction_testkit::create_workspace(db.store(), "again").await;
    junction_testkit::create_integration(db.store(), workspace, "stripe").await;
}

/// A production install: the schema owner is a plain login role with CREATEROLE,
/// neither superuser nor BYPASSRLS (docs/operations.md; deploy/postgres/
/// init-junction.sh makes it so for the compose stack). It migrates an empty
/// database, and both pools switch to their roles, which a role that is not
/// superuser may only do as their member.
#[tokio::test]
async fn a_plain_createrole_owner_migrates_and_the_processes_connect() {
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use junction_store::{DbRole, Store, StoreOptions};

    const OWNER: &str = "junction_test_plain_owner";
    let db = TestDb::empty().await;
    let mut superuser = AsyncPgConnection::establish(db.url().expose())
        .await
        .unwrap();
    // Roles are the cluster's: made once; memberships an earlier run granted are
    // taken back, so the migration has to grant them again.
    diesel::sql_query(format!(
        "DO $$ BEGIN \
           CREATE ROLE {OWNER} LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD '{OWNER}'; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ))
    .execute(&mut superuser)
    .await
    .unwrap();
    diesel::sql_query(format!(
        "DO $$ BEGIN REVOKE junction_app, junction_system FROM {OWNER}; \
         EXCEPTION WHEN undefined_object THEN NULL; END $$"
    ))
    .execute(&mut superuser)
    .await
    .unwrap();
    diesel::sql_query(format!("ALTER DATABASE {} OWNER TO {OWNER}", db.name()))
        .execute(&mut superuser)
        .await
        .unwrap();
    // The same server and database, logged in as the plain owner.
    let url = db.url().expose();
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let owner_url =
        junction_store::DatabaseUrl::parse(format!("{scheme}://{OWNER}:{OWNER}@{host}")).unwrap();

    let applied = migrate::run_pending(&owner_url).await.unwrap();
    assert_eq!(applied.len(), migrate::embedded_versions().len());
    let app = Store::connect(&owner_url, StoreOptions::default())
        .await
        .expect("the app pool switches to junction_app");
    Store::connect(
        &owner_url,
        StoreOptions {
            role: DbRole::System,
            ..StoreOptions::default()
        },
    )
    .await
    .expect("the system pool switches to junction_system");
    let (workspace, _) = junction_testkit::create_workspace(&app, "plain owner").await;
    junction_testkit::create_integration(&app, workspace, "stripe").await;
}

/// Runs SQL as the schema owner: on a schema rolled back before the tenancy
/// migration, the owner is not filtered by row-level security and the system role
/// has no grants yet.
async fn as_owner(db: &TestDb, sql: &str) {
    let mut admin = db.admin().await;
    diesel::sql_query(sql)
        .execute(admin.conn())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The version of the migration that created the outbox.
const OUTBOX_MIGRATION: &str = "2026-12-05-000001";

/// A migration version's digits (diesel may write it with or without dashes).
fn digits(version: &str) -> String {
    version.chars().filter(char::is_ascii_digit).collect()
}

fn same_version(a: &str, b: &str) -> bool {
    digits(a) == digits(b)
}

/// Upgrading to the outbox: rows that waited for a job under the previous version
/// get one staged, in the shape junction-jobs reads.
#[tokio::test]
async fn the_outbox_migration_stages_a_job_for_every_row_still_waiting() {
    use diesel_migrations::MigrationHarness;
    let db = TestDb::new().await;
    let url = db.url().clone();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = diesel_async::async_connection_wrapper::AsyncConnectionWrapper::<
            diesel_async::AsyncPgConnection,
        >::establish(url.expose())
        .unwrap();
        // Back to the version before the outbox, whatever came after it.
        loop {
            let reverted = conn.revert_last_migration(migrate::MIGRATIONS).unwrap();
            if same_version(&reverted.to_string(), OUTBOX_MIGRATION) {
                break;
            }
        }
    })
    .await
    .unwrap();
    // Rows as that schema version had them: the models follow the newest schema, so
    // the rows are written in SQL.
    let (ws, id) = (
        uuid::Uuid::new_v4().to_string(),
        uuid::Uuid::new_v4().to_string(),
    );
    as_owner(
        &db,
        &format!("INSERT INTO workspaces (id, name) VALUES ('{ws}', 'Upgraded')"),
    )
    .await;
    as_owner(
        &db,
        &format!(
            "INSERT INTO integrations (id, workspace_id, provider, display_name, status, auth_kind) \
             VALUES ('{id}', '{ws}', 'stripe', 'Stripe', 'active', 'api_key')"
        ),
    )
    .await;
    as_owner(
        &db,
        &format!(
            "INSERT INTO sync_runs (workspace_id, integration_id, trigger, status) VALUES \
         ('{ws}', '{id}', 'manual', 'queued'), ('{ws}', '{id}', 'schedule', 'succeeded')"
        ),
    )
    .await;
    as_owner(&db, &format!(
        "INSERT INTO webhook_events (workspace_id, integration_id, provider, event_id, event_type, headers, body, status) VALUES \
         ('{ws}', '{id}', 'stripe', 'evt_1', 'charge.refunded', '{{}}', '\\x7b7d', 'received'), \
         ('{ws}', '{id}', 'stripe', 'evt_2', 'charge.refunded', '{{}}', '\\x7b7d', 'processed')"
    ))
    .await;
    as_owner(&db, &format!(
        "INSERT INTO action_runs (workspace_id, integration_id, action, mode, status, input, provider_idempotency_key) VALUES \
         ('{ws}', '{id}', 'create_customer', 'queued', 'queued', '{{\"email\": \"a@b.c\"}}', 'jct-run-1'), \
         ('{ws}', '{id}', 'create_customer', 'inline', 'succeeded', '{{}}', 'jct-run-2')"
    ))
    .await;
    as_owner(&db, &format!(
        "INSERT INTO notifications (workspace_id, kind, dedupe_key, recipients, subject, details, status) VALUES \
         ('{ws}', 'sync_failed', 'sync_failed:a', '{{ops@acme.example}}', 's', '{{}}', 'pending'), \
         ('{ws}', 'sync_failed', 'sync_failed:b', '{{ops@acme.example}}', 's', '{{}}', 'sent')"
    ))
    .await;

    let reapplied = migrate::run_pending(db.url()).await.unwrap();
    let later = migrate::embedded_versions()
        .iter()
        .filter(|version| digits(version) >= digits(OUTBOX_MIGRATION))
        .count();
    assert_eq!(reapplied.len(), later);
    assert_eq!(
        TestDb::count(&db, "SELECT count(*) AS n FROM outbox").await,
        4,
        "only rows still waiting"
    );
    for (queue, prefix, fields) in [
        (
            "sync",
            "sync-",
            "job ? 'run_id' AND job ? 'integration_id' AND job->>'stream' IS NULL",
        ),
        (
            "webhook",
            "webhook-",
            "job ? 'event_row_id' AND NOT job ? 'replay'",
        ),
        (
            "action",
            "action-",
            "job->>'idempotency_key' = 'jct-run-1' AND job->'input'->>'email' = 'a@b.c'",
        ),
        ("notify", "notify-", "job ? 'notification_id'"),
    ] {
        assert_eq!(
            TestDb::count(&db, &format!(
                "SELECT count(*) AS n FROM outbox WHERE queue = '{queue}' AND job->>'kind' = '{queue}' \
                 AND job_id LIKE '{prefix}%' AND job->>'workspace_id' = '{ws}' AND {fields}"
            ))
            .await,
            1,
            "{queue}"
        );
    }
}

#[derive(QueryableByName, Debug)]
struct Name {
    #[diesel(sql_type = sql_types::Text)]
    name: String,
}

#[tokio::test]
async fn every_tenant_table_has_rls_and_a_non_null_workspace() {
    let db = TestDb::new().await;
    let mut admin = db.admin().await;
    for table in TENANT_TABLES.iter().chain(&["workspaces"]) {
        let rls = count(
            admin.conn(),
            &format!(
                "SELECT count(*) AS n FROM pg_class WHERE relname = '{table}' AND relrowsecurity"
            ),
        )
        .await;
        assert_eq!(rls, 1, "{table} must have row-level security enabled");
        let forced = count(
            admin.conn(),
            &format!(
                "SELECT count(*) AS n FROM pg_class WHERE relname = '{table}' AND relforcerowsecurity"
            ),
        )
        .await;
        assert_eq!(
            forced, 1,
            "{table} must force row-level security on its owner"
        );
        let policies = count(
            admin.conn(),
            &format!(
                "SELECT count(*) AS n FROM pg_policies WHERE tablename = '{table}' AND \
                 ((policyname = 'tenant_isolation' AND roles = '{{public}}') OR \
                  (policyname = 'installation_access' AND roles = '{{junction_system}}'))"
            ),
        )
        .await;
        assert_eq!(
            policies, 2,
            "{table} must have its tenant policy and the system role's, nothing else"
        );
    }
    for table in TENANT_TABLES {
        let not_null = count(
            admin.conn(),
            &format!(
                "SELECT count(*) AS n FROM information_schema.columns WHERE table_name = '{table}' \
                 AND column_name = 'workspace_id' AND is_nullable = 'NO'"
            ),
        )
        .await;
        assert_eq!(not_null, 1, "{table}.workspace_id must be NOT NULL");
        let fks = count(
            admin.conn(),
            &format!(
                "SELECT count(*) AS n FROM information_schema.table_constraints WHERE table_name = '{table}' \
                 AND constraint_type = 'FOREIGN KEY'"
            ),
        )
        .await;
        assert!(fks >= 1, "{table} must reference its owner");
    }
}

#[tokio::test]
async fn upserts_are_backed_by_unique_constraints() {
    let db = TestDb::new().await;
    let mut admin = db.admin().await;
    let expected: &[(&str, &str)] = &[
        ("records", "integration_id,stream,external_id"),
        ("kpi_points", "integration_id,metric,date,dimension_key"),
        ("stream_states", "integration_id,stream"),
        ("credentials", "integration_id,field"),
        ("webhook_events", "integration_id,event_id"),
        ("dead_letters", "queue,job_id"),
        ("notifications", "workspace_id,dedupe_key"),
        ("idempotency_keys", "workspace_id,key"),
        ("api_keys", "key_hash"),
        ("oauth_states", "state_hash"),
    ];
    // The key columns only (`indnkeyatts` of them, positions counted from 0): an
    // index may INCLUDE more, which no conflict target names.
    for (table, columns) in expected {
        let rows: Vec<Name> = diesel::sql_query(format!(
            "SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey, a.attnum)) AS name \
             FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) \
             WHERE c.relname = '{table}' AND i.indisunique \
               AND array_position(i.indkey, a.attnum) < i.indnkeyatts \
             GROUP BY i.indexrelid"
        ))
        .load(admin.conn())
        .await
        .unwrap();
        assert!(
            rows.iter().any(|r| r.name == *columns),
            "{table} needs a unique index on ({columns}); has {rows:?}"
        );
    }
}

#[tokio::test]
async fn the_app_role_cannot_bypass_rls() {
    let db = TestDb::new().await;
    let mut conn = db.store().unscoped().await.unwrap();
    #[derive(QueryableByName)]
    struct Role {
        #[diesel(sql_type = sql_types::Text)]
        name: String,
        #[diesel(sql_type = sql_types::Bool)]
        bypass: bool,
        #[diesel(sql_type = sql_types::Bool)]
        superuser: bool,
    }
    let role: Role = diesel::sql_query(
        "SELECT current_user::text AS name, rolbypassrls AS bypass, rolsuper AS superuser \
         FROM pg_roles WHERE rolname = current_user",
    )
    .get_result(&mut *conn)
    .await
    .unwrap();
    assert_eq!(role.name, "junction_app");
    assert!(!role.bypass && !role.superuser);
}

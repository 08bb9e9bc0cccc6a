//! junction-testkit: what every Junction integration test needs.
//!
//! - [`TestDb`]: a fresh database per test, cloned from a template database that was
//!   migrated once (per migration set) — fast, isolated, and with the real schema,
//!   roles and row-level security.
//! - [`TestRedis`]: a random key prefix per test on the real Redis, cleaned up on drop.
//! - [`test_vault`] and fixtures that create workspaces and integrations.
//! - [`TcpCut`]: a TCP forwarder a test can cut and restore, to take a service away
//!   (Redis, a provider) and bring it back.
//! - [`ManualClock`]: a clock the test pins and advances.
//!
//! The server defaults to the local Postgres and Redis that `.ci/run` starts; override
//! with `JUNCTION_TEST_DATABASE_URL` (a maintenance database URL) and
//! `JUNCTION_TEST_REDIS_URL`.

mod clock;
mod cut;

use std::time::Duration;

use anyhow::{Context as _, Result};
use base64::{Engine, engine::general_purpose::STANDARD};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use junction_core::WorkspaceId;
use junction_store::{
    AdminStore, DatabaseUrl, DbRole, KeyRing, Store, StoreOptions, Vault,
    models::{AuthKind, Integration, IntegrationStatus, NewIntegration},
    repo,
};
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::SecretString;
use uuid::Uuid;

pub use clock::ManualClock;
pub use cut::{TcpCut, url_addr};

/// The maintenance database URL tests create their databases through.
pub fn server_url() -> DatabaseUrl {
    let raw = std::env::var("JUNCTION_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    DatabaseUrl::parse(raw).unwrap_or_else(|e| panic!("JUNCTION_TEST_DATABASE_URL: {e}"))
}

/// The Redis URL tests use.
pub fn redis_url() -> String {
    std::env::var("JUNCTION_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A fingerprint of the migrations directory, so a changed migration gets a new
/// template instead of a stale one.
fn migrations_fingerprint() -> Result<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut entries: Vec<_> = walk(&dir)?;
    entries.sort();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for path in entries {
        ctx.update(path.to_string_lossy().as_bytes());
        ctx.update(&std::fs::read(&path)?);
    }
    Ok(hex_prefix(ctx.finish().as_ref()))
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

fn walk(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

async fn maintenance_conn() -> Result<AsyncPgConnection> {
    AsyncPgConnection::establish(server_url().expose())
        .await
        .context("connecting to the test Postgres server (is it running? see .ci/run)")
}

async fn database_exists(conn: &mut AsyncPgConnection, name: &str) -> Result<bool> {
    use diesel::{prelude::*, sql_types::Text};
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: Row = diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(name)
        .get_result(conn)
        .await?;
    Ok(row.n > 0)
}

/// Creates (once, under an advisory lock, so parallel test processes agree) the
/// migrated template database and returns its name.
async fn ensure_template() -> Result<String> {
    let name = format!("junction_template_{}", migrations_fingerprint()?);
    let mut conn = maintenance_conn().await?;
    if database_exists(&mut conn, &name).await? {
        return Ok(name);
    }
    conn.batch_execute("SELECT pg_advisory_lock(727274)")
        .await?;
    let result = async {
        if !database_exists(&mut conn, &name).await? {
            let building = format!("{name}_building");
            conn.batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .await?;
            conn.batch_execute(&format!("CREATE DATABASE {building}"))
                .await?;
            junction_store::migrate::run_pending(&server_url().with_database(&building))
                .await
                .context("migrating the template database")?;
            conn.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                .await?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    conn.batch_execute("SELECT pg_advisory_unlock(727274)")
        .await?;
    result?;
    Ok(name)
}

/// A fresh, migrated database for one test, dropped when the value is dropped.
pub struct TestDb {
    name: String,
    url: DatabaseUrl,
    store: Store,
    system: Store,
    vault: std::sync::Arc<Vault>,
    key_spec: SecretString,
}

impl TestDb {
    /// Clones the template into a new database and connects the app pool to it.
    pub async fn new() -> Self {
        Self::try_new()
            .await
            .unwrap_or_else(|e| panic!("test database: {e:#}"))
    }

    /// An empty database without migrations (for migration and CLI tests). Its
    /// [`Self::store`] is not usable until it is migrated; use [`Self::url`].
    pub async fn empty() -> EmptyDb {
        let name = format!("junction_test_{}", Uuid::new_v4().simple());
        let mut conn = maintenance_conn().await.unwrap_or_else(|e| panic!("{e:#}"));
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating {name}: {e}"));
        EmptyDb {
            url: server_url().with_database(&name),
            name,
        }
    }

    async fn try_new() -> Result<Self> {
        let template = ensure_template().await?;
        let name = format!("junction_test_{}", Uuid::new_v4().simple());
        let mut conn = maintenance_conn().await?;
        // CREATE DATABASE ... TEMPLATE fails while another session is connected to the
        // template; the template is only touched while being built, so retry briefly.
        let mut attempt = 0;
        loop {
            match conn
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
            {
                Ok(()) => break,
                Err(_) if attempt < 20 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let url = server_url().with_database(&name);
        let store = Store::connect(
            &url,
            StoreOptions {
                max_connections: 8,
                ..StoreOptions::default()
            },
        )
        .await?;
        let system = Store::connect(
            &url,
            StoreOptions {
                max_connections: 2,
                role: DbRole::System,
                ..StoreOptions::default()
            },
        )
        .await?;
        let key_spec = random_key_spec("test");
        let vault = std::sync::Arc::new(Vault::new(KeyRing::parse(&key_spec)?));
        Ok(Self {
            name,
            url,
            store,
            system,
            vault,
            key_spec,
        })
    }

    /// The database's URL (as the schema owner).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The application pool (role `junction_app`, row-level security on).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The system pool (role `junction_system`): the worker's cross-tenant work
    /// (the outbox relay, the scheduler's claim, reconciliation) runs on it.
    pub fn system_store(&self) -> &Store {
        &self.system
    }

    /// A vault with a random key ring.
    pub fn vault(&self) -> &std::sync::Arc<Vault> {
        &self.vault
    }

    /// The `JUNCTION_KEYS` value of [`Self::vault`].
    pub fn key_spec(&self) -> &SecretString {
        &self.key_spec
    }

    /// A connection as the schema owner, for the schema itself: row-level security
    /// is forced, so the owner sees no tenant's rows.
    pub async fn admin(&self) -> AdminStore {
        AdminStore::connect(&self.url, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("admin connection: {e}"))
    }

    /// A connection as the operator works: the schema owner switched to the system
    /// role, which sees every workspace's rows.
    pub async fn operator(&self) -> AdminStore {
        AdminStore::connect_system(&self.url, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("system connection: {e}"))
    }

    /// A number from SQL run as the system role (every workspace's rows): the query
    /// returns one row with a `bigint` column `n`.
    pub async fn count(&self, sql: &str) -> i64 {
        use diesel::{QueryableByName, sql_types::BigInt};
        use diesel_async::RunQueryDsl;
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut admin = self.operator().await;
        diesel::sql_query(sql)
            .get_result::<Count>(admin.conn())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .n
    }

    /// Runs SQL as the schema owner (the schema itself: triggers, sessions; row-level
    /// security hides every tenant's rows from it); returns the rows it touched.
    pub async fn execute_as_owner(&self, sql: &str) -> usize {
        execute_on(self.admin().await, sql).await
    }

    /// Runs SQL as the system role; returns the rows it touched.
    pub async fn execute(&self, sql: &str) -> usize {
        execute_on(self.operator().await, sql).await
    }
}

/// Runs SQL on `connection`; returns the rows it touched (a failure fails the test,
/// naming the SQL).
async fn execute_on(mut connection: AdminStore, sql: &str) -> usize {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(sql)
        .execute(connection.conn())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// An unmigrated database, dropped with the value.
pub struct EmptyDb {
    name: String,
    url: DatabaseUrl,
}

impl EmptyDb {
    /// The database's URL (as the schema owner).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for EmptyDb {
    fn drop(&mut self) {
        drop_database(self.name.clone());
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(self.name.clone());
    }
}

fn drop_database(name: String) {
    {
        // Drop runs outside async; a short-lived thread with its own runtime removes
        // the database so test runs do not pile them up.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut conn) = maintenance_conn().await {
                    let _ = conn
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A `JUNCTION_KEYS` value with one random key under `id`.
pub fn random_key_spec(id: &str) -> SecretString {
    SecretString::from(format!("{id}:{}", random_key()))
}

/// A random 32-byte key in base64.
pub fn random_key() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .unwrap_or_else(|_| panic!("system random failed"));
    STANDARD.encode(bytes)
}

/// A vault with a fresh random key.
pub fn test_vault() -> Vault {
    Vault::new(KeyRing::parse(&random_key_spec("test")).unwrap_or_else(|e| panic!("{e}")))
}

/// A random Redis key prefix on the real Redis; its keys are deleted on drop.
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    /// Checks Redis answers and picks a prefix.
    pub async fn new() -> Self {
        let url = redis_url();
        let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("redis url: {e}"));
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| {
                panic!("connecting to the test Redis (is it running? see .ci/run): {e}")
            });
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("redis ping: {e}"));
        Self {
            url,
            prefix: format!("junction-test:{}:", Uuid::new_v4().simple()),
        }
    }

    /// The Redis URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key prefix of this test (ends with `:`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under this test's prefix, as a Redis restarted without
    /// persistence (or a `FLUSHALL`) would lose them — other tests' keys stay.
    /// Returns how many keys were deleted.
    pub async fn forget_all(&self) -> usize {
        let client = redis::Client::open(self.url.as_str()).unwrap_or_else(|e| panic!("{e}"));
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("redis: {e}"));
        let pattern = format!("{}*", self.prefix);
        let mut cursor = 0u64;
        let mut deleted = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("redis scan: {e}"));
            if !keys.is_empty() {
                let gone: usize = redis::cmd("DEL")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("redis del: {e}"));
                deleted += gone;
            }
            if next == 0 {
                return deleted;
            }
            cursor = next;
        }
    }
}

impl TestRedis {
    /// Makes every task of this test's queues that waits for a later time (a retry
    /// in backoff, in junction-jobs' `{prefix}jobs:{queue}:delayed` sets) due now,
    /// as if the clock had reached its time; a running worker takes it at its next
    /// poll. Returns how many tasks it moved. Tests of retry schedules use it instead
    /// of sleeping through them.
    pub async fn make_delayed_due(&self) -> usize {
        let client = redis::Client::open(self.url.as_str()).unwrap_or_else(|e| panic!("{e}"));
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("redis: {e}"));
        let sets: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}jobs:*:delayed", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("redis keys: {e}"));
        let mut moved = 0;
        for set in sets {
            let members: Vec<String> = redis::cmd("ZRANGE")
                .arg(&set)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("redis zrange: {e}"));
            for member in members {
                let _: i64 = redis::cmd("ZADD")
                    .arg(&set)
                    .arg("XX")
                    .arg(0)
                    .arg(&member)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_else(|e| panic!("redis zadd: {e}"));
                moved += 1;
            }
        }
        moved
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let url = self.url.clone();
        let pattern = format!("{}*", self.prefix);
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(mut conn) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        })
        .join();
    }
}

/// Creates a workspace (and its first API key); returns both.
pub async fn create_workspace(store: &Store, name: &str) -> (WorkspaceId, SecretString) {
    let id = WorkspaceId::new();
    let mut tx = store.begin(id).await.unwrap_or_else(|e| panic!("{e}"));
    repo::workspaces::create(tx.conn(), id, name)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, key) = repo::api_keys::create(tx.conn(), id, "default")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    (id, key)
}

/// Creates an active API-key integration of `provider` in a workspace.
pub async fn create_integration(
    store: &Store,
    workspace_id: WorkspaceId,
    provider: &str,
) -> Integration {
    let mut tx = store
        .begin(workspace_id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let integration = repo::integrations::insert(
        tx.conn(),
        &NewIntegration {
            id: Uuid::new_v4(),
            workspace_id: workspace_id.as_uuid(),
            provider: provider.to_owned(),
            display_name: format!("{provider} test"),
            status: IntegrationStatus::Active,
            auth_kind: AuthKind::ApiKey,
            config: serde_json::json!({}),
            scopes: vec![],
            token_expires_at: None,
            schedule_seconds: 3600,
            next_sync_at: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    tx.commit().await.unwrap_or_else(|e| panic!("{e}"));
    integration
}

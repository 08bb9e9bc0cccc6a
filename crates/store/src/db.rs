//! Connections: the tenant-scoped application pool ([`Store`]) and the owner's
//! connection for operator commands ([`AdminStore`]).

use std::{fmt, time::Duration};

use deadpool::{
    Runtime,
    managed::{Hook, HookError, HookFuture, Metrics, Object},
};
use diesel::ConnectionError;
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, SimpleAsyncConnection,
    TransactionManager,
    pooled_connection::{
        AsyncDieselConnectionManager, ManagerConfig, PoolError, RecyclingMethod, deadpool::Pool,
    },
};
use futures::FutureExt;
use junction_core::WorkspaceId;
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};

use crate::error::StoreError;

/// The role application connections work as: no BYPASSRLS, not the table owner, so
/// row-level security applies to everything it reads and writes.
pub const APP_ROLE: &str = "junction_app";

/// The role of the installation's cross-tenant work (the worker's scheduler, outbox
/// relay and reconciliation; the operator's commands): row-level security lets it
/// through every table, and it alone may call the cross-tenant functions the API
/// has no use for. The API never switches to it.
pub const SYSTEM_ROLE: &str = "junction_system";

/// Which role a pool's connections work as.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DbRole {
    /// [`APP_ROLE`]: one workspace at a time.
    #[default]
    App,
    /// [`SYSTEM_ROLE`]: the installation.
    System,
}

impl DbRole {
    fn name(self) -> &'static str {
        match self {
            DbRole::App => APP_ROLE,
            DbRole::System => SYSTEM_ROLE,
        }
    }
}

/// A Postgres connection URL. It may hold a password, so it is a secret: Debug and
/// errors show at most the host.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// Accepts well-formed `postgres://` and `postgresql://` URLs, one host or a
    /// comma-separated list of them. The error says what is wrong (after
    /// `DATABASE_URL`) and never quotes any part of the value: a malformed URL is
    /// often one whose password broke it.
    ///
    /// Refused besides what the URL grammar refuses: spaces and control
    /// characters, an unencoded `@`, `/`, `?` or `#` in the user name or password
    /// (the URL would parse, but with part of the password read as a host, a
    /// database or a query), and percent-encoding that is not UTF-8.
    pub fn parse(value: impl Into<String>) -> Result<Self, String> {
        let value: String = value.into();
        let url = value.trim();
        let Some(rest) = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        else {
            return Err("DATABASE_URL must be a postgres:// or postgresql:// URL".into());
        };
        let malformed = |why: &str| format!("DATABASE_URL is malformed: {why}");
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(malformed(
                "it contains spaces or control characters (percent-encode them)",
            ));
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        if tail.contains('@') || authority.matches('@').count() > 1 {
            return Err(malformed(
                "percent-encode `@`, `/`, `?` and `#` in the user name and password",
            ));
        }
        let (credentials, hosts) = match authority.split_once('@') {
            Some((credentials, hosts)) => (Some(credentials), hosts),
            None => (None, authority),
        };
        // The driver takes a comma-separated host list; the URL grammar one host:
        // each host is checked as the URL it would be alone.
        for host in hosts.split(',') {
            let single = match credentials {
                Some(credentials) => format!("postgres://{credentials}@{host}{tail}"),
                None => format!("postgres://{host}{tail}"),
            };
            let parsed = url::Url::parse(&single).map_err(|error| malformed(&error.to_string()))?;
            let decodes = |text: &str| percent_decode_str(text).decode_utf8().is_ok();
            let utf8 = decodes(parsed.username())
                && parsed.password().is_none_or(decodes)
                && parsed.host_str().is_none_or(decodes)
                && decodes(parsed.path())
                && parsed.query().is_none_or(|query| {
                    query.split('&').all(|pair| {
                        pair.split_once('=').is_some_and(|(key, value)| {
                            !key.is_empty() && decodes(key) && decodes(value)
                        })
                    })
                });
            if !utf8 {
                return Err(malformed(
                    "a part is not valid percent-encoded UTF-8, or a query parameter is not `key=value`",
                ));
            }
        }
        Ok(Self(SecretString::from(url.to_owned())))
    }

    /// The URL, for the driver only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL without credentials or query, for messages: `postgres://host:port/db`
    /// (the hosts as given, which [`Self::parse`] made sure hold no part of the
    /// password).
    pub fn redacted(&self) -> String {
        let url = self.expose();
        let Some((scheme, rest)) = url.split_once("://") else {
            return "postgres://?".into();
        };
        let end = rest.find(['?', '#']).unwrap_or(rest.len());
        let rest = &rest[..end];
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{rest}")
    }

    /// The same server with another database name (tests create databases).
    pub fn with_database(&self, database: &str) -> Self {
        let url = self.expose();
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        // The database is the path after the authority: scheme://authority/database.
        let authority_end = base
            .find("://")
            .map(|i| i + 3)
            .and_then(|start| base[start..].find('/').map(|slash| start + slash))
            .unwrap_or(base.len());
        let mut rebuilt = format!("{}/{database}", &base[..authority_end]);
        if let Some(query) = query {
            rebuilt.push('?');
            rebuilt.push_str(query);
        }
        Self(SecretString::from(rebuilt))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: usize,
    /// How long opening a connection may take (TCP, authentication, the role
    /// switch), and checking an idle one before it is handed out again.
    pub connect_timeout: Duration,
    /// The longest a caller waits for a usable connection in all: for a free slot
    /// when every connection is busy, for idle connections to be checked (each
    /// stale one is dropped) and for a new one to open. An outage answers within it.
    pub pool_timeout: Duration,
    /// Postgres's `statement_timeout` for every statement on these connections: a
    /// statement that runs (or waits for a lock) longer is cancelled. `None` leaves
    /// the server's setting.
    pub statement_timeout: Option<Duration>,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
    /// The role the connections switch to.
    pub role: DbRole,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            pool_timeout: Duration::from_secs(5),
            statement_timeout: None,
            application_name: "junction".into(),
            role: DbRole::App,
        }
    }
}

async fn establish(url: &str, timeout: Duration) -> Result<AsyncPgConnection, ConnectionError> {
    match tokio::time::timeout(timeout, AsyncPgConnection::establish(url)).await {
        // The driver's error drops its cause ("connection refused"): ask once more
        // for the whole story.
        Ok(Err(_)) => Err(ConnectionError::BadConnection(
            connect_failure_reason(url, timeout).await,
        )),
        Ok(result) => result,
        Err(_) => Err(ConnectionError::BadConnection(format!(
            "timed out after {}s connecting to Postgres",
            timeout.as_secs()
        ))),
    }
}

/// Why a connection fails, with the cause chain the driver's message leaves out
/// ("connection refused", "password authentication failed"). Only called after a
/// failure; the URL never appears in it.
async fn connect_failure_reason(url: &str, timeout: Duration) -> String {
    let attempt =
        tokio::time::timeout(timeout, tokio_postgres::connect(url, tokio_postgres::NoTls)).await;
    match attempt {
        Ok(Err(err)) => {
            let mut reason = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                reason.push_str(": ");
                reason.push_str(&cause.to_string());
                source = cause.source();
            }
            reason
        }
        Ok(Ok(_)) => "the connection failed, then succeeded on a second try".into(),
        Err(_) => format!("timed out after {}s", timeout.as_secs()),
    }
}

/// The application's pool. Every connection has switched to [`APP_ROLE`]; work on
/// tenant tables happens in a [`WorkspaceTx`].
#[derive(Clone)]
pub struct Store {
    pool: Pool<AsyncPgConnection>,
    pool_timeout: Duration,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("status", &self.pool.status())
            .finish()
    }
}

/// A pooled connection working as [`APP_ROLE`].
pub type PooledConn = Object<AsyncDieselConnectionManager<AsyncPgConnection>>;

impl Store {
    /// Builds the pool and takes one connection, so a database that is down or a
    /// schema owner that cannot switch to the app role is reported at start-up.
    pub async fn connect(url: &DatabaseUrl, options: StoreOptions) -> Result<Self, StoreError> {
        let timeout = options.connect_timeout;
        let mut setup_sql = format!(
            "SET ROLE {}; SET application_name = '{}'",
            options.role.name(),
            options.application_name.replace('\'', "")
        );
        if let Some(limit) = options.statement_timeout {
            // Milliseconds, at least 1: 0 would mean no limit to Postgres.
            let millis = limit.as_millis().clamp(1, i32::MAX as u128);
            setup_sql.push_str(&format!("; SET statement_timeout = {millis}"));
        }
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
        // A connection whose socket closed (a Postgres restart, a terminated
        // backend) or whose transaction broke is dropped on every checkout (the
        // manager's own check, no round trip); one idle for longer than
        // IDLE_BEFORE_CHECK is also asked a query first (`verify_if_idle`), so a
        // connection cut without a word is dropped there and the request gets a
        // fresh one instead of an error. A connection handed back a moment ago is
        // not asked again: under load that query was one round trip in three of a
        // small read.
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| {
            let setup_sql = setup_sql.clone();
            let url = url.to_owned();
            async move {
                let mut conn = establish(&url, timeout).await?;
                conn.batch_execute(&setup_sql)
                    .await
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            }
            .boxed()
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            url.expose(),
            config,
        );
        let pool = Pool::builder(manager)
            .pre_recycle(Hook::async_fn(verify_if_idle))
            .max_size(options.max_connections)
            .wait_timeout(Some(options.pool_timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self {
            pool,
            pool_timeout: options.pool_timeout,
        };
        store.ping().await?;
        Ok(store)
    }

    /// A connection from the pool within the pool timeout. deadpool bounds each step
    /// (the wait for a slot, each idle connection's check, opening one) but not
    /// their sum, and against a Postgres that stopped answering every idle
    /// connection's check would take the whole connect timeout in turn.
    async fn connection(&self) -> Result<PooledConn, StoreError> {
        match tokio::time::timeout(self.pool_timeout, self.pool.get()).await {
            Ok(conn) => Ok(conn?),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no database connection within {} ms",
                self.pool_timeout.as_millis()
            ))),
        }
    }

    /// Checks that a connection can be had and answers (a round trip).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        conn.batch_execute("SELECT 1").await?;
        Ok(())
    }

    /// A connection outside any workspace. Tenant tables show nothing through it; it
    /// is for the cross-tenant SQL functions (authentication, the scheduler's claim).
    pub async fn unscoped(&self) -> Result<PooledConn, StoreError> {
        self.connection().await
    }

    /// Opens a transaction scoped to one workspace: row-level security shows and
    /// accepts only that workspace's rows until it commits or rolls back.
    pub async fn begin(&self, workspace_id: WorkspaceId) -> Result<WorkspaceTx, StoreError> {
        let conn = self.connection().await?;
        Self::begin_on(conn, workspace_id).await
    }

    /// [`Store::begin`] on a connection already taken with [`Store::unscoped`] (after
    /// a cross-tenant lookup found the workspace): one pool checkout instead of two.
    pub async fn begin_on(
        mut conn: PooledConn,
        workspace_id: WorkspaceId,
    ) -> Result<WorkspaceTx, StoreError> {
        // BEGIN and the workspace setting in one round trip (one simple-protocol
        // batch, which takes no bind parameters): the id is written by `Uuid`'s own
        // formatting, hex digits and dashes, so it cannot carry SQL.
        let begin = format!(
            "BEGIN; SELECT set_config('app.workspace_id', '{}', true)",
            workspace_id.as_uuid().hyphenated()
        );
        AnsiTransactionManager::begin_transaction_sql(&mut *conn, &begin).await?;
        Ok(WorkspaceTx { conn, workspace_id })
    }

    /// Pool statistics (for metrics and `/readyz`).
    pub fn status(&self) -> deadpool::Status {
        self.pool.status()
    }
}

/// A transaction scoped to one workspace. Commit it to keep its work; dropping it
/// uncommitted throws the connection away, and Postgres rolls the work back.
pub struct WorkspaceTx {
    conn: PooledConn,
    workspace_id: WorkspaceId,
}

impl fmt::Debug for WorkspaceTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkspaceTx")
            .field("workspace_id", &self.workspace_id)
            .finish()
    }
}

impl WorkspaceTx {
    /// The workspace this transaction is scoped to.
    pub fn workspace_id(&self) -> WorkspaceId {
        self.workspace_id
    }

    /// The connection, for repository calls.
    pub fn conn(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }

    /// Commits the work.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        AnsiTransactionManager::commit_transaction(&mut *self.conn).await?;
        Ok(())
    }

    /// Rolls the work back.
    pub async fn rollback(mut self) -> Result<(), StoreError> {
        AnsiTransactionManager::rollback_transaction(&mut *self.conn).await?;
        Ok(())
    }
}

/// How long a pooled connection may sit idle before it is checked with a query on
/// its next checkout.
const IDLE_BEFORE_CHECK: Duration = Duration::from_secs(2);

/// The pool's check of a connection it is about to hand out again: a `SELECT 1`
/// when the connection has been idle for [`IDLE_BEFORE_CHECK`]; a connection that
/// fails it is dropped and the pool takes or opens another.
fn verify_if_idle<'a>(
    conn: &'a mut AsyncPgConnection,
    metrics: &'a Metrics,
) -> HookFuture<'a, PoolError> {
    Box::pin(async move {
        if metrics.last_used() < IDLE_BEFORE_CHECK {
            return Ok(());
        }
        conn.batch_execute("SELECT 1")
            .await
            .map_err(|error| HookError::Backend(PoolError::QueryError(error)))
    })
}

/// The schema owner's connection, for operator commands that span workspaces
/// (migrations, key rotation, listing workspaces). Never used to serve requests.
pub struct AdminStore {
    conn: AsyncPgConnection,
}

impl fmt::Debug for AdminStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminStore")
    }
}

impl AdminStore {
    /// Connects as the URL's own role (the schema owner). Row-level security is
    /// forced on the tenant tables, so the owner itself sees none of their rows:
    /// this connection is for the schema (migrations, catalog checks); the
    /// operator's work on rows goes through [`Self::connect_system`].
    pub async fn connect(url: &DatabaseUrl, timeout: Duration) -> Result<Self, StoreError> {
        let conn = establish(url.expose(), timeout).await?;
        Ok(Self { conn })
    }

    /// Connects as the schema owner and switches to [`SYSTEM_ROLE`], for the
    /// operator's work across workspaces (listing workspaces, re-sealing every
    /// credential, operator keys).
    pub async fn connect_system(url: &DatabaseUrl, timeout: Duration) -> Result<Self, StoreError> {
        let mut conn = establish(url.expose(), timeout).await?;
        conn.batch_execute(&format!("SET ROLE {SYSTEM_ROLE}"))
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot switch to {SYSTEM_ROLE}: {e}")))?;
        Ok(Self { conn })
    }

    /// The connection.
    pub fn conn(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_swaps_the_database_and_hides_itself() {
        let url = DatabaseUrl::parse("postgres://user:pw@localhost:5432/junction?sslmode=disable")
            .unwrap();
        assert_eq!(
            url.with_database("test_1").expose(),
            "postgres://user:pw@localhost:5432/test_1?sslmode=disable"
        );
        let bare = DatabaseUrl::parse("postgresql://localhost").unwrap();
        assert_eq!(bare.with_database("x").expose(), "postgresql://localhost/x");
        assert!(!format!("{url:?}").contains("pw"));
        assert_eq!(url.redacted(), "postgres://localhost:5432/junction");
        assert!(DatabaseUrl::parse("mysql://x").is_err());
    }

    #[test]
    fn database_urls_the_driver_takes_are_accepted() {
        for good in [
            "postgres://localhost",
            "postgresql://user:p%40ss%2Fw%3Frd@db.internal:6432/junction?sslmode=require",
            "postgres://user@h1:5432,h2:5433/junction",
            "postgres://%2Fvar%2Frun%2Fpostgresql/junction",
            "postgres:///junction?host=/var/run/postgresql",
            "postgres://user:pw@[::1]:5432/junction",
        ] {
            assert!(DatabaseUrl::parse(good).is_ok(), "{good}");
        }
    }

    /// A malformed URL is refused with a message that names what is wrong and never
    /// any part of the value (which is, as often as not, a broken password).
    #[test]
    fn malformed_database_urls_are_refused_without_quoting_them() {
        for bad in [
            "mysql://user:hunter2@db/x",
            "postgres//user:hunter2@db/x",
            "postgres://user:hunter2?x@db/x",
            "postgres://user:hunter2/x@db/x",
            "postgres://user:hunter2#x@db/x",
            "postgres://user:hun@ter2@db/x",
            "postgres://user:hunter2@db:99999/x",
            "postgres://user:hunter2@db:port/x",
            "postgres://user:hunter2@[bad/x",
            "postgres://user:hunter2 @db/x",
            "postgres://user:hunter2%ff@db/x",
            "postgres://user:hunter2@db/x?sslmode",
            "postgres://user:hunter2\u{7}@db/x",
        ] {
            let error = DatabaseUrl::parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(error.starts_with("DATABASE_URL "), "{error}");
            assert!(
                !error.contains("hunter2") && !error.contains("db/"),
                "{error}"
            );
        }
    }
}

//! Connections: the tenant-scoped application pool ([`Store`]) and the owner's
//! connection for operator commands ([`AdminStore`]).

use std::{fmt, time::Duration};

use deadpool::{Runtime, managed::Object};
use diesel::{ConnectionError, sql_query, sql_types};
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    TransactionManager,
    pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, deadpool::Pool},
};
use futures::FutureExt;
use junction_core::WorkspaceId;
use secrecy::{ExposeSecret, SecretString};

use crate::error::StoreError;

/// The role application connections work as: no BYPASSRLS, not the table owner, so
/// row-level security applies to everything it reads and writes.
pub const APP_ROLE: &str = "junction_app";

/// A Postgres connection URL. It may hold a password, so it is a secret: Debug and
/// errors show at most the host.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    /// Accepts `postgres://` and `postgresql://` URLs.
    pub fn parse(value: impl Into<String>) -> Result<Self, String> {
        let value: String = value.into();
        let trimmed = value.trim();
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            Ok(Self(SecretString::from(trimmed.to_owned())))
        } else {
            Err("DATABASE_URL must be a postgres:// or postgresql:// URL".into())
        }
    }

    /// The URL, for the driver only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The URL without credentials or query, for messages: `postgres://host:port/db`.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        let Some((scheme, rest)) = url.split_once("://") else {
            return "postgres://?".into();
        };
        let rest = rest.split('?').next().unwrap_or_default();
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
    /// How long to wait for a connection (from the server or from the pool).
    pub connect_timeout: Duration,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            application_name: "junction".into(),
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
        let setup_sql = format!(
            "SET ROLE {APP_ROLE}; SET application_name = '{}'",
            options.application_name.replace('\'', "")
        );
        let mut config = ManagerConfig::<AsyncPgConnection>::default();
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
            .max_size(options.max_connections)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let store = Self { pool };
        store.ping().await?;
        Ok(store)
    }

    /// Checks that a connection can be had and answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        conn.batch_execute("SELECT 1").await?;
        Ok(())
    }

    /// A connection outside any workspace. Tenant tables show nothing through it; it
    /// is for the cross-tenant SQL functions (authentication, the scheduler's claim).
    pub async fn unscoped(&self) -> Result<PooledConn, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Opens a transaction scoped to one workspace: row-level security shows and
    /// accepts only that workspace's rows until it commits or rolls back.
    pub async fn begin(&self, workspace_id: WorkspaceId) -> Result<WorkspaceTx, StoreError> {
        let mut conn = self.pool.get().await?;
        AnsiTransactionManager::begin_transaction(&mut *conn).await?;
        sql_query("SELECT set_config('app.workspace_id', $1, true)")
            .bind::<sql_types::Text, _>(workspace_id.to_string())
            .execute(&mut *conn)
            .await?;
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
    /// Connects as the URL's own role (the schema owner).
    pub async fn connect(url: &DatabaseUrl, timeout: Duration) -> Result<Self, StoreError> {
        let conn = establish(url.expose(), timeout).await?;
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
}

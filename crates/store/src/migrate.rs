//! Embedded migrations (from the workspace's `migrations/`), applied and reverted
//! through a blocking diesel connection on a blocking thread.

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::{AsyncPgConnection, async_connection_wrapper::AsyncConnectionWrapper};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::{db::DatabaseUrl, error::StoreError};

/// Every migration, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

type BlockingConn = AsyncConnectionWrapper<AsyncPgConnection>;

async fn with_blocking_conn<T, F>(url: &DatabaseUrl, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut BlockingConn) -> Result<T, StoreError> + Send + 'static,
{
    use diesel::Connection;
    let url = url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = BlockingConn::establish(url.expose())?;
        work(&mut conn)
    })
    .await
    .map_err(|e| StoreError::Migration(format!("migration task failed: {e}")))?
}

/// Applies every pending migration; returns the versions applied.
pub async fn run_pending(url: &DatabaseUrl) -> Result<Vec<String>, StoreError> {
    with_blocking_conn(url, |conn| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect())
            .map_err(|e| StoreError::Migration(e.to_string()))
    })
    .await
}

/// Reverts every applied migration; returns the versions reverted.
pub async fn revert_all(url: &DatabaseUrl) -> Result<Vec<String>, StoreError> {
    with_blocking_conn(url, |conn| {
        conn.revert_all_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect())
            .map_err(|e| StoreError::Migration(e.to_string()))
    })
    .await
}

/// The versions of the embedded migrations not yet applied.
pub async fn pending(url: &DatabaseUrl) -> Result<Vec<String>, StoreError> {
    with_blocking_conn(url, |conn| {
        conn.pending_migrations(MIGRATIONS)
            .map(|list| {
                list.iter()
                    .map(|m| m.name().version().to_string())
                    .collect()
            })
            .map_err(|e| StoreError::Migration(e.to_string()))
    })
    .await
}

/// How many migrations are embedded (a fingerprint for the test template database).
pub fn embedded_versions() -> Vec<String> {
    MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map(|list| {
            list.iter()
                .map(|m| m.name().version().to_string())
                .collect()
        })
        .unwrap_or_default()
}

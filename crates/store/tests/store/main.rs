//! Integration tests of junction-store against a real Postgres (one binary per
//! crate: every module below links into this one test executable).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod key_checks;
mod migrations;
mod passes;
mod repositories;
mod tenancy;
mod timeouts;
mod vault;
mod writes;

use diesel::{QueryableByName, sql_types};
use diesel_async::RunQueryDsl;

/// Asserts that a write was refused by a row-level security policy (Postgres's
/// message, or the driver's when it only says the database refused).
pub fn assert_refused_by_row_security(err: &junction_store::StoreError) {
    assert!(
        err.to_string().contains("row-level security")
            || err.to_string().contains("database error"),
        "{err}"
    );
}

/// Every tenant-owned table (everything but `workspaces`, which is filtered on id).
pub const TENANT_TABLES: &[&str] = &[
    "api_keys",
    "integrations",
    "credentials",
    "oauth_states",
    "sync_runs",
    "stream_states",
    "records",
    "kpi_points",
    "webhook_events",
    "dead_letters",
    "integration_logs",
    "idempotency_keys",
    "alert_rules",
    "notifications",
    "email_suppressions",
    "action_runs",
    "outbox",
    "webhook_endpoints",
    "webhook_endpoint_secrets",
    "outbound_events",
    "outbound_deliveries",
    "outbound_attempts",
    "notification_settings",
    "weekly_report_settings",
    "dashboard_sessions",
    "dashboard_sign_in_links",
];

#[derive(QueryableByName, Debug)]
pub struct Count {
    #[diesel(sql_type = sql_types::BigInt)]
    pub n: i64,
}

/// Runs a `SELECT count(*) AS n ...`.
pub async fn count(conn: &mut diesel_async::AsyncPgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

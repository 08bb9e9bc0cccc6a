//! Repositories: one module of queries per table. Every function takes the
//! connection of a [`crate::WorkspaceTx`] (row-level security scopes it to one
//! workspace) unless its documentation says it is one of the cross-tenant paths.

pub mod action_runs;
pub mod alerts;
pub mod api_keys;
pub mod connect_sessions;
pub mod credentials;
pub mod cross_posts;
pub mod dashboard_sessions;
pub mod dashboard_sign_in_links;
pub mod dead_letters;
pub mod email_suppressions;
pub mod idempotency;
pub mod integrations;
pub mod job_figures;
pub mod key_checks;
pub mod kpis;
pub mod logs;
pub mod notification_settings;
pub mod notifications;
pub mod oauth_states;
pub mod operator_keys;
pub mod outbound_attempts;
pub mod outbound_deliveries;
pub mod outbound_events;
pub mod outbox;
pub mod reconcile;
pub mod records;
pub mod stream_states;
pub mod sync_runs;
pub mod webhook_endpoint_secrets;
pub mod webhook_endpoints;
pub mod webhook_events;
pub mod weekly_report_settings;
pub mod workspaces;

/// The most rows a list call returns, whatever the caller asks.
pub const MAX_PAGE: i64 = 500;

/// Clamps a requested page size into 1..=MAX_PAGE.
pub fn clamp_limit(limit: i64) -> i64 {
    limit.clamp(1, MAX_PAGE)
}

/// SHA-256 of some bytes (API keys, OAuth states, dashboard sessions and sign-in
/// links, idempotent request fingerprints, record contents).
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

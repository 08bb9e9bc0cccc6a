//! Shared fixtures: connections holding the credentials a test gives them, and
//! contexts pointed at a wiremock server with a pinned clock.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{Connection, Context, FixedClock, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

/// A connection with the API key `key`, the sandbox's sender and a 30-day lookback.
pub fn connection(key: &str) -> Connection {
    with(
        json!({"lookback_days": 30, "from": "Junction <alerts@junction-demo.dev>"}),
        key,
    )
}

/// A connection with `config` and the key `key`.
pub fn with(config: Value, key: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: [("api_key".to_owned(), SecretString::from(key.to_owned()))].into(),
        access_token: None,
        token_expires_at: None,
    }
}

/// A connection with a made-up key (wiremock takes any).
pub fn any() -> Connection {
    connection("SG.test.key")
}

/// 2026-03-31 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap()
}

/// A context pointed at `server` under `/sendgrid/`, at [`now`].
pub fn context(server: &MockServer) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/sendgrid/", server.uri()).parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

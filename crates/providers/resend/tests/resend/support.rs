//! Shared fixtures: a pinned clock, a context pointed at a mock server under the
//! sandbox-style `/resend` prefix, connections, and list bodies in Resend's shape.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{Connection, Context, FixedClock, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

/// The API key the tests present.
pub const API_KEY: &str = "re_123456789_TestKeyForWiremock";

/// The tests' "now": 2026-03-15 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

/// A context whose base URL is the mock server under `/resend`, with the pinned clock.
pub fn context(server: &MockServer) -> Context {
    context_with_base(&format!("{}/resend", server.uri()))
}

/// A context with the given base URL and the pinned clock.
pub fn context_with_base(base: &str) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(base.parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

/// A connection with [`API_KEY`] and the given config.
pub fn connection(config: Value) -> Connection {
    connection_with_key(API_KEY, config)
}

/// A connection with the given key and config.
pub fn connection_with_key(key: &str, config: Value) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: [("api_key".to_owned(), SecretString::from(key.to_owned()))].into(),
        access_token: None,
        token_expires_at: None,
    }
}

/// A list response: `{"object": "list", "has_more", "data"}`.
pub fn list(has_more: bool, data: Vec<Value>) -> Value {
    json!({"object": "list", "has_more": has_more, "data": data})
}

/// An email list item as `GET /emails` returns it, created `hours_ago` before [`now`].
pub fn email_item(id: &str, hours_ago: i64, last_event: &str) -> Value {
    let created = now() - chrono::Duration::hours(hours_ago);
    json!({
        "id": id,
        "to": ["delivered@resend.dev"],
        "from": "Acme <onboarding@resend.dev>",
        "created_at": created.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string(),
        "subject": "Hello World",
        "bcc": null,
        "cc": null,
        "reply_to": null,
        "last_event": last_event,
        "scheduled_at": null
    })
}

/// A domain list item as `GET /domains` returns it.
pub fn domain_item(id: &str, name: &str, status: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "status": status,
        "created_at": "2023-04-26 20:21:26.347412+00",
        "region": "us-east-1",
        "capabilities": {"sending": "enabled", "receiving": "disabled"}
    })
}

/// Resend's error body.
pub fn resend_error(status: u16, name: &str, message: &str) -> Value {
    json!({"statusCode": status, "message": message, "name": name})
}

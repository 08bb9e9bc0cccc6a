//! Shared fixtures: a pinned clock, a context pointed at a mock server under the
//! sandbox-style `/kit` prefix, connections with an API key, and Kit v4's list and
//! error shapes.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{
    Adapter, AdapterError, Connection, Context, FixedClock, IntegrationId, Page, ReadRequest,
    WorkspaceId,
};
use junction_kit::Kit;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

/// The API key the tests present.
pub const KEY: &str = "kit_test_9c1f0e7d2b";

/// The tests' "now": 2026-03-15 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

/// A context whose base URL is the mock server under `/kit`, with the pinned clock.
pub fn context(server: &MockServer) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/kit", server.uri()).parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

/// A connection with [`KEY`] and the given config.
pub fn connection(config: Value) -> Connection {
    connection_with_key(KEY, config)
}

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

/// The access token the tests' OAuth connections hold.
pub const TOKEN: &str = "kit_oauth_access_7f3e";

/// An OAuth connection: no secrets, only the access token Junction keeps fresh.
pub fn oauth_connection(token: Option<&str>, config: Value) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: Default::default(),
        access_token: token.map(|t| SecretString::from(t.to_owned())),
        token_expires_at: None,
    }
}

/// Reads one page of `stream`.
pub async fn read(
    ctx: &Context,
    conn: &Connection,
    stream: &str,
    cursor: Option<Value>,
    page_size: Option<u32>,
) -> Result<Page, AdapterError> {
    Kit::api_key()
        .read(
            ctx,
            conn,
            &ReadRequest {
                stream: stream.into(),
                cursor,
                page_size,
            },
        )
        .await
}

/// Runs an action.
pub async fn act(
    ctx: &Context,
    conn: &Connection,
    action: &str,
    input: Value,
    idempotency_key: Option<&str>,
) -> Result<junction_core::ActionOutcome, AdapterError> {
    Kit::api_key()
        .act(ctx, conn, action, &input, idempotency_key)
        .await
}

/// Kit's `pagination` object.
pub fn pagination(has_next_page: bool, end_cursor: Option<&str>) -> Value {
    json!({
        "has_previous_page": false,
        "has_next_page": has_next_page,
        "start_cursor": end_cursor,
        "end_cursor": end_cursor,
        "per_page": 500
    })
}

/// A subscriber as Kit lists it.
pub fn subscriber(id: i64, state: &str) -> Value {
    json!({
        "id": id,
        "first_name": "Alice",
        "email_address": format!("alice{id}@convertkit.dev"),
        "state": state,
        "created_at": "2023-02-17T11:43:55Z",
        "fields": {"category": "One"}
    })
}

/// Kit's error body.
pub fn kit_errors(messages: &[&str]) -> Value {
    json!({ "errors": messages })
}

/// The account, as `GET /v4/account` documents it.
pub fn account() -> Value {
    json!({
        "user": {"email": "test@kit.dev", "id": 27},
        "account": {
            "id": 27,
            "name": "Kit Greetings",
            "plan_type": "creator",
            "primary_email_address": "test@kit.dev",
            "created_at": "2023-02-17T11:43:55Z",
            "timezone": {"name": "America/New_York", "friendly_name": "Eastern Time (US & Canada)", "utc_offset": "-05:00"},
            "sending_addresses": [{
                "email_address": "joe27@ck.lol", "from_name": "Joe", "status": "pending",
                "is_default": true, "is_verified": false, "is_dmarc_configured": false
            }]
        }
    })
}

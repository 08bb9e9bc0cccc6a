//! Shared fixtures: a pinned clock, a context pointed at a mock server under the
//! sandbox-style `/hubspot` prefix, private-app and OAuth connections, and HubSpot's
//! object and error shapes.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{Connection, Context, FixedClock, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

/// The private-app token the wiremock tests present.
pub const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

/// The tests' "now": 2026-03-31 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap()
}

/// A context whose base URL is the mock server under `/hubspot`, at [`now`].
pub fn context(server: &MockServer) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/hubspot", server.uri()).parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

/// A private-app connection with `token`.
pub fn private_app(token: &str, config: Value) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: [(
            "access_token".to_owned(),
            SecretString::from(token.to_owned()),
        )]
        .into(),
        access_token: None,
        token_expires_at: None,
    }
}

/// An OAuth connection holding the access token `token`.
pub fn oauth(token: &str, config: Value) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: config.as_object().cloned().unwrap(),
        secrets: Default::default(),
        access_token: Some(SecretString::from(token.to_owned())),
        token_expires_at: None,
    }
}

/// The wiremock tests' private-app connection.
pub fn connection() -> Connection {
    private_app(TOKEN, json!({"lookback_days": 2}))
}

/// A CRM object as HubSpot's v3 API answers it (`SimplePublicObject`).
pub fn object(id: &str, updated: &str, properties: Value) -> Value {
    json!({
        "id": id,
        "properties": properties,
        "createdAt": "2026-01-10T09:00:00.000Z",
        "updatedAt": updated,
        "archived": false,
    })
}

/// HubSpot's error body.
pub fn error(category: &str, message: &str) -> Value {
    json!({
        "status": "error",
        "message": message,
        "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
        "category": category,
    })
}

/// The account's details (`GET /account-info/v3/details`, HubSpot's example).
pub fn account() -> Value {
    json!({
        "additionalCurrencies": ["NZD", "AUD", "EUR"],
        "companyCurrency": "USD",
        "dataHostingLocation": "eu1",
        "portalId": 12345678,
        "accountType": "STANDARD",
        "timeZone": "US/Eastern",
        "uiDomain": "app-eu1.hubspot.com",
        "utcOffset": "-04:00",
        "utcOffsetMilliseconds": -14400000,
    })
}

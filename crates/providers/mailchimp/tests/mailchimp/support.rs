//! Shared fixtures: a pinned clock, a context pointed at a mock server under the
//! sandbox-style `/mailchimp` prefix, connections, and bodies in the Marketing API's
//! shapes (list, member, batch, problem document).

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{Connection, Context, FixedClock, IntegrationId, ReadRequest, WorkspaceId};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

/// The API key the tests present (data center `us21`).
pub const KEY: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0-us21";

/// `Authorization: Basic base64("junction:" + KEY)`.
pub fn basic_header() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("junction:{KEY}"))
    )
}

/// The tests' "now": 2026-03-15 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

/// A context whose base URL is the mock server under `/mailchimp`.
pub fn context(server: &MockServer) -> Context {
    context_with_base(&format!("{}/mailchimp", server.uri()))
}

pub fn context_with_base(base: &str) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(base.parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

/// A connection with the given API key.
pub fn connection_with(key: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: serde_json::Map::new(),
        secrets: [("api_key".to_owned(), SecretString::from(key.to_owned()))].into(),
        access_token: None,
        token_expires_at: None,
    }
}

/// A connection with [`KEY`].
pub fn connection() -> Connection {
    connection_with(KEY)
}

pub fn read_request(stream: &str, cursor: Option<Value>, page_size: Option<u32>) -> ReadRequest {
    ReadRequest {
        stream: stream.into(),
        cursor,
        page_size,
    }
}

/// A list (audience) as `GET /lists` returns it.
pub fn list(id: &str, name: &str, members: u64, unsubscribed: u64, cleaned: u64) -> Value {
    json!({
        "id": id,
        "web_id": 1234,
        "name": name,
        "contact": {"company": "Example Co", "address1": "1 Main St", "city": "Atlanta", "state": "GA", "zip": "30308", "country": "US"},
        "permission_reminder": "You signed up on our site.",
        "campaign_defaults": {"from_name": "Example", "from_email": "news@example.com", "subject": "", "language": "en"},
        "date_created": "2024-05-01T10:00:00+00:00",
        "list_rating": 3,
        "visibility": "pub",
        "double_optin": false,
        "stats": {
            "member_count": members,
            "unsubscribe_count": unsubscribed,
            "cleaned_count": cleaned,
            "member_count_since_send": members,
            "campaign_count": 4,
            "avg_sub_rate": 12,
            "open_rate": 41.5,
            "click_rate": 3.2,
            "last_sub_date": "2026-03-14T08:00:00+00:00"
        },
        "_links": [{"rel": "self", "href": format!("https://us21.api.mailchimp.com/3.0/lists/{id}"), "method": "GET"}]
    })
}

/// A member as `GET /lists/{id}/members` returns it.
pub fn member(list_id: &str, email: &str, opted_in: &str, last_changed: &str) -> Value {
    json!({
        "id": junction_mailchimp::subscriber_hash(email),
        "email_address": email,
        "unique_email_id": "a1b2c3d4e5",
        "full_name": "Test Person",
        "web_id": 555,
        "email_type": "html",
        "status": "subscribed",
        "merge_fields": {"FNAME": "Test", "LNAME": "Person"},
        "stats": {"avg_open_rate": 0.5, "avg_click_rate": 0.1},
        "timestamp_signup": opted_in,
        "timestamp_opt": opted_in,
        "member_rating": 2,
        "last_changed": last_changed,
        "language": "en",
        "vip": false,
        "tags_count": 0,
        "tags": [],
        "list_id": list_id,
        "_links": [{"rel": "self", "href": "https://us21.api.mailchimp.com/3.0/lists/x", "method": "GET"}]
    })
}

/// Mailchimp's problem document.
pub fn problem(status: u16, title: &str, detail: &str) -> Value {
    json!({
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": "995c5cb0-3280-4a6e-808b-3b096d0bb219"
    })
}

//! Shared fixtures: a pinned clock, a context pointed at a mock server under the
//! sandbox-style `/stripe` prefix, connections, and Stripe objects built from the
//! official fixtures (`stripe/openapi` fixtures3.json, as vendored by the crate).

use std::{collections::BTreeMap, sync::Arc};

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{
    Adapter, AdapterError, Connection, Context, FixedClock, IntegrationId, KpiPoint, Page,
    ReadRequest, WorkspaceId,
};
use junction_stripe::Stripe;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::MockServer;

/// The secret key the wiremock tests present.
pub const KEY: &str = "sk_test_51TestKeyForWiremock0000";

/// The tests' "now": 2026-03-15 12:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
}

/// Unix seconds of a UTC date and time.
pub fn ts(day: u32, hour: u32) -> i64 {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
        .unwrap()
        .timestamp()
}

/// A context whose base URL is the mock server under `/stripe`.
pub fn context(server: &MockServer) -> Context {
    context_with_base(&format!("{}/stripe", server.uri()))
}

/// A context with the given base URL and the pinned clock.
pub fn context_with_base(base: &str) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(base.parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

/// A connection with `key` as its secret key.
pub fn connection_with(key: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: serde_json::Map::new(),
        secrets: [("secret_key".to_owned(), SecretString::from(key.to_owned()))].into(),
        access_token: None,
        token_expires_at: None,
    }
}

/// A connection with [`KEY`].
pub fn connection() -> Connection {
    connection_with(KEY)
}

/// Reads one page of a stream.
pub async fn read(
    ctx: &Context,
    stream: &str,
    cursor: Option<Value>,
    page_size: Option<u32>,
) -> Result<Page, AdapterError> {
    Stripe
        .read(
            ctx,
            &connection(),
            &ReadRequest {
                stream: stream.into(),
                cursor,
                page_size,
            },
        )
        .await
}

/// The official fixtures, by resource name.
pub fn fixture(resource: &str) -> Value {
    let all: Value =
        serde_json::from_str(include_str!("../../src/sandbox/fixtures3.json")).unwrap();
    all["resources"][resource].clone()
}

/// The fixture of `resource` with top-level fields replaced.
pub fn object(resource: &str, overrides: Value) -> Value {
    let mut base = fixture(resource);
    for (key, value) in overrides.as_object().unwrap() {
        base[key] = value.clone();
    }
    base
}

/// A charge fixture.
pub fn charge(id: &str, created: i64, currency: &str, captured: i64, refunded: i64) -> Value {
    object(
        "charge",
        json!({"id": id, "created": created, "currency": currency, "amount": captured,
            "amount_captured": captured, "amount_refunded": refunded, "captured": captured > 0,
            "status": "succeeded"}),
    )
}

/// A list envelope as Stripe sends it.
pub fn list(path: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({"object": "list", "data": data, "has_more": has_more, "url": path})
}

/// Stripe's error object.
pub fn stripe_error(kind: &str, code: Option<&str>, message: &str, param: Option<&str>) -> Value {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    if let Some(param) = param {
        error["param"] = json!(param);
    }
    json!({"error": error})
}

/// KPI points as `metric currency date → value`.
pub fn points(kpis: &[KpiPoint]) -> BTreeMap<String, f64> {
    kpis.iter()
        .map(|p| {
            (
                format!("{} {} {}", p.metric, p.dimensions["currency"], p.date),
                p.value,
            )
        })
        .collect()
}

//! Meta webhooks of the `ad_account` object: verification, parsing into events with
//! stable ids, and what an event changes.
//!
//! A delivery is `{"object": "ad_account", "entry": [{"id", "time", "changes":
//! [{"field", "value"}]}]}`, signed with `X-Hub-Signature-256` under the app secret.
//! Meta sends no event id and redelivers the same body when an endpoint fails, so
//! each change gets an id derived from what it is: SHA-256 of the entry id, its time,
//! the field and the value in canonical JSON (keys sorted). A redelivery gives the
//! same ids and is deduplicated downstream; a different change gives a different id.

use chrono::DateTime;
use junction_core::webhook::{WebhookError, WebhookEvent};
use junction_toolkit::webhook::{self, canonical, derived_id};
use serde::Deserialize;
use serde_json::{Value, json};

/// The only object this provider subscribes to.
pub const OBJECT: &str = "ad_account";

#[derive(Debug, Deserialize)]
struct Delivery {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    id: Value,
    time: Option<i64>,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: Value,
}

/// Parses a verified delivery into one event per change.
pub fn parse(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
    let delivery: Delivery = webhook::json(body, "a Meta webhook delivery")?;
    if delivery.object != OBJECT {
        return Err(WebhookError::InvalidPayload(format!(
            "object `{}` is not `{OBJECT}`",
            delivery.object.chars().take(40).collect::<String>()
        )));
    }
    let mut events = Vec::new();
    for entry in delivery.entry {
        let account = match &entry.id {
            Value::String(id) => id.clone(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(WebhookError::InvalidPayload(
                    "an entry has no account id".into(),
                ));
            }
        };
        let occurred_at = entry.time.and_then(|t| DateTime::from_timestamp(t, 0));
        for change in entry.changes {
            let id = event_id(&account, entry.time, &change.field, &change.value);
            events.push(WebhookEvent {
                id,
                event_type: change.field.clone(),
                occurred_at,
                payload: json!({
                    "ad_account_id": account,
                    "time": entry.time,
                    "field": change.field,
                    "value": change.value,
                }),
            });
        }
    }
    Ok(events)
}

/// The derived event id: `meta_` + hex SHA-256 of the change's identity.
fn event_id(account: &str, time: Option<i64>, field: &str, value: &Value) -> String {
    let time = time.map(|t| t.to_string()).unwrap_or_default();
    let value = canonical(value).to_string();
    derived_id("meta_", &[account, &time, field, &value])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_ignore_key_order_but_not_content() {
        let a = parse(br#"{"object":"ad_account","entry":[{"id":"1","time":5,"changes":[{"field":"with_issues_ad_objects","value":{"id":"9","level":"CAMPAIGN"}}]}]}"#)
            .unwrap_or_default();
        let b = parse(br#"{"entry":[{"changes":[{"value":{"level":"CAMPAIGN","id":"9"},"field":"with_issues_ad_objects"}],"time":5,"id":"1"}],"object":"ad_account"}"#)
            .unwrap_or_default();
        let c = parse(br#"{"object":"ad_account","entry":[{"id":"1","time":6,"changes":[{"field":"with_issues_ad_objects","value":{"id":"9","level":"CAMPAIGN"}}]}]}"#)
            .unwrap_or_default();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].id, b[0].id);
        assert_ne!(a[0].id, c[0].id);
        assert!(matches!(
            parse(br#"{"object":"page","entry":[]}"#),
            Err(WebhookError::InvalidPayload(_))
        ));
    }
}

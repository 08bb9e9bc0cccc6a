//! The `import_events` action: `POST https://api.mixpanel.com/import?strict=1&project_id`
//! with a JSON array of events.
//!
//! - Batches: at most [`MAX_BATCH_EVENTS`] events and [`MAX_BATCH_BYTES`] of
//!   uncompressed JSON per request (Mixpanel's documented limits: 2,000 events; the
//!   size limit read 2 MB in its OpenAPI file's 413 example and 10 MB in later
//!   docs, so the smaller one is kept). An event above [`MAX_EVENT_BYTES`] (Mixpanel
//!   refuses those) is reported as failed without being sent.
//! - Deduplication: every event carries a `$insert_id`, the caller's or one derived
//!   from the action's idempotency key (the same for every retry) and the event's
//!   position, so a batch sent again after a lost answer is deduplicated by Mixpanel
//!   (which keeps one event per event name, `time`, `distinct_id` and `$insert_id`).
//!   Without an idempotency key the id is derived from the event's own content.
//! - Strict mode validates every event: a 400 with `failed_records` means the others
//!   were imported; each failure is reported with the caller's index.

use http::{Method, StatusCode};
use junction_core::{
    ActionOutcome, AdapterError, Connection,
    http::{Refusal, classify, send_raw},
};
use junction_toolkit::{
    Client,
    input::Input,
    webhook::{canonical, derived_id},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::spec::{self, PROJECT_ID};

/// Mixpanel's most events per `/import` request.
pub const MAX_BATCH_EVENTS: usize = 2_000;

/// The most bytes of uncompressed JSON per request (2 MiB, as the 413 says).
pub const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

/// Mixpanel's largest event: 1 MB of uncompressed JSON.
pub const MAX_EVENT_BYTES: usize = 1_000_000;

/// The longest `$insert_id` Mixpanel takes (letters, digits and `-`).
const MAX_INSERT_ID: usize = 36;

/// How long the body of an import's answer may be before it is not read whole
/// (a full batch's failures are far less).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// One event Mixpanel (or the batching) refused, by its index in the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub index: usize,
    pub insert_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

/// A failed record of strict mode's answer.
#[derive(Debug, Deserialize)]
struct FailedRecord {
    index: usize,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Strict mode's answer: `{code, num_records_imported, status}` or, with failures,
/// `{code, error, status, num_records_imported, failed_records}`.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    num_records_imported: Option<u64>,
    #[serde(default)]
    failed_records: Option<Vec<FailedRecord>>,
}

/// Runs the action.
pub(crate) async fn run(
    client: &Client<'_>,
    conn: &Connection,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let input = Input::new(input)?;
    input.only(&["events"])?;
    let Some(Value::Array(given)) = input.get("events") else {
        return Err(input.invalid("events", "must be a list of events"));
    };
    if given.is_empty() {
        return Err(input.invalid("events", "must list at least one event"));
    }
    let project = PROJECT_ID.require(conn)?;
    let mut events = Vec::with_capacity(given.len());
    for (index, event) in given.iter().enumerate() {
        events.push(prepared(event, index, idempotency_key)?);
    }
    let mut failed = Vec::new();
    let mut imported = 0u64;
    let mut batches = 0usize;
    let mut batch: Vec<usize> = Vec::new();
    let mut batch_bytes = 2; // `[` and `]`
    for (index, event) in events.iter().enumerate() {
        let size = event.text.len();
        if size > MAX_EVENT_BYTES {
            failed.push(Failure {
                index,
                insert_id: event.insert_id.clone(),
                field: None,
                message: format!(
                    "the event is larger than Mixpanel's limit of {MAX_EVENT_BYTES} bytes"
                ),
            });
            continue;
        }
        if !batch.is_empty()
            && (batch.len() == MAX_BATCH_EVENTS || batch_bytes + size + 1 > MAX_BATCH_BYTES)
        {
            imported += send(client, &project, &events, &batch, &mut failed).await?;
            batches += 1;
            batch.clear();
            batch_bytes = 2;
        }
        batch_bytes += size + usize::from(!batch.is_empty());
        batch.push(index);
    }
    if !batch.is_empty() {
        imported += send(client, &project, &events, &batch, &mut failed).await?;
        batches += 1;
    }
    failed.sort_by_key(|failure| failure.index);
    let insert_ids: Vec<&str> = events.iter().map(|e| e.insert_id.as_str()).collect();
    Ok(ActionOutcome {
        external_id: None,
        output: json!({
            "imported": imported,
            "failed": failed,
            "batches": batches,
            "insert_ids": insert_ids,
        }),
    })
}

/// An event as it is sent: its JSON text (with the `$insert_id`) and that id.
#[derive(Debug)]
struct Prepared {
    text: String,
    insert_id: String,
}

/// `event` (the input's `index`-th) with its `$insert_id`: the caller's, checked,
/// else derived from the idempotency key (or the event's content) and `index`.
fn prepared(
    event: &Value,
    index: usize,
    idempotency_key: Option<&str>,
) -> Result<Prepared, AdapterError> {
    let field = format!("events[{index}]");
    let invalid =
        |what: &str, message: &str| AdapterError::invalid_field(format!("{field}.{what}"), message);
    let Some(object) = event.as_object() else {
        return Err(AdapterError::invalid_field(
            field,
            "must be an event object",
        ));
    };
    if let Some(extra) = object.keys().find(|k| *k != "event" && *k != "properties") {
        return Err(invalid(
            extra,
            "is not a field of an event (`event`, `properties`)",
        ));
    }
    match object.get("event") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        _ => return Err(invalid("event", "must be the event's name")),
    }
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return Err(invalid("properties", "must be an object"));
    };
    let insert_id = match properties.get("$insert_id") {
        Some(Value::String(id)) if is_insert_id(id) => id.clone(),
        Some(_) => {
            return Err(invalid(
                "properties.$insert_id",
                "must be at most 36 letters, digits or dashes",
            ));
        }
        None => {
            let position = index.to_string();
            let basis = match idempotency_key {
                Some(key) => format!("key:{key}"),
                None => format!("content:{}", canonical(event)),
            };
            let id = derived_id("", &[&basis, &position]);
            id[..32].to_owned()
        }
    };
    let mut properties: Map<String, Value> = properties.clone();
    properties.insert("$insert_id".into(), Value::String(insert_id.clone()));
    let mut sent = object.clone();
    sent.insert("properties".into(), Value::Object(properties));
    let text = Value::Object(sent).to_string();
    Ok(Prepared { text, insert_id })
}

/// Whether `id` is a `$insert_id` Mixpanel takes.
pub fn is_insert_id(id: &str) -> bool {
    (1..=MAX_INSERT_ID).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Sends the batch of `events` at `indexes`; the events imported, with the batch's
/// failures added to `failed` (their indexes the caller's).
async fn send(
    client: &Client<'_>,
    project: &str,
    events: &[Prepared],
    indexes: &[usize],
    failed: &mut Vec<Failure>,
) -> Result<u64, AdapterError> {
    let mut body = String::from("[");
    for (n, index) in indexes.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&events[*index].text);
    }
    body.push(']');
    let request = client
        .request(Method::POST, "import")?
        .query(&[("strict", "1"), ("project_id", project)])
        .header("content-type", "application/json")
        .body(body);
    // The answer is read here, whatever its status: a 400 of strict mode lists the
    // events refused and means the others were imported.
    let ctx = client.context();
    let mut response = send_raw(ctx, spec::ingestion_spec(), request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| AdapterError::unavailable("Mixpanel's answer to an import was cut off"))?
    {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(AdapterError::unavailable(
                "Mixpanel's answer to an import is too long",
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    let answer = serde_json::from_slice::<Answer>(&bytes).ok();
    let partial = status == StatusCode::BAD_REQUEST
        && answer.as_ref().is_some_and(|a| a.failed_records.is_some());
    if !(status.is_success() || partial) {
        let now = ctx.now();
        let base = classify(status, &headers, &bytes, now, &client.policy());
        let refusal = Refusal {
            status,
            headers: &headers,
            body: &bytes,
            now,
        };
        return Err(client.classify(base, &refusal));
    }
    // A success whose body did not arrive whole: the batch may have been imported,
    // and the retry this asks for is deduplicated by the `$insert_id`s.
    let Some(answer) = answer else {
        return Err(AdapterError::unavailable(
            "malformed response body: Mixpanel's answer to an import did not arrive whole",
        ));
    };
    for record in answer.failed_records.unwrap_or_default() {
        let Some(index) = indexes.get(record.index).copied() else {
            return Err(AdapterError::unavailable(
                "Mixpanel reported a failed record outside the batch",
            ));
        };
        failed.push(Failure {
            index,
            insert_id: events[index].insert_id.clone(),
            field: record.field,
            message: record
                .message
                .unwrap_or_else(|| "refused by Mixpanel".into()),
        });
    }
    Ok(answer.num_records_imported.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_ids_are_derived_from_the_key_and_position_or_kept() {
        let event =
            json!({"event": "Signup", "properties": {"time": 1618716477, "distinct_id": "u1"}});
        let a = prepared(&event, 0, Some("key-1")).unwrap();
        let again = prepared(&event, 0, Some("key-1")).unwrap();
        let next = prepared(&event, 1, Some("key-1")).unwrap();
        let other = prepared(&event, 0, Some("key-2")).unwrap();
        assert_eq!(a.insert_id, again.insert_id);
        assert_ne!(a.insert_id, next.insert_id);
        assert_ne!(a.insert_id, other.insert_id);
        assert!(is_insert_id(&a.insert_id));
        let sent: Value = serde_json::from_str(&a.text).unwrap();
        assert_eq!(sent["properties"]["$insert_id"], a.insert_id.as_str());
        // Without a key, the content decides.
        let unkeyed = prepared(&event, 0, None).unwrap();
        assert_eq!(
            unkeyed.insert_id,
            prepared(&event, 0, None).unwrap().insert_id
        );
        let given = json!({"event": "x", "properties": {"$insert_id": "abc-123"}});
        assert_eq!(prepared(&given, 3, Some("k")).unwrap().insert_id, "abc-123");
        let bad = json!({"event": "x", "properties": {"$insert_id": "no spaces"}});
        let err = prepared(&bad, 2, None).unwrap_err();
        assert!(
            matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "events[2].properties.$insert_id"),
            "{err:?}"
        );
    }
}

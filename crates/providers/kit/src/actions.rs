//! Kit's actions: validating each input against its schema (in `spec.rs`) and sending
//! the request Kit documents for it.
//!
//! Kit has no idempotency keys. Creating a subscriber is an upsert by email address,
//! and tagging, enrolling in a sequence or subscribing to a form answer 200 (instead of
//! 201) when the subscriber already is there, so a retried action of those kinds has
//! its effect once. Creating a broadcast is the exception: a retry after a lost
//! response could schedule the same email twice, so when the call carries an
//! idempotency key, [`create_broadcast`] first looks among the newest broadcasts for
//! one with the same subject, content and send time created in the last day.

use chrono::{DateTime, Duration as Days, SecondsFormat, Utc};
use junction_core::{ActionOutcome, AdapterError, Context};
use serde_json::{Map, Value, json};

use crate::{
    client::{KitClient, NotFound, Written},
    settings::{FieldMap, Settings},
    spec::{ADD_SUBSCRIBER, ADD_TO_FORM, ADD_TO_SEQUENCE, CREATE_BROADCAST, TAG_SUBSCRIBER},
    streams::time_of,
};

/// Kit creates or updates at most this many custom fields per request.
pub(crate) const MAX_CUSTOM_FIELDS: usize = 140;

/// How far back an identical broadcast counts as the earlier try of a retried create.
pub(crate) const BROADCAST_DEDUPE_WINDOW_HOURS: i64 = 24;

/// How many of the newest broadcasts are compared with a broadcast about to be created.
const BROADCAST_DEDUPE_SCAN: u32 = 50;

/// The longest email address (RFC 5321).
const MAX_EMAIL_LEN: usize = 254;

/// Runs `action` with `input`.
pub(crate) async fn run(
    ctx: &Context,
    client: &KitClient<'_>,
    settings: &Settings,
    action: &str,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let input = Input::new(input)?;
    match action {
        ADD_SUBSCRIBER => {
            let body = add_subscriber_body(&input, &settings.field_map)?;
            let written = client.post("v4/subscribers", &body, None).await?;
            subscriber_outcome(written, "created", true)
        }
        TAG_SUBSCRIBER => {
            input.only(&["tag_id", "email_address", "subscriber_id"])?;
            let tag = input.id("tag_id")?;
            let (path, body) = membership("tags", tag, &input)?;
            let missing = NotFound {
                field: "tag_id",
                what: "such tag, or no such subscriber",
            };
            let written = client
                .post(&path, &Value::Object(body), Some(&missing))
                .await?;
            subscriber_outcome(written, "already_tagged", false)
        }
        ADD_TO_SEQUENCE => {
            input.only(&["sequence_id", "email_address", "subscriber_id"])?;
            let sequence = input.id("sequence_id")?;
            let (path, body) = membership("sequences", sequence, &input)?;
            let missing = NotFound {
                field: "sequence_id",
                what: "such sequence, or no such subscriber",
            };
            let written = client
                .post(&path, &Value::Object(body), Some(&missing))
                .await?;
            subscriber_outcome(written, "already_added", false)
        }
        ADD_TO_FORM => {
            input.only(&["form_id", "email_address", "subscriber_id", "referrer"])?;
            let form = input.id("form_id")?;
            let (path, mut body) = membership("forms", form, &input)?;
            if let Some(referrer) = input.url("referrer")? {
                body.insert("referrer".into(), json!(referrer));
            }
            let missing = NotFound {
                field: "form_id",
                what: "such form, or no such subscriber",
            };
            let written = client
                .post(&path, &Value::Object(body), Some(&missing))
                .await?;
            subscriber_outcome(written, "already_added", false)
        }
        CREATE_BROADCAST => create_broadcast(ctx, client, &input, idempotency_key).await,
        other => Err(AdapterError::invalid_field(
            "action",
            format!("Kit has no action `{other}`"),
        )),
    }
}

/// An action's input object, read field by field with errors naming the field.
struct Input<'a>(&'a Map<String, Value>);

impl<'a> Input<'a> {
    fn new(input: &'a Value) -> Result<Self, AdapterError> {
        input
            .as_object()
            .map(Self)
            .ok_or_else(|| AdapterError::invalid_field("input", "must be a JSON object"))
    }

    /// Refuses any field not in `allowed` (the schemas say `additionalProperties: false`).
    fn only(&self, allowed: &[&str]) -> Result<(), AdapterError> {
        match self.0.keys().find(|key| !allowed.contains(&key.as_str())) {
            Some(key) => Err(AdapterError::invalid_field(
                key.as_str(),
                format!(
                    "is not an input of this action (expected: {})",
                    allowed.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    fn present(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<&'a str>, AdapterError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(AdapterError::invalid_field(name, "must be a string")),
        }
    }

    fn required_string(&self, name: &str) -> Result<&'a str, AdapterError> {
        match self.string(name)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            _ => Err(AdapterError::invalid_field(name, "is required")),
        }
    }

    fn email(&self, name: &str) -> Result<Option<&'a str>, AdapterError> {
        let Some(text) = self.string(name)? else {
            return Ok(None);
        };
        let text = text.trim();
        if is_email(text) {
            Ok(Some(text))
        } else {
            Err(AdapterError::invalid_field(
                name,
                "must be an email address",
            ))
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, AdapterError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(AdapterError::invalid_field(name, "must be true or false")),
        }
    }

    fn optional_id(&self, name: &str) -> Result<Option<u64>, AdapterError> {
        match self.present(name) {
            None => Ok(None),
            Some(value) => match value.as_u64().filter(|id| *id > 0) {
                Some(id) => Ok(Some(id)),
                None => Err(AdapterError::invalid_field(
                    name,
                    "must be a positive integer (a Kit id)",
                )),
            },
        }
    }

    fn id(&self, name: &str) -> Result<u64, AdapterError> {
        self.optional_id(name)?
            .ok_or_else(|| AdapterError::invalid_field(name, "is required"))
    }

    /// An RFC 3339 date-time, normalized to UTC (`2026-03-01T09:00:00Z`).
    fn date_time(&self, name: &str) -> Result<Option<String>, AdapterError> {
        let Some(text) = self.string(name)? else {
            return Ok(None);
        };
        DateTime::parse_from_rfc3339(text.trim())
            .map(|at| {
                Some(
                    at.with_timezone(&Utc)
                        .to_rfc3339_opts(SecondsFormat::Secs, true),
                )
            })
            .map_err(|_| {
                AdapterError::invalid_field(
                    name,
                    "must be an RFC 3339 date-time with a time zone, e.g. 2026-03-01T09:00:00Z",
                )
            })
    }

    /// An absolute http(s) URL.
    fn url(&self, name: &str) -> Result<Option<&'a str>, AdapterError> {
        let Some(text) = self.string(name)? else {
            return Ok(None);
        };
        match url::Url::parse(text.trim()) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(Some(text.trim())),
            _ => Err(AdapterError::invalid_field(
                name,
                "must be an absolute http(s) URL",
            )),
        }
    }
}

/// A plausible email address: one `@`, something on both sides, a dot in the domain,
/// no spaces. Kit does the real check (and answers 422 "Email address is invalid").
fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    text.len() <= MAX_EMAIL_LEN
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The states Kit documents for a new subscriber.
const SUBSCRIBER_STATES: [&str; 5] = ["active", "inactive", "cancelled", "bounced", "complained"];

fn add_subscriber_body(input: &Input<'_>, field_map: &FieldMap) -> Result<Value, AdapterError> {
    input.only(&["email_address", "first_name", "state", "fields"])?;
    let email = input
        .email("email_address")?
        .ok_or_else(|| AdapterError::invalid_field("email_address", "is required"))?;
    let mut body = Map::new();
    body.insert("email_address".into(), json!(email));
    if let Some(first_name) = input.string("first_name")? {
        body.insert("first_name".into(), json!(first_name));
    }
    if let Some(state) = input.string("state")? {
        if !SUBSCRIBER_STATES.contains(&state) {
            return Err(AdapterError::invalid_field(
                "state",
                format!("must be one of: {}", SUBSCRIBER_STATES.join(", ")),
            ));
        }
        body.insert("state".into(), json!(state));
    }
    if let Some(fields) = input.present("fields") {
        let fields = map_fields(fields, field_map)?;
        if !fields.is_empty() {
            body.insert("fields".into(), Value::Object(fields));
        }
    }
    Ok(Value::Object(body))
}

/// Renames `fields` through the connection's map and turns each value into the string
/// Kit stores (numbers and booleans as their JSON text; null clears the field).
pub(crate) fn map_fields(
    fields: &Value,
    field_map: &FieldMap,
) -> Result<Map<String, Value>, AdapterError> {
    let Some(fields) = fields.as_object() else {
        return Err(AdapterError::invalid_field(
            "fields",
            "must be an object of custom field values",
        ));
    };
    if fields.len() > MAX_CUSTOM_FIELDS {
        return Err(AdapterError::invalid_field(
            "fields",
            format!("Kit sets at most {MAX_CUSTOM_FIELDS} custom fields at a time"),
        ));
    }
    let mut mapped = Map::new();
    let mut sources: Map<String, Value> = Map::new();
    for (name, value) in fields {
        let key = field_map.kit_key(name);
        let value = match value {
            Value::String(_) | Value::Null => value.clone(),
            Value::Number(number) => Value::String(number.to_string()),
            Value::Bool(flag) => Value::String(flag.to_string()),
            Value::Array(_) | Value::Object(_) => {
                return Err(AdapterError::invalid_field(
                    format!("fields.{name}"),
                    "must be a string, number, boolean or null",
                ));
            }
        };
        if let Some(other) = sources.insert(key.to_owned(), json!(name)) {
            return Err(AdapterError::invalid_field(
                format!("fields.{name}"),
                format!(
                    "sets the Kit field `{key}`, which `fields.{}` sets too",
                    other.as_str().unwrap_or_default()
                ),
            ));
        }
        mapped.insert(key.to_owned(), value);
    }
    Ok(mapped)
}

/// The path and body of "add this subscriber to tag / sequence / form `id`": by email
/// address in the body, or by subscriber id in the path.
fn membership(
    collection: &str,
    id: u64,
    input: &Input<'_>,
) -> Result<(String, Map<String, Value>), AdapterError> {
    let email = input.email("email_address")?;
    let subscriber = input.optional_id("subscriber_id")?;
    match (email, subscriber) {
        (Some(email), None) => Ok((
            format!("v4/{collection}/{id}/subscribers"),
            Map::from_iter([("email_address".to_owned(), json!(email))]),
        )),
        (None, Some(subscriber)) => Ok((
            format!("v4/{collection}/{id}/subscribers/{subscriber}"),
            Map::new(),
        )),
        (Some(_), Some(_)) => Err(AdapterError::invalid_field(
            "subscriber_id",
            "give either email_address or subscriber_id, not both",
        )),
        (None, None) => Err(AdapterError::invalid_field(
            "email_address",
            "give either email_address or subscriber_id",
        )),
    }
}

/// The outcome of a write answered with `{"subscriber": {...}}`. Kit answers 201 when
/// it made something new and 200 when it was already so; `flag` reports which, named
/// for the action (`created` is true on 201, the `already_*` flags on 200).
fn subscriber_outcome(
    written: Written,
    flag: &str,
    flag_means_created: bool,
) -> Result<ActionOutcome, AdapterError> {
    let Written { status, mut body } = written;
    let subscriber = body
        .get_mut("subscriber")
        .map(Value::take)
        .filter(|s| s.get("id").is_some_and(Value::is_i64))
        .ok_or_else(|| {
            AdapterError::unavailable("malformed response body: no `subscriber` with an `id`")
        })?;
    let created = status == http::StatusCode::CREATED;
    let mut output = Map::new();
    output.insert(
        flag.to_owned(),
        json!(if flag_means_created {
            created
        } else {
            !created
        }),
    );
    if let Some(warnings) = body.get_mut("warnings").map(Value::take) {
        // Custom field keys Kit does not know and ignored: usually a missing custom
        // field in Kit or a name the connection's field_map does not map.
        tracing::warn!(
            provider = crate::spec::PROVIDER_ID,
            warnings = %warnings,
            "Kit ignored custom fields of a subscriber"
        );
        output.insert("warnings".into(), warnings);
    }
    let external_id = subscriber.get("id").map(Value::to_string);
    output.insert("subscriber".into(), subscriber);
    Ok(ActionOutcome {
        external_id,
        output: Value::Object(output),
    })
}

const BROADCAST_INPUTS: [&str; 12] = [
    "subject",
    "content",
    "description",
    "preview_text",
    "public",
    "published_at",
    "send_at",
    "email_address",
    "email_template_id",
    "thumbnail_alt",
    "thumbnail_url",
    "subscriber_filter",
];

/// The `POST /v4/broadcasts` body for a `create_broadcast` input.
pub(crate) fn broadcast_body(input: &Value) -> Result<Map<String, Value>, AdapterError> {
    let input = Input::new(input)?;
    input.only(&BROADCAST_INPUTS)?;
    let mut body = Map::new();
    body.insert("subject".into(), json!(input.required_string("subject")?));
    body.insert("content".into(), json!(input.required_string("content")?));
    for name in ["description", "preview_text", "thumbnail_alt"] {
        if let Some(text) = input.string(name)? {
            body.insert(name.into(), json!(text));
        }
    }
    if let Some(public) = input.boolean("public")? {
        body.insert("public".into(), json!(public));
    }
    if let Some(published_at) = input.date_time("published_at")? {
        body.insert("published_at".into(), json!(published_at));
    }
    // An explicit null asks for a draft, as Kit documents; absent says the same.
    if input.0.contains_key("send_at") {
        body.insert("send_at".into(), json!(input.date_time("send_at")?));
    }
    if let Some(email) = input.email("email_address")? {
        body.insert("email_address".into(), json!(email));
    }
    if let Some(template) = input.optional_id("email_template_id")? {
        body.insert("email_template_id".into(), json!(template));
    }
    if let Some(url) = input.url("thumbnail_url")? {
        body.insert("thumbnail_url".into(), json!(url));
    }
    if let Some(filter) = input.present("subscriber_filter") {
        check_subscriber_filter(filter)?;
        body.insert("subscriber_filter".into(), filter.clone());
    }
    Ok(body)
}

/// Kit's audience filter: at most one group, of `all`, `any` or `none`, each a list of
/// `{type: segment|tag, ids: [...]}`.
fn check_subscriber_filter(filter: &Value) -> Result<(), AdapterError> {
    let invalid = |message: &str| AdapterError::invalid_field("subscriber_filter", message);
    let groups = filter
        .as_array()
        .ok_or_else(|| invalid("must be a list with one filter group"))?;
    if groups.len() > 1 {
        return Err(invalid("Kit supports one filter group"));
    }
    for group in groups {
        let group = group
            .as_object()
            .ok_or_else(|| invalid("a filter group must be an object"))?;
        let mut kinds = 0;
        for (kind, conditions) in group {
            if !matches!(kind.as_str(), "all" | "any" | "none") {
                return Err(invalid("a filter group has only `all`, `any` or `none`"));
            }
            if conditions.is_null() {
                continue;
            }
            kinds += 1;
            let conditions = conditions
                .as_array()
                .ok_or_else(|| invalid("`all`, `any` and `none` must be lists"))?;
            for condition in conditions {
                let condition = condition
                    .as_object()
                    .ok_or_else(|| invalid("a condition must be an object"))?;
                if condition.keys().any(|k| k != "type" && k != "ids") {
                    return Err(invalid("a condition has only `type` and `ids`"));
                }
                if !matches!(
                    condition.get("type").and_then(Value::as_str),
                    Some("segment" | "tag")
                ) {
                    return Err(invalid("a condition's `type` must be `segment` or `tag`"));
                }
                let ids = condition
                    .get("ids")
                    .and_then(Value::as_array)
                    .filter(|ids| !ids.is_empty())
                    .ok_or_else(|| invalid("a condition needs a non-empty list of `ids`"))?;
                if !ids.iter().all(|id| id.as_u64().is_some_and(|id| id > 0)) {
                    return Err(invalid("`ids` must be positive integers"));
                }
            }
        }
        if kinds > 1 {
            return Err(invalid(
                "Kit supports one of `all`, `any` or `none` per filter, not a combination",
            ));
        }
    }
    Ok(())
}

async fn create_broadcast(
    ctx: &Context,
    client: &KitClient<'_>,
    input: &Input<'_>,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let body = broadcast_body(&Value::Object(input.0.clone()))?;
    if idempotency_key.is_some()
        && let Some(existing) = find_same_broadcast(ctx, client, &body).await?
    {
        return broadcast_outcome(existing, true);
    }
    let Written { mut body, .. } = client
        .post("v4/broadcasts", &Value::Object(body), None)
        .await?;
    let broadcast = body
        .get_mut("broadcast")
        .map(Value::take)
        .ok_or_else(|| AdapterError::unavailable("malformed response body: no `broadcast`"))?;
    broadcast_outcome(broadcast, false)
}

fn broadcast_outcome(broadcast: Value, deduplicated: bool) -> Result<ActionOutcome, AdapterError> {
    let external_id = broadcast
        .get("id")
        .filter(|id| id.is_i64())
        .map(Value::to_string)
        .ok_or_else(|| {
            AdapterError::unavailable("malformed response body: broadcast without `id`")
        })?;
    Ok(ActionOutcome {
        external_id: Some(external_id),
        output: json!({"broadcast": broadcast, "deduplicated": deduplicated}),
    })
}

/// A broadcast among the newest that is the one `body` would create: same subject,
/// content and send time (public flag too, when given), created within the dedupe
/// window.
async fn find_same_broadcast(
    ctx: &Context,
    client: &KitClient<'_>,
    body: &Map<String, Value>,
) -> Result<Option<Value>, AdapterError> {
    let listed: Value = client
        .get(
            "v4/broadcasts",
            &[("per_page", BROADCAST_DEDUPE_SCAN.to_string())],
        )
        .await?;
    let Some(broadcasts) = listed.get("broadcasts").and_then(Value::as_array) else {
        return Err(AdapterError::unavailable(
            "malformed response body: missing list `broadcasts`",
        ));
    };
    let since = ctx.now() - Days::hours(BROADCAST_DEDUPE_WINDOW_HOURS);
    let wanted_send_at = body
        .get("send_at")
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.with_timezone(&Utc));
    Ok(broadcasts
        .iter()
        .filter_map(Value::as_object)
        .find(|existing| {
            let same_text = ["subject", "content"]
                .iter()
                .all(|field| existing.get(*field) == body.get(*field));
            let same_public = body
                .get("public")
                .is_none_or(|public| existing.get("public") == Some(public));
            let recent = time_of(existing, "created_at").is_some_and(|at| at >= since);
            same_text && same_public && recent && time_of(existing, "send_at") == wanted_send_at
        })
        .map(|existing| Value::Object(existing.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_loosely() {
        for good in ["a@b.co", "first.last+tag@example.com", "x@sub.domain.org"] {
            assert!(is_email(good), "{good}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b.co.", "a b@c.co", "a@b@c.co",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn fields_are_mapped_and_stringified() {
        let map = FieldMap::parse("surname:last_name").unwrap();
        let mapped = map_fields(
            &json!({"surname": "Lamarr", "score": 87, "vip": true, "company": null}),
            &map,
        )
        .unwrap();
        assert_eq!(
            Value::Object(mapped),
            json!({"last_name": "Lamarr", "score": "87", "vip": "true", "company": null})
        );
        let err = map_fields(&json!({"surname": "a", "last_name": "b"}), &map).unwrap_err();
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(f), .. } if f.starts_with("fields."))
        );
        let err = map_fields(&json!({"tags": ["a"]}), &map).unwrap_err();
        assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "fields.tags"));
        let err = map_fields(&json!(["a"]), &map).unwrap_err();
        assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "fields"));
    }

    #[test]
    fn subscriber_filters_follow_kits_rules() {
        for good in [
            json!([]),
            json!([{"all": [{"type": "segment", "ids": [18]}]}]),
            json!([{"all": null, "any": [{"type": "tag", "ids": [1, 2]}], "none": null}]),
        ] {
            assert!(check_subscriber_filter(&good).is_ok(), "{good}");
        }
        for bad in [
            json!({}),
            json!([{"all": []}, {"any": []}]),
            json!([{"all": [{"type": "tag", "ids": [1]}], "any": [{"type": "tag", "ids": [2]}]}]),
            json!([{"some": []}]),
            json!([{"all": [{"type": "form", "ids": [1]}]}]),
            json!([{"all": [{"type": "tag", "ids": []}]}]),
            json!([{"all": [{"type": "tag", "ids": [0]}]}]),
            json!([{"all": [{"type": "tag", "ids": [1], "extra": 1}]}]),
        ] {
            assert!(check_subscriber_filter(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn broadcast_bodies_normalize_times_and_keep_drafts() {
        let body = broadcast_body(&json!({
            "subject": "Hello!",
            "content": "<p>Hi</p>",
            "send_at": "2026-03-01T10:00:00+01:00",
            "public": false
        }))
        .unwrap();
        assert_eq!(body["send_at"], "2026-03-01T09:00:00Z");
        let draft =
            broadcast_body(&json!({"subject": "a", "content": "b", "send_at": null})).unwrap();
        assert_eq!(draft["send_at"], Value::Null);
        let draft = broadcast_body(&json!({"subject": "a", "content": "b"})).unwrap();
        assert!(!draft.contains_key("send_at"));
        for (bad, field) in [
            (json!({"content": "b"}), "subject"),
            (json!({"subject": " ", "content": "b"}), "subject"),
            (
                json!({"subject": "a", "content": "b", "send_at": "tomorrow"}),
                "send_at",
            ),
            (
                json!({"subject": "a", "content": "b", "email_template_id": "2"}),
                "email_template_id",
            ),
            (
                json!({"subject": "a", "content": "b", "thumbnail_url": "ftp://x"}),
                "thumbnail_url",
            ),
            (
                json!({"subject": "a", "content": "b", "sender": "x"}),
                "sender",
            ),
        ] {
            let err = broadcast_body(&bad).unwrap_err();
            assert!(
                matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == field),
                "{bad}: {err:?}"
            );
        }
    }
}

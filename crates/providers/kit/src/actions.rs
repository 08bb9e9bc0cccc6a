//! Kit's actions: each input checked against its JSON Schema (in `spec.rs`) again —
//! the API did before `act`, but a queued input may predate a stricter schema — then
//! for what a schema cannot say (a plausible address, a time in UTC, an http(s) link,
//! the custom-field mapping), and sent as the request Kit documents for it. Every
//! failure names the input field.
//!
//! Kit has no idempotency keys. Creating a subscriber is an upsert by email address
//! (one or many: the `bulk` module), creating a tag answers 200 with the existing tag
//! of that name, and tagging, enrolling in a sequence or subscribing to a form answer
//! 200 (instead of 201) when the subscriber already is there, so a retried action of
//! those kinds has its effect once. Unsubscribing by email address leaves a cancelled
//! subscriber alone. Removing a tag cannot be told apart from a missing tag on a retry:
//! Kit answers both 404, reported on `tag_id`. Creating a broadcast is the exception:
//! a retry after a lost response could schedule the same email twice, so when the call
//! carries an idempotency key, [`create_broadcast`] first looks among the newest
//! broadcasts for one with the same subject, content and send time created in the
//! last day.

use chrono::{DateTime, Duration as Days, SecondsFormat, Utc};
use http::{Method, StatusCode};
use junction_core::{ActionOutcome, AdapterError, spec::ProviderSpec};
use junction_toolkit::{
    Client, Fetched,
    input::{Input, checked},
};
use serde::{Deserialize, Serialize, de::IgnoredAny};
use serde_json::{Map, Value, json};

use crate::{
    api::{no_such, not_found},
    settings::FieldMap,
    spec::{
        ADD_SUBSCRIBER, CREATE_BROADCAST, CREATE_TAG, MEMBERSHIPS, Membership, PROVIDER_ID,
        REMOVE_TAG, UNSUBSCRIBE,
    },
    streams::time_of,
};

/// Kit creates or updates at most this many custom fields per request.
pub(crate) const MAX_CUSTOM_FIELDS: usize = 140;

/// How far back an identical broadcast counts as the earlier try of a retried create.
pub(crate) const BROADCAST_DEDUPE_WINDOW_HOURS: i64 = 24;

/// How many of the newest broadcasts are compared with a broadcast about to be created.
const BROADCAST_DEDUPE_SCAN: u32 = 50;

/// Runs `action` of `spec` with `input`.
pub(crate) async fn run(
    spec: &ProviderSpec,
    client: &Client<'_>,
    field_map: &FieldMap,
    action: &str,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    match action {
        ADD_SUBSCRIBER => {
            let subscriber = new_subscriber(spec, input, field_map)?;
            let request = client
                .request(Method::POST, "subscribers")?
                .json(&subscriber);
            subscriber_outcome(client.fetch(request).await?, "created", true)
        }
        CREATE_TAG => create_tag(spec, client, input).await,
        REMOVE_TAG => remove_tag(spec, client, input).await,
        UNSUBSCRIBE => unsubscribe(spec, client, input).await,
        CREATE_BROADCAST => {
            create_broadcast(client, broadcast_body(spec, input)?, idempotency_key).await
        }
        _ => match MEMBERSHIPS
            .iter()
            .find(|membership| membership.action == action)
        {
            Some(membership) => join(spec, client, membership, input).await,
            None => Err(AdapterError::unknown_action(spec.name, action)),
        },
    }
}

/// `add_subscriber`'s input, and the body of `POST /v4/subscribers` (and one entry
/// of `POST /v4/bulk/subscribers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct NewSubscriber {
    pub email_address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
}

fn new_subscriber(
    spec: &ProviderSpec,
    input: &Value,
    field_map: &FieldMap,
) -> Result<NewSubscriber, AdapterError> {
    let mut subscriber: NewSubscriber = checked(spec, ADD_SUBSCRIBER, input)?;
    let input = Input::new(input)?;
    subscriber.email_address = input.required("email_address", email(input)?)?;
    subscriber.fields = map_fields(&subscriber.fields, field_map, "")?;
    Ok(subscriber)
}

/// The trimmed `email_address` of `input`, when it has one that looks like an address.
fn email(input: Input<'_>) -> Result<Option<String>, AdapterError> {
    Ok(input.email("email_address")?.map(str::to_owned))
}

/// Renames `fields` through the connection's map and turns each value into the string
/// Kit stores (numbers and booleans as their JSON text; null clears the field).
/// `prefix` places the fields in the input (`subscribers[3].`) for errors.
pub(crate) fn map_fields(
    fields: &Map<String, Value>,
    field_map: &FieldMap,
    prefix: &str,
) -> Result<Map<String, Value>, AdapterError> {
    let at = format!("{prefix}fields.");
    let fields = Input::nested(fields, &at);
    if fields.map().len() > MAX_CUSTOM_FIELDS {
        return Err(AdapterError::invalid_field(
            format!("{prefix}fields"),
            format!("Kit sets at most {MAX_CUSTOM_FIELDS} custom fields at a time"),
        ));
    }
    let mut mapped = Map::new();
    let mut sources: Map<String, Value> = Map::new();
    for (name, value) in fields.map() {
        let key = field_map.kit_key(name);
        let value = match value {
            Value::String(_) | Value::Null => value.clone(),
            Value::Number(number) => Value::String(number.to_string()),
            Value::Bool(flag) => Value::String(flag.to_string()),
            Value::Array(_) | Value::Object(_) => {
                return Err(fields.invalid(name, "must be a string, number, boolean or null"));
            }
        };
        if let Some(other) = sources.insert(key.to_owned(), json!(name)) {
            let other = other.as_str().unwrap_or_default();
            let message = format!("sets the Kit field `{key}`, which `{at}{other}` sets too");
            return Err(fields.invalid(name, message));
        }
        mapped.insert(key.to_owned(), value);
    }
    Ok(mapped)
}

/// Adds a subscriber, by email address in the body or by id in the path, to the tag,
/// sequence or form `membership` is about.
async fn join(
    spec: &ProviderSpec,
    client: &Client<'_>,
    membership: &Membership,
    raw: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let input = one_subscriber(spec, membership.action, raw)?;
    let id = input.required_id(membership.id_field)?;
    let collection = membership.collection;
    let (path, mut body) = match (email(input)?, input.id("subscriber_id")?) {
        (Some(email), _) => (
            format!("{collection}/{id}/subscribers"),
            json!({"email_address": email}),
        ),
        (None, subscriber) => {
            let subscriber = input.required("subscriber_id", subscriber)?;
            (
                format!("{collection}/{id}/subscribers/{subscriber}"),
                json!({}),
            )
        }
    };
    if let Some(referrer) = input.url("referrer")? {
        body["referrer"] = json!(referrer);
    }
    let request = client.request(Method::POST, &path)?.json(&body);
    let refine = not_found(membership.id_field, no_such(membership.what));
    let written = client.fetch_with(request, refine).await?;
    subscriber_outcome(written, membership.already, false)
}

/// `raw` checked against `action`'s schema, which names a subscriber by
/// `email_address` or by `subscriber_id`. The schema's `oneOf` would blame the whole
/// input: this names the field to fix.
fn one_subscriber<'a>(
    spec: &ProviderSpec,
    action: &str,
    raw: &'a Value,
) -> Result<Input<'a>, AdapterError> {
    let input = Input::new(raw)?;
    match (input.get("email_address"), input.get("subscriber_id")) {
        (Some(_), Some(_)) => Err(input.invalid(
            "subscriber_id",
            "give either email_address or subscriber_id, not both",
        )),
        (None, None) => Err(input.invalid(
            "email_address",
            "give either email_address or subscriber_id",
        )),
        _ => Ok(()),
    }?;
    checked::<IgnoredAny>(spec, action, raw)?;
    Ok(input)
}

/// `create_tag`: `POST /v4/tags`. Kit answers 201 with a new tag, or 200 with the
/// account's tag of that name, so a retry finds the first try's tag.
async fn create_tag(
    spec: &ProviderSpec,
    client: &Client<'_>,
    raw: &Value,
) -> Result<ActionOutcome, AdapterError> {
    checked::<IgnoredAny>(spec, CREATE_TAG, raw)?;
    let input = Input::new(raw)?;
    let name = input.required_string("name")?.trim();
    let request = client
        .request(Method::POST, "tags")?
        .json(&json!({ "name": name }));
    let Fetched {
        status, mut body, ..
    } = client.fetch(request).await?;
    let tag = body
        .get_mut("tag")
        .map(Value::take)
        .filter(|tag| tag.get("id").is_some_and(Value::is_i64))
        .ok_or_else(|| {
            AdapterError::unavailable("malformed response body: no `tag` with an `id`")
        })?;
    Ok(ActionOutcome {
        external_id: tag.get("id").map(Value::to_string),
        output: json!({"created": status == StatusCode::CREATED, "tag": tag}),
    })
}

/// `remove_tag_from_subscriber`: `DELETE /v4/tags/{tag_id}/subscribers/{id}`, or
/// `DELETE /v4/tags/{tag_id}/subscribers` with the email address in the body. Kit
/// answers 204; a 404 (no such tag or subscriber, or the subscriber does not have the
/// tag) names `tag_id`.
async fn remove_tag(
    spec: &ProviderSpec,
    client: &Client<'_>,
    raw: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let input = one_subscriber(spec, REMOVE_TAG, raw)?;
    let tag = input.required_id("tag_id")?;
    let request = match (email(input)?, input.id("subscriber_id")?) {
        (Some(email), _) => client
            .request(Method::DELETE, &format!("tags/{tag}/subscribers"))?
            .json(&json!({ "email_address": email })),
        (None, subscriber) => {
            let subscriber = input.required("subscriber_id", subscriber)?;
            client.request(
                Method::DELETE,
                &format!("tags/{tag}/subscribers/{subscriber}"),
            )?
        }
    };
    client
        .send_with(
            request,
            not_found(
                "tag_id",
                "Kit found no such tag or subscriber, or the subscriber does not have the tag",
            ),
        )
        .await?;
    let mut output = input.map().clone();
    output.insert("removed".into(), json!(true));
    Ok(ActionOutcome {
        external_id: input.id("subscriber_id")?.map(|id| id.to_string()),
        output: Value::Object(output),
    })
}

/// `unsubscribe`: `POST /v4/subscribers/{id}/unsubscribe`. By email address the
/// subscriber is looked up first (`GET /v4/subscribers?email_address=&status=all`:
/// Kit lists only active subscribers unless asked for all); one already cancelled is
/// left as it is.
async fn unsubscribe(
    spec: &ProviderSpec,
    client: &Client<'_>,
    raw: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let input = one_subscriber(spec, UNSUBSCRIBE, raw)?;
    let id = match (email(input)?, input.id("subscriber_id")?) {
        (Some(email), _) => {
            let query = [("email_address", email), ("status", "all".to_owned())];
            let listed: Value = client.get("subscribers", &query).await?;
            let found = listed
                .get("subscribers")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    AdapterError::unavailable("malformed response body: missing list `subscribers`")
                })?
                .first()
                .cloned();
            let Some(subscriber) = found else {
                return Err(input.invalid(
                    "email_address",
                    "Kit has no subscriber with this email address",
                ));
            };
            let id = subscriber
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    AdapterError::unavailable("malformed response body: subscriber without `id`")
                })?;
            if subscriber.get("state").and_then(Value::as_str) == Some("cancelled") {
                return Ok(unsubscribed(id, true));
            }
            id
        }
        (None, subscriber) => input.required("subscriber_id", subscriber)?,
    };
    let request = client
        .request(Method::POST, &format!("subscribers/{id}/unsubscribe"))?
        .json(&json!({}));
    client
        .send_with(
            request,
            not_found("subscriber_id", "Kit found no such subscriber"),
        )
        .await?;
    Ok(unsubscribed(id, false))
}

fn unsubscribed(id: u64, already: bool) -> ActionOutcome {
    ActionOutcome {
        external_id: Some(id.to_string()),
        output: json!({"subscriber_id": id, "already_unsubscribed": already}),
    }
}

/// The outcome of a write answered with `{"subscriber": {...}}`. Kit answers 201 when
/// it made something new and 200 when it was already so; `flag` reports which, named
/// for the action (`created` is true on 201, the `already_*` flags on 200).
fn subscriber_outcome(
    written: Fetched,
    flag: &str,
    flag_means_created: bool,
) -> Result<ActionOutcome, AdapterError> {
    let Fetched {
        status, mut body, ..
    } = written;
    let subscriber = body
        .get_mut("subscriber")
        .map(Value::take)
        .filter(|s| s.get("id").is_some_and(Value::is_i64))
        .ok_or_else(|| {
            AdapterError::unavailable("malformed response body: no `subscriber` with an `id`")
        })?;
    let created = status == StatusCode::CREATED;
    let mut output = Map::new();
    output.insert(flag.to_owned(), json!(created == flag_means_created));
    if let Some(warnings) = body.get_mut("warnings").map(Value::take) {
        // Custom field keys Kit does not know and ignored: usually a missing custom
        // field in Kit or a name the connection's field_map does not map.
        tracing::warn!(
            provider = PROVIDER_ID,
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

/// The `POST /v4/broadcasts` body for a `create_broadcast` input: the input itself,
/// its subject and content not blank, its times in UTC with whole seconds
/// (`2026-03-01T09:00:00Z`), its address and link trimmed. An explicit null `send_at`
/// asks for a draft, as Kit documents; absent says the same.
fn broadcast_body(spec: &ProviderSpec, raw: &Value) -> Result<Map<String, Value>, AdapterError> {
    checked::<IgnoredAny>(spec, CREATE_BROADCAST, raw).map_err(|err| match err {
        // Kit's audience filter is a small language of its own: a problem inside it is
        // the filter's, with where it is.
        AdapterError::Invalid {
            field: Some(field),
            message,
        } if field.starts_with("subscriber_filter") => {
            AdapterError::invalid_field("subscriber_filter", format!("{field}: {message}"))
        }
        other => other,
    })?;
    let input = Input::new(raw)?;
    let mut body = input.map().clone();
    for name in ["subject", "content"] {
        input.required_string(name)?;
    }
    for name in ["published_at", "send_at"] {
        if let Some(at) = input.date_time(name)? {
            body.insert(
                name.into(),
                json!(at.to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
        }
    }
    if let Some(email) = email(input)? {
        body.insert("email_address".into(), json!(email));
    }
    if let Some(url) = input.url("thumbnail_url")? {
        body.insert("thumbnail_url".into(), json!(url));
    }
    // The schema lets a group hold `all`, `any` and `none`; Kit takes one of them.
    let groups = input.get("subscriber_filter").and_then(Value::as_array);
    let mut groups = groups.into_iter().flatten().filter_map(Value::as_object);
    if groups.any(|group| group.values().filter(|kind| !kind.is_null()).count() > 1) {
        return Err(input.invalid(
            "subscriber_filter",
            "Kit supports one of `all`, `any` or `none` per filter, not a combination",
        ));
    }
    Ok(body)
}

async fn create_broadcast(
    client: &Client<'_>,
    body: Map<String, Value>,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    if idempotency_key.is_some()
        && let Some(existing) = find_same_broadcast(client, &body).await?
    {
        return broadcast_outcome(existing, true);
    }
    let request = client.request(Method::POST, "broadcasts")?.json(&body);
    let Fetched { mut body, .. } = client.fetch(request).await?;
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
    client: &Client<'_>,
    body: &Map<String, Value>,
) -> Result<Option<Value>, AdapterError> {
    let query = [("per_page", BROADCAST_DEDUPE_SCAN.to_string())];
    let listed: Value = client.get("broadcasts", &query).await?;
    let Some(broadcasts) = listed.get("broadcasts").and_then(Value::as_array) else {
        return Err(AdapterError::unavailable(
            "malformed response body: missing list `broadcasts`",
        ));
    };
    let since = client.context().now() - Days::hours(BROADCAST_DEDUPE_WINDOW_HOURS);
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

    fn spec() -> &'static ProviderSpec {
        crate::spec::spec()
    }

    /// The field an input is refused on.
    fn refused_on<T: std::fmt::Debug>(result: Result<T, AdapterError>) -> String {
        match result {
            Err(AdapterError::Invalid {
                field: Some(field), ..
            }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fields_are_mapped_and_stringified() {
        let map = FieldMap::parse("surname:last_name").unwrap();
        let input = |fields: Value| json!({"email_address": " a@b.co ", "fields": fields});
        let subscriber = new_subscriber(
            spec(),
            &input(json!({"surname": "Lamarr", "score": 87, "vip": true, "company": null})),
            &map,
        )
        .unwrap();
        assert_eq!(subscriber.email_address, "a@b.co");
        assert_eq!(
            Value::Object(subscriber.fields),
            json!({"last_name": "Lamarr", "score": "87", "vip": "true", "company": null})
        );
        for (fields, field) in [
            (json!({"surname": "a", "last_name": "b"}), "fields.surname"),
            (json!({"tags": ["a"]}), "fields.tags"),
            (json!(["a"]), "fields"),
        ] {
            assert_eq!(
                refused_on(new_subscriber(spec(), &input(fields), &map)),
                field
            );
        }
    }

    #[test]
    fn subscriber_filters_follow_kits_rules() {
        let with =
            |filter: Value| json!({"subject": "a", "content": "b", "subscriber_filter": filter});
        for good in [
            json!([]),
            json!([{"all": [{"type": "segment", "ids": [18]}]}]),
            json!([{"all": null, "any": [{"type": "tag", "ids": [1, 2]}], "none": null}]),
        ] {
            let body = broadcast_body(spec(), &with(good.clone())).unwrap();
            assert_eq!(body["subscriber_filter"], good);
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
            assert_eq!(
                refused_on(broadcast_body(spec(), &with(bad.clone()))),
                "subscriber_filter",
                "{bad}"
            );
        }
    }

    #[test]
    fn broadcast_bodies_normalize_times_and_keep_drafts() {
        let body = broadcast_body(
            spec(),
            &json!({
                "subject": "Hello!",
                "content": "<p>Hi</p>",
                "send_at": "2026-03-01T10:00:00+01:00",
                "public": false
            }),
        )
        .unwrap();
        assert_eq!(body["send_at"], "2026-03-01T09:00:00Z");
        let draft = broadcast_body(
            spec(),
            &json!({"subject": "a", "content": "b", "send_at": null}),
        )
        .unwrap();
        assert_eq!(draft["send_at"], Value::Null);
        let draft = broadcast_body(spec(), &json!({"subject": "a", "content": "b"})).unwrap();
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
            assert_eq!(refused_on(broadcast_body(spec(), &bad)), field, "{bad}");
        }
    }
}

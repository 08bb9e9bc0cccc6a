//! The bulk actions: `bulk_upsert_subscribers` (many subscribers created or updated
//! by email address) and `bulk_tag_subscribers` (many taggings), with a result for
//! each item.
//!
//! Kit's bulk endpoint (`POST /v4/bulk/subscribers`) serves OAuth apps only; it
//! answers batches of up to 100 subscribers synchronously (`{"subscribers": [...],
//! "failures": [{"subscriber": {...}, "errors": [...]}]}`) and larger ones later, to a
//! `callback_url` Junction does not have. So an OAuth connection sends the input in
//! chunks of at most [`SYNC_LIMIT`], which keeps every contact's result in the
//! answer; a chunk Kit queues anyway (202, no body) is reported as `queued`. An
//! API-key connection, which the bulk endpoints refuse, sends one
//! `POST /v4/subscribers` per subscriber instead: the same upsert, which also tells
//! a created subscriber (201) from an updated one (200). Kit's published schema of a
//! bulk entry names only `email_address`, `first_name` and `state`, so a subscriber
//! with custom `fields` goes by the single upsert on either credential: it sets the
//! mapped fields and reports, in `warnings`, the keys Kit ignored.
//!
//! `bulk_tag_subscribers` goes the same two ways: `POST /v4/bulk/tags/subscribers`
//! `{"taggings": [{"tag_id", "subscriber_id"}]}` in chunks of 100 (Kit answers the
//! tagged subscribers and `failures: [{"tagging", "errors"}]`, the missing side of a
//! tagging null), or one `POST /v4/tags/{tag_id}/subscribers/{id}` each.
//!
//! Upserts by email address and taggings both have their effect once: a retried action (a whole retry after a rate
//! limit or an outage part-way) changes nothing that the first try already did. Kit
//! rejects an address it cannot use per contact (a failure with its errors); a
//! refusal of the whole request (rate limit, credentials, outage) fails the action so
//! the worker retries it.

use http::{Method, StatusCode};
use junction_core::{ActionOutcome, AdapterError, spec::ProviderSpec};
use junction_toolkit::{Client, Fetched, input::checked};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    actions::{NewSubscriber, map_fields},
    api::{no_such, not_found},
    settings::FieldMap,
    spec::{BULK_TAG_SUBSCRIBERS, BULK_UPSERT_SUBSCRIBERS},
};

/// How a connection reaches Kit: only OAuth tokens may use Kit's bulk endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    ApiKey,
    OAuth,
}

/// The most subscribers Kit's bulk endpoint answers synchronously.
pub(crate) const SYNC_LIMIT: usize = 100;

#[derive(Debug, Deserialize)]
struct BulkInput {
    subscribers: Vec<NewSubscriber>,
}

/// The input's subscribers, their addresses trimmed and their `fields` mapped; an
/// address given twice is refused (the two upserts could land in either order).
pub(crate) fn parse(
    spec: &ProviderSpec,
    input: &Value,
    field_map: &FieldMap,
) -> Result<Vec<NewSubscriber>, AdapterError> {
    let BulkInput { mut subscribers } = checked(spec, BULK_UPSERT_SUBSCRIBERS, input)?;
    let mut seen = std::collections::HashMap::new();
    for (index, subscriber) in subscribers.iter_mut().enumerate() {
        let prefix = format!("subscribers[{index}].");
        subscriber.email_address = subscriber.email_address.trim().to_owned();
        if let Some(first) = seen.insert(subscriber.email_address.to_lowercase(), index) {
            return Err(AdapterError::invalid_field(
                format!("{prefix}email_address"),
                format!("repeats subscribers[{first}]"),
            ));
        }
        subscriber.fields = map_fields(&subscriber.fields, field_map, &prefix)?;
    }
    Ok(subscribers)
}

/// Upserts `subscribers` as `credential` allows; the outcome lists one result per
/// input subscriber, in input order.
pub(crate) async fn upsert(
    client: &Client<'_>,
    credential: Credential,
    subscribers: &[NewSubscriber],
) -> Result<ActionOutcome, AdapterError> {
    let mut results: Vec<Option<Value>> = vec![None; subscribers.len()];
    // Kit's bulk entry takes no custom fields (its published schema names only
    // `email_address`, `first_name` and `state`): a subscriber with fields goes by the
    // single upsert, which sets them and reports the keys Kit ignored, so no mapped
    // value is dropped without a word.
    let bulk: Vec<usize> = match credential {
        Credential::OAuth => (0..subscribers.len())
            .filter(|&i| subscribers[i].fields.is_empty())
            .collect(),
        Credential::ApiKey => Vec::new(),
    };
    for positions in bulk.chunks(SYNC_LIMIT) {
        let chunk: Vec<NewSubscriber> = positions.iter().map(|&i| subscribers[i].clone()).collect();
        for (&i, result) in positions.iter().zip(bulk_chunk(client, &chunk).await?) {
            results[i] = Some(result);
        }
    }
    for (i, subscriber) in subscribers.iter().enumerate() {
        if results[i].is_none() {
            results[i] = Some(one(client, subscriber).await?);
        }
    }
    Ok(summary(results.into_iter().flatten().collect()))
}

/// The outcome of a bulk action: each result numbered by its input position, and
/// the counts of those that succeeded, failed or were queued.
fn summary(mut results: Vec<Value>) -> ActionOutcome {
    for (index, result) in results.iter_mut().enumerate() {
        result["index"] = json!(index);
    }
    let count = |status: &str| results.iter().filter(|r| r["status"] == status).count();
    let failed = count("failed");
    let queued = count("queued");
    ActionOutcome {
        external_id: None,
        output: json!({
            "succeeded": results.len() - failed - queued,
            "failed": failed,
            "queued": queued,
            "results": results,
        }),
    }
}

/// One tagging of `bulk_tag_subscribers`, and an entry of Kit's `taggings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub(crate) struct Tagging {
    tag_id: u64,
    subscriber_id: u64,
}

#[derive(Debug, Deserialize)]
struct TaggingsInput {
    taggings: Vec<Tagging>,
}

/// The input's taggings (the schema says everything about them).
pub(crate) fn parse_taggings(
    spec: &ProviderSpec,
    input: &Value,
) -> Result<Vec<Tagging>, AdapterError> {
    checked::<TaggingsInput>(spec, BULK_TAG_SUBSCRIBERS, input).map(|input| input.taggings)
}

/// Applies `taggings` as `credential` allows; one result per tagging, in input order.
pub(crate) async fn tag(
    client: &Client<'_>,
    credential: Credential,
    taggings: &[Tagging],
) -> Result<ActionOutcome, AdapterError> {
    let mut results = Vec::with_capacity(taggings.len());
    match credential {
        Credential::OAuth => {
            for chunk in taggings.chunks(SYNC_LIMIT) {
                results.extend(tag_chunk(client, chunk).await?);
            }
        }
        Credential::ApiKey => {
            for tagging in taggings {
                results.push(tag_one(client, *tagging).await?);
            }
        }
    }
    Ok(summary(results))
}

/// The result of one tagging, as `status` with more.
fn tagging_result(tagging: Tagging, status: &str) -> Value {
    json!({"tag_id": tagging.tag_id, "subscriber_id": tagging.subscriber_id, "status": status})
}

/// One tagging through `POST /v4/tags/{tag_id}/subscribers/{id}`: 201 tagged, 200
/// already tagged, 404 this tagging's failure.
async fn tag_one(client: &Client<'_>, tagging: Tagging) -> Result<Value, AdapterError> {
    let Tagging {
        tag_id,
        subscriber_id,
    } = tagging;
    let path = format!("tags/{tag_id}/subscribers/{subscriber_id}");
    let request = client.request(Method::POST, &path)?.json(&json!({}));
    match client
        .fetch_with(request, not_found("tag_id", no_such("tag")))
        .await
    {
        Ok(Fetched { status, .. }) => Ok(tagging_result(
            tagging,
            if status == StatusCode::CREATED {
                "tagged"
            } else {
                "already_tagged"
            },
        )),
        Err(AdapterError::Invalid { message, .. }) => {
            let mut result = tagging_result(tagging, "failed");
            result["errors"] = json!([message]);
            Ok(result)
        }
        Err(other) => Err(other),
    }
}

#[derive(Debug, Deserialize)]
struct TagAnswer {
    subscribers: Vec<Value>,
    failures: Vec<TagFailure>,
}

#[derive(Debug, Deserialize)]
struct TagFailure {
    #[serde(default)]
    tagging: Value,
    #[serde(default)]
    errors: Vec<String>,
}

/// One chunk of at most [`SYNC_LIMIT`] taggings through
/// `POST /v4/bulk/tags/subscribers`.
async fn tag_chunk(client: &Client<'_>, chunk: &[Tagging]) -> Result<Vec<Value>, AdapterError> {
    let request = client
        .request(Method::POST, "bulk/tags/subscribers")?
        .json(&json!({ "taggings": chunk }));
    let response = client.send(request).await?;
    if response.status() == StatusCode::ACCEPTED {
        return Ok(chunk.iter().map(|t| tagging_result(*t, "queued")).collect());
    }
    let answer: TagAnswer = junction_core::http::json(response).await?;
    // Kit names a failed tagging by the side that exists, the other null. An id Kit
    // shows elsewhere (a tagged subscriber, the named side of a failure) exists, so a
    // null side cannot stand for it; each failure is used once, for the first tagging
    // it fits.
    let mut known_tags = std::collections::HashSet::new();
    let mut known_subscribers: std::collections::HashSet<u64> = answer
        .subscribers
        .iter()
        .filter_map(|s| s.get("id").and_then(Value::as_u64))
        .collect();
    for failure in &answer.failures {
        known_tags.extend(failure.tagging["tag_id"].as_u64());
        known_subscribers.extend(failure.tagging["subscriber_id"].as_u64());
    }
    let fits = |side: &Value, id: u64, known: &std::collections::HashSet<u64>| match side {
        Value::Null => !known.contains(&id),
        side => side.as_u64() == Some(id),
    };
    let mut failures: Vec<Option<TagFailure>> = answer.failures.into_iter().map(Some).collect();
    Ok(chunk
        .iter()
        .map(|tagging| {
            let failure = failures
                .iter_mut()
                .find(|f| {
                    f.as_ref().is_some_and(|f| {
                        fits(&f.tagging["tag_id"], tagging.tag_id, &known_tags)
                            && fits(
                                &f.tagging["subscriber_id"],
                                tagging.subscriber_id,
                                &known_subscribers,
                            )
                    })
                })
                .and_then(Option::take);
            match failure {
                Some(failure) => {
                    let mut result = tagging_result(*tagging, "failed");
                    result["errors"] = json!(failure.errors);
                    result
                }
                None => tagging_result(*tagging, "tagged"),
            }
        })
        .collect())
}

/// One subscriber through `POST /v4/subscribers`: 201 created, 200 updated, a 422 is
/// this contact's failure.
async fn one(client: &Client<'_>, subscriber: &NewSubscriber) -> Result<Value, AdapterError> {
    let request = client
        .request(Method::POST, "subscribers")?
        .json(subscriber);
    match client.fetch(request).await {
        Ok(Fetched { status, body, .. }) => {
            let written = &body["subscriber"];
            let Some(id) = written.get("id").and_then(Value::as_i64) else {
                return Err(AdapterError::unavailable(
                    "malformed response body: no `subscriber` with an `id`",
                ));
            };
            let status = if status == StatusCode::CREATED {
                "created"
            } else {
                "updated"
            };
            let mut result = json!({
                "email_address": subscriber.email_address, "status": status, "id": id,
                "subscriber": written,
            });
            if let Some(warnings) = body.get("warnings") {
                result["warnings"] = warnings.clone();
            }
            Ok(result)
        }
        // Kit refused this contact (an unusable address, a bad state): the others go on.
        Err(AdapterError::Invalid { message, .. }) => Ok(failure(subscriber, vec![message])),
        Err(other) => Err(other),
    }
}

/// Kit's synchronous bulk answer.
#[derive(Debug, Deserialize)]
struct BulkAnswer {
    subscribers: Vec<Value>,
    failures: Vec<BulkFailure>,
}

#[derive(Debug, Deserialize)]
struct BulkFailure {
    #[serde(default)]
    subscriber: Value,
    #[serde(default)]
    errors: Vec<String>,
}

/// One chunk of at most [`SYNC_LIMIT`] through `POST /v4/bulk/subscribers`.
async fn bulk_chunk(
    client: &Client<'_>,
    chunk: &[NewSubscriber],
) -> Result<Vec<Value>, AdapterError> {
    let request = client
        .request(Method::POST, "bulk/subscribers")?
        .json(&json!({ "subscribers": chunk }));
    let response = client.send(request).await?;
    if response.status() == StatusCode::ACCEPTED {
        // Kit queued the chunk after all: its results go to a callback, not here.
        return Ok(chunk
            .iter()
            .map(|s| json!({"email_address": s.email_address, "status": "queued"}))
            .collect());
    }
    let answer: BulkAnswer = junction_core::http::json(response).await?;
    Ok(match_results(chunk, answer))
}

/// Each sent subscriber's result: the upserted subscriber of its address, else the
/// failure of its address, else the next failure Kit could not name an address for
/// (Kit answers an invalid address with `"email_address": null`, in input order).
fn match_results(chunk: &[NewSubscriber], answer: BulkAnswer) -> Vec<Value> {
    let same = |value: &Value, email: &str| {
        value
            .get("email_address")
            .and_then(Value::as_str)
            .is_some_and(|address| address.eq_ignore_ascii_case(email))
    };
    let mut failures: Vec<Option<BulkFailure>> = answer.failures.into_iter().map(Some).collect();
    let mut unnamed = Vec::new();
    let mut results = Vec::with_capacity(chunk.len());
    for (position, subscriber) in chunk.iter().enumerate() {
        let email = subscriber.email_address.as_str();
        if let Some(written) = answer.subscribers.iter().find(|s| same(s, email)) {
            results.push(json!({
                "email_address": email, "status": "upserted", "id": written["id"],
                "subscriber": written,
            }));
            continue;
        }
        let named = failures
            .iter_mut()
            .find(|f| f.as_ref().is_some_and(|f| same(&f.subscriber, email)))
            .and_then(Option::take);
        match named {
            Some(failure) => results.push(self::failure(subscriber, failure.errors)),
            None => {
                unnamed.push(position);
                results.push(Value::Null);
            }
        }
    }
    let mut left = failures.into_iter().flatten();
    for position in unnamed {
        let errors = left.next().map_or_else(
            || vec!["Kit reported no result for this subscriber".to_owned()],
            |failure| failure.errors,
        );
        if let Some(subscriber) = chunk.get(position) {
            results[position] = failure(subscriber, errors);
        }
    }
    results
}

fn failure(subscriber: &NewSubscriber, errors: Vec<String>) -> Value {
    json!({"email_address": subscriber.email_address, "status": "failed", "errors": errors})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscriber(email: &str) -> NewSubscriber {
        NewSubscriber {
            email_address: email.into(),
            first_name: None,
            state: None,
            fields: Default::default(),
        }
    }

    #[test]
    fn results_follow_the_input_whatever_kit_names() {
        let chunk = [
            subscriber("a@x.co"),
            subscriber("bad"),
            subscriber("B@x.co"),
            subscriber("worse"),
        ];
        let answer: BulkAnswer = serde_json::from_value(json!({
            "subscribers": [{"id": 2, "email_address": "b@x.co"}, {"id": 1, "email_address": "a@x.co"}],
            "failures": [
                {"subscriber": {"email_address": null}, "errors": ["Email address is invalid"]},
                {"subscriber": {"email_address": "worse"}, "errors": ["Nope"]}
            ]
        }))
        .unwrap();
        let results = match_results(&chunk, answer);
        let statuses: Vec<_> = results.iter().map(|r| r["status"].clone()).collect();
        assert_eq!(
            statuses,
            [
                json!("upserted"),
                json!("failed"),
                json!("upserted"),
                json!("failed")
            ]
        );
        assert_eq!(results[0]["id"], 1);
        assert_eq!(results[2]["id"], 2);
        assert_eq!(results[1]["errors"], json!(["Email address is invalid"]));
        assert_eq!(results[3]["errors"], json!(["Nope"]));
    }

    #[test]
    fn repeated_addresses_and_bad_fields_name_the_subscriber() {
        let spec = crate::spec::spec();
        let map = FieldMap::parse("surname:last_name").unwrap();
        let refused = |input: Value| match parse(spec, &input, &map) {
            Err(AdapterError::Invalid {
                field: Some(field), ..
            }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(
                json!({"subscribers": [{"email_address": "a@x.co"}, {"email_address": " A@x.co"}]})
            ),
            "subscribers[1].email_address"
        );
        assert_eq!(
            refused(
                json!({"subscribers": [{"email_address": "a@x.co", "fields": {"surname": "a", "last_name": "b"}}]})
            ),
            "subscribers[0].fields.surname"
        );
        assert_eq!(
            refused(json!({"subscribers": [{"email_address": "a@x.co", "tags": []}]})),
            "subscribers[0].tags"
        );
        assert_eq!(refused(json!({"subscribers": []})), "subscribers");
        let parsed = parse(
            spec,
            &json!({"subscribers": [{"email_address": " a@x.co ", "fields": {"surname": "Lamarr", "score": 3}}]}),
            &map,
        )
        .unwrap();
        assert_eq!(parsed[0].email_address, "a@x.co");
        assert_eq!(
            Value::Object(parsed[0].fields.clone()),
            json!({"last_name": "Lamarr", "score": "3"})
        );
    }
}

//! HubSpot's actions, each input checked against its JSON Schema (`actions.json`)
//! again — a queued input may predate a stricter schema — and sent as the request
//! HubSpot documents for it. Every failure names the input field.
//!
//! HubSpot takes no idempotency keys, so each action is made safe to retry its own
//! way:
//!
//! - `upsert_contact` is HubSpot's batch upsert with `idProperty: email`
//!   (`POST /crm/v3/objects/contacts/batch/upsert`): a second run updates the contact
//!   the first one created;
//! - `upsert_deal` with a `deal_id` is a `PATCH` (the same properties twice are one
//!   change); without one it creates a deal — and when the call carries Junction's
//!   idempotency key (every action run does), it first searches for a deal of the
//!   same name, pipeline and stage created in the last [`DEDUPE_WINDOW_HOURS`] hours
//!   with the same amount, and answers with that one: the first attempt's deal when
//!   its answer was lost;
//! - `associate` is a `PUT` of the default association (v4), which HubSpot keeps
//!   once however often it is put;
//! - `add_note` creates a note with its association in one request
//!   (`POST /crm/v3/objects/notes`); with an idempotency key it first searches the
//!   notes associated with the record (the search's `associations.{type}`
//!   pseudo-property) created in the last day for one with the same text (and
//!   timeline time, when the input gives one).

use chrono::{Duration as Span, SecondsFormat, Utc};
use http::{Method, StatusCode};
use junction_core::{ActionOutcome, AdapterError, http::Refusal, spec::ProviderSpec};
use junction_toolkit::{Client, input::checked};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    objects::{self, CONTACT, DEAL, ObjectType, TYPES},
    spec::{ADD_NOTE, ASSOCIATE, UPSERT_CONTACT, UPSERT_DEAL},
};

/// How far back an identical deal or note counts as an earlier attempt of a
/// retried action.
pub(crate) const DEDUPE_WINDOW_HOURS: i64 = 24;

/// How many candidates a duplicate search compares.
const DEDUPE_SCAN: u32 = 100;

/// HubSpot's association type ids of a note to a contact, a company and a deal
/// (HUBSPOT_DEFINED).
const NOTE_ASSOCIATIONS: [(&str, u32); 3] = [("contact", 202), ("company", 190), ("deal", 214)];

/// Runs `action` of `spec` with `input`.
pub(crate) async fn run(
    spec: &ProviderSpec,
    client: &Client<'_>,
    action: &str,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    match action {
        UPSERT_CONTACT => upsert_contact(client, checked(spec, action, input)?).await,
        UPSERT_DEAL => {
            upsert_deal(
                client,
                checked(spec, action, input)?,
                idempotency_key.is_some(),
            )
            .await
        }
        ASSOCIATE => associate(client, checked(spec, action, input)?).await,
        ADD_NOTE => {
            add_note(
                client,
                checked(spec, action, input)?,
                idempotency_key.is_some(),
            )
            .await
        }
        _ => Err(AdapterError::unknown_action(spec.name, action)),
    }
}

/// `upsert_contact`'s input.
#[derive(Debug, Deserialize)]
struct ContactInput {
    email: String,
    #[serde(flatten)]
    named: Map<String, Value>,
}

/// HubSpot stores every property as text: numbers and booleans as written, null as
/// the empty text that clears the property.
fn property_text(value: &Value) -> Value {
    match value {
        Value::String(_) => value.clone(),
        Value::Null => Value::String(String::new()),
        other => Value::String(other.to_string()),
    }
}

/// The properties of an input: its named fields (but `skip`) and its `properties`.
fn properties(named: &Map<String, Value>, skip: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Object(more)) = named.get("properties") {
        for (name, value) in more {
            out.insert(name.clone(), property_text(value));
        }
    }
    for (name, value) in named {
        if name != "properties" && !skip.contains(&name.as_str()) {
            out.insert(name.clone(), property_text(value));
        }
    }
    out
}

async fn upsert_contact(
    client: &Client<'_>,
    input: ContactInput,
) -> Result<ActionOutcome, AdapterError> {
    let email = input.email.trim().to_lowercase();
    if !junction_toolkit::input::is_email(&email) {
        return Err(AdapterError::invalid_field(
            "email",
            "is not an email address",
        ));
    }
    let body = json!({"inputs": [{
        "idProperty": "email",
        "id": email,
        "properties": properties(&input.named, &[]),
    }]});
    let request = client
        .request(Method::POST, &objects::path(CONTACT, "/batch/upsert"))?
        .json(&body);
    let answer = client.fetch(request).await?.body;
    let Some(contact) = answer.pointer("/results/0") else {
        // A 207: HubSpot refused the input and says why in `errors`.
        let message = answer
            .pointer("/errors/0/message")
            .and_then(Value::as_str)
            .unwrap_or("HubSpot refused the contact");
        return Err(AdapterError::invalid_field(
            "properties",
            junction_toolkit::data::one_line(message, 300),
        ));
    };
    let id = contact.get("id").and_then(Value::as_str).map(str::to_owned);
    Ok(ActionOutcome {
        external_id: id.clone(),
        output: json!({
            "id": id,
            "created": contact.get("new").and_then(Value::as_bool).unwrap_or(false),
            "properties": contact.get("properties"),
        }),
    })
}

/// `upsert_deal`'s input.
#[derive(Debug, Deserialize)]
struct DealInput {
    #[serde(default)]
    deal_id: Option<String>,
    #[serde(flatten)]
    named: Map<String, Value>,
}

async fn upsert_deal(
    client: &Client<'_>,
    input: DealInput,
    dedupe: bool,
) -> Result<ActionOutcome, AdapterError> {
    let mut properties = properties(&input.named, &[]);
    if let Some(code) = properties.get_mut("deal_currency_code") {
        *code = Value::String(code.as_str().unwrap_or_default().to_ascii_uppercase());
    }
    if let Some(Value::String(close)) = properties.get("closedate") {
        let at = chrono::DateTime::parse_from_rfc3339(close)
            .map_err(|_| AdapterError::invalid_field("closedate", "is not an RFC 3339 time"))?;
        properties.insert(
            "closedate".into(),
            Value::String(
                at.with_timezone(&Utc)
                    .to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
        );
    }
    if let Some(id) = input.deal_id {
        let request = client
            .request(Method::PATCH, &objects::path(DEAL, &format!("/{id}")))?
            .json(&json!({"properties": properties}));
        let deal = client
            .fetch_with(
                request,
                not_found("deal_id", "HubSpot has no deal with this id"),
            )
            .await?
            .body;
        return Ok(deal_outcome(&deal, false, false));
    }
    let Some(name) = properties
        .get("dealname")
        .and_then(Value::as_str)
        .filter(|name| !name.trim().is_empty())
        .map(str::to_owned)
    else {
        return Err(AdapterError::invalid_field(
            "dealname",
            "is required to create a deal (give deal_id to update one)",
        ));
    };
    if dedupe && let Some(deal) = earlier_deal(client, &name, &properties).await? {
        return Ok(deal_outcome(&deal, false, true));
    }
    let request = client
        .request(Method::POST, &objects::path(DEAL, ""))?
        .json(&json!({"properties": properties}));
    let deal = client.fetch(request).await?.body;
    Ok(deal_outcome(&deal, true, false))
}

fn deal_outcome(deal: &Value, created: bool, deduplicated: bool) -> ActionOutcome {
    let id = deal.get("id").and_then(Value::as_str).map(str::to_owned);
    ActionOutcome {
        external_id: id.clone(),
        output: json!({
            "id": id,
            "created": created,
            "deduplicated": deduplicated,
            "properties": deal.get("properties"),
        }),
    }
}

/// A deal of `name` with the same pipeline, stage and amount created in the dedupe
/// window: the first attempt of a retried create.
async fn earlier_deal(
    client: &Client<'_>,
    name: &str,
    properties: &Map<String, Value>,
) -> Result<Option<Value>, AdapterError> {
    let since = (client.context().now() - Span::hours(DEDUPE_WINDOW_HOURS)).timestamp_millis();
    let mut filters = vec![
        json!({"propertyName": "dealname", "operator": "EQ", "value": name}),
        json!({"propertyName": "createdate", "operator": "GTE", "value": since.to_string()}),
    ];
    for property in ["pipeline", "dealstage"] {
        if let Some(value) = properties.get(property).and_then(Value::as_str) {
            filters.push(json!({"propertyName": property, "operator": "EQ", "value": value}));
        }
    }
    let found = search(
        client,
        DEAL,
        filters,
        &["dealname", "amount", "pipeline", "dealstage"],
    )
    .await?;
    let wanted = properties
        .get("amount")
        .and_then(junction_toolkit::data::number);
    Ok(found.into_iter().find(|deal| {
        let amount = deal
            .pointer("/properties/amount")
            .and_then(junction_toolkit::data::number);
        deal.pointer("/properties/dealname").and_then(Value::as_str) == Some(name)
            && amount == wanted
    }))
}

/// The records of `kind` matching `filters`, newest first (at most [`DEDUPE_SCAN`]).
async fn search(
    client: &Client<'_>,
    kind: ObjectType,
    filters: Vec<Value>,
    read: &[&str],
) -> Result<Vec<Value>, AdapterError> {
    let body = json!({
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}],
        "properties": read,
        "limit": DEDUPE_SCAN,
    });
    let request = client
        .request(Method::POST, &objects::path(kind, "/search"))?
        .json(&body);
    let answer = client.fetch(request).await?.body;
    Ok(answer
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

/// `associate`'s input.
#[derive(Debug, Deserialize)]
struct AssociateInput {
    from_type: String,
    from_id: String,
    to_type: String,
    to_id: String,
}

async fn associate(
    client: &Client<'_>,
    input: AssociateInput,
) -> Result<ActionOutcome, AdapterError> {
    let known = |name: &str| TYPES.iter().any(|kind| kind.singular == name);
    for (field, value) in [("from_type", &input.from_type), ("to_type", &input.to_type)] {
        if !known(value) {
            return Err(AdapterError::invalid_field(
                field,
                "must be contact, company or deal",
            ));
        }
    }
    let path = format!(
        "crm/v4/objects/{}/{}/associations/default/{}/{}",
        input.from_type, input.from_id, input.to_type, input.to_id
    );
    let answer = client
        .fetch_with(
            client.request(Method::PUT, &path)?,
            not_found(
                "from_id",
                "HubSpot has no such record to associate (from_id or to_id)",
            ),
        )
        .await?
        .body;
    Ok(ActionOutcome {
        external_id: Some(format!("{}:{}", input.from_id, input.to_id)),
        output: json!({
            "status": answer.get("status"),
            "results": answer.get("results"),
        }),
    })
}

/// `add_note`'s input.
#[derive(Debug, Deserialize)]
struct NoteInput {
    object_type: String,
    object_id: String,
    body: String,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    hubspot_owner_id: Option<String>,
}

/// Notes, as the search and create paths name them.
const NOTE: ObjectType = ObjectType {
    stream: "",
    plural: "notes",
    singular: "note",
    type_id: "0-46",
    modified: "hs_lastmodifieddate",
    properties: &[],
};

async fn add_note(
    client: &Client<'_>,
    input: NoteInput,
    dedupe: bool,
) -> Result<ActionOutcome, AdapterError> {
    let Some(&(_, type_id)) = NOTE_ASSOCIATIONS
        .iter()
        .find(|(name, _)| *name == input.object_type)
    else {
        return Err(AdapterError::invalid_field(
            "object_type",
            "must be contact, company or deal",
        ));
    };
    let given = match &input.timestamp {
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| AdapterError::invalid_field("timestamp", "is not an RFC 3339 time"))?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let timestamp = given
        .unwrap_or_else(|| client.context().now())
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    if dedupe && let Some(note) = earlier_note(client, &input, given.map(|_| &timestamp)).await? {
        return Ok(note_outcome(&note, false, true));
    }
    let mut properties = json!({"hs_note_body": input.body, "hs_timestamp": timestamp});
    if let Some(owner) = &input.hubspot_owner_id {
        properties["hubspot_owner_id"] = Value::String(owner.clone());
    }
    let body = json!({
        "properties": properties,
        "associations": [{
            "to": {"id": input.object_id},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        }],
    });
    let request = client
        .request(Method::POST, &objects::path(NOTE, ""))?
        .json(&body);
    let note = client
        .fetch_with(
            request,
            not_found("object_id", "HubSpot has no such record to add the note to"),
        )
        .await?
        .body;
    Ok(note_outcome(&note, true, false))
}

/// A note with the same text on the same record created in the dedupe window (and
/// at the same timeline time, when the input gives one).
async fn earlier_note(
    client: &Client<'_>,
    input: &NoteInput,
    timestamp: Option<&String>,
) -> Result<Option<Value>, AdapterError> {
    let since = (client.context().now() - Span::hours(DEDUPE_WINDOW_HOURS)).timestamp_millis();
    let filters = vec![
        json!({
            "propertyName": format!("associations.{}", input.object_type),
            "operator": "EQ",
            "value": input.object_id,
        }),
        json!({"propertyName": "hs_createdate", "operator": "GTE", "value": since.to_string()}),
    ];
    let found = search_notes(client, filters).await?;
    let same_time = |note: &Value| match timestamp {
        None => true,
        Some(wanted) => note
            .pointer("/properties/hs_timestamp")
            .and_then(Value::as_str)
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
            .zip(chrono::DateTime::parse_from_rfc3339(wanted).ok())
            .is_some_and(|(at, wanted)| at == wanted),
    };
    Ok(found.into_iter().find(|note| {
        note.pointer("/properties/hs_note_body")
            .and_then(Value::as_str)
            == Some(&input.body)
            && same_time(note)
    }))
}

/// Notes matching `filters`, newest first.
async fn search_notes(
    client: &Client<'_>,
    filters: Vec<Value>,
) -> Result<Vec<Value>, AdapterError> {
    let body = json!({
        "filterGroups": [{"filters": filters}],
        "sorts": [{"propertyName": "hs_createdate", "direction": "DESCENDING"}],
        "properties": ["hs_note_body", "hs_timestamp"],
        "limit": DEDUPE_SCAN,
    });
    let request = client
        .request(Method::POST, &objects::path(NOTE, "/search"))?
        .json(&body);
    let answer = client.fetch(request).await?.body;
    Ok(answer
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default())
}

fn note_outcome(note: &Value, created: bool, deduplicated: bool) -> ActionOutcome {
    let id = note.get("id").and_then(Value::as_str).map(str::to_owned);
    ActionOutcome {
        external_id: id.clone(),
        output: json!({"id": id, "created": created, "deduplicated": deduplicated}),
    }
}

/// What a 404 of a write means: the record the input names does not exist, so the
/// error points at `field`, with HubSpot's words.
fn not_found(
    field: &'static str,
    meaning: &'static str,
) -> impl FnOnce(AdapterError, &Refusal<'_>) -> AdapterError {
    move |classified, refusal| match classified {
        AdapterError::Invalid { message, .. } | AdapterError::Provider { message, .. }
            if refusal.status == StatusCode::NOT_FOUND =>
        {
            AdapterError::Invalid {
                field: Some(field.to_owned()),
                message: format!("{meaning} ({message})"),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_are_text_and_named_fields_win() {
        let named = json!({
            "firstname": "Ada",
            "properties": {"firstname": "ignored", "score": 7, "vip": true, "old": null},
        });
        let out = properties(named.as_object().unwrap(), &[]);
        assert_eq!(
            Value::Object(out),
            json!({"firstname": "Ada", "score": "7", "vip": "true", "old": ""})
        );
    }
}

//! The `send_events` action: events sent through GA4's Measurement Protocol —
//! page views, key events (a `purchase`, a `generate_lead`: whichever events the
//! property marks as key events) and custom events.
//!
//! `POST https://www.google-analytics.com/mp/collect?measurement_id=G-…&api_secret=…`
//! with `{"client_id", "user_id"?, "events": [{"name", "params"}]}`. The collection
//! endpoint answers 2xx with an empty body even for events it drops, so nothing it
//! says can tell a bad event; the action therefore:
//!
//! 1. checks the input against the action's JSON Schema (`actions.json`: at most 25
//!    events, 25 params each, names of at most 40 letters, digits and underscores
//!    starting with a letter, string values of at most 100 characters, at most 25
//!    user properties of at most 24-character names and 36-character values);
//! 2. sends the same body to the validation server, `/debug/mp/collect` on the same
//!    host, which records nothing and answers `{"validationMessages": [{"fieldPath",
//!    "description", "validationCode"}]}` — it also knows what the schema cannot:
//!    the names Google reserves (`session_start`, `firebase_…`, `google_…`, `ga_…`);
//!    any message refuses the whole request as `Invalid`, carrying every message,
//!    and nothing is sent;
//! 3. sends to `/mp/collect`, unless `validate_only`.
//!
//! `measurement_id` is a config field; `api_secret` a secret config field, sealed in
//! the vault and read from the connection's secrets. It travels in the query string,
//! as the protocol wants; core's HTTP layer keeps URLs out of error messages and
//! nothing here logs it. The Measurement Protocol has no idempotency key: a send the
//! API repeats is counted twice (GA4 drops only `purchase` events repeating a
//! `transaction_id`).

use junction_core::{ActionOutcome, AdapterError, Connection, Context};
use junction_toolkit::{
    AuthMode, BaseUrl, Client, Envelope, ErrorTable, HttpApi, RateLimitSignals, input,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::spec::{self, API_SECRET, MEASUREMENT_ID, SEND_EVENTS};

/// The Measurement Protocol's host; `ctx.url` replaces it like the Data API's (the
/// sandbox serves both under one mount).
pub const MP_BASE: &str = "https://www.google-analytics.com";

/// The collection endpoint.
pub const COLLECT: &str = "mp/collect";

/// The validation server's endpoint.
pub const DEBUG_COLLECT: &str = "debug/mp/collect";

/// The Measurement Protocol's description: the API secret as a query parameter,
/// Google's generic refusals (the protocol itself refuses nothing).
pub const MP_API: HttpApi = HttpApi {
    base: BaseUrl::fixed(MP_BASE),
    auth: &[AuthMode::api_key_query("api_secret", "api_secret")],
    headers: &[],
    verification: None,
    errors: ErrorTable {
        envelope: Envelope::GENERIC,
        rules: &[],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// The input of `send_events`, once its schema has passed.
#[derive(Debug, Clone, Deserialize)]
struct SendEvents {
    #[serde(flatten)]
    body: Payload,
    #[serde(default)]
    validate_only: bool,
}

/// The body both endpoints take.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Payload {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_micros: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_personalized_ads: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_properties: Option<Map<String, Value>>,
    pub events: Vec<Event>,
}

/// One event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Event {
    pub name: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub params: Map<String, Value>,
}

/// What the validation server answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationResponse {
    pub validation_messages: Vec<ValidationMessage>,
}

/// One problem the validation server found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationMessage {
    #[serde(default)]
    pub field_path: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub validation_code: String,
}

/// The refusal of events the validation server found problems with: `Invalid`,
/// under the first message's field path (`events` when it names none), carrying
/// every message with its code.
pub(crate) fn refused(messages: &[ValidationMessage]) -> AdapterError {
    let field = messages
        .first()
        .map(|m| m.field_path.trim())
        .filter(|path| !path.is_empty())
        .unwrap_or("events");
    let said: Vec<String> = messages
        .iter()
        .map(|m| {
            let at = if m.field_path.is_empty() {
                String::new()
            } else {
                format!(" at `{}`", m.field_path)
            };
            format!("{}{at}: {}", m.validation_code, m.description)
        })
        .collect();
    AdapterError::invalid_field(
        field,
        format!(
            "GA4's Measurement Protocol validation server refused the events (nothing was \
             sent): {}",
            said.join("; ")
        ),
    )
}

/// Runs `send_events`.
pub(crate) async fn send_events(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let SendEvents {
        body,
        validate_only,
    } = input::checked(spec::spec(), SEND_EVENTS, input)?;
    let measurement_id = MEASUREMENT_ID.read(conn)?.ok_or_else(|| {
        AdapterError::invalid_field(
            MEASUREMENT_ID.name,
            "is not set: sending events needs the web stream's `G-...` measurement ID \
             (PATCH the integration's config)",
        )
    })?;
    if API_SECRET.read(conn)?.is_none() {
        return Err(AdapterError::invalid_field(
            API_SECRET.name,
            "is not set: create a Measurement Protocol API secret (Admin → Data streams → \
             the stream → Measurement Protocol API secrets) and store it on the integration",
        ));
    }
    let client = Client::new(ctx, spec::spec(), &MP_API, conn)?;
    let query = [("measurement_id", measurement_id.as_str())];
    let request = client
        .request(http::Method::POST, DEBUG_COLLECT)?
        .query(&query)
        .json(&body);
    let validation: ValidationResponse = client.json(request).await?;
    if !validation.validation_messages.is_empty() {
        return Err(refused(&validation.validation_messages));
    }
    let names: Vec<&str> = body.events.iter().map(|e| e.name.as_str()).collect();
    if !validate_only {
        let request = client
            .request(http::Method::POST, COLLECT)?
            .query(&query)
            .json(&body);
        client.send(request).await?;
    }
    Ok(ActionOutcome {
        external_id: None,
        output: json!({
            "measurement_id": measurement_id,
            "events": names,
            "validated": true,
            "sent": !validate_only,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_sound() {
        assert_eq!(MP_API.validate(), Ok(()));
    }

    #[test]
    fn a_refusal_carries_every_message() {
        let err = refused(&[
            ValidationMessage {
                field_path: "events.params.google_campaign".into(),
                description: "Event param [google_campaign] has reserved name.".into(),
                validation_code: "NAME_RESERVED".into(),
            },
            ValidationMessage {
                field_path: String::new(),
                description: "Another.".into(),
                validation_code: "VALUE_INVALID".into(),
            },
        ]);
        let AdapterError::Invalid { field, message } = err else {
            panic!()
        };
        assert_eq!(field.as_deref(), Some("events.params.google_campaign"));
        assert!(message.contains(
            "NAME_RESERVED at `events.params.google_campaign`: Event param [google_campaign] has reserved name."
        ));
        assert!(message.contains("VALUE_INVALID: Another."));
        let AdapterError::Invalid { field, .. } = refused(&[ValidationMessage::default()]) else {
            panic!()
        };
        assert_eq!(field.as_deref(), Some("events"));
    }
}

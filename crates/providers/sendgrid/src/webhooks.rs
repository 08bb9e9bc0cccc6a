//! SendGrid's Event Webhook: signed deliveries of email events, and what each event
//! changes in Junction.
//!
//! SendGrid signs each delivery with ECDSA (the spec's `SendgridEcdsa` scheme, see
//! `junction_core::webhook::sendgrid`), and the toolkit verifies it before [`parse`]
//! sees the body: a JSON array of events, each `{"email", "timestamp", "event",
//! "sg_event_id", "sg_message_id", ...}`. Each event's id is its `sg_event_id`
//! (stable across SendGrid's retries, so the ingress deduplicates redeliveries); an
//! event without one gets an id derived from its content.
//!
//! Effects of an event:
//! - the `messages` record of its message and recipient (`{message_id}:{email}`, the
//!   message id being the part of `sg_message_id` before its first `.`, which is the
//!   `X-Message-Id` `send_mail` returned), with `last_event` and `last_event_at`,
//!   and the event's details (`reason`, `status`, `type`, `url`, `category`);
//! - the shared suppression list, so Junction never mails the address again:
//!   `bounce` (not `type: blocked`, a temporary refusal by the receiving server),
//!   `spamreport`, `unsubscribe`, `group_unsubscribe`, and `dropped` when SendGrid
//!   dropped it for the address itself (`Bounced Address`, `Unsubscribed Address`,
//!   `Spam Reporting Address`, `Invalid`) — not for content or quota reasons.
//!
//! No KPI points: the statistics streams read SendGrid's own daily totals.

use chrono::{DateTime, SecondsFormat};
use junction_core::{
    AdapterError, Record, Suppression, WebhookEffects,
    webhook::{WebhookError, WebhookEvent},
};
use junction_toolkit::{
    data,
    input::bare_address,
    webhook::{self, canonical, derived_id},
};
use serde_json::{Map, Value, json};

use crate::spec::{MESSAGES, WEBHOOK_EVENTS};

/// Why an address is suppressed, as [`Suppression::reason`] says it.
pub const REASON_BOUNCE: &str = "bounce";
pub const REASON_COMPLAINT: &str = "complaint";
pub const REASON_UNSUBSCRIBE: &str = "unsubscribe";
pub const REASON_INVALID: &str = "invalid";

/// The event details copied into the message's record.
const DETAILS: [&str; 8] = [
    "reason",
    "status",
    "type",
    "url",
    "category",
    "response",
    "attempt",
    "asm_group_id",
];

/// Parses a verified delivery into its events.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
    let events = match webhook::json::<Value>(body, "a JSON array of events")? {
        Value::Array(events) => events,
        one @ Value::Object(_) => vec![one],
        _ => {
            return Err(WebhookError::InvalidPayload(
                "not a JSON array of events".into(),
            ));
        }
    };
    events
        .into_iter()
        .map(|event| {
            if !event.is_object() {
                return Err(WebhookError::InvalidPayload(
                    "an event is not an object".into(),
                ));
            }
            let id = event["sg_event_id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| derived_id("sg_", &[&canonical(&event).to_string()]));
            let event_type = event["event"]
                .as_str()
                .filter(|t| !t.is_empty())
                .unwrap_or("unknown")
                .to_owned();
            let occurred_at = event["timestamp"]
                .as_i64()
                .and_then(|at| DateTime::from_timestamp(at, 0));
            Ok(WebhookEvent {
                id,
                event_type,
                occurred_at,
                payload: event,
            })
        })
        .collect()
}

/// The message id of an `sg_message_id`: the part before its first `.`.
pub fn message_id(sg_message_id: &str) -> &str {
    sg_message_id.split('.').next().unwrap_or(sg_message_id)
}

/// What a verified event changes. Events Junction does not handle change nothing.
pub(crate) fn effects(event: &WebhookEvent) -> Result<WebhookEffects, AdapterError> {
    if !WEBHOOK_EVENTS.contains(&event.event_type.as_str()) {
        return Ok(WebhookEffects::default());
    }
    let payload = &event.payload;
    let email = payload["email"]
        .as_str()
        .and_then(bare_address)
        .ok_or_else(|| AdapterError::invalid_field("email", "the event names no address"))?;
    let mut effects = WebhookEffects {
        suppressions: suppression(&event.event_type, payload)
            .map(|reason| Suppression {
                address: email.clone(),
                reason: reason.to_owned(),
            })
            .into_iter()
            .collect(),
        ..WebhookEffects::default()
    };
    // Marketing and some system events carry no message id: they only suppress.
    if let Some(sg_message_id) = payload["sg_message_id"]
        .as_str()
        .filter(|id| !id.is_empty())
    {
        let message = message_id(sg_message_id);
        let mut data: Map<String, Value> = DETAILS
            .iter()
            .filter_map(|field| Some(((*field).to_owned(), payload.get(*field)?.clone())))
            .collect();
        let at = event
            .occurred_at
            .map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true));
        data.extend([
            ("message_id".to_owned(), json!(message)),
            ("sg_message_id".to_owned(), json!(sg_message_id)),
            ("email".to_owned(), json!(email)),
            ("last_event".to_owned(), json!(event.event_type)),
            ("last_event_at".to_owned(), json!(at)),
        ]);
        let record = Record {
            external_id: format!("{message}:{email}"),
            data: Value::Object(data),
            modified_at: event.occurred_at,
        };
        data::add_effects(&mut effects, MESSAGES, vec![record], Vec::new());
    }
    Ok(effects)
}

/// Why an event suppresses its address, if it does.
fn suppression(event: &str, payload: &Value) -> Option<&'static str> {
    match event {
        "bounce" if payload["type"] == "blocked" => None,
        "bounce" => Some(REASON_BOUNCE),
        "spamreport" => Some(REASON_COMPLAINT),
        "unsubscribe" | "group_unsubscribe" => Some(REASON_UNSUBSCRIBE),
        "dropped" => match payload["reason"].as_str().unwrap_or_default() {
            "Bounced Address" => Some(REASON_BOUNCE),
            "Spam Reporting Address" => Some(REASON_COMPLAINT),
            "Unsubscribed Address" => Some(REASON_UNSUBSCRIBE),
            "Invalid" => Some(REASON_INVALID),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: Value) -> WebhookEvent {
        parse(body.to_string().as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn events_read_with_their_ids() {
        let events = parse(
            b"[{\"email\":\"a@x.example\",\"event\":\"processed\",\"sg_event_id\":\"e1\",\"timestamp\":1600112492},\r\n{\"email\":\"a@x.example\",\"event\":\"open\",\"timestamp\":1600112499}]\r\n",
        )
        .unwrap();
        assert_eq!(events[0].id, "e1");
        assert_eq!(events[0].event_type, "processed");
        assert_eq!(events[0].occurred_at.unwrap().timestamp(), 1_600_112_492);
        assert!(events[1].id.starts_with("sg_") && events[1].id.len() == 67);
        assert!(matches!(
            parse(b"{\"x\": [1"),
            Err(WebhookError::InvalidPayload(_))
        ));
        assert!(matches!(
            parse(b"[1]"),
            Err(WebhookError::InvalidPayload(_))
        ));
    }

    #[test]
    fn suppressing_events_suppress_and_others_do_not() {
        let of = |body: Value| effects(&event(body)).unwrap();
        let base = |kind: &str| {
            json!({"email": "A@X.example", "event": kind, "sg_event_id": kind,
                                       "sg_message_id": "m1.filter", "timestamp": 1_600_000_000})
        };
        for (kind, reason) in [
            ("bounce", Some(REASON_BOUNCE)),
            ("spamreport", Some(REASON_COMPLAINT)),
            ("unsubscribe", Some(REASON_UNSUBSCRIBE)),
            ("group_unsubscribe", Some(REASON_UNSUBSCRIBE)),
            ("delivered", None),
            ("open", None),
            ("deferred", None),
        ] {
            let effects = of(base(kind));
            let got: Vec<_> = effects
                .suppressions
                .iter()
                .map(|s| s.reason.as_str())
                .collect();
            assert_eq!(got, reason.into_iter().collect::<Vec<_>>(), "{kind}");
            assert!(
                effects
                    .suppressions
                    .iter()
                    .all(|s| s.address == "a@x.example")
            );
            let record = &effects.records[0];
            assert_eq!(record.stream, MESSAGES);
            assert_eq!(record.record.external_id, "m1:a@x.example");
            assert_eq!(record.record.data["last_event"], kind);
        }
        let mut blocked = base("bounce");
        blocked["type"] = json!("blocked");
        assert!(of(blocked).suppressions.is_empty());
        for (reason, suppressed) in [
            ("Bounced Address", true),
            ("Invalid", true),
            ("Spam Content", false),
            ("Recipient List over Package Quota", false),
        ] {
            let mut dropped = base("dropped");
            dropped["reason"] = json!(reason);
            assert_eq!(!of(dropped).suppressions.is_empty(), suppressed, "{reason}");
        }
        assert_eq!(
            of(json!({"event": "machine_opened", "email": "a@x.example"})),
            WebhookEffects::default()
        );
        assert!(effects(&event(json!({"event": "bounce"}))).is_err());
    }
}

//! Resend's webhooks: Svix-signed deliveries of email events, and what each event
//! changes in Junction.
//!
//! Resend signs every delivery with Svix (`svix-id`, `svix-timestamp`,
//! `svix-signature`; HMAC-SHA256 over `{id}.{timestamp}.{body}` with the endpoint's
//! `whsec_` secret, five minutes of tolerance): the spec declares the scheme, and the
//! toolkit verifies with it before [`parse`] sees the delivery. The body is one event,
//! `{"type", "created_at", "data"}`, and carries no id of its own: the `svix-id` is
//! the event id, the same across Svix's retries of one message, so deduplication on
//! it makes a redelivery a no-op.
//!
//! Effects of an outbound email event (`email.sent`, `.delivered`, `.bounced`, ...):
//! - the email's record on the `emails` stream, with `last_event` set to the event
//!   (Resend's own `last_event` semantics: the latest event wins) and
//!   `last_event_at` to its time;
//! - suppressions: every impacted recipient of `email.complained`, of
//!   `email.bounced` unless the bounce is `Transient` (a full mailbox or an oversized
//!   message is no reason never to write again), and of `email.suppressed` (Resend
//!   itself refused to send because of an earlier bounce or complaint).
//!
//! `domain.deleted` (its `data` is the domain as it was) marks the domain's record
//! on `domains` deleted.
//!
//! No KPI points: one event cannot give a day's total, and adding one to a stored
//! total would double-count redeliveries. The daily delivery KPIs come from the
//! `email_metrics` stream, which reads Resend's own daily totals.

use std::collections::BTreeSet;

use chrono::SecondsFormat;
use junction_core::{
    AdapterError, Record, Suppression, WebhookEffects,
    webhook::{WebhookError, WebhookEvent, svix},
};
use junction_toolkit::{
    data,
    webhook::{self, Delivery},
};
use serde_json::{Map, Value, json};

use crate::{
    spec::{DOMAIN_DELETED, DOMAINS, EMAILS, WEBHOOK_EVENTS},
    wire::parse_timestamp,
};

/// The bare address of a recipient (`Name <a@b.example>` → `a@b.example`), trimmed
/// and lowercased so one mailbox is suppressed once however it was written.
pub use junction_toolkit::input::bare_address as normalize_address;

/// Why a recipient is suppressed, as [`Suppression::reason`] says it.
pub const REASON_BOUNCE: &str = "bounce";
pub const REASON_COMPLAINT: &str = "complaint";
/// Resend suppressed the send for a reason it did not name.
pub const REASON_SUPPRESSED: &str = "suppressed_by_resend";

/// The event type given to a signed body that names none.
pub const UNKNOWN_EVENT: &str = "unknown";

/// The fields of an event's `data` copied into the email's record.
const COPIED_FIELDS: [&str; 8] = [
    "from",
    "to",
    "subject",
    "created_at",
    "tags",
    "broadcast_id",
    "template_id",
    "headers",
];

/// The event details copied into the record, by event: why it bounced, failed or
/// was suppressed, which link was clicked.
const DETAIL_FIELDS: [&str; 4] = ["bounce", "click", "failed", "suppressed"];

/// Parses a verified delivery into its event, whose id is the signed `svix-id`.
pub(crate) fn parse(delivery: &Delivery<'_>) -> Result<Vec<WebhookEvent>, WebhookError> {
    // The signature covered the id, so it is present.
    let id = delivery
        .message_id
        .ok_or(WebhookError::MissingHeader(svix::ID_HEADER))?;
    let payload = Value::Object(webhook::json(delivery.body, "a JSON object")?);
    // Every Resend event has a `type`. A signed body without one (a test message
    // sent from the Svix tooling) is authentic but unknown: it is kept, and changes
    // nothing.
    let event_type = payload["type"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or(UNKNOWN_EVENT)
        .to_owned();
    let occurred_at = payload["created_at"].as_str().and_then(parse_timestamp);
    Ok(vec![WebhookEvent {
        id: id.to_owned(),
        event_type,
        occurred_at,
        payload,
    }])
}

/// What a verified event changes. Events Junction does not handle (contacts,
/// domains created or updated, inbound mail) change nothing.
pub(crate) fn effects(event: &WebhookEvent) -> Result<WebhookEffects, AdapterError> {
    if !WEBHOOK_EVENTS.contains(&event.event_type.as_str()) {
        return Ok(WebhookEffects::default());
    }
    if event.event_type == DOMAIN_DELETED {
        let domain = event
            .payload
            .pointer("/data/id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| AdapterError::invalid_field("data.id", "the event names no domain"))?;
        let mut effects = WebhookEffects::default();
        data::add_deletions(&mut effects, DOMAINS, [domain]);
        return Ok(effects);
    }
    let status = event.event_type.trim_start_matches("email.");
    let email = event
        .payload
        .get("data")
        .and_then(Value::as_object)
        .ok_or_else(|| AdapterError::invalid_field("data", "the event has no `data` object"))?;
    let email_id = email
        .get("email_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| AdapterError::invalid_field("data.email_id", "the event names no email"))?;

    let mut record: Map<String, Value> = COPIED_FIELDS
        .iter()
        .chain(&DETAIL_FIELDS)
        .filter_map(|field| Some(((*field).to_owned(), email.get(*field)?.clone())))
        .collect();
    let at = event
        .occurred_at
        .map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true));
    record.extend([
        ("object".to_owned(), json!("email")),
        ("id".to_owned(), json!(email_id)),
        ("last_event".to_owned(), json!(status)),
        ("last_event_at".to_owned(), json!(at)),
    ]);
    let mut effects = WebhookEffects {
        suppressions: suppressions(status, email),
        ..WebhookEffects::default()
    };
    let record = Record {
        external_id: email_id.to_owned(),
        data: Value::Object(record),
        modified_at: event.occurred_at,
    };
    data::add_effects(&mut effects, EMAILS, vec![record], Vec::new());
    Ok(effects)
}

/// The recipients an event about `email` suppresses, and why.
fn suppressions(status: &str, email: &Map<String, Value>) -> Vec<Suppression> {
    let detail = |event: &str, field: &str| email.get(event)?.get(field)?.as_str();
    let reason = match status {
        "complained" => REASON_COMPLAINT,
        "bounced" if detail("bounce", "type") == Some("Transient") => return Vec::new(),
        "bounced" => REASON_BOUNCE,
        "suppressed" => match detail("suppressed", "reason") {
            Some("previous_bounce") => REASON_BOUNCE,
            Some("previous_complaint") => REASON_COMPLAINT,
            _ => REASON_SUPPRESSED,
        },
        _ => return Vec::new(),
    };
    let recipients: Vec<&str> = match email.get("to") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    recipients
        .into_iter()
        .filter_map(normalize_address)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|address| Suppression {
            address,
            reason: reason.to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, data: Value) -> WebhookEvent {
        WebhookEvent {
            id: "msg_1".into(),
            event_type: event_type.into(),
            occurred_at: parse_timestamp("2026-03-15T12:00:00.000Z"),
            payload: json!({"type": event_type, "created_at": "2026-03-15T12:00:00.000Z", "data": data}),
        }
    }

    fn data(to: Value) -> Value {
        json!({"email_id": "e1", "from": "a@acme.example", "to": to, "subject": "S",
               "created_at": "2026-03-15T11:59:00.000Z"})
    }

    #[test]
    fn addresses_are_normalized() {
        assert_eq!(
            normalize_address(" Ops <OPS@Acme.Example> "),
            Some("ops@acme.example".into())
        );
        assert_eq!(normalize_address("x@y.example"), Some("x@y.example".into()));
        assert_eq!(normalize_address("nobody"), None);
        assert_eq!(normalize_address("a b@c.example"), None);
    }

    #[test]
    fn bounces_suppress_unless_transient() {
        let mut hard = data(json!([
            "A@acme.example",
            "a@acme.example",
            "b@acme.example"
        ]));
        hard["bounce"] = json!({"type": "Permanent", "subType": "General", "message": "m", "diagnosticCode": []});
        let effects = effects(&event("email.bounced", hard)).unwrap();
        let addresses: Vec<_> = effects
            .suppressions
            .iter()
            .map(|s| s.address.as_str())
            .collect();
        assert_eq!(addresses, ["a@acme.example", "b@acme.example"]);
        assert!(
            effects
                .suppressions
                .iter()
                .all(|s| s.reason == REASON_BOUNCE)
        );
        assert_eq!(effects.records[0].record.data["last_event"], "bounced");
        assert_eq!(
            effects.records[0].record.data["bounce"]["type"],
            "Permanent"
        );

        let mut soft = data(json!(["a@acme.example"]));
        soft["bounce"] = json!({"type": "Transient", "subType": "MailboxFull", "message": "m", "diagnosticCode": []});
        assert!(effects_of("email.bounced", soft).suppressions.is_empty());

        let mut unknown = data(json!(["a@acme.example"]));
        unknown["bounce"] = json!({"type": "Undetermined", "subType": "Undetermined", "message": "m", "diagnosticCode": []});
        assert_eq!(effects_of("email.bounced", unknown).suppressions.len(), 1);
    }

    fn effects_of(event_type: &str, data: Value) -> WebhookEffects {
        effects(&event(event_type, data)).unwrap()
    }

    #[test]
    fn complaints_and_resend_suppressions_suppress() {
        let complained = effects_of("email.complained", data(json!(["x@acme.example"])));
        assert_eq!(
            complained.suppressions,
            [Suppression {
                address: "x@acme.example".into(),
                reason: REASON_COMPLAINT.into()
            }]
        );
        let mut suppressed = data(json!(["x@acme.example"]));
        suppressed["suppressed"] = json!({"reason": "previous_complaint", "type": "OnAccountSuppressionList", "message": "m", "diagnosticCode": []});
        assert_eq!(
            effects_of("email.suppressed", suppressed).suppressions[0].reason,
            REASON_COMPLAINT
        );
    }

    #[test]
    fn delivery_updates_the_record_only() {
        let delivered = effects_of("email.delivered", data(json!(["x@acme.example"])));
        assert!(delivered.suppressions.is_empty());
        assert!(delivered.kpis.is_empty());
        let record = &delivered.records[0];
        assert_eq!(record.stream, "emails");
        assert_eq!(record.record.external_id, "e1");
        assert_eq!(
            record.record.data,
            json!({"object": "email", "id": "e1", "from": "a@acme.example", "to": ["x@acme.example"],
                   "subject": "S", "created_at": "2026-03-15T11:59:00.000Z",
                   "last_event": "delivered", "last_event_at": "2026-03-15T12:00:00.000Z"})
        );
        assert_eq!(
            record.record.modified_at,
            parse_timestamp("2026-03-15T12:00:00Z")
        );
    }

    #[test]
    fn a_deleted_domain_is_a_deletion_of_its_record() {
        // `DomainEventData` of Resend's OpenAPI document: the domain as it was.
        let domain = json!({"id": "4dd369bc-aa82-4ff3-97de-514ae3000ee0", "name": "acme.example",
                            "status": "verified", "created_at": "2026-03-01T10:00:00.000Z",
                            "region": "us-east-1", "records": []});
        let deleted = effects_of("domain.deleted", domain);
        assert_eq!(
            deleted.deletions,
            [junction_core::StreamDeletion {
                stream: "domains".into(),
                external_id: "4dd369bc-aa82-4ff3-97de-514ae3000ee0".into(),
            }]
        );
        assert!(deleted.records.is_empty() && deleted.suppressions.is_empty());
        assert!(matches!(
            effects(&event("domain.deleted", json!({"name": "acme.example"}))),
            Err(AdapterError::Invalid { field: Some(f), .. }) if f == "data.id"
        ));
        assert_eq!(
            effects_of("domain.updated", json!({"id": "d1"})),
            WebhookEffects::default()
        );
    }

    #[test]
    fn other_events_change_nothing_and_broken_ones_are_invalid() {
        assert_eq!(
            effects_of("contact.created", json!({"id": "c1"})),
            WebhookEffects::default()
        );
        assert!(matches!(
            effects(&event("email.delivered", json!({"to": ["x@acme.example"]}))),
            Err(AdapterError::Invalid { field: Some(f), .. }) if f == "data.email_id"
        ));
        let mut no_data = event("email.delivered", json!({}));
        no_data.payload = json!({"type": "email.delivered"});
        assert!(effects(&no_data).is_err());
    }
}

//! Stripe webhooks: parsing events (the toolkit verifies `Stripe-Signature` first,
//! with the scheme the spec names), and turning the handled events into record
//! upserts, deletions and recomputed daily KPI totals.
//!
//! `customer.deleted` and `invoice.deleted` (a draft invoice deleted) are the events
//! about an object removed for good (Stripe answers for it `{"id", "object",
//! "deleted": true}` from then on): its record is marked deleted.
//! `customer.subscription.deleted` is not a removal — the subscription still
//! exists, canceled — so its record is updated.
//!
//! A point is a day's total, so an event never adds to a stored value: it names the
//! days it touched and those days are recomputed from Stripe (every charge of the
//! charge's day, every refund of the refund's day, every subscription for MRR). That
//! keeps webhook handling idempotent and order-independent: a replayed or late event
//! recomputes the same totals.

use chrono::{DateTime, NaiveDate};
use junction_core::{
    AdapterError, Connection, KpiPoint, Record, WebhookEffects,
    webhook::{WebhookError, WebhookEvent},
};
use junction_toolkit::{
    Client,
    data::{add_deletions, add_effects},
};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    api, kpi, notices,
    spec::{CHARGES, CUSTOMERS, INVOICES, PAYMENT_INTENTS, PROVIDER_ID, REFUNDS, SUBSCRIPTIONS},
    streams,
};

/// The parts of a Stripe event the adapter reads. Stripe always sends `type` and
/// `created`; like Stripe's own libraries, a signed body without them is still an
/// event (it is stored and deduplicated by id, and no handler matches it).
#[derive(Debug, Deserialize)]
struct EventView {
    id: String,
    object: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    created: Option<i64>,
}

/// Parses a delivery whose `Stripe-Signature` the toolkit verified, as the spec's
/// scheme says.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
    let payload: Value = serde_json::from_slice(body).map_err(|err| {
        // serde's message can quote body values; the position is enough.
        WebhookError::InvalidPayload(format!(
            "not JSON (line {}, column {})",
            err.line(),
            err.column()
        ))
    })?;
    let view = EventView::deserialize(&payload).map_err(|_| {
        WebhookError::InvalidPayload("not a Stripe event (an id and `object: event`)".into())
    })?;
    if view.object != "event" || view.id.is_empty() {
        return Err(WebhookError::InvalidPayload(
            "not a Stripe event object".into(),
        ));
    }
    Ok(vec![WebhookEvent {
        id: view.id,
        event_type: view.kind.unwrap_or_default(),
        occurred_at: view.created.and_then(|at| DateTime::from_timestamp(at, 0)),
        payload,
    }])
}

/// The id of an expandable field: a string, or an expanded object's `id`.
fn expandable_id(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(id) => Some(id.as_str()),
        Value::Object(object) => object.get("id").and_then(Value::as_str),
        _ => None,
    }
    .filter(|id| !id.is_empty())
}

fn created_day(object: &Value) -> Option<NaiveDate> {
    object
        .get("created")
        .and_then(Value::as_i64)
        .and_then(kpi::day_of)
}

/// The effects of one event: records stamped with the event's time, and points.
struct Effects {
    modified_at: Option<DateTime<chrono::Utc>>,
    effects: WebhookEffects,
}

impl Effects {
    fn record(&mut self, stream: &str, object: &Value) -> Result<(), AdapterError> {
        let (record, _) = streams::to_record(stream, object)?;
        let record = Record {
            modified_at: self.modified_at,
            ..record
        };
        add_effects(&mut self.effects, stream, vec![record], Vec::new());
        Ok(())
    }

    fn kpis(&mut self, stream: &str, points: Vec<KpiPoint>) {
        add_effects(&mut self.effects, stream, Vec::new(), points);
    }
}

/// The subscription fields whose change moves MRR.
const MRR_FIELDS: [&str; 5] = ["status", "items", "quantity", "plan", "currency"];

/// Applies one verified event.
pub(crate) async fn apply(
    client: &Client<'_>,
    conn: &Connection,
    event: &WebhookEvent,
) -> Result<WebhookEffects, AdapterError> {
    if !crate::spec::WEBHOOK_EVENTS.contains(&event.event_type.as_str()) {
        return Ok(WebhookEffects::default());
    }
    // A test-mode event must not be recomputed with a live key (or the reverse): the
    // objects it names do not exist there.
    let event_live = event.payload.get("livemode").and_then(Value::as_bool);
    if let Some(event_live) = event_live
        && event_live != api::is_live(conn)?
    {
        tracing::warn!(
            provider = PROVIDER_ID,
            event = %event.id,
            "ignoring a webhook event from the other mode (test vs live) than the connection's key"
        );
        return Ok(WebhookEffects::default());
    }
    // The object the event is about.
    let Some(object) = event
        .payload
        .pointer("/data/object")
        .filter(|o| o.is_object())
    else {
        let message = format!("event {} carries no object", event.id);
        return Err(AdapterError::invalid_field("payload.data.object", message));
    };
    let mut out = Effects {
        modified_at: event.occurred_at,
        effects: WebhookEffects::default(),
    };
    // The charge and refund a payment email quotes, when the event has them.
    let mut charge_seen: Option<Value> = None;
    let mut refund_seen: Option<Value> = None;
    match event.event_type.as_str() {
        "payment_intent.succeeded" => {
            out.record(PAYMENT_INTENTS, object)?;
            let charge_day = match expandable_id(object.get("latest_charge")) {
                Some(charge_id) => {
                    let charge = api::get(client, &format!("charges/{charge_id}"), &[])
                        .await?
                        .body;
                    out.record(CHARGES, &charge)?;
                    let day = created_day(&charge);
                    charge_seen = Some(charge);
                    day
                }
                None => created_day(object),
            };
            if let Some(day) = charge_day {
                out.kpis(CHARGES, streams::day_points(client, CHARGES, day).await?);
            }
        }
        "payment_intent.payment_failed" => {
            // A failed attempt changes no total: nothing was captured.
            out.record(PAYMENT_INTENTS, object)?;
        }
        "charge.refunded" => {
            out.record(CHARGES, object)?;
            if let Some(day) = created_day(object) {
                out.kpis(CHARGES, streams::day_points(client, CHARGES, day).await?);
            }
            if let Some(charge_id) = object.get("id").and_then(Value::as_str) {
                let query = [("charge", charge_id.to_owned())];
                let refunds = streams::list_all(client, REFUNDS, &query).await?;
                for refund in &refunds {
                    out.record(REFUNDS, refund)?;
                }
                // The newest refund is the one this event announces.
                refund_seen = refunds
                    .iter()
                    .max_by_key(|r| r.get("created").and_then(Value::as_i64))
                    .cloned();
                let newest = refunds.iter().filter_map(created_day).max();
                if let Some(day) = newest {
                    out.kpis(REFUNDS, streams::day_points(client, REFUNDS, day).await?);
                }
            }
        }
        "customer.deleted" | "invoice.deleted" => {
            let (stream, what) = if event.event_type == "customer.deleted" {
                (CUSTOMERS, "customer")
            } else {
                (INVOICES, "invoice")
            };
            let id = object
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| {
                    AdapterError::invalid_field(
                        "payload.data.object.id",
                        format!("event {} names no {what}", event.id),
                    )
                })?;
            add_deletions(&mut out.effects, stream, [id]);
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            out.record(SUBSCRIPTIONS, object)?;
            apply_subscription(client, event, object, &mut out).await?;
        }
        "invoice.paid" => {
            out.record(INVOICES, object)?;
            let amount_paid = object
                .get("amount_paid")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if amount_paid > 0 {
                // The payment's charge was created when the invoice was paid.
                let paid_day = object
                    .pointer("/status_transitions/paid_at")
                    .and_then(Value::as_i64)
                    .and_then(kpi::day_of)
                    .or_else(|| event.occurred_at.map(|at| at.date_naive()));
                if let Some(day) = paid_day {
                    out.kpis(CHARGES, streams::day_points(client, CHARGES, day).await?);
                }
            }
        }
        _ => {}
    }
    if let Some(plan) = notices::plan(conn) {
        let seen = notices::Seen {
            charge: charge_seen.as_ref(),
            refund: refund_seen.as_ref(),
        };
        out.effects.payment_notices = notices::build(client, &plan, event, object, seen).await?;
    }
    Ok(out.effects)
}

async fn apply_subscription(
    client: &Client<'_>,
    event: &WebhookEvent,
    subscription: &Value,
    out: &mut Effects,
) -> Result<(), AdapterError> {
    let changed: Vec<&str> = event
        .payload
        .pointer("/data/previous_attributes")
        .and_then(Value::as_object)
        .map(|previous| previous.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let (new_counts, churn, mrr) = match event.event_type.as_str() {
        "customer.subscription.created" => (true, false, true),
        "customer.subscription.deleted" => (false, true, true),
        _ => {
            let status_changed = changed.contains(&"status");
            (
                status_changed,
                status_changed,
                changed.iter().any(|field| MRR_FIELDS.contains(field)),
            )
        }
    };
    let currency = subscription
        .get("currency")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if new_counts && let Some(day) = created_day(subscription) {
        out.kpis(
            SUBSCRIPTIONS,
            streams::day_points(client, SUBSCRIPTIONS, day).await?,
        );
    }
    if churn && let Some((day, currency)) = kpi::churn(subscription) {
        out.kpis(
            SUBSCRIPTIONS,
            streams::churn_points(client, day, &currency).await?,
        );
    }
    if mrr && !currency.is_empty() {
        let today = client.context().now().date_naive();
        out.kpis(
            SUBSCRIPTIONS,
            streams::mrr_points(client, today, &currency).await?,
        );
    }
    Ok(())
}

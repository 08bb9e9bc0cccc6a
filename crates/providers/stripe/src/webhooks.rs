//! Stripe webhooks: verifying `Stripe-Signature`, parsing events, and turning the
//! handled events into record upserts and recomputed daily KPI totals.
//!
//! A point is a day's total, so an event never adds to a stored value: it names the
//! days it touched and those days are recomputed from Stripe (every charge of the
//! charge's day, every refund of the refund's day, every subscription for MRR). That
//! keeps webhook handling idempotent and order-independent: a replayed or late event
//! recomputes the same totals.

use chrono::{DateTime, NaiveDate, Utc};
use junction_core::{
    AdapterError, Context, Record, StreamKpi, StreamRecord, WebhookEffects,
    spec::WebhookScheme,
    webhook::{self, WebhookError, WebhookEvent, WebhookRequest, stripe::DEFAULT_TOLERANCE_SECS},
};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    api::Api,
    kpi,
    spec::{CHARGES, INVOICES, PAYMENT_INTENTS, PROVIDER_ID, REFUNDS, SUBSCRIPTIONS},
    streams,
};

/// The scheme Stripe signs with: `Stripe-Signature`, five minutes of tolerance.
pub const SCHEME: WebhookScheme = WebhookScheme::Stripe {
    tolerance_secs: DEFAULT_TOLERANCE_SECS,
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
    #[serde(default)]
    created: Option<i64>,
}

/// Verifies the signature at the context's clock, then parses the event.
pub(crate) fn verify(
    ctx: &Context,
    secret: &SecretString,
    request: &WebhookRequest<'_>,
) -> Result<Vec<WebhookEvent>, WebhookError> {
    webhook::verify(SCHEME, secret, request, ctx.now())?;
    let payload: Value = serde_json::from_slice(request.body).map_err(|err| {
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

/// The object an event is about (`data.object`).
fn event_object(event: &WebhookEvent) -> Result<&Value, AdapterError> {
    event
        .payload
        .get("data")
        .and_then(|data| data.get("object"))
        .filter(|object| object.is_object())
        .ok_or_else(|| {
            AdapterError::invalid_field(
                "payload.data.object",
                format!("event {} carries no object", event.id),
            )
        })
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

/// Collects the effects of one event.
struct Effects {
    modified_at: Option<DateTime<Utc>>,
    effects: WebhookEffects,
}

impl Effects {
    fn record(&mut self, stream: &str, object: &Value) -> Result<(), AdapterError> {
        let (record, _) = streams::to_record(stream, object)?;
        self.effects.records.push(StreamRecord {
            stream: stream.to_owned(),
            record: Record {
                modified_at: self.modified_at,
                ..record
            },
        });
        Ok(())
    }

    fn kpis(&mut self, stream: &str, points: Vec<junction_core::KpiPoint>) {
        self.effects
            .kpis
            .extend(points.into_iter().map(|point| StreamKpi {
                stream: stream.to_owned(),
                point,
            }));
    }
}

/// The subscription fields whose change moves MRR.
const MRR_FIELDS: [&str; 5] = ["status", "items", "quantity", "plan", "currency"];

/// Applies one verified event.
pub(crate) async fn apply(
    api: &Api<'_>,
    event: &WebhookEvent,
) -> Result<WebhookEffects, AdapterError> {
    if !crate::spec::WEBHOOK_EVENTS.contains(&event.event_type.as_str()) {
        return Ok(WebhookEffects::default());
    }
    // A test-mode event must not be recomputed with a live key (or the reverse): the
    // objects it names do not exist there.
    let event_live = event.payload.get("livemode").and_then(Value::as_bool);
    if let Some(event_live) = event_live
        && event_live != api.is_live()?
    {
        tracing::warn!(
            provider = PROVIDER_ID,
            event = %event.id,
            "ignoring a webhook event from the other mode (test vs live) than the connection's key"
        );
        return Ok(WebhookEffects::default());
    }
    let object = event_object(event)?;
    let mut out = Effects {
        modified_at: event.occurred_at,
        effects: WebhookEffects::default(),
    };
    match event.event_type.as_str() {
        "payment_intent.succeeded" => {
            out.record(PAYMENT_INTENTS, object)?;
            let charge_day = match expandable_id(object.get("latest_charge")) {
                Some(charge_id) => {
                    let charge: Value = api.get(&format!("v1/charges/{charge_id}"), &[]).await?;
                    out.record(CHARGES, &charge)?;
                    created_day(&charge)
                }
                None => created_day(object),
            };
            if let Some(day) = charge_day {
                out.kpis(CHARGES, streams::day_points(api, CHARGES, day).await?);
            }
        }
        "charge.refunded" => {
            out.record(CHARGES, object)?;
            if let Some(day) = created_day(object) {
                out.kpis(CHARGES, streams::day_points(api, CHARGES, day).await?);
            }
            if let Some(charge_id) = object.get("id").and_then(Value::as_str) {
                let query = vec![("charge".to_owned(), charge_id.to_owned())];
                let refunds = streams::list_all(api, "v1/refunds", &query).await?;
                for refund in &refunds {
                    out.record(REFUNDS, refund)?;
                }
                // The newest refund is the one this event announces.
                let newest = refunds.iter().filter_map(created_day).max();
                if let Some(day) = newest {
                    out.kpis(REFUNDS, streams::day_points(api, REFUNDS, day).await?);
                }
            }
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            out.record(SUBSCRIPTIONS, object)?;
            apply_subscription(api, event, object, &mut out).await?;
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
                    .get("status_transitions")
                    .and_then(|t| t.get("paid_at"))
                    .and_then(Value::as_i64)
                    .and_then(kpi::day_of)
                    .or_else(|| event.occurred_at.map(|at| at.date_naive()));
                if let Some(day) = paid_day {
                    out.kpis(CHARGES, streams::day_points(api, CHARGES, day).await?);
                }
            }
        }
        _ => {}
    }
    Ok(out.effects)
}

async fn apply_subscription(
    api: &Api<'_>,
    event: &WebhookEvent,
    subscription: &Value,
    out: &mut Effects,
) -> Result<(), AdapterError> {
    let changed: Vec<&str> = event
        .payload
        .get("data")
        .and_then(|data| data.get("previous_attributes"))
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
            streams::day_points(api, SUBSCRIPTIONS, day).await?,
        );
    }
    if churn && let Some((day, currency)) = kpi::churn(subscription) {
        out.kpis(
            SUBSCRIPTIONS,
            streams::churn_points(api, day, &currency).await?,
        );
    }
    if mrr && !currency.is_empty() {
        let today = api.now().date_naive();
        out.kpis(
            SUBSCRIPTIONS,
            streams::mrr_points(api, today, &currency).await?,
        );
    }
    Ok(())
}

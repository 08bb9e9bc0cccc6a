//! Webhooks: `Stripe-Signature` verification (the shared test vector with the clock
//! pinned, several `v1`, tampering, wrong secret, stale and future timestamps,
//! missing and malformed headers), event parsing, and `apply_webhook` turning events
//! into record upserts and recomputed daily totals.

use std::sync::Arc;

use chrono::DateTime;
use http::{HeaderMap, HeaderValue};
use junction_core::{
    Adapter, Context, FixedClock, NoticeAudience, PaymentOutcome, StreamDeletion, StreamKpi,
    webhook::{WebhookError, WebhookEvent, WebhookRequest, stripe::sign},
};
use junction_stripe::Stripe;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

use crate::support::*;

const SECRET: &str = "whsec_test_secret";

fn vectors() -> Value {
    serde_json::from_str(include_str!(
        "../../../../core/tests/fixtures/webhook-vectors.json"
    ))
    .unwrap()
}

fn at(seconds: i64) -> Context {
    Context::new(reqwest::Client::new()).with_clock(Arc::new(FixedClock(
        DateTime::from_timestamp(seconds, 0).unwrap(),
    )))
}

fn headers(signature: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(signature) = signature {
        headers.insert(
            "Stripe-Signature",
            HeaderValue::from_str(signature).unwrap(),
        );
    }
    headers
}

fn verify(
    ctx: &Context,
    secret: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Vec<WebhookEvent>, WebhookError> {
    let headers = headers(signature);
    Stripe.verify_webhook(
        ctx,
        &SecretString::from(secret.to_owned()),
        &WebhookRequest {
            headers: &headers,
            body,
        },
    )
}

/// A full event from the official fixture, about `object`.
fn event(event_type: &str, object: Value, previous: Option<Value>) -> Value {
    let mut data = json!({"object": object});
    if let Some(previous) = previous {
        data["previous_attributes"] = previous;
    }
    crate::support::object(
        "event",
        json!({"id": "evt_1", "type": event_type, "created": ts(15, 11), "data": data, "livemode": false}),
    )
}

#[test]
fn the_shared_stripe_vector_verifies_with_the_clock_pinned() {
    let vector = &vectors()["stripe_computed"];
    let secret = vector["secret"].as_str().unwrap();
    let timestamp = vector["timestamp"].as_i64().unwrap();
    let payload = vector["payload"].as_str().unwrap().as_bytes();
    let header = vector["header"].as_str().unwrap();
    assert_eq!(
        sign(&SecretString::from(secret), payload, timestamp),
        header
    );

    let events = verify(&at(timestamp), secret, Some(header), payload).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].id, "evt_test_webhook");
    assert_eq!(events[0].payload["data"]["object"]["id"], "rdr_123");
    // The test payload is not a complete event: no type, no creation time.
    assert_eq!(events[0].event_type, "");
    assert_eq!(events[0].occurred_at, None);

    // Five minutes either way is in; a second more is out.
    let tolerance = vector["default_tolerance_s"].as_i64().unwrap();
    for skew in [-tolerance, tolerance] {
        assert!(verify(&at(timestamp + skew), secret, Some(header), payload).is_ok());
    }
    for skew in [-tolerance - 1, tolerance + 1] {
        assert_eq!(
            verify(&at(timestamp + skew), secret, Some(header), payload),
            Err(WebhookError::StaleTimestamp)
        );
    }
}

#[test]
fn a_signed_event_is_parsed() {
    let body = event("charge.refunded", fixture("charge"), None).to_string();
    let t = ts(15, 11);
    let header = sign(&SecretString::from(SECRET), body.as_bytes(), t);
    let events = verify(&at(t + 3), SECRET, Some(&header), body.as_bytes()).unwrap();
    assert_eq!(events[0].id, "evt_1");
    assert_eq!(events[0].event_type, "charge.refunded");
    assert_eq!(events[0].occurred_at, DateTime::from_timestamp(t, 0));
    assert_eq!(
        events[0].payload["data"]["object"]["id"],
        "ch_1PgafuB7WZ01zgkWXYmPNZs8"
    );
}

#[test]
fn any_of_several_signatures_may_match() {
    // During a secret roll Stripe signs with every active secret.
    let body = event("invoice.paid", fixture("invoice"), None).to_string();
    let t = ts(15, 11);
    let old = sign(&SecretString::from("whsec_old"), body.as_bytes(), t);
    let new = sign(&SecretString::from(SECRET), body.as_bytes(), t);
    let v1 = |h: &str| h.split_once(",v1=").unwrap().1.to_owned();
    let header = format!("t={t},v1={},v1={},v0=deadbeef", v1(&old), v1(&new));
    assert!(verify(&at(t), SECRET, Some(&header), body.as_bytes()).is_ok());
    assert!(verify(&at(t), "whsec_old", Some(&header), body.as_bytes()).is_ok());
    assert_eq!(
        verify(&at(t), "whsec_other", Some(&header), body.as_bytes()),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn tampering_wrong_secrets_stale_and_missing_headers_are_refused() {
    let body = event("payment_intent.succeeded", fixture("payment_intent"), None).to_string();
    let t = ts(15, 11);
    let header = sign(&SecretString::from(SECRET), body.as_bytes(), t);
    let tampered = body.replace("1099", "9999");
    assert_ne!(tampered, body);
    assert_eq!(
        verify(&at(t), SECRET, Some(&header), tampered.as_bytes()),
        Err(WebhookError::SignatureMismatch)
    );
    assert_eq!(
        verify(&at(t), "whsec_wrong", Some(&header), body.as_bytes()),
        Err(WebhookError::SignatureMismatch)
    );
    // A replay ten minutes later, and a signature claiming to come from the future.
    assert_eq!(
        verify(&at(t + 600), SECRET, Some(&header), body.as_bytes()),
        Err(WebhookError::StaleTimestamp)
    );
    assert_eq!(
        verify(&at(t - 600), SECRET, Some(&header), body.as_bytes()),
        Err(WebhookError::StaleTimestamp)
    );
    // Moving the timestamp breaks the signature.
    let moved = header.replacen(&format!("t={t}"), &format!("t={}", t + 1), 1);
    assert_eq!(
        verify(&at(t), SECRET, Some(&moved), body.as_bytes()),
        Err(WebhookError::SignatureMismatch)
    );
    assert_eq!(
        verify(&at(t), SECRET, None, body.as_bytes()),
        Err(WebhookError::MissingHeader("Stripe-Signature"))
    );
    for malformed in ["", "v1=abc", &format!("t={t}"), "t=soon,v1=00"] {
        assert_eq!(
            verify(&at(t), SECRET, Some(malformed), body.as_bytes()),
            Err(WebhookError::MalformedHeader("Stripe-Signature")),
            "{malformed}"
        );
    }
}

#[test]
fn signed_bodies_that_are_not_events_are_refused_without_quoting_them() {
    let t = ts(15, 11);
    for body in [
        "sk_live_SECRET not json".to_owned(),
        json!({"id": "ch_1", "object": "charge"}).to_string(),
        json!({"object": "event"}).to_string(),
    ] {
        let header = sign(&SecretString::from(SECRET), body.as_bytes(), t);
        let err = verify(&at(t), SECRET, Some(&header), body.as_bytes()).unwrap_err();
        assert!(
            matches!(err, WebhookError::InvalidPayload(_)),
            "{body}: {err:?}"
        );
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}

fn webhook_event(payload: Value) -> WebhookEvent {
    WebhookEvent {
        id: payload["id"].as_str().unwrap().to_owned(),
        event_type: payload["type"].as_str().unwrap().to_owned(),
        occurred_at: DateTime::from_timestamp(payload["created"].as_i64().unwrap(), 0),
        payload,
    }
}

fn kpis(effects: &[StreamKpi]) -> Vec<String> {
    effects
        .iter()
        .map(|k| {
            format!(
                "{} {} {} {} {}",
                k.stream,
                k.point.metric,
                k.point.dimensions["currency"],
                k.point.date,
                k.point.value
            )
        })
        .collect()
}

#[tokio::test]
async fn a_refund_recomputes_the_charge_day_and_the_refund_day() {
    let server = MockServer::start().await;
    let refunded = charge("ch_9", ts(10, 9), "usd", 5_000, 2_000);
    // Every charge of March 10, to recompute that day's totals.
    Mock::given(method("GET"))
        .and(path("/stripe/v1/charges"))
        .and(query_param("created[gte]", ts(10, 0).to_string().as_str()))
        .and(query_param("created[lt]", ts(11, 0).to_string().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/charges",
            vec![refunded.clone(), charge("ch_8", ts(10, 8), "usd", 1_000, 0)],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let refund = object(
        "refund",
        json!({"id": "re_9", "charge": "ch_9", "created": ts(15, 10), "amount": 2_000}),
    );
    Mock::given(path("/stripe/v1/refunds"))
        .and(query_param("charge", "ch_9"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/refunds",
            vec![refund.clone()],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/stripe/v1/refunds"))
        .and(query_param("created[gte]", ts(15, 0).to_string().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/refunds",
            vec![
                refund,
                object(
                    "refund",
                    json!({"id": "re_8", "created": ts(15, 1), "amount": 150}),
                ),
            ],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let event = webhook_event(event(
        "charge.refunded",
        refunded,
        Some(json!({"amount_refunded": 0})),
    ));
    let effects = Stripe
        .apply_webhook(&context(&server), &connection(), &event)
        .await
        .unwrap();
    let records: Vec<_> = effects
        .records
        .iter()
        .map(|r| format!("{} {}", r.stream, r.record.external_id))
        .collect();
    assert_eq!(records, ["charges ch_9", "refunds re_9"]);
    assert_eq!(effects.records[0].record.modified_at, event.occurred_at);
    assert_eq!(
        kpis(&effects.kpis),
        [
            "charges gross_revenue USD 2026-03-10 60",
            "charges net_revenue USD 2026-03-10 40",
            "refunds refunds USD 2026-03-15 21.5",
        ]
    );
    assert!(effects.suppressions.is_empty());
}

#[tokio::test]
async fn a_succeeded_payment_recomputes_its_charges_day() {
    let server = MockServer::start().await;
    let mut intent = fixture("payment_intent");
    intent["latest_charge"] = json!("ch_7");
    intent["status"] = json!("succeeded");
    let paid = charge("ch_7", ts(15, 10), "eur", 4_200, 0);
    Mock::given(path("/stripe/v1/charges/ch_7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(paid.clone()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/stripe/v1/charges"))
        .and(query_param("created[gte]", ts(15, 0).to_string().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/charges",
            vec![paid],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let effects = Stripe
        .apply_webhook(
            &context(&server),
            &connection(),
            &webhook_event(event("payment_intent.succeeded", intent, None)),
        )
        .await
        .unwrap();
    let records: Vec<_> = effects
        .records
        .iter()
        .map(|r| format!("{} {}", r.stream, r.record.external_id))
        .collect();
    assert_eq!(
        records,
        [
            "payment_intents pi_1PgafyB7WZ01zgkWSjxsAJo3",
            "charges ch_7"
        ]
    );
    assert_eq!(
        kpis(&effects.kpis),
        [
            "charges gross_revenue EUR 2026-03-15 42",
            "charges net_revenue EUR 2026-03-15 42",
        ]
    );
}

#[tokio::test]
async fn a_renewal_update_changes_only_the_record() {
    let server = MockServer::start().await;
    let event = webhook_event(event(
        "customer.subscription.updated",
        fixture("subscription"),
        Some(json!({"latest_invoice": "in_old"})),
    ));
    let effects = Stripe
        .apply_webhook(&context(&server), &connection(), &event)
        .await
        .unwrap();
    assert_eq!(effects.records.len(), 1);
    assert_eq!(effects.records[0].stream, "subscriptions");
    assert!(effects.kpis.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_cancellation_recomputes_churn_and_mrr() {
    let server = MockServer::start().await;
    let mut canceled = fixture("subscription");
    canceled["created"] = json!(ts(2, 9));
    canceled["status"] = json!("canceled");
    canceled["ended_at"] = json!(ts(15, 10));
    let mut active = fixture("subscription");
    active["id"] = json!("sub_active");
    active["created"] = json!(ts(2, 10));
    active["items"]["data"][0]["quantity"] = json!(3);
    // A deletion does not change how many subscriptions were created on March 2.
    Mock::given(path("/stripe/v1/subscriptions"))
        .and(query_param("status", "all"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    // Churn of March 15: canceled subscriptions created before its end.
    Mock::given(path("/stripe/v1/subscriptions"))
        .and(query_param("status", "canceled"))
        .and(query_param("created[lt]", ts(16, 0).to_string().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/subscriptions",
            vec![canceled.clone()],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    // MRR today: active and past-due subscriptions.
    Mock::given(path("/stripe/v1/subscriptions"))
        .and(query_param("status", "active"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/subscriptions",
            vec![active],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/stripe/v1/subscriptions"))
        .and(query_param("status", "past_due"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/subscriptions",
            vec![],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let event = webhook_event(event("customer.subscription.deleted", canceled, None));
    let effects = Stripe
        .apply_webhook(&context(&server), &connection(), &event)
        .await
        .unwrap();
    assert_eq!(
        kpis(&effects.kpis),
        [
            "subscriptions churned_subscriptions USD 2026-03-15 1",
            "subscriptions mrr USD 2026-03-15 60",
        ]
    );
}

#[tokio::test]
async fn a_paid_invoice_updates_the_record_and_its_payment_day() {
    let server = MockServer::start().await;
    let mut invoice = fixture("invoice");
    invoice["status"] = json!("paid");
    invoice["amount_paid"] = json!(1_000);
    invoice["status_transitions"]["paid_at"] = json!(ts(14, 23));
    Mock::given(path("/stripe/v1/charges"))
        .and(query_param("created[gte]", ts(14, 0).to_string().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/charges",
            vec![charge("ch_in", ts(14, 23), "usd", 1_000, 0)],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let effects = Stripe
        .apply_webhook(
            &context(&server),
            &connection(),
            &webhook_event(event("invoice.paid", invoice, None)),
        )
        .await
        .unwrap();
    assert_eq!(effects.records[0].stream, "invoices");
    assert_eq!(
        effects.records[0].record.external_id,
        "in_1Pgc6tB7WZ01zgkWu9fdqL6I"
    );
    assert_eq!(
        kpis(&effects.kpis),
        [
            "charges gross_revenue USD 2026-03-14 10",
            "charges net_revenue USD 2026-03-14 10",
        ]
    );
}

#[tokio::test]
async fn a_deleted_customer_or_invoice_is_a_deletion_of_its_record() {
    let server = MockServer::start().await;
    let ctx = context(&server);
    for (event_type, resource, stream) in [
        ("customer.deleted", "customer", "customers"),
        ("invoice.deleted", "invoice", "invoices"),
    ] {
        // Stripe sends the object as it was; its API answers the deleted shape
        // after (`deleted_customer`, `deleted_invoice` of Stripe's fixtures).
        let id = fixture(resource)["id"].as_str().unwrap().to_owned();
        let deleted = json!({"deleted": true, "id": id, "object": resource});
        for object in [fixture(resource), deleted] {
            let effects = Stripe
                .apply_webhook(
                    &ctx,
                    &connection(),
                    &webhook_event(event(event_type, object, None)),
                )
                .await
                .unwrap();
            assert_eq!(
                effects.deletions,
                [StreamDeletion {
                    stream: stream.into(),
                    external_id: id.clone(),
                }],
                "{event_type}"
            );
            assert!(effects.records.is_empty() && effects.kpis.is_empty());
        }
        let nameless = webhook_event(event(event_type, json!({"object": resource}), None));
        let err = Stripe
            .apply_webhook(&ctx, &connection(), &nameless)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(&format!("names no {resource}")),
            "{err}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn other_events_and_other_modes_change_nothing() {
    let server = MockServer::start().await;
    let ctx = context(&server);
    let unhandled = webhook_event(event("plan.created", fixture("price"), None));
    assert_eq!(
        Stripe
            .apply_webhook(&ctx, &connection(), &unhandled)
            .await
            .unwrap(),
        Default::default()
    );
    let mut live = event("charge.refunded", fixture("charge"), None);
    live["livemode"] = json!(true);
    assert_eq!(
        Stripe
            .apply_webhook(&ctx, &connection(), &webhook_event(live))
            .await
            .unwrap(),
        Default::default()
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// The connection with the payment email setting `mode` and copies to `copies`.
fn emailing(mode: &str, copies: Option<&str>) -> junction_core::Connection {
    let mut conn = connection();
    conn.config.insert("payment_emails".into(), json!(mode));
    if let Some(copies) = copies {
        conn.config
            .insert("payment_emails_to".into(), json!(copies));
    }
    conn
}

#[tokio::test]
async fn payment_emails_follow_the_setting_and_find_the_customers_address() {
    let server = MockServer::start().await;
    let mut intent = fixture("payment_intent");
    intent["latest_charge"] = json!("ch_7");
    intent["status"] = json!("succeeded");
    intent["amount_received"] = json!(1099);
    intent["receipt_email"] = Value::Null;
    intent["customer"] = json!("cus_7");
    intent["description"] = json!("Order 6735");
    let mut paid = charge("ch_7", ts(15, 10), "usd", 1_099, 0);
    paid["billing_details"]["email"] = Value::Null;
    paid["receipt_url"] = json!("https://pay.stripe.com/receipts/ch_7");
    Mock::given(path("/stripe/v1/charges/ch_7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(paid.clone()))
        .mount(&server)
        .await;
    Mock::given(path("/stripe/v1/charges"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/charges",
            vec![paid],
            false,
        )))
        .mount(&server)
        .await;
    // No receipt or billing email: the customer's own.
    Mock::given(path("/stripe/v1/customers/cus_7"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(crate::support::object(
                "customer",
                json!({"id": "cus_7", "email": "ada@example.com", "name": "Ada Lovelace"}),
            )),
        )
        .expect(1)
        .mount(&server)
        .await;
    let ctx = context(&server);
    let delivered = webhook_event(event("payment_intent.succeeded", intent.clone(), None));

    let off = Stripe
        .apply_webhook(&ctx, &connection(), &delivered)
        .await
        .unwrap();
    assert!(off.payment_notices.is_empty());

    let conn = emailing(
        "customer_and_address",
        Some("billing@acme.example, ops@acme.example"),
    );
    let effects = Stripe.apply_webhook(&ctx, &conn, &delivered).await.unwrap();
    let notices = &effects.payment_notices;
    assert_eq!(notices.len(), 2);
    let customer = &notices[0];
    assert_eq!(
        (customer.key.as_str(), customer.audience, customer.outcome),
        (
            "customer",
            NoticeAudience::Customer,
            PaymentOutcome::Succeeded
        )
    );
    assert_eq!(customer.to, ["ada@example.com"]);
    assert_eq!(
        (customer.amount.as_str(), customer.currency.as_str()),
        ("10.99", "USD")
    );
    assert_eq!(customer.customer_name.as_deref(), Some("Jenny Rosen"));
    assert_eq!(customer.description.as_deref(), Some("Order 6735"));
    assert_eq!(customer.reference, "pi_1PgafyB7WZ01zgkWSjxsAJo3");
    assert_eq!(
        customer.receipt_url.as_deref(),
        Some("https://pay.stripe.com/receipts/ch_7")
    );
    assert_eq!(notices[1].audience, NoticeAudience::Team);
    assert_eq!(notices[1].to, ["billing@acme.example", "ops@acme.example"]);

    // The payment's receipt_email comes first, and copies only need no lookup.
    intent["receipt_email"] = json!("receipts@example.com");
    let delivered = webhook_event(event("payment_intent.succeeded", intent, None));
    let effects = Stripe
        .apply_webhook(&ctx, &emailing("customer", None), &delivered)
        .await
        .unwrap();
    assert_eq!(effects.payment_notices.len(), 1);
    assert_eq!(effects.payment_notices[0].to, ["receipts@example.com"]);
}

#[tokio::test]
async fn a_failed_payment_is_recorded_and_its_email_says_why() {
    let server = MockServer::start().await;
    let mut intent = fixture("payment_intent");
    intent["status"] = json!("requires_payment_method");
    intent["amount"] = json!(500);
    intent["currency"] = json!("jpy");
    intent["receipt_email"] = json!("ken@example.jp");
    intent["last_payment_error"] = json!({"type": "card_error", "code": "card_declined",
        "decline_code": "insufficient_funds", "message": "Your card has insufficient funds.",
        "payment_method": {"id": "pm_1", "object": "payment_method", "billing_details": {"name": "Ken", "email": null}}});
    let delivered = webhook_event(event("payment_intent.payment_failed", intent, None));
    let effects = Stripe
        .apply_webhook(&context(&server), &emailing("customer", None), &delivered)
        .await
        .unwrap();
    assert_eq!(effects.records.len(), 1);
    assert_eq!(effects.records[0].stream, "payment_intents");
    assert!(effects.kpis.is_empty());
    let notice = &effects.payment_notices[0];
    assert_eq!(notice.outcome, PaymentOutcome::Failed);
    assert_eq!(
        (notice.amount.as_str(), notice.currency.as_str()),
        ("500", "JPY")
    );
    assert_eq!(
        notice.failure_message.as_deref(),
        Some("Your card has insufficient funds.")
    );
    assert_eq!(notice.customer_name.as_deref(), Some("Ken"));
    // Nothing was fetched: the event carries what the email needs.
    assert!(server.received_requests().await.unwrap().is_empty());
}

//! The adapter against the crate's own fake, served the way the sandbox serves it
//! (under `/stripe/`): idempotent actions (a retried refund reaches Stripe's sandbox
//! once), payments, subscriptions and invoices, events delivered back as signed
//! webhooks, full and incremental syncs whose KPIs match the fake's data whatever
//! the page size, restricted keys and injected faults.

use std::{collections::BTreeMap, sync::Arc};

use http::{HeaderMap, HeaderValue};
use junction_conformance::{FakeServer, TokenTable};
use junction_core::{
    Adapter, AdapterError, Connection, Context, KpiPoint, ReadRequest, Record, fake::Fault,
    webhook::WebhookRequest,
};
use junction_stripe::{
    Stripe, money,
    sandbox::{RESTRICTED_KEY, SECRET_KEY, StripeFake, WEBHOOK_SECRET, sign_event},
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::connection_with;

async fn start() -> (Arc<StripeFake>, FakeServer, Context, Connection) {
    let fake = Arc::new(StripeFake::default());
    let server = FakeServer::start(fake.clone(), TokenTable::default()).await;
    let ctx = server.context();
    (fake, server, ctx, connection_with(SECRET_KEY))
}

/// Reads a stream from `cursor` to its end: records by id, KPI points, next cursor.
async fn read_all(
    ctx: &Context,
    conn: &Connection,
    stream: &str,
    cursor: Option<Value>,
    page_size: u32,
) -> (BTreeMap<String, Record>, Vec<KpiPoint>, Option<Value>) {
    let mut cursor = cursor;
    let mut records = BTreeMap::new();
    let mut kpis = Vec::new();
    for _ in 0..1_000 {
        let page = Stripe
            .read(
                ctx,
                conn,
                &ReadRequest {
                    stream: stream.into(),
                    cursor: cursor.clone(),
                    page_size: Some(page_size),
                },
            )
            .await
            .unwrap();
        for record in page.records {
            assert!(records.insert(record.external_id.clone(), record).is_none());
        }
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
        if !page.has_more {
            return (records, kpis, cursor);
        }
    }
    panic!("{stream} did not end");
}

/// KPI points keyed `metric currency date`; a key must appear once.
fn by_key(points: &[KpiPoint]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for p in points {
        let key = format!("{} {} {}", p.metric, p.dimensions["currency"], p.date);
        assert!(out.insert(key.clone(), p.value).is_none(), "{key} twice");
    }
    out
}

fn day_of(timestamp: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .unwrap()
        .date_naive()
}

/// A seeded, captured, unrefunded USD charge.
fn refundable_charge(fake: &StripeFake) -> Value {
    fake.objects("charges")
        .into_iter()
        .find(|c| c["status"] == "succeeded" && c["amount_refunded"] == 0 && c["currency"] == "usd")
        .unwrap()
}

#[tokio::test]
async fn a_refund_retried_with_the_same_idempotency_key_reaches_stripes_sandbox_once() {
    let (fake, server, ctx, conn) = start().await;
    let charge = refundable_charge(&fake);
    let charge_id = charge["id"].as_str().unwrap();
    let refunds_before = fake.objects("refunds").len();
    let input = json!({"charge": charge_id, "amount": 500, "reason": "requested_by_customer"});

    let first = Stripe
        .act(&ctx, &conn, "refund", &input, Some("refund-7f3a"))
        .await
        .unwrap();
    // The worker retries (a timeout hid the first answer): same key, same input.
    let second = Stripe
        .act(&ctx, &conn, "refund", &input, Some("refund-7f3a"))
        .await
        .unwrap();

    assert_eq!(first, second);
    assert_eq!(first.output["amount"], 500);
    assert_eq!(first.output["status"], "succeeded");
    let refunds = fake.objects("refunds");
    assert_eq!(refunds.len(), refunds_before + 1);
    assert_eq!(
        refunds.iter().filter(|r| r["charge"] == charge_id).count(),
        1
    );
    assert_eq!(
        fake.object("charges", charge_id).unwrap()["amount_refunded"],
        500
    );
    assert_eq!(fake.events_of("charge.refunded").len(), 1);
    // Both attempts reached the sandbox, with the key; it acted once.
    let posts: Vec<_> = server
        .requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path() == "/stripe/v1/refunds")
        .collect();
    assert_eq!(posts.len(), 2);
    assert!(
        posts
            .iter()
            .all(|r| r.headers["idempotency-key"] == "refund-7f3a")
    );

    // The same key with other parameters is refused, and refunds nothing.
    let other = json!({"charge": charge_id, "amount": 600});
    let err = Stripe
        .act(&ctx, &conn, "refund", &other, Some("refund-7f3a"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Invalid { field: None, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    // A new key is a new refund.
    let third = Stripe
        .act(&ctx, &conn, "refund", &other, Some("refund-9c1e"))
        .await
        .unwrap();
    assert_ne!(third.external_id, first.external_id);
    assert_eq!(fake.objects("refunds").len(), refunds_before + 2);
    assert_eq!(
        fake.object("charges", charge_id).unwrap()["amount_refunded"],
        1_100
    );
}

#[tokio::test]
async fn refunds_beyond_the_charge_are_refused_by_parameter() {
    let (fake, _server, ctx, conn) = start().await;
    let charge = refundable_charge(&fake);
    let too_much = charge["amount_captured"].as_i64().unwrap() + 1;
    let err = Stripe
        .act(
            &ctx,
            &conn,
            "refund",
            &json!({"charge": charge["id"], "amount": too_much}),
            Some("r1"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "amount"),
        "{err:?}"
    );
    let err = Stripe
        .act(
            &ctx,
            &conn,
            "refund",
            &json!({"charge": "ch_nope"}),
            Some("r2"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "charge"),
        "{err:?}"
    );
    // Refused requests are not stored: the same key works once the input is fixed.
    let fixed = Stripe
        .act(
            &ctx,
            &conn,
            "refund",
            &json!({"charge": charge["id"]}),
            Some("r2"),
        )
        .await
        .unwrap();
    assert_eq!(fixed.output["amount"], charge["amount_captured"]);
}

#[tokio::test]
async fn payments_succeed_or_decline_once_per_key() {
    let (fake, _server, ctx, conn) = start().await;
    let customer = Stripe
        .act(
            &ctx,
            &conn,
            "create_customer",
            &json!({"email": "new@example.com", "name": "New Customer"}),
            Some("c-1"),
        )
        .await
        .unwrap();
    let customer_id = customer.external_id.clone().unwrap();
    assert_eq!(
        fake.object("customers", &customer_id).unwrap()["email"],
        "new@example.com"
    );

    let charges_before = fake.objects("charges").len();
    let pay = json!({"amount": 2_500, "currency": "usd", "customer": customer_id,
        "payment_method": "pm_card_visa", "confirm": true, "metadata": {"order": "A-1"}});
    let paid = Stripe
        .act(&ctx, &conn, "create_payment_intent", &pay, Some("p-1"))
        .await
        .unwrap();
    assert_eq!(paid.output["status"], "succeeded");
    assert_eq!(paid.output["amount_received"], 2_500);
    assert_eq!(paid.output["metadata"], json!({"order": "A-1"}));
    let charge_id = paid.output["latest_charge"].as_str().unwrap();
    assert_eq!(
        fake.object("charges", charge_id).unwrap()["amount_captured"],
        2_500
    );
    let again = Stripe
        .act(&ctx, &conn, "create_payment_intent", &pay, Some("p-1"))
        .await
        .unwrap();
    assert_eq!(again, paid);
    assert_eq!(fake.objects("charges").len(), charges_before + 1);
    assert_eq!(fake.events_of("payment_intent.succeeded").len(), 1);

    let decline = json!({"amount": 2_500, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": true});
    let declined = Stripe
        .act(&ctx, &conn, "create_payment_intent", &decline, Some("p-2"))
        .await
        .unwrap_err();
    assert_eq!(
        declined,
        AdapterError::Provider {
            status: 402,
            code: Some("generic_decline".into()),
            message: "Your card was declined.".into()
        }
    );
    // The decline was stored under its key: a retry gets it again, without a new charge.
    let retried = Stripe
        .act(&ctx, &conn, "create_payment_intent", &decline, Some("p-2"))
        .await
        .unwrap_err();
    assert_eq!(retried, declined);
    assert_eq!(fake.objects("charges").len(), charges_before + 2);

    let unconfirmed = Stripe
        .act(
            &ctx,
            &conn,
            "create_payment_intent",
            &json!({"amount": 990, "currency": "eur"}),
            Some("p-3"),
        )
        .await
        .unwrap();
    assert_eq!(unconfirmed.output["status"], "requires_payment_method");
    assert!(
        unconfirmed.output["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
}

#[tokio::test]
async fn a_new_subscription_is_billed_and_raises_mrr() {
    let (fake, _server, ctx, conn) = start().await;
    let mrr = |kpis: &[KpiPoint]| {
        by_key(kpis)
            .into_iter()
            .find(|(key, _)| key.starts_with("mrr USD"))
            .map(|(_, value)| value)
            .unwrap()
    };
    let (before, kpis, _) = read_all(&ctx, &conn, "subscriptions", None, 25).await;
    let mrr_before = mrr(&kpis);

    let customer = Stripe
        .act(
            &ctx,
            &conn,
            "create_customer",
            &json!({"email": "sub@example.com"}),
            Some("c-2"),
        )
        .await
        .unwrap();
    let input = json!({"customer": customer.external_id, "items": [{"price": "price_sandbox_pro_monthly", "quantity": 2}]});
    let subscription = Stripe
        .act(&ctx, &conn, "create_subscription", &input, Some("s-1"))
        .await
        .unwrap();
    assert_eq!(subscription.output["status"], "active");
    assert_eq!(
        subscription.output["items"][0]["price"],
        "price_sandbox_pro_monthly"
    );
    let invoice_id = subscription.output["latest_invoice"].as_str().unwrap();
    let invoice = fake.object("invoices", invoice_id).unwrap();
    assert_eq!(
        (invoice["status"].as_str(), invoice["amount_paid"].as_i64()),
        (Some("paid"), Some(9_800))
    );

    let (after, kpis, _) = read_all(&ctx, &conn, "subscriptions", None, 25).await;
    assert_eq!(after.len(), before.len() + 1);
    assert!(
        (mrr(&kpis) - mrr_before - 98.0).abs() < 1e-9,
        "{} → {}",
        mrr_before,
        mrr(&kpis)
    );

    let err = Stripe
        .act(&ctx, &conn, "create_subscription",
            &json!({"customer": customer.external_id, "items": [{"price": "price_sandbox_team_quarterly"}, {"price": "price_sandbox_pro_monthly"}]}),
            Some("s-2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "items"),
        "{err:?}"
    );
}

#[tokio::test]
async fn invoices_need_their_terms() {
    let (_fake, _server, ctx, conn) = start().await;
    let customer = "cus_sandbox0001";
    let err = Stripe
        .act(
            &ctx,
            &conn,
            "create_invoice",
            &json!({"customer": customer, "collection_method": "send_invoice"}),
            Some("i-1"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "days_until_due"),
        "{err:?}"
    );
    let invoice = Stripe
        .act(&ctx, &conn, "create_invoice",
            &json!({"customer": customer, "collection_method": "send_invoice", "days_until_due": 30, "description": "Consulting"}),
            Some("i-1"))
        .await
        .unwrap();
    assert_eq!(invoice.output["status"], "draft");
    assert_eq!(invoice.output["customer"], customer);
}

#[tokio::test]
async fn kpis_match_the_data_whatever_the_page_size() {
    let (fake, _server, ctx, conn) = start().await;
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    let mut sums: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for charge in fake.objects("charges") {
        // Failed charges make their day and currency read 0.
        let succeeded = charge["status"] == "succeeded";
        let day = day_of(charge["created"].as_i64().unwrap()).to_string();
        let currency = charge["currency"].as_str().unwrap().to_owned();
        let captured = if succeeded {
            charge["amount_captured"].as_i64().unwrap()
        } else {
            0
        };
        let refunded = if succeeded {
            charge["amount_refunded"].as_i64().unwrap()
        } else {
            0
        };
        *sums
            .entry(("gross_revenue".into(), currency.clone(), day.clone()))
            .or_default() += captured;
        *sums
            .entry(("net_revenue".into(), currency, day))
            .or_default() += captured - refunded;
    }
    for ((metric, currency, day), minor) in sums {
        expected.insert(
            format!("{metric} {} {day}", currency.to_uppercase()),
            money::to_major(minor, &currency),
        );
    }
    for page_size in [1, 7, 25, 100] {
        let (records, kpis, cursor) = read_all(&ctx, &conn, "charges", None, page_size).await;
        assert_eq!(
            records.len(),
            fake.objects("charges").len(),
            "page size {page_size}"
        );
        assert_eq!(by_key(&kpis), expected, "page size {page_size}");
        assert!(cursor.unwrap()["window_start"].is_i64());
    }
    // Every stream reads the same records whatever the page size.
    for stream in [
        "payment_intents",
        "customers",
        "subscriptions",
        "invoices",
        "refunds",
    ] {
        let (small, small_kpis, _) = read_all(&ctx, &conn, stream, None, 3).await;
        let (large, large_kpis, _) = read_all(&ctx, &conn, stream, None, 100).await;
        assert_eq!(small, large, "{stream}");
        assert_eq!(by_key(&small_kpis), by_key(&large_kpis), "{stream}");
        assert_eq!(small.len(), fake.objects(stream).len(), "{stream}");
    }
}

#[tokio::test]
async fn an_incremental_sync_reads_the_recent_window_and_new_objects() {
    let (fake, _server, ctx, conn) = start().await;
    let (all, _, cursor) = read_all(&ctx, &conn, "customers", None, 25).await;
    assert_eq!(all.len(), 40);
    let window_start = cursor.as_ref().unwrap()["window_start"].as_i64().unwrap();
    let created = Stripe
        .act(
            &ctx,
            &conn,
            "create_customer",
            &json!({"name": "Latecomer"}),
            Some("c-late"),
        )
        .await
        .unwrap();
    let (recent, _, _) = read_all(&ctx, &conn, "customers", cursor, 25).await;
    let expected = fake
        .objects("customers")
        .iter()
        .filter(|c| c["created"].as_i64().unwrap() >= window_start)
        .count();
    assert_eq!(recent.len(), expected);
    assert!(recent.len() < 41);
    assert!(recent.contains_key(created.external_id.as_deref().unwrap()));
}

#[tokio::test]
async fn events_come_back_as_signed_webhooks_and_recompute_the_days() {
    let (fake, _server, ctx, conn) = start().await;
    let charge = refundable_charge(&fake);
    Stripe
        .act(
            &ctx,
            &conn,
            "refund",
            &json!({"charge": charge["id"], "amount": 300}),
            Some("w-1"),
        )
        .await
        .unwrap();
    let event = fake.events_of("charge.refunded").pop().unwrap();
    let now = chrono::Utc::now().timestamp();
    let delivery = sign_event(&event, now);
    let mut headers = HeaderMap::new();
    headers.insert(
        "Stripe-Signature",
        HeaderValue::from_str(&delivery.signature).unwrap(),
    );
    let events = Stripe
        .verify_webhook(
            &ctx,
            &SecretString::from(WEBHOOK_SECRET),
            &WebhookRequest {
                headers: &headers,
                body: &delivery.body,
            },
        )
        .unwrap();
    assert_eq!(events[0].event_type, "charge.refunded");
    let effects = Stripe.apply_webhook(&ctx, &conn, &events[0]).await.unwrap();
    let record = effects
        .records
        .iter()
        .find(|r| r.stream == "charges")
        .unwrap();
    assert_eq!(record.record.data["amount_refunded"], 300);

    // The recomputed days equal what a full sync now reports for them.
    let (_, charge_kpis, _) = read_all(&ctx, &conn, "charges", None, 100).await;
    let (_, refund_kpis, _) = read_all(&ctx, &conn, "refunds", None, 100).await;
    let synced = by_key(&[charge_kpis, refund_kpis].concat());
    assert!(!effects.kpis.is_empty());
    for kpi in &effects.kpis {
        let key = format!(
            "{} {} {}",
            kpi.point.metric, kpi.point.dimensions["currency"], kpi.point.date
        );
        assert_eq!(synced.get(&key), Some(&kpi.point.value), "{key}");
    }

    // A subscription's creation event recomputes today's MRR as the sweep does.
    Stripe
        .act(&ctx, &conn, "create_subscription",
            &json!({"customer": "cus_sandbox0035", "items": [{"price": "price_sandbox_starter_monthly"}]}),
            Some("w-2"))
        .await
        .unwrap();
    let created = fake
        .events_of("customer.subscription.created")
        .pop()
        .unwrap();
    let delivery = sign_event(&created, now);
    let mut headers = HeaderMap::new();
    headers.insert(
        "Stripe-Signature",
        HeaderValue::from_str(&delivery.signature).unwrap(),
    );
    let events = Stripe
        .verify_webhook(
            &ctx,
            &SecretString::from(WEBHOOK_SECRET),
            &WebhookRequest {
                headers: &headers,
                body: &delivery.body,
            },
        )
        .unwrap();
    let effects = Stripe.apply_webhook(&ctx, &conn, &events[0]).await.unwrap();
    let (_, sweep, _) = read_all(&ctx, &conn, "subscriptions", None, 100).await;
    let sweep = by_key(&sweep);
    let mrr: Vec<_> = effects
        .kpis
        .iter()
        .filter(|k| k.point.metric == "mrr")
        .collect();
    assert!(!mrr.is_empty());
    for kpi in mrr {
        let key = format!(
            "mrr {} {}",
            kpi.point.dimensions["currency"], kpi.point.date
        );
        assert_eq!(sweep.get(&key), Some(&kpi.point.value), "{key}");
    }
    // A delivery signed with another secret is refused.
    assert!(
        Stripe
            .verify_webhook(
                &ctx,
                &SecretString::from("whsec_other"),
                &WebhookRequest {
                    headers: &headers,
                    body: &delivery.body
                }
            )
            .is_err()
    );
}

#[tokio::test]
async fn a_restricted_key_reads_but_cannot_act() {
    let (_fake, _server, ctx, _conn) = start().await;
    let conn = connection_with(RESTRICTED_KEY);
    let health = Stripe.check(&ctx, &conn).await.unwrap();
    assert_eq!(health.details["key"], "restricted");
    let (records, _, _) = read_all(&ctx, &conn, "refunds", None, 100).await;
    assert!(!records.is_empty());
    let err = Stripe
        .act(
            &ctx,
            &conn,
            "create_customer",
            &json!({"name": "x"}),
            Some("k"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn faults_during_a_sync_are_classified() {
    let (_fake, server, ctx, conn) = start().await;
    let request = ReadRequest {
        stream: "charges".into(),
        cursor: None,
        page_size: Some(10),
    };
    server.arm(Fault::RateLimited {
        retry_after_secs: 5,
    });
    assert_eq!(
        Stripe.read(&ctx, &conn, &request).await.unwrap_err(),
        AdapterError::RateLimited { retry_after: None }
    );
    server.arm(Fault::ServerError);
    assert!(matches!(
        Stripe.read(&ctx, &conn, &request).await,
        Err(AdapterError::Unavailable { .. })
    ));
    server.arm(Fault::ExpiredToken);
    let err = Stripe.read(&ctx, &conn, &request).await.unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.to_string().contains("sandbox"), "{err}");
    server.arm(Fault::MalformedBody);
    assert!(matches!(
        Stripe.read(&ctx, &conn, &request).await,
        Err(AdapterError::Unavailable { .. })
    ));
    assert!(Stripe.read(&ctx, &conn, &request).await.is_ok());
}

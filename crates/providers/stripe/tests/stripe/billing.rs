//! Subscription management, invoices, customer updates and searches, Checkout
//! Sessions and Payment Links against the crate's fake, served as the sandbox serves
//! it: Stripe's state rules (a canceled subscription, a finalized or voided invoice)
//! with Stripe's refusals, prorations, and retried actions that act once.

use std::sync::Arc;

use junction_conformance::{FakeServer, TokenTable};
use junction_core::{ActionOutcome, Adapter, AdapterError, Connection, Context};
use junction_stripe::{
    Stripe,
    sandbox::{SECRET_KEY, StripeFake},
};
use serde_json::{Value, json};

use crate::support::connection_with;

async fn start() -> (Arc<StripeFake>, FakeServer, Context, Connection) {
    let fake = Arc::new(StripeFake::default());
    let server = FakeServer::start(fake.clone(), TokenTable::default()).await;
    let ctx = server.context();
    (fake, server, ctx, connection_with(SECRET_KEY))
}

async fn act(
    ctx: &Context,
    conn: &Connection,
    action: &str,
    input: Value,
    key: &str,
) -> Result<ActionOutcome, AdapterError> {
    Stripe.act(ctx, conn, action, &input, Some(key)).await
}

/// A new monthly Pro subscription (2 seats) of a seeded customer: its id, its item's
/// id and its period.
async fn subscribe(ctx: &Context, conn: &Connection, key: &str) -> (String, String, (i64, i64)) {
    let created = act(
        ctx,
        conn,
        "create_subscription",
        json!({"customer": "cus_sandbox0003", "items": [{"price": "price_sandbox_pro_monthly", "quantity": 2}]}),
        key,
    )
    .await
    .unwrap();
    let id = created.external_id.unwrap();
    let item = created.output["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, item, (0, 0))
}

fn period(fake: &StripeFake, subscription: &str) -> (i64, i64) {
    let stored = fake.object("subscriptions", subscription).unwrap();
    let item = &stored["items"]["data"][0];
    (
        item["current_period_start"].as_i64().unwrap(),
        item["current_period_end"].as_i64().unwrap(),
    )
}

fn events_about(fake: &StripeFake, event_type: &str, id: &str) -> Vec<Value> {
    fake.events_of(event_type)
        .into_iter()
        .filter(|event| event["data"]["object"]["id"] == id)
        .collect()
}

#[tokio::test]
async fn cancelling_at_period_end_then_resuming_leaves_the_subscription_active() {
    let (fake, _server, ctx, conn) = start().await;
    let (sub, _, _) = subscribe(&ctx, &conn, "sub-create").await;
    let (_, end) = period(&fake, &sub);

    let cancel = json!({"subscription": sub, "cancellation_details": {"comment": "Too pricey", "feedback": "too_expensive"}});
    let scheduled = act(
        &ctx,
        &conn,
        "cancel_subscription_at_period_end",
        cancel.clone(),
        "c-1",
    )
    .await
    .unwrap();
    assert_eq!(scheduled.output["status"], "active");
    assert_eq!(scheduled.output["cancel_at_period_end"], true);
    assert_eq!(scheduled.output["cancel_at"], end);
    assert_eq!(
        scheduled.output["cancellation_details"]["reason"],
        "cancellation_requested"
    );
    assert_eq!(
        scheduled.output["cancellation_details"]["feedback"],
        "too_expensive"
    );
    // The retry with the same key changes nothing more (one event, the same answer).
    let again = act(
        &ctx,
        &conn,
        "cancel_subscription_at_period_end",
        cancel,
        "c-1",
    )
    .await
    .unwrap();
    assert_eq!(again, scheduled);
    let updates = events_about(&fake, "customer.subscription.updated", &sub);
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0]["data"]["previous_attributes"]["cancel_at_period_end"],
        false
    );

    let resumed = act(
        &ctx,
        &conn,
        "resume_subscription",
        json!({"subscription": sub}),
        "r-1",
    )
    .await
    .unwrap();
    assert_eq!(resumed.output["status"], "active");
    assert_eq!(resumed.output["cancel_at_period_end"], false);
    assert_eq!(resumed.output["cancel_at"], Value::Null);
    assert_eq!(resumed.output["canceled_at"], Value::Null);
    assert_eq!(
        resumed.output["cancellation_details"]["reason"],
        Value::Null
    );
    let stored = fake.object("subscriptions", &sub).unwrap();
    assert_eq!(stored["status"], "active");
    assert_eq!(stored["cancel_at_period_end"], false);
    assert_eq!(
        events_about(&fake, "customer.subscription.updated", &sub).len(),
        2
    );
}

#[tokio::test]
async fn a_cancellation_now_is_final_and_its_retry_answers_the_canceled_subscription() {
    let (fake, _server, ctx, conn) = start().await;
    let (sub, _, _) = subscribe(&ctx, &conn, "sub-create").await;
    let input = json!({"subscription": sub, "cancellation_details": {"comment": "closing"}});
    let canceled = act(&ctx, &conn, "cancel_subscription", input.clone(), "x-1")
        .await
        .unwrap();
    assert_eq!(canceled.output["status"], "canceled");
    assert!(canceled.output["ended_at"].is_i64());
    assert_eq!(
        canceled.output["cancellation_details"]["comment"],
        "closing"
    );
    // Stripe answers a second DELETE with 404 (a canceled subscription reads as
    // deleted); the retry answers with the canceled subscription, and nothing happens
    // twice.
    let retried = act(&ctx, &conn, "cancel_subscription", input, "x-1")
        .await
        .unwrap();
    assert_eq!(retried.external_id, canceled.external_id);
    assert_eq!(retried.output["status"], "canceled");
    assert_eq!(
        events_about(&fake, "customer.subscription.deleted", &sub).len(),
        1
    );
    // Nothing but metadata and cancellation details changes on it any more.
    let err = act(
        &ctx,
        &conn,
        "resume_subscription",
        json!({"subscription": sub}),
        "x-2",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { message, .. } if message.contains("A canceled subscription can only update")),
        "{err:?}"
    );
    // A subscription that never existed stays a 404.
    let err = act(
        &ctx,
        &conn,
        "cancel_subscription",
        json!({"subscription": "sub_nope"}),
        "x-3",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AdapterError::Provider { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_price_change_is_prorated_into_invoice_items_once() {
    let (fake, _server, ctx, conn) = start().await;
    let (sub, item, _) = subscribe(&ctx, &conn, "sub-create").await;
    let (start, end) = period(&fake, &sub);
    let midway = start + (end - start) / 2;
    let input = json!({"subscription": sub, "proration_date": midway,
        "items": [{"id": item, "price": "price_sandbox_starter_monthly", "quantity": 3}]});
    let changed = act(&ctx, &conn, "update_subscription", input.clone(), "u-1")
        .await
        .unwrap();
    assert_eq!(
        changed.output["items"],
        json!([{"id": item, "price": "price_sandbox_starter_monthly", "quantity": 3}])
    );
    act(&ctx, &conn, "update_subscription", input, "u-1")
        .await
        .unwrap();
    let prorations: Vec<Value> = fake
        .objects("invoiceitems")
        .into_iter()
        .filter(|i| i["parent"]["subscription_details"]["subscription"] == sub.as_str())
        .collect();
    // Half of 2 × $49 back, half of 3 × $19 due: once, though asked twice.
    let amounts: Vec<i64> = prorations
        .iter()
        .map(|i| i["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [-4900, 2850]);
    assert!(
        prorations
            .iter()
            .all(|i| i["proration"] == true && i["invoice"].is_null())
    );

    // `always_invoice` bills the difference at once.
    let input = json!({"subscription": sub, "proration_behavior": "always_invoice", "proration_date": midway,
        "items": [{"id": item, "price": "price_sandbox_pro_monthly", "quantity": 4}]});
    let changed = act(&ctx, &conn, "update_subscription", input, "u-2")
        .await
        .unwrap();
    let invoice_id = changed.output["latest_invoice"].as_str().unwrap();
    let invoice = fake.object("invoices", invoice_id).unwrap();
    // The pending -49.00 + 28.50, then -28.50 + 98.00: 49.00 due, paid by card.
    assert_eq!(invoice["amount_due"], 4900);
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["lines"]["data"].as_array().unwrap().len(), 4);

    // `none` changes the items only.
    let before = fake.objects("invoiceitems").len();
    let input = json!({"subscription": sub, "proration_behavior": "none",
        "items": [{"id": item, "quantity": 1}]});
    act(&ctx, &conn, "update_subscription", input, "u-3")
        .await
        .unwrap();
    assert_eq!(fake.objects("invoiceitems").len(), before);

    // A price of another currency, a one-time price, an item of another subscription.
    for (items, param) in [
        (
            json!([{"id": item, "price": "price_sandbox_team_quarterly"}]),
            "items",
        ),
        (
            json!([{"id": item, "price": "price_sandbox_tshirt"}]),
            "items[0][price]",
        ),
        (
            json!([{"id": "si_sandbox0000", "quantity": 2}]),
            "items[0][id]",
        ),
    ] {
        let err = act(
            &ctx,
            &conn,
            "update_subscription",
            json!({"subscription": sub, "items": items}),
            "u-4",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == param),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn collection_pauses_and_resumes() {
    let (fake, _server, ctx, conn) = start().await;
    let (sub, _, _) = subscribe(&ctx, &conn, "sub-create").await;
    let paused = act(
        &ctx,
        &conn,
        "pause_subscription_collection",
        json!({"subscription": sub, "pause_collection": {"behavior": "void", "resumes_at": 1_900_000_000}}),
        "p-1",
    )
    .await
    .unwrap();
    assert_eq!(
        paused.output["pause_collection"],
        json!({"behavior": "void", "resumes_at": 1_900_000_000})
    );
    assert_eq!(paused.output["status"], "active");
    let resumed = act(
        &ctx,
        &conn,
        "resume_subscription_collection",
        json!({"subscription": sub}),
        "p-2",
    )
    .await
    .unwrap();
    assert_eq!(resumed.output["pause_collection"], Value::Null);
    let updates = events_about(&fake, "customer.subscription.updated", &sub);
    assert_eq!(updates.len(), 2);
    assert_eq!(
        updates[1]["data"]["previous_attributes"]["pause_collection"]["behavior"],
        "void"
    );
    let err = act(
        &ctx,
        &conn,
        "pause_subscription_collection",
        json!({"subscription": sub, "pause_collection": {"behavior": "later"}}),
        "p-3",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "input.pause_collection.behavior"),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_invoice_goes_from_items_to_draft_open_sent_and_void_by_stripes_rules() {
    let (fake, _server, ctx, conn) = start().await;
    let customer = "cus_sandbox0004";
    let first = act(&ctx, &conn, "create_invoice_item",
        json!({"customer": customer, "amount": 12_000, "currency": "usd", "description": "Consulting"}), "ii-1")
        .await
        .unwrap();
    assert_eq!(first.output["invoice"], Value::Null);
    act(
        &ctx,
        &conn,
        "create_invoice_item",
        json!({"customer": customer, "pricing": {"price": "price_sandbox_tshirt"}, "quantity": 2}),
        "ii-2",
    )
    .await
    .unwrap();
    // Retried: still two items.
    act(
        &ctx,
        &conn,
        "create_invoice_item",
        json!({"customer": customer, "pricing": {"price": "price_sandbox_tshirt"}, "quantity": 2}),
        "ii-2",
    )
    .await
    .unwrap();
    let draft = act(
        &ctx,
        &conn,
        "create_invoice",
        json!({"customer": customer, "collection_method": "send_invoice", "days_until_due": 14,
            "pending_invoice_items_behavior": "include"}),
        "in-1",
    )
    .await
    .unwrap();
    let invoice = draft.external_id.clone().unwrap();
    assert_eq!(draft.output["status"], "draft");
    assert_eq!(draft.output["amount_due"], 17_000);
    // A draft cannot be sent or voided.
    for (action, words) in [
        ("send_invoice", "draft"),
        ("void_invoice", "You can only pass in open invoices"),
    ] {
        let err = act(&ctx, &conn, action, json!({"invoice": invoice}), "in-x")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdapterError::Invalid { message, .. } if message.contains(words)),
            "{err:?}"
        );
    }
    // An item added to the draft counts.
    act(&ctx, &conn, "create_invoice_item",
        json!({"customer": customer, "amount": -2_000, "currency": "usd", "invoice": invoice, "description": "Discount"}), "ii-3")
        .await
        .unwrap();
    let open = act(
        &ctx,
        &conn,
        "finalize_invoice",
        json!({"invoice": invoice}),
        "in-2",
    )
    .await
    .unwrap();
    assert_eq!(open.output["status"], "open");
    assert_eq!(open.output["amount_due"], 15_000);
    assert!(open.output["number"].as_str().unwrap().starts_with("SBX-"));
    assert!(open.output["hosted_invoice_url"].is_string());
    let err = act(
        &ctx,
        &conn,
        "finalize_invoice",
        json!({"invoice": invoice}),
        "in-3",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { message, .. } if message.contains("already finalized")),
        "{err:?}"
    );
    // Nothing more goes onto a finalized invoice.
    let err = act(
        &ctx,
        &conn,
        "create_invoice_item",
        json!({"customer": customer, "amount": 100, "currency": "usd", "invoice": invoice}),
        "ii-4",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { message, .. } if message.contains("invoice_not_editable")),
        "{err:?}"
    );

    let sent = act(
        &ctx,
        &conn,
        "send_invoice",
        json!({"invoice": invoice}),
        "in-4",
    )
    .await
    .unwrap();
    assert_eq!(sent.output["status"], "open");
    assert_eq!(fake.events_of("invoice.sent").len(), 1);
    let void = act(
        &ctx,
        &conn,
        "void_invoice",
        json!({"invoice": invoice}),
        "in-5",
    )
    .await
    .unwrap();
    assert_eq!(void.output["status"], "void");
    let retried = act(
        &ctx,
        &conn,
        "void_invoice",
        json!({"invoice": invoice}),
        "in-5",
    )
    .await
    .unwrap();
    assert_eq!(retried, void);
    assert_eq!(fake.events_of("invoice.voided").len(), 1);
    let err = act(
        &ctx,
        &conn,
        "void_invoice",
        json!({"invoice": invoice}),
        "in-6",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { message, .. } if message.contains("isn't open")),
        "{err:?}"
    );

    // A charged-automatically invoice is not sent by hand; one with nothing due is
    // paid as it is finalized.
    let auto = act(
        &ctx,
        &conn,
        "create_invoice",
        json!({"customer": customer}),
        "in-7",
    )
    .await
    .unwrap();
    let auto = auto.external_id.unwrap();
    let paid = act(
        &ctx,
        &conn,
        "finalize_invoice",
        json!({"invoice": auto}),
        "in-8",
    )
    .await
    .unwrap();
    assert_eq!(paid.output["status"], "paid");
    let err = act(
        &ctx,
        &conn,
        "send_invoice",
        json!({"invoice": auto}),
        "in-9",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { message, .. } if message.contains("send_invoice")),
        "{err:?}"
    );
}

#[tokio::test]
async fn customers_are_updated_and_searched_to_the_last_page() {
    let (fake, _server, ctx, conn) = start().await;
    let updated = act(&ctx, &conn, "update_customer",
        json!({"customer": "cus_sandbox0005", "email": "ada@lovelace.example", "name": "Ada Lovelace",
            "metadata": {"plan": "pro"}, "address": {"city": "London", "country": "GB"}}), "cu-1")
        .await
        .unwrap();
    assert_eq!(updated.output["email"], "ada@lovelace.example");
    assert_eq!(
        fake.object("customers", "cus_sandbox0005").unwrap()["address"]["city"],
        "London"
    );
    let found = act(
        &ctx,
        &conn,
        "search_customers",
        json!({"query": "email:'ada@lovelace.example' AND metadata['plan']:'pro'"}),
        "cs-1",
    )
    .await
    .unwrap();
    assert_eq!(found.external_id, None);
    assert_eq!(found.output["data"][0]["id"], "cus_sandbox0005");
    assert_eq!(found.output["has_more"], false);

    // Every seeded customer has a sandbox email: page through them all, 7 at a time.
    let total = fake.objects("customers").len();
    let (mut seen, mut page, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut input = json!({"query": "email~'example'", "limit": 7});
        if let Some(page) = &page {
            input["page"] = json!(page);
        }
        let answer = act(&ctx, &conn, "search_customers", input, "cs-2")
            .await
            .unwrap();
        pages += 1;
        for customer in answer.output["data"].as_array().unwrap() {
            seen.push(customer["id"].as_str().unwrap().to_owned());
        }
        if answer.output["has_more"] == false {
            assert_eq!(answer.output["next_page"], Value::Null);
            break;
        }
        page = answer.output["next_page"].as_str().map(str::to_owned);
    }
    let matching = fake
        .objects("customers")
        .iter()
        .filter(|c| c["email"].as_str().is_some_and(|e| e.contains("example")))
        .count();
    assert!(matching > 7 && matching <= total);
    assert_eq!(seen.len(), matching);
    assert_eq!(pages, matching.div_ceil(7));
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len());

    let err = act(
        &ctx,
        &conn,
        "search_customers",
        json!({"query": "balance:'1'"}),
        "cs-3",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "query"),
        "{err:?}"
    );
    let err = act(
        &ctx,
        &conn,
        "update_customer",
        json!({"customer": "cus_nope", "name": "x"}),
        "cu-2",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, AdapterError::Provider { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn one_time_payments_by_checkout_session_or_payment_link() {
    let (fake, _server, ctx, conn) = start().await;
    let input = json!({
        "line_items": [
            {"price": "price_sandbox_tshirt", "quantity": 2},
            {"price_data": {"currency": "usd", "unit_amount": 500, "product_data": {"name": "Gift wrap"}}, "quantity": 1}
        ],
        "success_url": "https://shop.example/thanks", "cancel_url": "https://shop.example/cart",
        "customer_email": "buyer@shop.example", "client_reference_id": "order-6735"
    });
    let session = act(
        &ctx,
        &conn,
        "create_checkout_session",
        input.clone(),
        "co-1",
    )
    .await
    .unwrap();
    let id = session.external_id.clone().unwrap();
    assert!(id.starts_with("cs_test_"));
    assert_eq!(session.output["mode"], "payment");
    assert_eq!(session.output["amount_total"], 5_500);
    assert_eq!(session.output["status"], "open");
    assert_eq!(
        session.output["url"],
        format!("https://checkout.stripe.com/c/pay/{id}")
    );
    let again = act(&ctx, &conn, "create_checkout_session", input, "co-1")
        .await
        .unwrap();
    assert_eq!(again, session);
    assert_eq!(fake.objects("checkout_sessions").len(), 1);
    let err = act(&ctx, &conn, "create_checkout_session",
        json!({"line_items": [{"price": "price_sandbox_pro_monthly", "quantity": 1}], "success_url": "https://shop.example/ok"}), "co-2")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), message } if f == "line_items[0][price]" && message.contains("recurring price")),
        "{err:?}"
    );

    let link = act(&ctx, &conn, "create_payment_link",
        json!({"line_items": [{"price": "price_sandbox_workshop_eur", "quantity": 1}],
            "after_completion": {"type": "redirect", "redirect": {"url": "https://shop.example/welcome"}}}), "pl-1")
        .await
        .unwrap();
    assert!(
        link.output["url"]
            .as_str()
            .unwrap()
            .starts_with("https://buy.stripe.com/")
    );
    assert_eq!(link.output["currency"], "eur");
    assert_eq!(link.output["active"], true);
    assert_eq!(fake.events_of("payment_link.created").len(), 1);
}

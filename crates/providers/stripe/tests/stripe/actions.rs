//! The five actions against wiremock: Stripe's nested form encoding, the outcomes,
//! input validation before anything is sent, and Stripe's refusals.

use junction_core::{Adapter, AdapterError};
use junction_stripe::Stripe;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string, method, path},
};

use crate::support::*;

async fn act_against(
    endpoint: &str,
    expected_body: &str,
    response: Value,
    action: &str,
    input: Value,
) -> junction_core::ActionOutcome {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/stripe/v1/{endpoint}")))
        .and(body_string(expected_body))
        .respond_with(ResponseTemplate::new(200).set_body_json(response))
        .expect(1)
        .mount(&server)
        .await;
    Stripe
        .act(&context(&server), &connection(), action, &input, Some("k1"))
        .await
        .unwrap()
}

#[tokio::test]
async fn create_payment_intent_nests_its_options() {
    let outcome = act_against(
        "payment_intents",
        "amount=1099&automatic_payment_methods%5Benabled%5D=true&currency=usd&customer=cus_1&metadata%5Border%5D=6735",
        fixture("payment_intent"),
        "create_payment_intent",
        json!({"amount": 1099, "currency": "usd", "customer": "cus_1",
            "automatic_payment_methods": {"enabled": true}, "metadata": {"order": "6735"}}),
    )
    .await;
    assert_eq!(
        outcome.external_id.as_deref(),
        Some("pi_1PgafyB7WZ01zgkWSjxsAJo3")
    );
    assert_eq!(outcome.output["status"], "requires_payment_method");
    assert_eq!(
        outcome.output["client_secret"],
        "pi_1PgafyB7WZ01zgkWSjxsAJo3_secret_Dm43xiq1k0ywrRRjDoi8y1gkM"
    );
}

#[tokio::test]
async fn create_subscription_indexes_its_items() {
    let outcome = act_against(
        "subscriptions",
        "customer=cus_QXg1o8vcGmoR32&items%5B0%5D%5Bprice%5D=price_1&items%5B0%5D%5Bquantity%5D=2&items%5B1%5D%5Bprice%5D=price_2&trial_period_days=14",
        fixture("subscription"),
        "create_subscription",
        json!({"customer": "cus_QXg1o8vcGmoR32", "trial_period_days": 14,
            "items": [{"price": "price_1", "quantity": 2}, {"price": "price_2"}]}),
    )
    .await;
    assert_eq!(
        outcome.external_id.as_deref(),
        Some("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw")
    );
    assert_eq!(
        outcome.output["items"],
        json!([{"id": "si_QXhVnC2h0Jczwc", "price": "price_1PgafmB7WZ01zgkW6dKueIc5", "quantity": 1}])
    );
}

#[tokio::test]
async fn create_invoice_sends_its_collection_terms() {
    let outcome = act_against(
        "invoices",
        "collection_method=send_invoice&customer=cus_1&days_until_due=30&pending_invoice_items_behavior=include",
        fixture("invoice"),
        "create_invoice",
        json!({"customer": "cus_1", "collection_method": "send_invoice", "days_until_due": 30,
            "pending_invoice_items_behavior": "include"}),
    )
    .await;
    assert_eq!(
        outcome.external_id.as_deref(),
        Some("in_1Pgc6tB7WZ01zgkWu9fdqL6I")
    );
    assert_eq!(outcome.output["amount_due"], 1000);
}

#[tokio::test]
async fn refunds_of_a_payment_intent() {
    let outcome = act_against(
        "refunds",
        "payment_intent=pi_1",
        fixture("refund"),
        "refund",
        json!({"payment_intent": "pi_1"}),
    )
    .await;
    assert_eq!(outcome.output["charge"], "ch_1PgafuB7WZ01zgkWXYmPNZs8");
}

#[tokio::test]
async fn invalid_inputs_never_reach_stripe() {
    let server = MockServer::start().await;
    let ctx = context(&server);
    let cases = [
        (
            "create_payment_intent",
            json!({"currency": "usd"}),
            "input.amount",
        ),
        (
            "create_payment_intent",
            json!({"amount": 0, "currency": "usd"}),
            "input.amount",
        ),
        (
            "create_payment_intent",
            json!({"amount": 100, "currency": "dollars"}),
            "input.currency",
        ),
        (
            "create_subscription",
            json!({"customer": "cus_1", "items": []}),
            "input.items",
        ),
        (
            "create_subscription",
            json!({"customer": "cus_1", "items": [{"price": "p", "qty": 1}]}),
            "input.items[0].qty",
        ),
        ("refund", json!({}), "input"),
        (
            "refund",
            json!({"charge": "ch_1", "reason": "changed_mind"}),
            "input.reason",
        ),
        (
            "create_invoice",
            json!({"customer": "cus_1", "auto_advance": "yes"}),
            "input.auto_advance",
        ),
        (
            "create_customer",
            json!({"email": "a@b.c", "coupon": "X"}),
            "input.coupon",
        ),
        (
            "create_customer",
            json!({"metadata": {"k": 1}}),
            "input.metadata.k",
        ),
        ("create_customer", json!("not an object"), "input"),
    ];
    for (action, input, field) in cases {
        let err = Stripe
            .act(&ctx, &connection(), action, &input, Some("k"))
            .await
            .unwrap_err();
        match err {
            AdapterError::Invalid {
                field: Some(got), ..
            } => assert_eq!(got, field, "{action} {input}"),
            other => panic!("{action} {input}: {other:?}"),
        }
    }
    let err = Stripe
        .act(&ctx, &connection(), "create_charge", &json!({}), None)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "action"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn stripe_refusals_of_actions_are_classified() {
    let server = MockServer::start().await;
    Mock::given(path("/stripe/v1/payment_intents"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({"error": {
            "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
            "message": "Your card was declined.", "charge": "ch_1",
            "payment_intent": fixture("payment_intent")
        }})))
        .mount(&server)
        .await;
    Mock::given(path("/stripe/v1/subscriptions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(stripe_error(
            "invalid_request_error",
            Some("resource_missing"),
            "No such price: 'price_nope'",
            Some("items[0][price]"),
        )))
        .mount(&server)
        .await;
    Mock::given(path("/stripe/v1/refunds"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "type": "idempotency_error",
            "message": "Keys for idempotent requests can only be used with the same parameters they were first used with."
        }})))
        .mount(&server)
        .await;
    let ctx = context(&server);
    let err = Stripe
        .act(&ctx, &connection(), "create_payment_intent",
            &json!({"amount": 1000, "currency": "usd", "payment_method": "pm_card_chargeDeclined", "confirm": true}), Some("k"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AdapterError::Provider {
            status: 402,
            code: Some("generic_decline".into()),
            message: "Your card was declined.".into()
        }
    );
    assert!(!err.is_retryable());
    let err = Stripe
        .act(
            &ctx,
            &connection(),
            "create_subscription",
            &json!({"customer": "cus_1", "items": [{"price": "price_nope"}]}),
            Some("k"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AdapterError::invalid_field(
            "items[0][price]",
            "No such price: 'price_nope' (resource_missing)"
        )
    );
    let err = Stripe
        .act(
            &ctx,
            &connection(),
            "refund",
            &json!({"charge": "ch_1"}),
            Some("reused"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Invalid { field: None, .. }),
        "{err:?}"
    );
}

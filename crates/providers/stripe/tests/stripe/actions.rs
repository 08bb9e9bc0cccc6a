//! The five actions against wiremock: Stripe's nested form encoding, the outcomes,
//! input validation before anything is sent, and Stripe's refusals.

use junction_core::{Adapter, AdapterError};
use junction_stripe::Stripe;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string, header, method, path, query_param},
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

/// A subscription fixture as the change left it.
fn subscription_with(overrides: Value) -> Value {
    object("subscription", overrides)
}

#[tokio::test]
async fn subscription_changes_post_to_the_subscription_with_the_key() {
    let server = MockServer::start().await;
    let cases = [
        (
            "update_subscription",
            json!({"subscription": "sub_1", "proration_behavior": "always_invoice",
                "items": [{"id": "si_1", "price": "price_2", "quantity": 3}]}),
            "items%5B0%5D%5Bid%5D=si_1&items%5B0%5D%5Bprice%5D=price_2&items%5B0%5D%5Bquantity%5D=3&proration_behavior=always_invoice",
        ),
        (
            "cancel_subscription_at_period_end",
            json!({"subscription": "sub_1"}),
            "cancel_at_period_end=true",
        ),
        (
            "resume_subscription",
            json!({"subscription": "sub_1"}),
            "cancel_at_period_end=false",
        ),
        (
            "pause_subscription_collection",
            json!({"subscription": "sub_1", "pause_collection": {"behavior": "keep_as_draft"}}),
            "pause_collection%5Bbehavior%5D=keep_as_draft",
        ),
        (
            "resume_subscription_collection",
            json!({"subscription": "sub_1"}),
            "pause_collection=",
        ),
    ];
    for (index, (action, input, body)) in cases.into_iter().enumerate() {
        let key = format!("key-{index}");
        let _guard = Mock::given(method("POST"))
            .and(path("/stripe/v1/subscriptions/sub_1"))
            .and(body_string(body))
            .and(header("idempotency-key", key.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(subscription_with(
                json!({"pause_collection": {"behavior": "keep_as_draft", "resumes_at": null}}),
            )))
            .expect(1)
            .mount_as_scoped(&server)
            .await;
        let outcome = Stripe
            .act(&context(&server), &connection(), action, &input, Some(&key))
            .await
            .unwrap_or_else(|e| panic!("{action}: {e:?}"));
        assert_eq!(
            outcome.external_id.as_deref(),
            Some("sub_1Pgc6rB7WZ01zgkWNy0Cn5nw"),
            "{action}"
        );
        assert_eq!(
            outcome.output["pause_collection"]["behavior"],
            "keep_as_draft"
        );
    }
}

#[tokio::test]
async fn cancelling_now_deletes_and_a_retry_meets_the_canceled_subscription() {
    let server = MockServer::start().await;
    let canceled = subscription_with(json!({"status": "canceled", "canceled_at": 1_773_000_000}));
    Mock::given(method("DELETE"))
        .and(path("/stripe/v1/subscriptions/sub_1"))
        .and(query_param("prorate", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(canceled.clone()))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    // The second DELETE: Stripe reads the canceled subscription as deleted.
    Mock::given(method("DELETE"))
        .and(path("/stripe/v1/subscriptions/sub_1"))
        .respond_with(ResponseTemplate::new(404).set_body_json(stripe_error(
            "invalid_request_error",
            Some("resource_missing"),
            "No such subscription: 'sub_1'",
            Some("id"),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/stripe/v1/subscriptions/sub_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(canceled))
        .expect(1)
        .mount(&server)
        .await;
    let input = json!({"subscription": "sub_1", "prorate": true});
    let ctx = context(&server);
    let first = Stripe
        .act(
            &ctx,
            &connection(),
            "cancel_subscription",
            &input,
            Some("c"),
        )
        .await
        .unwrap();
    let retried = Stripe
        .act(
            &ctx,
            &connection(),
            "cancel_subscription",
            &input,
            Some("c"),
        )
        .await
        .unwrap();
    assert_eq!(first, retried);
    assert_eq!(first.output["status"], "canceled");
}

#[tokio::test]
async fn a_deletion_of_a_live_subscription_that_404s_stays_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(stripe_error(
            "invalid_request_error",
            Some("resource_missing"),
            "No such subscription: 'sub_1'",
            Some("id"),
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("subscription")))
        .mount(&server)
        .await;
    let err = Stripe
        .act(
            &context(&server),
            &connection(),
            "cancel_subscription",
            &json!({"subscription": "sub_1"}),
            Some("c"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Provider { status: 404, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn customers_are_updated_and_searched_a_page_at_a_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/stripe/v1/customers/cus_1"))
        .and(body_string(
            "address%5Bcountry%5D=GB&email=ada%40example.com&metadata%5Bplan%5D=pro",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("customer")))
        .expect(1)
        .mount(&server)
        .await;
    let page = |data: Vec<Value>, next: Option<&str>| {
        json!({"object": "search_result", "data": data, "has_more": next.is_some(),
            "next_page": next, "url": "/v1/customers/search"})
    };
    Mock::given(method("GET"))
        .and(path("/stripe/v1/customers/search"))
        .and(query_param(
            "query",
            "email~'example' AND metadata['plan']:'pro'",
        ))
        .and(query_param("page", "WzE3MjE5NTQwNTNd"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(page(vec![fixture("customer")], None)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/stripe/v1/customers/search"))
        .and(query_param("limit", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page(vec![fixture("customer")], Some("WzE3MjE5NTQwNTNd"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let ctx = context(&server);
    let updated = Stripe
        .act(
            &ctx,
            &connection(),
            "update_customer",
            &json!({"customer": "cus_1", "email": "ada@example.com", "metadata": {"plan": "pro"},
                "address": {"country": "GB"}}),
            Some("u"),
        )
        .await
        .unwrap();
    assert_eq!(updated.external_id.as_deref(), Some("cus_QXg1o8vcGmoR32"));
    let query = "email~'example' AND metadata['plan']:'pro'";
    let first = Stripe
        .act(
            &ctx,
            &connection(),
            "search_customers",
            &json!({"query": query, "limit": 1}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(first.external_id, None);
    assert_eq!(first.output["has_more"], true);
    let next = first.output["next_page"].as_str().unwrap();
    let last = Stripe
        .act(
            &ctx,
            &connection(),
            "search_customers",
            &json!({"query": query, "page": next}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(last.output["has_more"], false);
    assert_eq!(last.output["data"][0]["id"], "cus_QXg1o8vcGmoR32");
}

#[tokio::test]
async fn invoices_move_through_their_own_endpoints() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/stripe/v1/invoiceitems"))
        .and(body_string(
            "customer=cus_1&pricing%5Bprice%5D=price_1&quantity=2",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("invoiceitem")))
        .expect(1)
        .mount(&server)
        .await;
    for verb in ["finalize", "send", "void"] {
        Mock::given(method("POST"))
            .and(path(format!("/stripe/v1/invoices/in_1/{verb}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture("invoice")))
            .expect(1)
            .mount(&server)
            .await;
    }
    let ctx = context(&server);
    let item = Stripe
        .act(
            &ctx,
            &connection(),
            "create_invoice_item",
            &json!({"customer": "cus_1", "pricing": {"price": "price_1"}, "quantity": 2}),
            Some("i"),
        )
        .await
        .unwrap();
    assert_eq!(
        item.external_id.as_deref(),
        Some("ii_1Pgc6sB7WZ01zgkWrG16hkdl")
    );
    assert_eq!(item.output["amount"], 1000);
    for action in ["finalize_invoice", "send_invoice", "void_invoice"] {
        let outcome = Stripe
            .act(
                &ctx,
                &connection(),
                action,
                &json!({"invoice": "in_1"}),
                Some(action),
            )
            .await
            .unwrap();
        assert_eq!(
            outcome.external_id.as_deref(),
            Some("in_1Pgc6tB7WZ01zgkWu9fdqL6I")
        );
    }
}

#[tokio::test]
async fn stripes_refusal_of_an_invoice_move_is_invalid_and_final() {
    let server = MockServer::start().await;
    Mock::given(path("/stripe/v1/invoices/in_1/void"))
        .respond_with(ResponseTemplate::new(400).set_body_json(stripe_error(
            "invalid_request_error",
            None,
            "You can only pass in open invoices. This invoice isn't open.",
            None,
        )))
        .mount(&server)
        .await;
    let err = Stripe
        .act(
            &context(&server),
            &connection(),
            "void_invoice",
            &json!({"invoice": "in_1"}),
            Some("v"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AdapterError::Invalid {
            field: None,
            message: "You can only pass in open invoices. This invoice isn't open.".into()
        }
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn payment_pages_are_created_in_payment_mode() {
    let outcome = act_against(
        "checkout/sessions",
        "cancel_url=https%3A%2F%2Fshop.example%2Fcart&line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=usd&line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=Mug&line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=1500&line_items%5B0%5D%5Bquantity%5D=2&mode=payment&success_url=https%3A%2F%2Fshop.example%2Fthanks",
        fixture("checkout.session"),
        "create_checkout_session",
        json!({"line_items": [{"price_data": {"currency": "usd", "unit_amount": 1500, "product_data": {"name": "Mug"}}, "quantity": 2}],
            "success_url": "https://shop.example/thanks", "cancel_url": "https://shop.example/cart"}),
    )
    .await;
    assert_eq!(outcome.output["mode"], "payment");
    assert!(
        outcome.output["url"]
            .as_str()
            .unwrap()
            .starts_with("https://checkout.stripe.com/")
    );
    let outcome = act_against(
        "payment_links",
        "line_items%5B0%5D%5Bprice%5D=price_1&line_items%5B0%5D%5Bquantity%5D=1",
        fixture("payment_link"),
        "create_payment_link",
        json!({"line_items": [{"price": "price_1", "quantity": 1}]}),
    )
    .await;
    assert_eq!(
        outcome.external_id.as_deref(),
        Some("plink_1Pgc78B7WZ01zgkWC75kX0jg")
    );
    assert_eq!(outcome.output["active"], true);
}

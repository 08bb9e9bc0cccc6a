//! What the adapter sends: the paths, headers (`Authorization: Bearer`,
//! `Stripe-Version`, `Idempotency-Key`), list parameters and form bodies Stripe's API
//! documents.

use junction_core::Adapter;
use junction_stripe::{API_VERSION, Stripe};
use serde_json::json;
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{body_string, header, method, path, query_param, query_param_is_missing},
};

use crate::support::*;

#[tokio::test]
async fn check_reads_the_account_with_the_pinned_version() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/stripe/v1/account"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("stripe-version", API_VERSION))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("account")))
        .expect(1)
        .mount(&server)
        .await;
    let health = Stripe
        .check(&context(&server), &connection())
        .await
        .unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("site@stripe.com (test mode)")
    );
    assert_eq!(health.details["account_id"], "acct_1PgafTB7WZ01zgkW");
    assert_eq!(health.details["mode"], "test");
    assert_eq!(health.details["api_version"], API_VERSION);
    assert_eq!(health.details["default_currency"], "usd");
}

#[tokio::test]
async fn the_account_label_prefers_the_dashboard_name() {
    let server = MockServer::start().await;
    let mut account = fixture("account");
    account["settings"]["dashboard"]["display_name"] = json!("Acme Shop");
    Mock::given(path("/stripe/v1/account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account))
        .mount(&server)
        .await;
    let health = Stripe
        .check(&context(&server), &connection_with("sk_live_51Live0000"))
        .await
        .unwrap();
    assert_eq!(health.account.as_deref(), Some("Acme Shop (live mode)"));
}

#[tokio::test]
async fn a_restricted_key_is_checked_with_one_charge() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/stripe/v1/charges"))
        .and(query_param("limit", "1"))
        .and(header("authorization", "Bearer rk_test_51Restricted"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/charges",
            vec![fixture("charge")],
            true,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/stripe/v1/account"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let health = Stripe
        .check(&context(&server), &connection_with("rk_test_51Restricted"))
        .await
        .unwrap();
    assert_eq!(health.details["key"], "restricted");
}

#[tokio::test]
async fn a_first_read_lists_the_whole_history_newest_first() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/stripe/v1/customers"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("created[gte]"))
        .and(query_param_is_missing("starting_after"))
        .and(header("stripe-version", API_VERSION))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/customers",
            vec![fixture("customer")],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let page = read(&context(&server), "customers", None, None)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].external_id, "cus_QXg1o8vcGmoR32");
    assert_eq!(page.records[0].data, fixture("customer"));
    assert!(!page.has_more);
}

#[tokio::test]
async fn page_sizes_are_clamped_to_stripes_limits() {
    let server = MockServer::start().await;
    for limit in ["1", "25", "100"] {
        Mock::given(path("/stripe/v1/refunds"))
            .and(query_param("limit", limit))
            .respond_with(ResponseTemplate::new(200).set_body_json(list(
                "/v1/refunds",
                vec![],
                false,
            )))
            .expect(1)
            .mount(&server)
            .await;
    }
    let ctx = context(&server);
    for wish in [0, 25, 1000] {
        read(&ctx, "refunds", None, Some(wish)).await.unwrap();
    }
}

#[tokio::test]
async fn subscriptions_are_swept_in_every_status() {
    let server = MockServer::start().await;
    Mock::given(path("/stripe/v1/subscriptions"))
        .and(query_param("status", "all"))
        .and(query_param_is_missing("created[gte]"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/subscriptions",
            vec![],
            false,
        )))
        .expect(2)
        .mount(&server)
        .await;
    let ctx = context(&server);
    let page = read(&ctx, "subscriptions", None, None).await.unwrap();
    // The next sweep starts over: nothing but an empty cursor is kept.
    assert_eq!(page.next_cursor, Some(json!({})));
    read(&ctx, "subscriptions", page.next_cursor, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_resumed_window_sends_its_bounds() {
    let server = MockServer::start().await;
    Mock::given(path("/stripe/v1/invoices"))
        .and(query_param("created[gte]", "1772928000"))
        .and(query_param("starting_after", "in_1Pgc6tB7WZ01zgkWu9fdqL6I"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list("/v1/invoices", vec![], false)))
        .expect(1)
        .mount(&server)
        .await;
    let cursor = json!({"window_start": 1_772_928_000, "starting_after": "in_1Pgc6tB7WZ01zgkWu9fdqL6I", "newest": 1_773_000_000});
    read(&context(&server), "invoices", Some(cursor), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_streams_are_invalid() {
    let server = MockServer::start().await;
    let err = read(&context(&server), "payouts", None, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        junction_core::AdapterError::invalid_field("stream", "Stripe has no stream `payouts`")
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn actions_post_form_bodies_with_the_idempotency_key() {
    let server = MockServer::start().await;
    let created = object(
        "customer",
        json!({"id": "cus_new", "email": "ada@example.com", "name": "Ada Lovelace", "metadata": {"plan": "pro"}}),
    );
    Mock::given(method("POST"))
        .and(path("/stripe/v1/customers"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("idempotency-key", "action-42"))
        .and(header("stripe-version", API_VERSION))
        .and(body_string(
            "email=ada%40example.com&metadata%5Bplan%5D=pro&name=Ada+Lovelace",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(created))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = Stripe
        .act(
            &context(&server),
            &connection(),
            "create_customer",
            &json!({"email": "ada@example.com", "name": "Ada Lovelace", "metadata": {"plan": "pro"}}),
            Some("action-42"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some("cus_new"));
    assert_eq!(outcome.output["email"], "ada@example.com");
    assert_eq!(outcome.output["object"], "customer");
    assert!(outcome.output.get("invoice_settings").is_none());
}

#[tokio::test]
async fn actions_without_a_key_send_no_idempotency_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/stripe/v1/refunds"))
        .and(|request: &Request| !request.headers.contains_key("idempotency-key"))
        .and(body_string(
            "amount=500&charge=ch_1&reason=requested_by_customer",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("refund")))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = Stripe
        .act(
            &context(&server),
            &connection(),
            "refund",
            &json!({"charge": "ch_1", "amount": 500, "reason": "requested_by_customer"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.external_id.as_deref(),
        Some("re_1Pgc72B7WZ01zgkWqPvrRrPE")
    );
    assert_eq!(outcome.output["status"], "succeeded");
}

//! Paging with `starting_after` across several pages, the windows between syncs, and
//! daily KPI totals that span pages (emitted once complete, never in part).

use junction_core::AdapterError;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param, query_param_is_missing},
};

use crate::support::*;

/// Serves one list page of `endpoint`: the first when `after` is `None`.
async fn page(
    server: &MockServer,
    endpoint: &str,
    after: Option<&str>,
    data: Vec<Value>,
    more: bool,
) {
    let mock = Mock::given(method("GET")).and(path(format!("/stripe/v1/{endpoint}")));
    let mock = match after {
        Some(after) => mock.and(query_param("starting_after", after)),
        None => mock.and(query_param_is_missing("starting_after")),
    };
    mock.respond_with(ResponseTemplate::new(200).set_body_json(list(
        &format!("/v1/{endpoint}"),
        data,
        more,
    )))
    .expect(1)
    .mount(server)
    .await;
}

#[tokio::test]
async fn charges_page_by_page_with_days_completed_across_pages() {
    let server = MockServer::start().await;
    page(
        &server,
        "charges",
        None,
        vec![
            charge("ch_6", ts(14, 18), "usd", 5_000, 0),
            charge("ch_5", ts(14, 9), "usd", 2_500, 500),
            charge("ch_4", ts(13, 20), "usd", 1_000, 0),
        ],
        true,
    )
    .await;
    let mut failed = charge("ch_2", ts(12, 10), "usd", 0, 0);
    failed["status"] = json!("failed");
    page(
        &server,
        "charges",
        Some("ch_4"),
        vec![
            charge("ch_3", ts(13, 1), "usd", 700, 700),
            failed,
            charge("ch_1", ts(12, 8), "jpy", 3_000, 0),
        ],
        true,
    )
    .await;
    page(
        &server,
        "charges",
        Some("ch_1"),
        vec![charge("ch_0", ts(11, 8), "eur", 1_234, 34)],
        false,
    )
    .await;
    let ctx = context(&server);

    let first = read(&ctx, "charges", None, Some(3)).await.unwrap();
    let ids: Vec<_> = first
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["ch_6", "ch_5", "ch_4"]);
    assert!(first.has_more);
    // Day 14 is complete (the page reached day 13); day 13 is not.
    assert_eq!(
        points(&first.kpis),
        [
            ("gross_revenue USD 2026-03-14".to_owned(), 75.0),
            ("net_revenue USD 2026-03-14".to_owned(), 70.0),
        ]
        .into()
    );
    let cursor = first.next_cursor.clone().unwrap();
    assert_eq!(cursor["starting_after"], "ch_4");
    assert_eq!(cursor["open"]["2026-03-13"]["gross_revenue"]["usd"], 1_000);

    let second = read(&ctx, "charges", Some(cursor), Some(3)).await.unwrap();
    assert_eq!(second.records.len(), 3);
    assert_eq!(
        points(&second.kpis),
        [
            ("gross_revenue USD 2026-03-13".to_owned(), 17.0),
            ("net_revenue USD 2026-03-13".to_owned(), 10.0),
        ]
        .into()
    );

    let third = read(&ctx, "charges", second.next_cursor, Some(3))
        .await
        .unwrap();
    assert!(!third.has_more);
    assert_eq!(
        points(&third.kpis),
        [
            // Zero-decimal: 3,000 yen are 3,000 yen.
            ("gross_revenue JPY 2026-03-12".to_owned(), 3_000.0),
            ("net_revenue JPY 2026-03-12".to_owned(), 3_000.0),
            // The day's only dollar charge failed: zero, not nothing.
            ("gross_revenue USD 2026-03-12".to_owned(), 0.0),
            ("net_revenue USD 2026-03-12".to_owned(), 0.0),
            ("gross_revenue EUR 2026-03-11".to_owned(), 12.34),
            ("net_revenue EUR 2026-03-11".to_owned(), 12.0),
        ]
        .into()
    );
    // The next sync re-reads from a week before the newest charge's day.
    assert_eq!(third.next_cursor, Some(json!({"window_start": ts(7, 0)})));
}

#[tokio::test]
async fn the_next_window_starts_where_the_cursor_says() {
    let server = MockServer::start().await;
    Mock::given(path("/stripe/v1/refunds"))
        .and(query_param("created[gte]", ts(7, 0).to_string().as_str()))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/refunds",
            vec![object(
                "refund",
                json!({"id": "re_9", "created": ts(15, 9), "amount": 250}),
            )],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let page = read(
        &context(&server),
        "refunds",
        Some(json!({"window_start": ts(7, 0)})),
        None,
    )
    .await
    .unwrap();
    assert_eq!(page.records[0].external_id, "re_9");
    assert_eq!(
        points(&page.kpis),
        [("refunds USD 2026-03-15".to_owned(), 2.5)].into()
    );
    assert_eq!(page.next_cursor, Some(json!({"window_start": ts(8, 0)})));
}

#[tokio::test]
async fn an_empty_window_keeps_its_start() {
    let server = MockServer::start().await;
    page(&server, "payment_intents", None, vec![], false).await;
    let page = read(&context(&server), "payment_intents", None, None)
        .await
        .unwrap();
    assert!(page.records.is_empty() && page.kpis.is_empty() && !page.has_more);
    assert_eq!(page.next_cursor, Some(json!({})));
}

#[tokio::test]
async fn only_succeeded_and_pending_refunds_count() {
    let server = MockServer::start().await;
    let refund = |id: &str, status: &str, amount: i64| {
        object(
            "refund",
            json!({"id": id, "created": ts(10, 9), "amount": amount, "status": status}),
        )
    };
    page(
        &server,
        "refunds",
        None,
        vec![
            refund("re_4", "succeeded", 100),
            refund("re_3", "pending", 200),
            refund("re_2", "failed", 400),
            refund("re_1", "canceled", 800),
        ],
        false,
    )
    .await;
    let page = read(&context(&server), "refunds", None, None)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 4);
    assert_eq!(
        points(&page.kpis),
        [("refunds USD 2026-03-10".to_owned(), 3.0)].into()
    );
}

#[tokio::test]
async fn a_vanished_paging_anchor_restarts_the_window() {
    let server = MockServer::start().await;
    Mock::given(path("/stripe/v1/customers"))
        .and(query_param("starting_after", "cus_deleted"))
        .respond_with(ResponseTemplate::new(400).set_body_json(stripe_error(
            "invalid_request_error",
            Some("resource_missing"),
            "No such customer: 'cus_deleted'",
            Some("starting_after"),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/stripe/v1/customers"))
        .and(query_param("created[gte]", ts(1, 0).to_string().as_str()))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            "/v1/customers",
            vec![object(
                "customer",
                json!({"id": "cus_2", "created": ts(3, 0)}),
            )],
            false,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let cursor =
        json!({"window_start": ts(1, 0), "starting_after": "cus_deleted", "newest": ts(2, 0)});
    let page = read(&context(&server), "customers", Some(cursor), None)
        .await
        .unwrap();
    assert_eq!(page.records[0].external_id, "cus_2");
    assert!(!page.has_more);
}

#[tokio::test]
async fn more_promised_but_nothing_sent_is_unavailable() {
    let server = MockServer::start().await;
    page(&server, "invoices", None, vec![], true).await;
    let err = read(&context(&server), "invoices", None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_garbled_cursor_is_invalid() {
    let server = MockServer::start().await;
    let err = read(
        &context(&server),
        "charges",
        Some(json!({"window_start": "soon"})),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "cursor"));
}

/// A subscription from the official fixture with one licensed item.
fn subscription(
    id: &str,
    created: i64,
    status: &str,
    currency: &str,
    unit: i64,
    interval: &str,
    quantity: i64,
) -> Value {
    let mut sub = object(
        "subscription",
        json!({"id": id, "created": created, "status": status, "currency": currency, "ended_at": null}),
    );
    let item = &mut sub["items"]["data"][0];
    item["quantity"] = json!(quantity);
    item["price"]["currency"] = json!(currency);
    item["price"]["unit_amount"] = json!(unit);
    item["price"]["recurring"]["interval"] = json!(interval);
    item["price"]["recurring"]["interval_count"] = json!(1);
    sub
}

#[tokio::test]
async fn the_subscription_sweep_reports_mrr_new_and_churned_at_its_end() {
    let server = MockServer::start().await;
    let mut ended = subscription("sub_3", ts(12, 9), "canceled", "usd", 2_000, "month", 1);
    ended["ended_at"] = json!(ts(14, 10));
    page(
        &server,
        "subscriptions",
        None,
        vec![
            subscription("sub_5", ts(14, 9), "active", "usd", 2_000, "month", 2),
            subscription("sub_4", ts(13, 9), "trialing", "usd", 2_000, "month", 1),
        ],
        true,
    )
    .await;
    page(
        &server,
        "subscriptions",
        Some("sub_4"),
        vec![
            ended,
            subscription("sub_2", ts(12, 8), "past_due", "eur", 12_000, "year", 1),
            subscription(
                "sub_1",
                ts(1, 8),
                "incomplete_expired",
                "usd",
                2_000,
                "month",
                1,
            ),
        ],
        false,
    )
    .await;
    let ctx = context(&server);
    let first = read(&ctx, "subscriptions", None, Some(2)).await.unwrap();
    assert!(first.has_more);
    assert_eq!(
        points(&first.kpis),
        [("new_subscriptions USD 2026-03-14".to_owned(), 1.0)].into()
    );
    assert_eq!(first.next_cursor.as_ref().unwrap()["day"], "2026-03-15");
    let last = read(&ctx, "subscriptions", first.next_cursor, Some(2))
        .await
        .unwrap();
    assert!(!last.has_more);
    assert_eq!(
        points(&last.kpis),
        [
            ("new_subscriptions USD 2026-03-13".to_owned(), 1.0),
            ("new_subscriptions USD 2026-03-12".to_owned(), 1.0),
            ("new_subscriptions EUR 2026-03-12".to_owned(), 1.0),
            // The expired one was never a new subscription.
            ("new_subscriptions USD 2026-03-01".to_owned(), 0.0),
            ("churned_subscriptions USD 2026-03-14".to_owned(), 1.0),
            // 2 × $20 a month; the trial, the canceled and the expired add nothing.
            ("mrr USD 2026-03-15".to_owned(), 40.0),
            // €120 a year is €10 a month, past due still counts.
            ("mrr EUR 2026-03-15".to_owned(), 10.0),
        ]
        .into()
    );
    assert_eq!(last.next_cursor, Some(json!({})));
}

//! What the adapter sends (paths, query, token placement) and how it reads insights
//! pages: cursor paging, numbers as strings, purchases and ROAS, the restatement
//! window, and the account check.

use junction_core::{Adapter, AdapterError};
use junction_meta_ads::MetaAds;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param, query_param_is_missing},
};

use crate::support::{
    ACCOUNT_PATH, INSIGHTS_PATH, TOKEN, connection, connection_with, context, kpi, read,
    read_request, row,
};

#[tokio::test]
async fn the_first_page_asks_for_campaign_days_over_the_lookback_window() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param("level", "campaign"))
        .and(query_param("time_increment", "1"))
        .and(query_param(
            "time_range",
            r#"{"since":"2026-03-01","until":"2026-03-31"}"#,
        ))
        .and(query_param("limit", "2"))
        .and(query_param_is_missing("after"))
        .and(query_param_is_missing("access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .expect(1)
        .mount(&server)
        .await;
    let page = read(&server, None).await.unwrap();
    assert!(page.records.is_empty());
    assert!(!page.has_more);
    let requests = server.received_requests().await.unwrap();
    let fields = requests[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "fields")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    for wanted in [
        "campaign_id",
        "spend",
        "actions",
        "action_values",
        "purchase_roas",
    ] {
        assert!(fields.split(',').any(|f| f == wanted), "{fields}");
    }
    // Nothing read: the next sync starts the restatement window back from today.
    assert_eq!(page.next_cursor, Some(json!({"since": "2026-03-03"})));
}

#[tokio::test]
async fn pages_follow_the_after_cursor_until_there_is_no_next() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [row("11", "2026-03-01", "10.00", "1", "30.00"),
                     row("12", "2026-03-01", "20.00", "2", "50.00")],
            "paging": {"cursors": {"before": "MAZDZD", "after": "MQZDZD"},
                       "next": "https://graph.facebook.com/v25.0/act_1234567890/insights?after=MQZDZD"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .and(query_param("after", "MQZDZD"))
        .and(query_param(
            "time_range",
            r#"{"since":"2026-03-01","until":"2026-03-31"}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [row("11", "2026-03-02", "12.50", "0", "0")],
            "paging": {"cursors": {"before": "MgZDZD", "after": "MgZDZD"}}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let first = read(&server, None).await.unwrap();
    assert!(first.has_more);
    let ids: Vec<_> = first
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["11:2026-03-01", "12:2026-03-01"]);
    let second = read(&server, first.next_cursor.clone()).await.unwrap();
    assert!(!second.has_more);
    assert_eq!(second.records[0].external_id, "11:2026-03-02");
    // The window is done: the next sync re-reads the last 28 days of it.
    assert_eq!(second.next_cursor, Some(json!({"since": "2026-03-03"})));
}

#[tokio::test]
async fn string_numbers_become_kpis_without_double_counting_purchases() {
    let server = MockServer::start().await;
    let mut with_roas = row("21", "2026-03-05", "40.00", "4", "180.00");
    with_roas["purchase_roas"] = json!([{"action_type": "omni_purchase", "value": "4.45"}]);
    let mut no_spend = row("22", "2026-03-05", "0", "0", "0");
    no_spend["clicks"] = json!("0");
    no_spend.as_object_mut().unwrap().remove("cpc");
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [with_roas, row("23", "2026-03-05", "50.00", "2", "125.50"), no_spend]
        })))
        .mount(&server)
        .await;
    let page = read(&server, None).await.unwrap();
    let date = "2026-03-05";
    assert_eq!(kpi(&page, "spend", "21", date), Some(40.0));
    assert_eq!(kpi(&page, "impressions", "21", date), Some(12000.0));
    assert_eq!(kpi(&page, "clicks", "21", date), Some(240.0));
    assert_eq!(kpi(&page, "ctr", "21", date), Some(2.0));
    assert_eq!(kpi(&page, "cpc", "21", date), Some(0.5));
    // omni_purchase and the pixel's purchase are the same purchases: counted once.
    assert_eq!(kpi(&page, "purchases", "21", date), Some(4.0));
    assert_eq!(kpi(&page, "purchase_value", "21", date), Some(180.0));
    // Meta's own purchase_roas wins over the computed 180 / 40 = 4.5.
    assert_eq!(kpi(&page, "roas", "21", date), Some(4.45));
    // Without purchase_roas: value / spend.
    assert_eq!(kpi(&page, "roas", "23", date), Some(125.5 / 50.0));
    // No spend: no ROAS and no CPC point, never a division by zero.
    assert_eq!(kpi(&page, "roas", "22", date), None);
    assert_eq!(kpi(&page, "cpc", "22", date), None);
    assert_eq!(kpi(&page, "spend", "22", date), Some(0.0));
    assert!(page.kpis.iter().all(|p| p.value.is_finite()));
    // Records keep Meta's row as it came.
    assert_eq!(page.records[0].data["spend"], json!("40.00"));
}

#[tokio::test]
async fn a_number_that_does_not_parse_is_an_error_naming_the_field() {
    let server = MockServer::start().await;
    let mut bad = row("31", "2026-03-05", "40.00", "4", "180.00");
    bad["impressions"] = json!("12k");
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [bad]})))
        .mount(&server)
        .await;
    let err = read(&server, None).await.unwrap_err();
    assert!(err.to_string().contains("`impressions`"), "{err}");
    assert!(!err.to_string().contains("12k"), "{err}");
}

#[tokio::test]
async fn a_stored_cursor_rereads_from_its_day_to_today() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(INSIGHTS_PATH))
        .and(query_param(
            "time_range",
            r#"{"since":"2026-03-10","until":"2026-03-31"}"#,
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .expect(1)
        .mount(&server)
        .await;
    let page = read(&server, Some(json!({"since": "2026-03-10"})))
        .await
        .unwrap();
    assert!(!page.has_more);
}

#[tokio::test]
async fn bad_settings_and_streams_are_invalid() {
    let server = MockServer::start().await;
    let ctx = context(&server);
    let err = MetaAds
        .read(
            &ctx,
            &connection(),
            &junction_core::ReadRequest {
                stream: "ads".into(),
                cursor: None,
                page_size: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "stream"));
    let err = MetaAds
        .read(
            &ctx,
            &connection_with(json!({"ad_account_id": "act_x1"})),
            &read_request(None, None),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "ad_account_id"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn check_reads_the_account_and_labels_it() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(ACCOUNT_PATH))
        .and(query_param(
            "fields",
            "name,account_status,currency,timezone_name",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "Acme Store", "account_status": 1, "currency": "EUR",
            "timezone_name": "Europe/Berlin", "id": "act_1234567890"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let health = MetaAds
        .check(
            &context(&server),
            &connection_with(json!({"ad_account_id": "1234567890"})),
        )
        .await
        .unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("Acme Store (act_1234567890)")
    );
    assert_eq!(
        health.details,
        json!({"account_status": "ACTIVE", "currency": "EUR", "timezone_name": "Europe/Berlin"})
    );
}

#[tokio::test]
async fn revoke_deletes_the_permissions() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/meta-ads/v25.0/me/permissions"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"success": true})))
        .expect(1)
        .mount(&server)
        .await;
    MetaAds
        .revoke(&context(&server), &connection())
        .await
        .unwrap();
}

//! Reading `daily_report`: offset paging until `rowCount`, metric strings parsed by
//! their header's type, and the mapping of rows to records and KPI points.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use junction_core::AdapterError;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, method, path},
};

use crate::support::*;

/// Mounts one page of a 5-row report at `offset`.
async fn mount_page(server: &MockServer, offset: &str, rows: &[(&[&str], [&str; 7])]) {
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .and(body_partial_json(json!({"offset": offset, "limit": "2"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(report(&["date"], rows, 5)))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn pages_follow_offset_until_row_count() {
    let server = MockServer::start().await;
    mount_page(
        &server,
        "0",
        &[
            (&["20260311"], sample_metrics(1)),
            (&["20260312"], sample_metrics(2)),
        ],
    )
    .await;
    mount_page(
        &server,
        "2",
        &[
            (&["20260313"], sample_metrics(3)),
            (&["20260314"], sample_metrics(1)),
        ],
    )
    .await;
    mount_page(&server, "4", &[(&["20260315"], sample_metrics(2))]).await;
    let ctx = context(&server);
    let conn = property_connection(json!({"lookback_days": 4}));

    let first = read(&ctx, &conn, None, Some(2)).await.unwrap();
    assert!(first.has_more);
    assert_eq!(
        first.next_cursor,
        Some(json!({"start": "2026-03-11", "end": "2026-03-15", "offset": 2, "dimensions": []}))
    );
    let second = read(&ctx, &conn, first.next_cursor.clone(), Some(2))
        .await
        .unwrap();
    assert!(second.has_more);
    assert_eq!(second.next_cursor.as_ref().unwrap()["offset"], 4);
    let third = read(&ctx, &conn, second.next_cursor.clone(), Some(2))
        .await
        .unwrap();
    assert!(!third.has_more);
    // The finished window's successor re-reads the last days GA4 may still revise.
    assert_eq!(
        third.next_cursor,
        Some(json!({"start": "2026-03-12", "offset": 0, "dimensions": []}))
    );

    let ids: Vec<String> = [first, second, third]
        .into_iter()
        .flat_map(|page| page.records)
        .map(|record| record.external_id)
        .collect();
    assert_eq!(
        ids,
        ["20260311", "20260312", "20260313", "20260314", "20260315"]
    );
}

#[tokio::test]
async fn metric_strings_are_parsed_by_their_type() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(report(
            &["date", "country"],
            &[(&["20260314", "Germany"], sample_metrics(1))],
            1,
        )))
        .mount(&server)
        .await;
    let conn = property_connection(json!({"dimensions": "country"}));
    let page = read(&context(&server), &conn, None, None).await.unwrap();

    let [record] = page.records.as_slice() else {
        panic!("{page:?}")
    };
    assert_eq!(record.external_id, "20260314|Germany");
    assert_eq!(
        record.data,
        json!({
            "date": "20260314",
            "country": "Germany",
            "sessions": 1200,
            "totalUsers": 1011,
            "newUsers": 350,
            "keyEvents": 42,
            "engagementRate": 0.6234567901234568,
            "totalRevenue": 1234.5,
            "engagedSessions": 748
        })
    );
    // Integers stay integers in the record; floats and currency are floats.
    assert!(record.data["sessions"].is_i64());
    assert!(record.data["engagementRate"].is_f64());
    assert!(record.data["totalRevenue"].is_f64());
}

#[tokio::test]
async fn each_metric_of_each_row_is_a_kpi_point() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(report(
            &["date", "country", "sessionDefaultChannelGroup"],
            &[
                (&["20260313", "France", "Organic Search"], sample_metrics(2)),
                (&["20260314", "Japan", "Email"], sample_metrics(3)),
            ],
            2,
        )))
        .mount(&server)
        .await;
    let conn = property_connection(json!({"dimensions": "country,sessionDefaultChannelGroup"}));
    let page = read(&context(&server), &conn, None, None).await.unwrap();

    assert_eq!(page.kpis.len(), 14);
    let first_row: Vec<(&str, f64)> = page.kpis[..7]
        .iter()
        .map(|point| (point.metric.as_str(), point.value))
        .collect();
    assert_eq!(
        first_row,
        [
            ("sessions", 980.0),
            ("total_users", 850.0),
            ("new_users", 300.0),
            ("key_events", 31.0),
            ("engagement_rate", 0.58),
            ("total_revenue", 899.99),
            ("engaged_sessions", 568.0)
        ]
    );
    // Money carries the property's currency, from the report's metadata.
    assert_eq!(page.kpis[5].dimensions["currency"], "USD");
    assert!(!page.kpis[0].dimensions.contains_key("currency"));
    let point = &page.kpis[7];
    assert_eq!(point.date, NaiveDate::from_ymd_opt(2026, 3, 14).unwrap());
    assert_eq!(
        point.dimensions,
        BTreeMap::from([
            ("country".to_owned(), "Japan".to_owned()),
            ("sessionDefaultChannelGroup".to_owned(), "Email".to_owned())
        ])
    );
    assert_eq!(page.records[1].external_id, "20260314|Japan|Email");
}

#[tokio::test]
async fn a_used_up_token_quota_still_delivers_the_page() {
    let server = MockServer::start().await;
    let mut body = report(&["date"], &[(&["20260315"], sample_metrics(1))], 1);
    body["propertyQuota"]["tokensPerHour"] = json!({"consumed": 12});
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let page = read(
        &context(&server),
        &property_connection(json!({})),
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(page.records.len(), 1);
}

#[tokio::test]
async fn reports_that_do_not_match_the_request_are_malformed() {
    let cases: [(&str, Value); 4] = [
        ("metric headers", {
            let mut body = report(&["date"], &[], 0);
            body["metricHeaders"][5]["name"] = json!("purchaseRevenue");
            body
        }),
        ("dimension headers", report(&["date", "country"], &[], 0)),
        ("a short row", {
            let mut body = report(&["date"], &[(&["20260315"], sample_metrics(1))], 1);
            body["rows"][0]["metricValues"] = json!([{"value": "1"}]);
            body
        }),
        (
            "a non-numeric metric",
            report(
                &["date"],
                &[(&["20260315"], ["many", "1", "1", "1", "0.1", "1", "1"])],
                1,
            ),
        ),
    ];
    for (what, body) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(RUN_REPORT_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        let err = read(
            &context(&server),
            &property_connection(json!({})),
            None,
            None,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, AdapterError::Unavailable { .. }),
            "{what}: {err:?}"
        );
        assert!(
            !err.to_string().contains("many"),
            "values are not quoted: {err}"
        );
    }
}

//! What the adapter sends: the `runReport` bodies of `check` and `daily_report`
//! (string int64s, the window, dimensions and metrics), the Bearer header, the
//! base-URL prefix, and the checks made before any request.

use junction_core::{Adapter, AdapterError};
use junction_google_analytics::GoogleAnalytics;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path},
};

use crate::support::*;

#[tokio::test]
async fn check_runs_a_one_row_report_and_reports_the_quota() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        // A deeper prefix than the sandbox's, to prove the whole prefix is kept.
        .and(path("/proxy/ga4/v1beta/properties/123456:runReport"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "dateRanges": [{"startDate": "yesterday", "endDate": "today"}],
            "metrics": [{"name": "sessions"}],
            "limit": "1",
            "returnPropertyQuota": true
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "metricHeaders": [{"name": "sessions", "type": "TYPE_INTEGER"}],
            "rows": [{"metricValues": [{"value": "2210"}]}],
            "rowCount": 1,
            "metadata": {"currencyCode": "EUR", "timeZone": "Europe/Berlin"},
            "propertyQuota": {
                "tokensPerDay": {"consumed": 1, "remaining": 199_990},
                "tokensPerHour": {"consumed": 1, "remaining": 39_990},
                "concurrentRequests": {"remaining": 10}
            },
            "kind": "analyticsData#runReport"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let ctx = context_with_base(&format!("{}/proxy/ga4/", server.uri()));
    let health = GoogleAnalytics
        .check(&ctx, &property_connection(json!({})))
        .await
        .unwrap();
    assert_eq!(health.account.as_deref(), Some("GA4 property 123456"));
    assert_eq!(
        health.details,
        json!({
            "tokensPerDay": {"consumed": 1, "remaining": 199_990},
            "tokensPerHour": {"consumed": 1, "remaining": 39_990},
            "concurrentRequests": {"consumed": 0, "remaining": 10}
        })
    );
}

#[tokio::test]
async fn a_first_sync_asks_for_the_lookback_window_with_string_offset_and_limit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "dateRanges": [{"startDate": "2026-02-13", "endDate": "2026-03-15"}],
            "dimensions": [{"name": "date"}, {"name": "country"}, {"name": "sessionDefaultChannelGroup"}],
            "metrics": [
                {"name": "sessions"}, {"name": "totalUsers"}, {"name": "newUsers"},
                {"name": "keyEvents"}, {"name": "engagementRate"}, {"name": "totalRevenue"},
                {"name": "engagedSessions"}
            ],
            "offset": "0",
            "limit": "10000",
            "keepEmptyRows": false,
            "returnPropertyQuota": true
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(report(
            &["date", "country", "sessionDefaultChannelGroup"],
            &[],
            0,
        )))
        .expect(1)
        .mount(&server)
        .await;

    let conn = property_connection(json!({"dimensions": "country, sessionDefaultChannelGroup"}));
    let page = read(&context(&server), &conn, None, None).await.unwrap();
    assert!(page.records.is_empty() && page.kpis.is_empty());
    assert!(!page.has_more);
    // An empty window still moves on, re-reading the last days next time.
    assert_eq!(
        page.next_cursor,
        Some(
            json!({"start": "2026-03-12", "offset": 0, "dimensions": ["country", "sessionDefaultChannelGroup"]})
        )
    );
}

#[tokio::test]
async fn lookback_days_and_page_size_shape_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .and(wiremock::matchers::body_partial_json(json!({
            "dateRanges": [{"startDate": "2026-03-08", "endDate": "2026-03-15"}],
            "dimensions": [{"name": "date"}],
            "offset": "0",
            "limit": "250000"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(report(&["date"], &[], 0)))
        .expect(1)
        .mount(&server)
        .await;
    let conn = property_connection(json!({"lookback_days": 7}));
    read(&context(&server), &conn, None, Some(5_000_000))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stored_cursor_resumes_mid_window() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RUN_REPORT_PATH))
        .and(wiremock::matchers::body_partial_json(json!({
            "dateRanges": [{"startDate": "2026-03-01", "endDate": "2026-03-10"}],
            "offset": "20",
            "limit": "10"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(report(
            &["date"],
            &[(&["20260310"], sample_metrics(1))],
            21,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let cursor =
        json!({"start": "2026-03-01", "end": "2026-03-10", "offset": 20, "dimensions": []});
    let page = read(
        &context(&server),
        &property_connection(json!({})),
        Some(cursor),
        Some(10),
    )
    .await
    .unwrap();
    assert_eq!(page.records.len(), 1);
    assert!(!page.has_more);
    assert_eq!(
        page.next_cursor,
        Some(json!({"start": "2026-03-07", "offset": 0, "dimensions": []}))
    );
}

#[tokio::test]
async fn bad_settings_fail_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let ctx = context(&server);

    let field_of = |err: AdapterError| match err {
        AdapterError::Invalid { field, .. } => field,
        other => panic!("{other:?}"),
    };
    let err = GoogleAnalytics
        .check(&ctx, &connection(json!({"property_id": "G-ABCDEF"})))
        .await
        .unwrap_err();
    assert_eq!(field_of(err).as_deref(), Some("property_id"));
    let err = read(
        &ctx,
        &property_connection(json!({"dimensions": "date"})),
        None,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(err).as_deref(), Some("dimensions"));
    let err = read(
        &ctx,
        &property_connection(json!({"lookback_days": 99_999})),
        None,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(err).as_deref(), Some("lookback_days"));
    let err = GoogleAnalytics
        .read(
            &ctx,
            &property_connection(json!({})),
            &junction_core::ReadRequest {
                stream: "hourly_report".into(),
                cursor: None,
                page_size: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(field_of(err).as_deref(), Some("stream"));

    // No access token yet: a refresh may fix it.
    let mut conn = property_connection(json!({}));
    conn.access_token = None;
    let err = GoogleAnalytics.check(&ctx, &conn).await.unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Unauthorized {
                refreshable: true,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn the_spec_describes_the_oauth_flow_and_stream() {
    let spec = GoogleAnalytics.spec();
    assert_eq!(
        (spec.id, spec.name),
        ("google-analytics", "Google Analytics 4")
    );
    let junction_core::AuthSpec::OAuth2(oauth) = &spec.auth else {
        panic!("GA4 uses OAuth 2.0")
    };
    assert_eq!(
        oauth.scopes,
        ["https://www.googleapis.com/auth/analytics.readonly"]
    );
    assert!(oauth.pkce);
    assert_eq!(oauth.refresh, junction_core::RefreshBehaviour::Stable);
    assert_eq!(
        oauth.extra_authorize_params,
        [("access_type", "offline"), ("prompt", "consent")]
    );
    let stream = spec.stream("daily_report").unwrap();
    assert_eq!(stream.cursor_field, Some("date"));
    assert_eq!(stream.default_schedule.as_secs(), 6 * 3600);
    assert_eq!(spec.rate_limit.concurrency, Some(10));
    assert!(
        spec.docs_url
            .starts_with("https://developers.google.com/analytics/")
    );
}

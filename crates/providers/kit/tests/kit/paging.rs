//! Paging through Kit's cursor lists (`after` / `per_page`, `pagination.has_next_page`
//! and `end_cursor`), the cursor each stream keeps between passes, growth stats one
//! day per request, and broadcast stats fetched for sent broadcasts only.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use junction_core::KpiPoint;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{method, path, query_param, query_param_is_missing},
};

use crate::support::*;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn page(key: &str, items: Vec<Value>, next: Option<&str>) -> Value {
    json!({ key: items, "pagination": pagination(next.is_some(), next) })
}

#[tokio::test]
async fn subscribers_page_through_every_state_then_ask_for_changes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/subscribers"))
        .and(query_param("status", "all"))
        .and(query_param("per_page", "2"))
        .and(query_param_is_missing("after"))
        .and(query_param_is_missing("updated_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "subscribers",
            vec![subscriber(205, "active"), subscriber(204, "cancelled")],
            Some("WzIwNF0="),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/subscribers"))
        .and(query_param("after", "WzIwNF0="))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "subscribers",
            vec![subscriber(203, "bounced"), subscriber(202, "complained")],
            Some("WzIwMl0="),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/subscribers"))
        .and(query_param("after", "WzIwMl0="))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "subscribers",
            vec![subscriber(201, "inactive")],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let mut cursor = None;
    let mut ids = Vec::new();
    for expected_more in [true, true, false] {
        let page = read(&ctx, &conn, "subscribers", cursor.clone(), Some(2))
            .await
            .unwrap();
        assert_eq!(page.has_more, expected_more);
        assert!(page.kpis.is_empty());
        ids.extend(page.records.iter().map(|r| r.external_id.clone()));
        cursor = page.next_cursor;
    }
    assert_eq!(ids, ["205", "204", "203", "202", "201"]);
    // The pass started on 2026-03-15; the next asks for changes from the day before.
    assert_eq!(cursor, Some(json!({"updated_after": "2026-03-14"})));

    Mock::given(method("GET"))
        .and(path("/kit/v4/subscribers"))
        .and(query_param("updated_after", "2026-03-14"))
        .and(query_param("per_page", "500"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "subscribers",
            vec![subscriber(204, "cancelled")],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let page = read(&ctx, &conn, "subscribers", cursor, None)
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].data["state"], "cancelled");
    assert_eq!(
        page.next_cursor,
        Some(json!({"updated_after": "2026-03-14"}))
    );
}

#[tokio::test]
async fn page_sizes_are_clamped_to_kits_maximum() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/tags"))
        .and(query_param("per_page", "1000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page("tags", vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    let page = read(
        &context(&server),
        &connection(json!({})),
        "tags",
        None,
        Some(50_000),
    )
    .await
    .unwrap();
    assert!(page.records.is_empty() && !page.has_more);
    assert_eq!(page.next_cursor, Some(json!({})));
}

#[tokio::test]
async fn tags_sequences_and_forms_give_subscriber_counts_of_the_day() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "tags",
            vec![
                json!({"id": 11, "name": "Tag B", "created_at": "2023-02-17T11:43:55Z", "subscriber_count": 7}),
                json!({"id": 10, "name": "Tag A", "created_at": "2023-02-17T11:43:55Z"}),
            ],
            None,
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/sequences"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "sequences",
            vec![json!({
                "id": 1, "name": "Evergreen sequence", "hold": false, "repeat": false,
                "created_at": "2023-02-17T11:43:55Z", "updated_at": "2023-02-18T10:00:00Z",
                "email_address": null, "email_template_id": null, "email_count": 0,
                "subscriber_count": 12, "send_days": ["monday"], "send_hour": 11,
                "time_zone": "America/New_York", "active": true, "exclude_subscriber_sources": []
            })],
            None,
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/forms"))
        .and(query_param("status", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "forms",
            vec![json!({
                "id": 53, "name": "Sign up", "created_at": "2023-02-17T11:43:55Z", "type": "embed",
                "format": null, "embed_js": "https://kit-greetings.kit.com/f049e3d9ab/index.js",
                "embed_url": "https://kit-greetings.kit.com/f049e3d9ab", "archived": false,
                "uid": "f049e3d9ab", "subscriber_count": 0
            })],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let today = day("2026-03-15");

    let tags = read(&ctx, &conn, "tags", None, None).await.unwrap();
    assert_eq!(tags.records.len(), 2);
    assert_eq!(tags.records[0].data["name"], "Tag B");
    // Tag A has no count in the answer: no point rather than a made-up zero.
    assert_eq!(
        tags.kpis,
        [KpiPoint::total("tag_subscribers", today, 7.0).with_dimension("tag_id", "11")]
    );

    let sequences = read(&ctx, &conn, "sequences", None, None).await.unwrap();
    assert_eq!(
        sequences.kpis,
        [KpiPoint::total("sequence_subscribers", today, 12.0).with_dimension("sequence_id", "1")]
    );
    assert_eq!(
        sequences.records[0].modified_at.map(|t| t.to_rfc3339()),
        Some("2023-02-18T10:00:00+00:00".to_owned())
    );

    let forms = read(&ctx, &conn, "forms", None, None).await.unwrap();
    assert_eq!(
        forms.kpis,
        [KpiPoint::total("form_subscribers", today, 0.0).with_dimension("form_id", "53")]
    );
}

/// Answers growth stats for any single day with numbers derived from the day.
fn growth_responder(request: &Request) -> ResponseTemplate {
    let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
    let (starting, ending) = (&query["starting"], &query["ending"]);
    assert_eq!(starting, ending, "one day per request");
    let n: u64 = starting[8..10].parse().unwrap();
    ResponseTemplate::new(200).set_body_json(json!({
        "stats": {
            "cancellations": n % 3,
            "net_new_subscribers": n as i64 - (n % 3) as i64,
            "new_subscribers": n,
            "subscribers": 1000 + n,
            "starting": format!("{starting}T00:00:00-05:00"),
            "ending": format!("{ending}T23:59:59-05:00")
        }
    }))
}

#[tokio::test]
async fn growth_reads_one_day_per_request_up_to_today_then_rereads_yesterday() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/account/growth_stats"))
        .respond_with(growth_responder)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({"lookback_days": 9})));
    // 2026-03-06 .. 2026-03-15 is ten days: pages of four, four and two.
    let mut cursor = None;
    let mut dates = Vec::new();
    let mut kpis = Vec::new();
    for expected_more in [true, true, false] {
        let page = read(&ctx, &conn, "subscriber_growth", cursor.clone(), Some(4))
            .await
            .unwrap();
        assert_eq!(page.has_more, expected_more);
        dates.extend(page.records.iter().map(|r| r.external_id.clone()));
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
    }
    let expected: Vec<String> = (6..=15).map(|d| format!("2026-03-{d:02}")).collect();
    assert_eq!(dates, expected);
    assert_eq!(cursor, Some(json!({"next": "2026-03-14"})));
    assert_eq!(kpis.len(), 40);
    let on_the_12th: Vec<_> = kpis
        .iter()
        .filter(|p| p.date == day("2026-03-12"))
        .collect();
    let value = |metric: &str| {
        on_the_12th
            .iter()
            .find(|p| p.metric == metric)
            .map(|p| p.value)
    };
    assert_eq!(value("total_subscribers"), Some(1012.0));
    assert_eq!(value("new_subscribers"), Some(12.0));
    assert_eq!(value("unsubscribes"), Some(0.0));
    assert_eq!(value("net_new_subscribers"), Some(12.0));
    assert!(on_the_12th.iter().all(|p| p.dimensions.is_empty()));

    // The next sync re-reads yesterday (complete now) and today.
    let page = read(&ctx, &conn, "subscriber_growth", cursor, None)
        .await
        .unwrap();
    let dates: Vec<_> = page
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(dates, ["2026-03-14", "2026-03-15"]);
    assert_eq!(page.records[0].data["new_subscribers"], 14);
    assert!(!page.has_more);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 12);
}

fn broadcast(id: i64, send_at: Option<&str>, status: &str) -> Value {
    json!({
        "id": id, "publication_id": id, "created_at": "2026-01-01T10:00:00Z",
        "subject": format!("Campaign subject {id}"), "preview_text": null, "description": null,
        "content": null, "public": false, "published_at": null, "send_at": send_at,
        "status": status, "thumbnail_alt": null, "thumbnail_url": null, "public_url": null,
        "email_address": "greetings@kit.dev", "email_template": {"id": 6, "name": "Text Only"},
        "subscriber_filter": [{"all": [{"type": "all_subscribers"}]}]
    })
}

fn stats(id: i64, recipients: u64) -> Value {
    json!({"broadcast": {"id": id, "stats": {
        "recipients": recipients, "open_rate": 42.5, "emails_opened": recipients * 425 / 1000,
        "click_rate": 3.1, "unsubscribe_rate": 0.2, "unsubscribes": 1, "total_clicks": 37,
        "show_total_clicks": true, "status": "completed", "progress": 100.0,
        "open_tracking_disabled": false, "click_tracking_disabled": false
    }}})
}

#[tokio::test]
async fn broadcast_stats_are_read_for_sent_broadcasts_and_dated_by_send_day() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/broadcasts"))
        .and(query_param("per_page", "3"))
        .and(query_param_is_missing("after"))
        .and(query_param_is_missing("sent_after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "broadcasts",
            vec![
                broadcast(9, None, "draft"),
                broadcast(8, Some("2026-03-20T09:00:00Z"), "scheduled"),
                broadcast(7, Some("2026-03-02T09:00:00Z"), "completed"),
            ],
            Some("Wzdd"),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/broadcasts"))
        .and(query_param("after", "Wzdd"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "broadcasts",
            vec![broadcast(6, Some("2026-02-20T18:30:00Z"), "completed")],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    for (id, recipients) in [(7, 1200), (6, 800)] {
        Mock::given(method("GET"))
            .and(path(format!("/kit/v4/broadcasts/{id}/stats")))
            .respond_with(ResponseTemplate::new(200).set_body_json(stats(id, recipients)))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (ctx, conn) = (context(&server), connection(json!({})));
    let first = read(&ctx, &conn, "broadcast_stats", None, Some(3))
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(first.records.len(), 1);
    assert_eq!(first.records[0].external_id, "7");
    assert_eq!(first.records[0].data["stats"]["recipients"], 1200);
    assert_eq!(first.records[0].data["subject"], "Campaign subject 7");
    let recipients = first
        .kpis
        .iter()
        .find(|p| p.metric == "broadcast_recipients")
        .unwrap();
    assert_eq!(
        recipients,
        &KpiPoint::total("broadcast_recipients", day("2026-03-02"), 1200.0)
            .with_dimension("broadcast_id", "7")
    );
    assert_eq!(first.kpis.len(), 7);

    let second = read(&ctx, &conn, "broadcast_stats", first.next_cursor, Some(3))
        .await
        .unwrap();
    assert!(!second.has_more);
    assert!(second.kpis.iter().all(|p| p.date == day("2026-02-20")));
    let opens = second
        .kpis
        .iter()
        .find(|p| p.metric == "broadcast_opens")
        .unwrap();
    assert_eq!(opens.value, 340.0);
    // Later passes refresh the broadcasts sent in the 30 days before this pass.
    assert_eq!(
        second.next_cursor,
        Some(json!({"sent_after": "2026-02-13"}))
    );

    Mock::given(method("GET"))
        .and(path("/kit/v4/broadcasts"))
        .and(query_param("sent_after", "2026-02-13"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page("broadcasts", vec![], None)))
        .expect(1)
        .mount(&server)
        .await;
    let third = read(&ctx, &conn, "broadcast_stats", second.next_cursor, None)
        .await
        .unwrap();
    assert!(third.records.is_empty() && !third.has_more);
}

#[tokio::test]
async fn broadcasts_are_read_whole_without_stats_calls() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/broadcasts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "broadcasts",
            vec![
                broadcast(3, None, "draft"),
                broadcast(2, Some("2026-03-01T09:00:00Z"), "completed"),
            ],
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let page = read(
        &context(&server),
        &connection(json!({})),
        "broadcasts",
        None,
        None,
    )
    .await
    .unwrap();
    let ids: Vec<_> = page
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["3", "2"]);
    assert_eq!(page.records[1].data["status"], "completed");
    assert!(page.kpis.is_empty());
}

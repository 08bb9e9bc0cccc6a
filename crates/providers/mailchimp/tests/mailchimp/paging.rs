//! Paging with `count`/`offset` across several pages, the requests' shape (Basic
//! auth, `/3.0` paths, sort and filter parameters), records, KPI points, and the
//! incremental members pass with `since_last_changed`.

use chrono::NaiveDate;
use junction_core::{Adapter, KpiPoint};
use junction_mailchimp::{AUDIENCES, MEMBERS, Mailchimp};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param, query_param_is_missing},
};

use crate::support::*;

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
}

#[tokio::test]
async fn audiences_page_through_count_and_offset() {
    let server = MockServer::start().await;
    let lists_page = |offset: &str, lists: Vec<Value>| {
        Mock::given(method("GET"))
            .and(path("/mailchimp/3.0/lists"))
            .and(header("authorization", basic_header().as_str()))
            .and(query_param("count", "2"))
            .and(query_param("offset", offset))
            .and(query_param("sort_field", "date_created"))
            .and(query_param("sort_dir", "ASC"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"lists": lists, "total_items": 3, "_links": []})),
            )
            .expect(1)
    };
    lists_page(
        "0",
        vec![list("a1", "One", 10, 2, 1), list("a2", "Two", 5, 0, 0)],
    )
    .mount(&server)
    .await;
    lists_page("2", vec![list("a3", "Three", 7, 1, 3)])
        .mount(&server)
        .await;
    let ctx = context(&server);
    let conn = connection();

    let first = Mailchimp::default()
        .read(&ctx, &conn, &read_request(AUDIENCES, None, Some(2)))
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(first.next_cursor, Some(json!({"offset": 2})));
    let ids: Vec<_> = first
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["a1", "a2"]);
    assert!(first.records[0].data.get("_links").is_none());
    assert_eq!(first.records[0].data["stats"]["member_count"], 10);
    assert_eq!(
        first.kpis[..3],
        [
            KpiPoint::total("member_count", day(15), 10.0).with_dimension("audience_id", "a1"),
            KpiPoint::total("unsubscribe_count", day(15), 2.0).with_dimension("audience_id", "a1"),
            KpiPoint::total("cleaned_count", day(15), 1.0).with_dimension("audience_id", "a1"),
        ]
    );

    let second = Mailchimp::default()
        .read(
            &ctx,
            &conn,
            &read_request(AUDIENCES, first.next_cursor, Some(2)),
        )
        .await
        .unwrap();
    assert!(!second.has_more);
    // The next sync starts over.
    assert_eq!(second.next_cursor, Some(json!({"offset": 0})));
    assert_eq!(second.records[0].external_id, "a3");
    assert_eq!(second.kpis.len(), 3);
    assert_eq!(second.kpis[2].value, 3.0);
}

#[tokio::test]
async fn page_sizes_are_clamped_to_mailchimps_maximum() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/lists"))
        .and(query_param("count", "1000"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"lists": [], "total_items": 0})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let page = Mailchimp::default()
        .read(
            &context(&server),
            &connection(),
            &read_request(AUDIENCES, None, Some(50_000)),
        )
        .await
        .unwrap();
    assert!(!page.has_more && page.records.is_empty());
}

/// Mounts the audience-id listing that starts a members pass.
async fn mount_audience_ids(server: &MockServer, ids: &[&str]) {
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/lists"))
        .and(query_param("fields", "lists.id,total_items"))
        .and(query_param("count", "1000"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "lists": ids.iter().map(|id| json!({"id": id})).collect::<Vec<_>>(),
            "total_items": ids.len()
        })))
        .mount(server)
        .await;
}

/// Mounts an opt-in count for `audience` between the two filter values.
async fn mount_count(server: &MockServer, audience: &str, since: &str, before: &str, total: u64) {
    Mock::given(method("GET"))
        .and(path(format!("/mailchimp/3.0/lists/{audience}/members")))
        .and(query_param("fields", "total_items"))
        .and(query_param("count", "1"))
        .and(query_param("since_timestamp_opt", since))
        .and(query_param("before_timestamp_opt", before))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total_items": total})))
        .with_priority(1)
        .expect(1)
        .mount(server)
        .await
}

#[tokio::test]
async fn members_pass_over_every_audience_then_read_changes_only() {
    let server = MockServer::start().await;
    mount_audience_ids(&server, &["aud1", "aud2"]).await;
    let members_page = |offset: &str, members: Vec<Value>| {
        Mock::given(method("GET"))
            .and(path("/mailchimp/3.0/lists/aud1/members"))
            .and(header("authorization", basic_header().as_str()))
            .and(query_param("count", "2"))
            .and(query_param("offset", offset))
            .and(query_param("sort_field", "timestamp_signup"))
            .and(query_param("sort_dir", "ASC"))
            .and(query_param_is_missing("since_last_changed"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"members": members, "list_id": "aud1", "total_items": 3, "_links": []}),
            ))
            .expect(1)
    };
    members_page(
        "0",
        vec![
            member(
                "aud1",
                "ada@example.com",
                "2026-03-14T09:00:00+00:00",
                "2026-03-14T09:00:00+00:00",
            ),
            member(
                "aud1",
                "grace@example.com",
                "2026-03-14T10:00:00+00:00",
                "2026-03-14T11:00:00+00:00",
            ),
        ],
    )
    .mount(&server)
    .await;
    members_page(
        "2",
        vec![member(
            "aud1",
            "alan@example.com",
            "2026-03-02T10:00:00+00:00",
            "2026-03-02T10:00:00+00:00",
        )],
    )
    .mount(&server)
    .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/lists/aud2/members"))
        .and(query_param("offset", "0"))
        .and(query_param("sort_field", "timestamp_signup"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"members": [], "list_id": "aud2", "total_items": 0})),
        )
        .expect(1)
        .mount(&server)
        .await;
    // New members over the 30-day window, then per day (only when the window has any).
    mount_count(
        &server,
        "aud1",
        "2026-02-13T23:59:59+00:00",
        "2026-03-16T00:00:00+00:00",
        3,
    )
    .await;
    mount_count(
        &server,
        "aud1",
        "2026-03-13T23:59:59+00:00",
        "2026-03-15T00:00:00+00:00",
        2,
    )
    .await;
    mount_count(
        &server,
        "aud1",
        "2026-03-01T23:59:59+00:00",
        "2026-03-03T00:00:00+00:00",
        1,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/lists/aud1/members"))
        .and(query_param("fields", "total_items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total_items": 0})))
        .with_priority(2)
        .expect(28)
        .mount(&server)
        .await;
    mount_count(
        &server,
        "aud2",
        "2026-02-13T23:59:59+00:00",
        "2026-03-16T00:00:00+00:00",
        0,
    )
    .await;

    let ctx = context(&server);
    let conn = connection();
    let first = Mailchimp::default()
        .read(&ctx, &conn, &read_request(MEMBERS, None, Some(2)))
        .await
        .unwrap();
    assert!(first.has_more && first.kpis.is_empty());
    let ids: Vec<_> = first
        .records
        .iter()
        .map(|r| r.external_id.clone())
        .collect();
    assert_eq!(
        ids,
        [
            format!(
                "aud1:{}",
                junction_mailchimp::subscriber_hash("ada@example.com")
            ),
            format!(
                "aud1:{}",
                junction_mailchimp::subscriber_hash("grace@example.com")
            ),
        ]
    );
    assert_eq!(
        first.records[1].modified_at.unwrap().to_rfc3339(),
        "2026-03-14T11:00:00+00:00"
    );

    let second = Mailchimp::default()
        .read(
            &ctx,
            &conn,
            &read_request(MEMBERS, first.next_cursor, Some(2)),
        )
        .await
        .unwrap();
    assert!(second.has_more);
    assert_eq!(second.records.len(), 1);
    assert_eq!(second.kpis.len(), 30);
    let value_on = |d: u32| {
        second
            .kpis
            .iter()
            .find(|p| p.date == day(d))
            .map(|p| {
                (
                    p.metric.as_str(),
                    p.dimensions["audience_id"].as_str(),
                    p.value,
                )
            })
            .unwrap()
    };
    assert_eq!(value_on(14), ("new_members", "aud1", 2.0));
    assert_eq!(value_on(2), ("new_members", "aud1", 1.0));
    assert_eq!(value_on(15), ("new_members", "aud1", 0.0));
    assert_eq!(second.kpis.iter().map(|p| p.value).sum::<f64>(), 3.0);

    let third = Mailchimp::default()
        .read(
            &ctx,
            &conn,
            &read_request(MEMBERS, second.next_cursor, Some(2)),
        )
        .await
        .unwrap();
    assert!(!third.has_more);
    assert!(third.records.is_empty());
    // An empty window costs one count: every day is zero.
    assert_eq!(third.kpis.len(), 30);
    assert!(
        third
            .kpis
            .iter()
            .all(|p| p.value == 0.0 && p.dimensions["audience_id"] == "aud2")
    );
    let cursor = third.next_cursor.unwrap();
    assert!(cursor.get("pass").is_none(), "{cursor}");
    assert_eq!(cursor["synced"]["aud1"], "2026-03-15T12:00:00Z");
    server.verify().await;

    // The next sync asks only for changes since the previous pass began (less five
    // minutes), and recounts new members from the day before it.
    let server = MockServer::start().await;
    mount_audience_ids(&server, &["aud1"]).await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/lists/aud1/members"))
        .and(query_param("offset", "0"))
        .and(query_param("since_last_changed", "2026-03-15T11:55:00+00:00"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "members": [member("aud1", "ada@example.com", "2026-03-14T09:00:00+00:00", "2026-03-15T11:58:00+00:00")],
            "total_items": 1
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount_count(
        &server,
        "aud1",
        "2026-03-13T23:59:59+00:00",
        "2026-03-16T00:00:00+00:00",
        0,
    )
    .await;
    let incremental = Mailchimp::default()
        .read(
            &context(&server),
            &conn,
            &read_request(MEMBERS, Some(cursor), Some(2)),
        )
        .await
        .unwrap();
    assert!(!incremental.has_more);
    assert_eq!(incremental.records.len(), 1);
    let days: Vec<_> = incremental.kpis.iter().map(|p| p.date).collect();
    assert_eq!(days, [day(14), day(15)]);
    server.verify().await;
}

#[tokio::test]
async fn an_audience_deleted_during_a_pass_is_skipped() {
    let server = MockServer::start().await;
    mount_audience_ids(&server, &["gone", "aud2"]).await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/lists/gone/members"))
        .respond_with(ResponseTemplate::new(404).set_body_json(problem(
            404,
            "Resource Not Found",
            "The requested resource could not be found.",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let page = Mailchimp::default()
        .read(
            &context(&server),
            &connection(),
            &read_request(MEMBERS, None, None),
        )
        .await
        .unwrap();
    assert!(page.has_more && page.records.is_empty());
    let cursor = page.next_cursor.unwrap();
    assert_eq!(cursor["pass"]["pending"], json!(["aud2"]));
}

#[tokio::test]
async fn unknown_streams_and_foreign_cursors_are_invalid() {
    let server = MockServer::start().await;
    let err = Mailchimp::default()
        .read(
            &context(&server),
            &connection(),
            &read_request("campaigns", None, None),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, junction_core::AdapterError::Invalid { field: Some(ref f), .. } if f == "stream")
    );
    let err = Mailchimp::default()
        .read(
            &context(&server),
            &connection(),
            &read_request(MEMBERS, Some(json!({"pass": "yes"})), None),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, junction_core::AdapterError::Invalid { field: Some(ref f), .. } if f == "cursor")
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

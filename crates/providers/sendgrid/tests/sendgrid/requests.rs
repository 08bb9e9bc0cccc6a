//! The streams and the check against wiremock serving SendGrid's documented JSON:
//! the requests each page makes, the records and KPI points it becomes, and paging
//! to the end of every list.

use junction_core::{Adapter, ReadRequest};
use junction_sendgrid::{CATEGORY_STATS, CONTACTS, GLOBAL_STATS, LISTS, SUPPRESSIONS, Sendgrid};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path, query_param},
};

use crate::support::{any, context, with};

fn request(stream: &str, cursor: Option<Value>) -> ReadRequest {
    ReadRequest {
        stream: stream.into(),
        cursor,
        page_size: None,
    }
}

/// Reads `stream` to its end; every page.
async fn read_all(server: &MockServer, stream: &str) -> Vec<junction_core::Page> {
    let ctx = context(server);
    let mut cursor = None;
    let mut pages = Vec::new();
    for _ in 0..20 {
        let page = Sendgrid
            .read(&ctx, &any(), &request(stream, cursor.clone()))
            .await
            .unwrap();
        cursor = page.next_cursor.clone();
        let more = page.has_more;
        pages.push(page);
        if !more {
            return pages;
        }
    }
    panic!("{stream} did not end")
}

fn metrics(requests: u64) -> Value {
    json!({"blocks": 0, "bounce_drops": 0, "bounces": 2, "clicks": 9, "deferred": 1,
           "delivered": requests - 10, "invalid_emails": 0, "opens": 60, "processed": requests,
           "requests": requests, "spam_report_drops": 0, "spam_reports": 1, "unique_clicks": 7,
           "unique_opens": 45, "unsubscribe_drops": 0, "unsubscribes": 3})
}

#[tokio::test]
async fn global_stats_are_one_request_for_the_window_and_daily_points() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/stats"))
        .and(query_param("start_date", "2026-03-01"))
        .and(query_param("end_date", "2026-03-31"))
        .and(query_param("aggregated_by", "day"))
        .and(header("authorization", "Bearer SG.test.key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"date": "2026-03-30", "stats": [{"metrics": metrics(100)}]},
            {"date": "2026-03-31", "stats": [{"metrics": metrics(200)}]},
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let pages = read_all(&server, GLOBAL_STATS).await;
    let page = &pages[0];
    assert_eq!(page.records.len(), 2);
    assert_eq!(page.records[0].external_id, "2026-03-30");
    let value = |metric: &str, day: &str| {
        page.kpis
            .iter()
            .find(|p| p.metric == metric && p.date.to_string() == day)
            .map(|p| p.value)
    };
    assert_eq!(value("emails_requested", "2026-03-31"), Some(200.0));
    assert_eq!(value("emails_delivered", "2026-03-30"), Some(90.0));
    assert_eq!(value("emails_unique_opened", "2026-03-30"), Some(45.0));
    assert_eq!(value("delivery_rate", "2026-03-30"), Some(90.0));
    assert_eq!(value("open_rate", "2026-03-30"), Some(50.0));
    assert!(page.kpis.iter().all(|p| p.dimensions.is_empty()));
    // The next sync re-reads the last three days.
    assert_eq!(page.next_cursor, Some(json!({"start": "2026-03-28"})));
}

#[tokio::test]
async fn category_stats_walk_the_categories_ten_at_a_time() {
    let server = MockServer::start().await;
    let names: Vec<String> = (0..13).map(|i| format!("cat{i:02}")).collect();
    for (offset, chunk) in [(0, &names[..10]), (10, &names[10..])] {
        let listed: Vec<Value> = chunk.iter().map(|c| json!({"category": c})).collect();
        Mock::given(method("GET"))
            .and(path("/sendgrid/v3/categories"))
            .and(query_param("limit", "10"))
            .and(query_param("offset", offset.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(listed))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/categories/stats"))
        .respond_with(|request: &wiremock::Request| {
            let asked: Vec<String> = request
                .url
                .query_pairs()
                .filter(|(k, _)| k == "categories")
                .map(|(_, v)| v.into_owned())
                .collect();
            let stats: Vec<Value> = asked
                .iter()
                .map(|c| json!({"type": "category", "name": c, "metrics": metrics(40)}))
                .collect();
            ResponseTemplate::new(200)
                .set_body_json(json!([{"date": "2026-03-31", "stats": stats}]))
        })
        .expect(2)
        .mount(&server)
        .await;
    let pages = read_all(&server, CATEGORY_STATS).await;
    assert_eq!(pages.len(), 2);
    let records: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.external_id.as_str()))
        .collect();
    assert_eq!(records.len(), 13);
    assert!(records.contains(&"2026-03-31|cat12"));
    let point = pages[1]
        .kpis
        .iter()
        .find(|p| p.metric == "category_emails_requested")
        .unwrap();
    assert_eq!(point.dimensions["category"], "cat10");
    assert_eq!(point.value, 40.0);
    assert_eq!(
        pages[0].next_cursor,
        Some(json!({"start": "2026-03-01", "end": "2026-03-31", "offset": 10}))
    );
}

#[tokio::test]
async fn suppressions_page_by_offset_through_every_list() {
    let server = MockServer::start().await;
    // 501 bounces: one full page of 500, then one more.
    let bounces: Vec<Value> = (0..501)
        .map(|i| json!({"created": 1_774_000_000 + i, "email": format!("b{i}@x.example"), "reason": "550", "status": "5.1.1"}))
        .collect();
    for (offset, slice) in [(0, &bounces[..500]), (500, &bounces[500..])] {
        Mock::given(method("GET"))
            .and(path("/sendgrid/v3/suppression/bounces"))
            .and(query_param("limit", "500"))
            .and(query_param("offset", offset.to_string()))
            .and(query_param("start_time", "1772366400"))
            .respond_with(ResponseTemplate::new(200).set_body_json(slice))
            .expect(1)
            .mount(&server)
            .await;
    }
    for (kind, entry) in [
        (
            "blocks",
            json!({"created": 1_774_000_000, "email": "blocked@x.example", "reason": "policy", "status": "5.7.1"}),
        ),
        (
            "spam_reports",
            json!({"created": 1_774_000_000, "email": "Spam@X.example", "ip": "198.51.100.7"}),
        ),
        (
            "unsubscribes",
            json!({"created": 1_774_000_000, "email": "gone@x.example"}),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/sendgrid/v3/suppression/{kind}")))
            .and(query_param("offset", "0"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([entry])))
            .expect(1)
            .mount(&server)
            .await;
    }
    let pages = read_all(&server, SUPPRESSIONS).await;
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.external_id.clone()))
        .collect();
    assert_eq!(ids.len(), 504);
    assert!(ids.contains(&"bounces:b500@x.example".to_owned()));
    assert!(ids.contains(&"spam_reports:spam@x.example".to_owned()));
    let last = pages.last().unwrap();
    assert_eq!(last.records[0].data["type"], "unsubscribes");
    // The next pass reads from a day before this one.
    assert_eq!(
        last.next_cursor,
        Some(json!({"since": 1_774_872_000, "list": 0, "offset": 0}))
    );
}

#[tokio::test]
async fn lists_follow_the_next_page_token_to_the_end() {
    let server = MockServer::start().await;
    let list =
        |id: &str| json!({"id": id, "name": id, "contact_count": 2, "_metadata": {"self": "x"}});
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/marketing/lists"))
        .and(query_param("page_size", "1000"))
        .and(query_param("page_token", "tok2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "result": [list("l3")],
            "_metadata": {"self": "https://api.sendgrid.com/v3/marketing/lists?page_size=1000&page_token=tok2", "count": 3}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/marketing/lists"))
        .and(query_param("page_size", "1000"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "result": [list("l1"), list("l2")],
            "_metadata": {"self": "https://api.sendgrid.com/v3/marketing/lists?page_size=1000&page_token=",
                          "next": "https://api.sendgrid.com/v3/marketing/lists?page_size=1000&page_token=tok2", "count": 3}
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let pages = read_all(&server, LISTS).await;
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.external_id.as_str()))
        .collect();
    assert_eq!(ids, ["l1", "l2", "l3"]);
    assert_eq!(pages[0].next_cursor, Some(json!({"page_token": "tok2"})));
}

#[tokio::test]
async fn contacts_come_from_an_export_job_polled_until_ready() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sendgrid/v3/marketing/contacts/exports"))
        .and(body_json(json!({"file_type": "json"})))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"id": "exp-1", "_metadata": {"self": "x"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/marketing/contacts/exports/exp-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "exp-1", "status": "pending"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let files = [
        format!("{}/files/a.json", server.uri()),
        format!("{}/files/b.json", server.uri()),
    ];
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/marketing/contacts/exports/exp-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "exp-1", "status": "ready", "urls": files})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/a.json"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "{\"CONTACT_ID\": \"c1\", \"EMAIL\": \"a@x.example\"}\n{\"CONTACT_ID\": \"c2\", \"EMAIL\": \"b@x.example\"}\n",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/b.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"contact_id": "c3", "email": "c@x.example"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let pages = read_all(&server, CONTACTS).await;
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.external_id.as_str()))
        .collect();
    assert_eq!(ids, ["c1", "c2", "c3"]);
    assert_eq!(pages[0].records[0].data["email"], "a@x.example");
    assert_eq!(pages.last().unwrap().next_cursor, Some(json!({"file": 0})));
}

#[tokio::test]
async fn the_check_reports_what_the_keys_scopes_leave_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/scopes"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"scopes": ["mail.send", "stats.read"]})),
        )
        .mount(&server)
        .await;
    let health = Sendgrid.check(&context(&server), &any()).await.unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("SendGrid (global, 2 of 5 features)")
    );
    assert_eq!(health.details["features"]["send_mail"]["available"], true);
    assert_eq!(
        health.details["features"]["marketing"]["missing_scopes"],
        json!(["marketing.read", "marketing.write"])
    );
}

#[tokio::test]
async fn the_region_picks_the_host() {
    let ctx = junction_core::Context::new(reqwest::Client::new());
    let eu = with(json!({"region": "eu"}), "SG.test.key");
    let target = Sendgrid.proxy_target(&ctx, &eu).await.unwrap();
    assert_eq!(target.base_url.as_str(), "https://api.eu.sendgrid.com/");
    let global = Sendgrid.proxy_target(&ctx, &any()).await.unwrap();
    assert_eq!(global.base_url.as_str(), "https://api.sendgrid.com/");
    let bad = with(json!({"region": "mars"}), "SG.test.key");
    assert!(Sendgrid.proxy_target(&ctx, &bad).await.is_err());
}

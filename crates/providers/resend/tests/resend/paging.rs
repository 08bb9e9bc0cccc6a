//! Paging through Resend's cursor lists (`limit`, `after` = the last id of the
//! previous page, `has_more`): several pages of `emails` and `domains`, the horizon
//! that ends an `emails` pass, and the cursors left for the next sync.

use junction_core::{Adapter, Page, ReadRequest};
use junction_resend::Resend;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param, query_param_is_missing},
};

use crate::support::*;

async fn read(server: &MockServer, stream: &str, cursor: Option<Value>, size: Option<u32>) -> Page {
    Resend
        .read(
            &context(server),
            &connection(json!({"lookback_days": 10})),
            &ReadRequest {
                stream: stream.into(),
                cursor,
                page_size: size,
            },
        )
        .await
        .unwrap()
}

fn ids(page: &Page) -> Vec<&str> {
    page.records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect()
}

#[tokio::test]
async fn emails_page_with_after_until_has_more_is_false() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/emails"))
        .and(query_param("limit", "2"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            true,
            vec![
                email_item("e1", 1, "delivered"),
                email_item("e2", 2, "opened"),
            ],
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/resend/emails"))
        .and(query_param("after", "e2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            true,
            vec![
                email_item("e3", 30, "bounced"),
                email_item("e4", 40, "complained"),
            ],
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/resend/emails"))
        .and(query_param("after", "e4"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(list(false, vec![email_item("e5", 50, "delivered")])),
        )
        .expect(1)
        .mount(&server)
        .await;

    let first = read(&server, "emails", None, Some(2)).await;
    assert_eq!(ids(&first), ["e1", "e2"]);
    assert!(first.has_more);
    assert_eq!(
        first.next_cursor,
        Some(json!({"after": "e2", "horizon": "2026-03-05T12:00:00Z"}))
    );
    assert_eq!(first.records[0].data["last_event"], "delivered");

    let second = read(&server, "emails", first.next_cursor.clone(), Some(2)).await;
    assert_eq!(ids(&second), ["e3", "e4"]);
    assert!(second.has_more);

    let third = read(&server, "emails", second.next_cursor.clone(), Some(2)).await;
    assert_eq!(ids(&third), ["e5"]);
    assert!(!third.has_more);
    // The next sync starts from the newest email again and reads three days back.
    assert_eq!(
        third.next_cursor,
        Some(json!({"horizon": "2026-03-12T12:00:00Z"}))
    );
}

#[tokio::test]
async fn an_emails_pass_ends_at_its_horizon() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/emails"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            true,
            vec![
                email_item("new", 1, "delivered"),
                email_item("edge", 71, "delivered"),
                email_item("old", 73, "delivered"),
            ],
        )))
        .expect(1)
        .mount(&server)
        .await;
    // A pass left by the previous sync: three days back from 2026-03-12 12:00.
    let page = read(
        &server,
        "emails",
        Some(json!({"horizon": "2026-03-12T12:00:00Z"})),
        None,
    )
    .await;
    assert_eq!(ids(&page), ["new", "edge"]);
    assert!(!page.has_more, "older emails are not read again");
    assert_eq!(
        page.next_cursor,
        Some(json!({"horizon": "2026-03-12T12:00:00Z"}))
    );
}

#[tokio::test]
async fn domains_page_and_start_over() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/domains"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            true,
            vec![domain_item("d1", "acme.example", "verified")],
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/resend/domains"))
        .and(query_param("after", "d1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            false,
            vec![domain_item("d2", "news.acme.example", "pending")],
        )))
        .expect(1)
        .mount(&server)
        .await;
    // Resend's page is at most 100 items; bigger wishes are clamped.
    let first = read(&server, "domains", None, Some(500)).await;
    assert_eq!(ids(&first), ["d1"]);
    assert_eq!(first.next_cursor, Some(json!({"after": "d1"})));
    let second = read(&server, "domains", first.next_cursor.clone(), Some(500)).await;
    assert_eq!(ids(&second), ["d2"]);
    assert_eq!(second.records[0].data["status"], "pending");
    assert!(!second.has_more);
    assert_eq!(second.next_cursor, Some(json!({})));
}

#[tokio::test]
async fn an_empty_list_ends_the_stream() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(true, vec![])))
        .mount(&server)
        .await;
    // `has_more` without items cannot move the cursor: the pass ends.
    let page = read(&server, "emails", None, None).await;
    assert!(page.records.is_empty());
    assert!(!page.has_more);
}

#[tokio::test]
async fn bodies_are_dropped_from_records() {
    let server = MockServer::start().await;
    let mut item = email_item("e1", 1, "delivered");
    item["html"] = json!("<p>long body</p>");
    item["text"] = json!("long body");
    Mock::given(method("GET"))
        .and(path("/resend/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(false, vec![item])))
        .mount(&server)
        .await;
    let page = read(&server, "emails", None, None).await;
    let data = page.records[0].data.as_object().unwrap();
    assert!(!data.contains_key("html") && !data.contains_key("text"));
    assert_eq!(data["subject"], "Hello World");
}

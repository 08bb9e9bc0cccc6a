//! The `articles` stream against wiremock serving Forem's documented shapes: the
//! request each page makes (the `api-key` and v1 `Accept` headers, `page` and
//! `per_page`), paging to the end, the records and KPI points, the daily change
//! from successive snapshots, and each refusal classified.

use std::time::Duration;

use junction_core::{Adapter, AdapterError, ReadRequest};
use junction_devto::{ARTICLES, Devto, PAGE_VIEWS, PAGE_VIEWS_CHANGE, REACTIONS};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

use crate::support::{any, at, context};

/// An item of `GET /api/articles/me/all`, as Forem's `me` view renders it.
pub fn item(id: u64, published: bool, published_at: Option<&str>, views: u64) -> Value {
    json!({
        "type_of": "article", "id": id, "title": format!("Article {id}"),
        "description": "…", "published": published, "published_at": published_at,
        "slug": format!("article-{id}"), "path": format!("/writer/article-{id}"),
        "url": format!("https://dev.to/writer/article-{id}"), "comments_count": 2,
        "public_reactions_count": 5, "positive_reactions_count": 5,
        "page_views_count": views, "published_timestamp": published_at.unwrap_or(""),
        "body_markdown": "Body", "tag_list": ["rust"], "tags": "rust",
        "canonical_url": format!("https://example.com/{id}"), "reading_time_minutes": 1,
        "cover_image": null,
        "user": {"name": "W", "username": "writer", "user_id": 1}
    })
}

fn request(cursor: Option<Value>) -> ReadRequest {
    ReadRequest {
        stream: ARTICLES.into(),
        cursor,
        page_size: Some(2),
    }
}

async fn mount_pages(server: &MockServer, pages: Vec<Value>) {
    for (i, page) in pages.into_iter().enumerate() {
        Mock::given(method("GET"))
            .and(path("/devto/api/articles/me/all"))
            .and(header("api-key", "test_key"))
            .and(header("accept", "application/vnd.forem.api-v1+json"))
            .and(query_param("per_page", "2"))
            .and(query_param("page", (i + 1).to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(page))
            .mount(server)
            .await;
    }
}

/// Reads the stream from `cursor` to its end at `now`: every page's records and
/// points, and the cursor left.
async fn pass(
    server: &MockServer,
    now: chrono::DateTime<chrono::Utc>,
    mut cursor: Option<Value>,
) -> (Vec<String>, Vec<junction_core::KpiPoint>, Option<Value>) {
    let ctx = context(&format!("{}/devto/", server.uri()), now);
    let (mut ids, mut points) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        let page = Devto
            .read(&ctx, &any(), &request(cursor.clone()))
            .await
            .unwrap();
        ids.extend(page.records.iter().map(|r| r.external_id.clone()));
        points.extend(page.kpis);
        cursor = page.next_cursor;
        if !page.has_more {
            return (ids, points, cursor);
        }
    }
    panic!("the stream did not end");
}

fn value(points: &[junction_core::KpiPoint], metric: &str, article: Option<&str>) -> Option<f64> {
    points
        .iter()
        .find(|p| p.metric == metric && p.dimensions.get("article").map(String::as_str) == article)
        .map(|p| p.value)
}

#[tokio::test]
async fn every_page_is_read_to_the_end_with_each_articles_state_and_gauges() {
    let server = MockServer::start().await;
    mount_pages(
        &server,
        vec![
            json!([
                item(3, false, None, 0),
                item(4, true, Some("2026-03-20T10:00:00Z"), 0)
            ]),
            json!([
                item(2, true, Some("2026-03-02T10:00:00Z"), 40),
                item(1, true, Some("2026-02-01T10:00:00Z"), 100)
            ]),
            json!([]),
        ],
    )
    .await;
    let (ids, points, cursor) = pass(&server, at(10, 12), None).await;
    assert_eq!(ids, ["3", "4", "2", "1"]);
    // Gauges per article on the sync's day, totals on the last page.
    assert_eq!(value(&points, PAGE_VIEWS, Some("1")), Some(100.0));
    assert_eq!(value(&points, PAGE_VIEWS, None), Some(140.0));
    assert_eq!(value(&points, REACTIONS, None), Some(20.0));
    assert!(points.iter().all(|p| p.date == at(10, 12).date_naive()));
    // No earlier snapshot: no change yet (not zero).
    assert_eq!(value(&points, PAGE_VIEWS_CHANGE, Some("1")), None);
    assert_eq!(cursor.as_ref().unwrap()["today"]["1"], json!([100, 5, 2]));

    // The records carry the state: a draft, one scheduled after the sync, published.
    let ctx = context(&format!("{}/devto/", server.uri()), at(10, 12));
    let page = Devto.read(&ctx, &any(), &request(None)).await.unwrap();
    let states: Vec<&str> = page
        .records
        .iter()
        .map(|r| r.data["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["unpublished", "scheduled"]);
}

#[tokio::test]
async fn the_daily_change_comes_from_the_last_snapshot_of_an_earlier_day() {
    let first = MockServer::start().await;
    mount_pages(
        &first,
        vec![json!([item(1, true, Some("2026-02-01T10:00:00Z"), 100)])],
    )
    .await;
    let (_, _, cursor) = pass(&first, at(10, 22), None).await;

    let next = MockServer::start().await;
    mount_pages(
        &next,
        vec![json!([item(1, true, Some("2026-02-01T10:00:00Z"), 130)])],
    )
    .await;
    let (_, points, cursor) = pass(&next, at(11, 6), cursor).await;
    assert_eq!(value(&points, PAGE_VIEWS_CHANGE, Some("1")), Some(30.0));
    assert_eq!(value(&points, PAGE_VIEWS_CHANGE, None), Some(30.0));

    // A second sync the same day measures from the same baseline (points upsert).
    let later = MockServer::start().await;
    mount_pages(
        &later,
        vec![json!([item(1, true, Some("2026-02-01T10:00:00Z"), 145)])],
    )
    .await;
    let (_, points, _) = pass(&later, at(11, 18), cursor).await;
    assert_eq!(value(&points, PAGE_VIEWS_CHANGE, Some("1")), Some(45.0));
    assert_eq!(value(&points, PAGE_VIEWS, Some("1")), Some(145.0));
}

async fn refusal(status: u16, body: Value, retry_after: Option<&str>) -> AdapterError {
    let server = MockServer::start().await;
    let mut answer = ResponseTemplate::new(status).set_body_json(body);
    if let Some(secs) = retry_after {
        answer = answer.insert_header("retry-after", secs);
    }
    Mock::given(path("/devto/api/articles/me/all"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let ctx = context(&format!("{}/devto/", server.uri()), at(10, 12));
    Devto.read(&ctx, &any(), &request(None)).await.unwrap_err()
}

#[tokio::test]
async fn refusals_are_classified_as_forem_means_them() {
    let error = refusal(401, json!({"error": "unauthorized", "status": 401}), None).await;
    assert!(
        matches!(&error, AdapterError::Unauthorized { refreshable: false, message } if message.contains("unauthorized")),
        "{error:?}"
    );
    let error = refusal(
        422,
        json!({"error": "param is missing or the value is empty: article", "status": 422}),
        None,
    )
    .await;
    assert!(
        matches!(&error, AdapterError::Invalid { message, .. } if message.contains("param is missing")),
        "{error:?}"
    );
    let error = refusal(
        429,
        json!({"error": "Rate limit reached", "status": 429}),
        Some("30"),
    )
    .await;
    assert_eq!(
        error,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
    let error = refusal(
        500,
        json!({"error": "Internal Server Error", "status": 500}),
        None,
    )
    .await;
    assert!(
        matches!(error, AdapterError::Unavailable { .. }),
        "{error:?}"
    );
}

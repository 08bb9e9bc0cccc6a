//! The streams against wiremock serving Hashnode's GraphQL shapes: each page's
//! operation and variables (`first`, `after`), every publication's posts to the end,
//! the records and gauges, and each error code (with HTTP 200) classified.

use std::time::Duration;

use junction_core::{Adapter, AdapterError, ReadRequest};
use junction_hashnode::{Hashnode, POSTS, PUBLICATIONS, REACTIONS, VIEWS};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, header, method, path},
};

use crate::support::{at, connection, connection_to, context};

const PUB_A: &str = "65f0a1b2c3d4e5f6a7b8c9d0";
const PUB_B: &str = "65f0a1b2c3d4e5f6a7b8c9d1";

fn post(id: &str, views: Option<u64>) -> Value {
    json!({"cursor": format!("c-{id}"), "node": {
        "id": id, "slug": format!("post-{id}"), "title": format!("Post {id}"), "brief": "…",
        "url": format!("https://blog.example.com/post-{id}"), "canonicalUrl": null,
        "publishedAt": "2026-03-01T10:00:00.000Z", "updatedAt": null, "readTimeInMinutes": 2,
        "views": views, "reactionCount": 4, "responseCount": 1, "replyCount": 0,
        "tags": [{"slug": "rust", "name": "Rust"}]
    }})
}

fn posts_page(publication: &str, edges: Vec<Value>, end: Option<&str>) -> Value {
    json!({"data": {"publication": {"id": publication, "posts": {
        "edges": edges,
        "pageInfo": {"hasNextPage": end.is_some(), "endCursor": end}
    }}}})
}

async fn mount(server: &MockServer, variables: Value, answer: Value) {
    Mock::given(method("POST"))
        .and(path("/hashnode/"))
        .and(header("authorization", "test-token"))
        .and(body_partial_json(json!({"variables": variables})))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(server)
        .await;
}

async fn read_all(
    server: &MockServer,
    conn: &junction_core::Connection,
    stream: &str,
) -> Vec<junction_core::Page> {
    let ctx = context(&format!("{}/hashnode/", server.uri()), at(10, 12));
    let mut cursor = None;
    let mut pages = Vec::new();
    for _ in 0..10 {
        let request = ReadRequest {
            stream: stream.into(),
            cursor,
            page_size: Some(2),
        };
        let page = Hashnode.read(&ctx, conn, &request).await.unwrap();
        cursor = page.next_cursor.clone();
        let more = page.has_more;
        pages.push(page);
        if !more {
            return pages;
        }
    }
    panic!("the stream did not end");
}

#[tokio::test]
async fn posts_reads_every_publications_posts_to_the_end() {
    let server = MockServer::start().await;
    mount(
        &server,
        json!({"first": 20, "after": null}),
        json!({"data": {"me": {"publications": {"edges": [
            {"cursor": "p1", "node": {"id": PUB_A, "title": "A"}},
            {"cursor": "p2", "node": {"id": PUB_B, "title": "B"}}
        ], "pageInfo": {"hasNextPage": false, "endCursor": "p2"}}}}}),
    )
    .await;
    mount(
        &server,
        json!({"publicationId": PUB_A, "first": 2, "after": null}),
        posts_page(
            PUB_A,
            vec![post("a1", Some(10)), post("a2", None)],
            Some("c-a2"),
        ),
    )
    .await;
    mount(
        &server,
        json!({"publicationId": PUB_A, "first": 2, "after": "c-a2"}),
        posts_page(PUB_A, vec![post("a3", Some(7))], None),
    )
    .await;
    mount(
        &server,
        json!({"publicationId": PUB_B, "first": 2, "after": null}),
        posts_page(PUB_B, vec![post("b1", Some(1))], None),
    )
    .await;

    let pages = read_all(&server, &connection("test-token"), POSTS).await;
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| &p.records)
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["a1", "a2", "a3", "b1"]);
    let records: Vec<_> = pages.iter().flat_map(|p| &p.records).collect();
    assert_eq!(records[3].data["publication_id"], PUB_B);
    let points: Vec<_> = pages.iter().flat_map(|p| &p.kpis).collect();
    // A post whose views Hashnode hides has no views point (not zero).
    let views: Vec<(&str, f64)> = points
        .iter()
        .filter(|p| p.metric == VIEWS)
        .map(|p| (p.dimensions["post"].as_str(), p.value))
        .collect();
    assert_eq!(views, [("a1", 10.0), ("a3", 7.0), ("b1", 1.0)]);
    assert_eq!(points.iter().filter(|p| p.metric == REACTIONS).count(), 4);
    assert!(points.iter().all(|p| p.date == at(10, 12).date_naive()));
}

#[tokio::test]
async fn a_default_publication_is_the_only_one_read_and_publications_page_too() {
    let server = MockServer::start().await;
    mount(
        &server,
        json!({"publicationId": PUB_B, "first": 2, "after": null}),
        posts_page(PUB_B, vec![post("b1", Some(1))], None),
    )
    .await;
    let pages = read_all(&server, &connection_to("test-token", Some(PUB_B)), POSTS).await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].records[0].external_id, "b1");

    let server = MockServer::start().await;
    let edge = |id: &str| json!({"cursor": format!("c{id}"), "node": {"id": id, "title": id}});
    mount(&server, json!({"first": 2, "after": null}), json!({"data": {"me": {"publications": {"edges": [edge("p1"), edge("p2")], "pageInfo": {"hasNextPage": true, "endCursor": "cp2"}}}}})).await;
    mount(&server, json!({"first": 2, "after": "cp2"}), json!({"data": {"me": {"publications": {"edges": [edge("p3")], "pageInfo": {"hasNextPage": false, "endCursor": "cp3"}}}}})).await;
    let pages = read_all(&server, &connection("test-token"), PUBLICATIONS).await;
    let ids: Vec<&str> = pages
        .iter()
        .flat_map(|p| &p.records)
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["p1", "p2", "p3"]);
}

async fn refusal(status: u16, body: Value, retry_after: Option<&str>) -> AdapterError {
    let server = MockServer::start().await;
    let mut answer = ResponseTemplate::new(status).set_body_json(body);
    if let Some(secs) = retry_after {
        answer = answer.insert_header("retry-after", secs);
    }
    Mock::given(method("POST"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let ctx = context(&format!("{}/hashnode/", server.uri()), at(10, 12));
    let request = ReadRequest {
        stream: PUBLICATIONS.into(),
        cursor: None,
        page_size: None,
    };
    Hashnode
        .read(&ctx, &connection("test-token"), &request)
        .await
        .unwrap_err()
}

fn graphql_error(code: &str, message: &str) -> Value {
    json!({"errors": [{"message": message, "extensions": {"code": code}}], "data": null})
}

#[tokio::test]
async fn graphql_errors_with_http_200_are_classified_by_their_code() {
    let error = refusal(
        200,
        graphql_error("UNAUTHENTICATED", "Invalid access token."),
        None,
    )
    .await;
    assert!(
        matches!(&error, AdapterError::Unauthorized { refreshable: false, message } if message.contains("Invalid access token")),
        "{error:?}"
    );
    let error = refusal(200, graphql_error("FORBIDDEN", "Not allowed"), None).await;
    assert!(
        matches!(&error, AdapterError::Invalid { message, .. } if message.contains("Not allowed")),
        "{error:?}"
    );
    for code in ["NOT_FOUND", "BAD_USER_INPUT"] {
        let error = refusal(200, graphql_error(code, "bad"), None).await;
        assert!(
            matches!(error, AdapterError::Invalid { .. }),
            "{code}: {error:?}"
        );
    }
    let error = refusal(
        400,
        graphql_error("GRAPHQL_VALIDATION_FAILED", "Cannot query field"),
        None,
    )
    .await;
    assert!(
        matches!(&error, AdapterError::Invalid { message, .. } if message.contains("schema changed")),
        "{error:?}"
    );
    let error = refusal(200, graphql_error("INTERNAL_SERVER_ERROR", "Oops"), None).await;
    assert!(
        matches!(error, AdapterError::Unavailable { .. }),
        "{error:?}"
    );
    let error = refusal(
        429,
        json!({"errors": [{"message": "Too many requests"}]}),
        Some("20"),
    )
    .await;
    assert_eq!(
        error,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(20))
        }
    );
}

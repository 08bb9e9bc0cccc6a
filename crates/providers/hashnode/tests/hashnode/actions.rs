//! The actions against wiremock: the mutation each sends (Hashnode's input field
//! names, the slug derived from the idempotency key), the earlier try found by slug,
//! and the refusals named after the input at fault.

use junction_core::{Adapter, AdapterError};
use junction_hashnode::Hashnode;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, method},
};

use crate::support::{at, connection, connection_to, context};

const PUB: &str = "65f0a1b2c3d4e5f6a7b8c9d0";

async fn act(
    server: &MockServer,
    conn: &junction_core::Connection,
    action: &str,
    input: Value,
    key: Option<&str>,
) -> Result<Value, AdapterError> {
    let ctx = context(&format!("{}/hashnode/", server.uri()), at(10, 12));
    Hashnode
        .act(&ctx, conn, action, &input, key)
        .await
        .map(|o| o.output)
}

async fn answer(server: &MockServer, operation: &str, body: Value, expect: u64) {
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"operationName": operation})))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(expect)
        .mount(server)
        .await;
}

fn article() -> Value {
    json!({
        "title": "Hello Hashnode", "body_markdown": "# Hi", "tags": ["Rust Lang", "web"],
        "canonical_url": "https://blog.example.com/hello", "description": "Greetings",
        "cover_image": "https://img.example.com/c.png", "series": "ignored here"
    })
}

#[tokio::test]
async fn publish_looks_for_its_slug_then_sends_publish_post() {
    let server = MockServer::start().await;
    answer(
        &server,
        "PostBySlug",
        json!({"data": {"publication": {"id": PUB, "post": null}}}),
        1,
    )
    .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"operationName": "PublishPost", "variables": {"input": {
            "publicationId": PUB, "title": "Hello Hashnode", "contentMarkdown": "# Hi",
            "tags": [{"slug": "rust-lang", "name": "Rust Lang"}, {"slug": "web", "name": "web"}],
            "originalArticleURL": "https://blog.example.com/hello",
            "coverImage": "https://img.example.com/c.png", "metaDescription": "Greetings"
        }}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"publishPost": {"post": {
            "id": "65f1000000000000000000aa", "slug": "hello-hashnode-1a2b3c4d", "url": "https://blog.example.com/hello-hashnode-1a2b3c4d"
        }}}})))
        .expect(1)
        .mount(&server)
        .await;
    let output = act(
        &server,
        &connection_to("test-token", Some(PUB)),
        "publish_article",
        article(),
        Some("jct-1"),
    )
    .await
    .unwrap();
    assert_eq!(
        output,
        json!({
            "id": "65f1000000000000000000aa", "url": "https://blog.example.com/hello-hashnode-1a2b3c4d",
            "published": true, "platform": "hashnode", "deduplicated": false
        })
    );
    // The slug sent is the one looked up: the title's words and the key's digest.
    let requests = server.received_requests().await.unwrap();
    let slug = |i: usize| {
        let body: Value = serde_json::from_slice(&requests[i].body).unwrap();
        body["variables"]["slug"]
            .as_str()
            .or(body["variables"]["input"]["slug"].as_str())
            .unwrap()
            .to_owned()
    };
    assert_eq!(slug(0), slug(1));
    assert!(slug(0).starts_with("hello-hashnode-"), "{}", slug(0));
}

#[tokio::test]
async fn a_retried_publish_returns_the_post_of_its_slug() {
    let server = MockServer::start().await;
    answer(&server, "PostBySlug", json!({"data": {"publication": {"id": PUB, "post": {"id": "65f1000000000000000000aa", "slug": "s", "url": "https://b.example.com/s"}}}}), 1).await;
    answer(&server, "PublishPost", json!({}), 0).await;
    let input = json!({"title": "T", "body_markdown": "B", "publication_id": PUB});
    let output = act(
        &server,
        &connection("test-token"),
        "publish_article",
        input,
        Some("jct-1"),
    )
    .await
    .unwrap();
    assert_eq!(
        (output["id"].as_str(), output["deduplicated"].as_bool()),
        (Some("65f1000000000000000000aa"), Some(true))
    );
}

#[tokio::test]
async fn refusals_name_the_input_at_fault() {
    let server = MockServer::start().await;
    let not_found = json!({"errors": [{"message": "Post not found", "extensions": {"code": "NOT_FOUND"}}], "data": null});
    answer(&server, "UpdatePost", not_found, 1).await;
    let conn = connection("test-token");
    let error = act(
        &server,
        &conn,
        "update_article",
        json!({"id": "65f1000000000000000000ff", "title": "x"}),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "id"),
        "{error:?}"
    );
    // Hashnode cannot unpublish: refused before anything is sent.
    let error = act(
        &server,
        &conn,
        "update_article",
        json!({"id": "65f1000000000000000000ff", "published": false}),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "published"),
        "{error:?}"
    );
    // No publication in the input or the connection.
    let error = act(
        &server,
        &conn,
        "publish_article",
        json!({"title": "T", "body_markdown": "B"}),
        Some("k"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "publication_id"),
        "{error:?}"
    );
    // An unknown publication: Hashnode answers null.
    answer(
        &server,
        "PostBySlug",
        json!({"data": {"publication": null}}),
        1,
    )
    .await;
    let input =
        json!({"title": "T", "body_markdown": "B", "publication_id": "65f0a1b2c3d4e5f6a7b8c9ff"});
    let error = act(&server, &conn, "publish_article", input, Some("k"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "publication_id"),
        "{error:?}"
    );
}

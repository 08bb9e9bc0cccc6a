//! The actions against wiremock: the request each sends (Forem's `{"article": {...}}`
//! body, tags as one comma-separated string), the contract's output, a publish that
//! finds its earlier try, and the refusals.

use junction_core::{Adapter, AdapterError};
use junction_devto::Devto;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path},
};

use crate::{
    requests::item,
    support::{any, at, context},
};

/// The single-article shape Forem answers a create or update with.
fn single(id: u64, published_at: Option<&str>) -> Value {
    json!({
        "type_of": "article", "id": id, "title": "Hello", "slug": "hello-1",
        "url": "https://dev.to/writer/hello-1", "published_at": published_at,
        "tag_list": "rust, web", "tags": ["rust", "web"],
        "canonical_url": "https://blog.example.com/hello"
    })
}

async fn act(
    server: &MockServer,
    action: &str,
    input: Value,
    key: Option<&str>,
) -> Result<Value, AdapterError> {
    let ctx = context(&format!("{}/devto/", server.uri()), at(10, 12));
    Devto
        .act(&ctx, &any(), action, &input, key)
        .await
        .map(|o| o.output)
}

fn hello() -> Value {
    json!({
        "title": "Hello", "body_markdown": "# Hi", "tags": ["rust", "web"],
        "canonical_url": "https://blog.example.com/hello", "series": "Intro",
        "cover_image": "https://img.example.com/c.png", "description": "Greetings"
    })
}

#[tokio::test]
async fn publish_sends_forems_article_body_and_answers_the_contract() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/devto/api/articles/me/all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([item(
            9,
            true,
            Some("2026-03-01T00:00:00Z"),
            3
        )])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/devto/api/articles"))
        .and(header("api-key", "test_key"))
        .and(body_json(json!({"article": {
            "title": "Hello", "body_markdown": "# Hi", "published": true, "tags": "rust,web",
            "canonical_url": "https://blog.example.com/hello", "description": "Greetings",
            "main_image": "https://img.example.com/c.png", "series": "Intro"
        }})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(single(77, Some("2026-03-10T12:00:00Z"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    let output = act(&server, "publish_article", hello(), Some("jct-1"))
        .await
        .unwrap();
    assert_eq!(
        output,
        json!({"id": "77", "url": "https://dev.to/writer/hello-1", "published": true, "platform": "devto", "deduplicated": false})
    );
}

#[tokio::test]
async fn a_retried_publish_returns_the_article_its_first_try_created() {
    let server = MockServer::start().await;
    let mut earlier = item(77, true, Some("2026-03-10T11:59:00Z"), 0);
    earlier["title"] = json!("Hello");
    earlier["canonical_url"] = json!("https://blog.example.com/hello");
    Mock::given(method("GET"))
        .and(path("/devto/api/articles/me/all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([earlier])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;
    let output = act(&server, "publish_article", hello(), Some("jct-1"))
        .await
        .unwrap();
    assert_eq!(output["id"], "77");
    assert_eq!(output["deduplicated"], true);
}

#[tokio::test]
async fn update_and_unpublish_put_the_article_and_a_missing_one_names_the_id() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/devto/api/articles/77"))
        .and(body_json(json!({"article": {"published": false}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(single(77, None)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/devto/api/articles/78"))
        .and(body_json(
            json!({"article": {"title": "New", "tags": "go"}}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(single(78, Some("2026-03-01T00:00:00Z"))),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/devto/api/articles/79"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"error": "not found", "status": 404})),
        )
        .mount(&server)
        .await;
    let output = act(&server, "unpublish_article", json!({"id": "77"}), Some("k"))
        .await
        .unwrap();
    assert_eq!(output["published"], false);
    let output = act(
        &server,
        "update_article",
        json!({"id": "78", "title": "New", "tags": ["go"]}),
        Some("k"),
    )
    .await
    .unwrap();
    assert_eq!(
        (output["id"].as_str(), output["published"].as_bool()),
        (Some("78"), Some(true))
    );
    let error = act(
        &server,
        "update_article",
        json!({"id": "79", "title": "x"}),
        Some("k"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "id"),
        "{error:?}"
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let cases = [
        (json!({"title": "T"}), "body_markdown"),
        (
            json!({"title": "T", "body_markdown": "b", "tags": ["a", "b", "c", "d", "e"]}),
            "tags",
        ),
        (
            json!({"title": "T", "body_markdown": "b", "canonical_url": "ftp://x.example/a"}),
            "canonical_url",
        ),
        (json!({"title": "  ", "body_markdown": "b"}), "title"),
        (
            json!({"title": "T", "body_markdown": "b", "extra": 1}),
            "extra",
        ),
    ];
    for (input, field) in cases {
        let error = act(&server, "publish_article", input, Some("k"))
            .await
            .unwrap_err();
        assert!(
            matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == field),
            "{field}: {error:?}"
        );
    }
}

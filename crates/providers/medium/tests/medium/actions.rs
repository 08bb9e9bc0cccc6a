//! `publish_article` against wiremock: the post Medium documents (to the user or a
//! publication), the contract's output, the refusals, and every way an answer can be
//! lost — each reported as a failure that is not retried.

use std::time::Duration;

use junction_core::{Adapter, AdapterError};
use junction_medium::Medium;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, method, path},
};

use crate::support::{any, context, context_with};

const USER: &str = "5303d74c64f66366f00cb9b2a94f3251bf5";

async fn server_with_me() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/medium/v1/me"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"id": USER, "username": "majelbstoat"}})),
        )
        .mount(&server)
        .await;
    server
}

fn created(status: &str) -> Value {
    json!({"data": {
        "id": "e6f36a", "title": "Liverpool FC", "authorId": USER, "tags": ["football", "sport", "Liverpool"],
        "url": "https://medium.com/@majelbstoat/liverpool-fc-e6f36a",
        "canonicalUrl": "http://jamietalbot.com/posts/liverpool-fc", "publishStatus": status,
        "publishedAt": 1442286338435_u64, "license": "all-rights-reserved",
        "licenseUrl": "https://medium.com/policy/9db0094a1e0f"
    }})
}

async fn publish(server: &MockServer, input: Value) -> Result<Value, AdapterError> {
    let ctx = context(&format!("{}/medium/", server.uri()));
    Medium
        .act(&ctx, &any(), "publish_article", &input, Some("jct-1"))
        .await
        .map(|o| o.output)
}

#[tokio::test]
async fn a_post_goes_to_the_user_with_the_title_heading_its_content() {
    let server = server_with_me().await;
    Mock::given(method("POST"))
        .and(path(format!("/medium/v1/users/{USER}/posts")))
        .and(body_json(json!({
            "title": "Liverpool FC", "contentFormat": "markdown",
            "content": "# Liverpool FC\n\n![](https://img.example.com/anfield.png)\n\nYou’ll never walk alone.",
            "tags": ["football", "sport", "Liverpool"], "canonicalUrl": "http://jamietalbot.com/posts/liverpool-fc",
            "publishStatus": "public"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("public")))
        .expect(1)
        .mount(&server)
        .await;
    let output = publish(&server, json!({
        "title": "Liverpool FC", "body_markdown": "You’ll never walk alone.",
        "tags": ["football", "sport", "Liverpool"], "canonical_url": "http://jamietalbot.com/posts/liverpool-fc",
        "cover_image": "https://img.example.com/anfield.png", "description": "ignored", "series": "ignored"
    }))
    .await
    .unwrap();
    assert_eq!(
        output,
        json!({
            "id": "e6f36a", "url": "https://medium.com/@majelbstoat/liverpool-fc-e6f36a", "published": true,
            "platform": "medium", "deduplicated": false, "publish_status": "public"
        })
    );
}

#[tokio::test]
async fn a_draft_in_a_publication_is_html_and_a_refusal_names_the_publication() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/medium/v1/publications/b45573563f5a/posts"))
        .and(body_json(json!({
            "title": "Hard things", "contentFormat": "html",
            "content": "<h1>Hard things</h1><p>Cache invalidation</p>", "tags": ["development", "design"],
            "publishStatus": "draft"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("draft")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/medium/v1/publications/000000000000/posts"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"errors": [{"message": "You cannot publish in this publication.", "code": 6027}]})))
        .mount(&server)
        .await;
    let draft = json!({
        "title": "Hard things", "body_html": "<p>Cache invalidation</p>", "tags": ["development", "design"],
        "published": false, "publication_id": "b45573563f5a"
    });
    let output = publish(&server, draft).await.unwrap();
    assert_eq!(output["published"], false);
    let error = publish(
        &server,
        json!({"title": "T", "body_markdown": "B", "publication_id": "000000000000"}),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "publication_id"),
        "{error:?}"
    );
}

#[tokio::test]
async fn what_medium_would_silently_drop_is_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let long = "x".repeat(101);
    let cases = [
        (json!({"title": long, "body_markdown": "b"}), "title"),
        (
            json!({"title": "T", "body_markdown": "b", "tags": ["a", "b", "c", "d"]}),
            "tags",
        ),
        (
            json!({"title": "T", "body_markdown": "b", "tags": ["a-tag-much-longer-than-25-chars"]}),
            "tags[0]",
        ),
        (json!({"title": "T"}), "body_markdown"),
        (
            json!({"title": "T", "body_markdown": "b", "body_html": "<p>b</p>"}),
            "body_html",
        ),
        (
            json!({"title": "T", "body_markdown": "b", "publish_status": "secret"}),
            "publish_status",
        ),
    ];
    for (input, field) in cases {
        let error = publish(&server, input).await.unwrap_err();
        assert!(
            matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == field),
            "{field}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_lost_answer_is_a_failure_that_is_not_retried() {
    // A gateway's 502 after Medium may have created the post.
    let server = server_with_me().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string("Bad Gateway"))
        .mount(&server)
        .await;
    let error = publish(&server, json!({"title": "T", "body_markdown": "B"}))
        .await
        .unwrap_err();
    assert!(
        !error.is_retryable() && error.to_string().contains("may or may not exist"),
        "{error:?}"
    );

    // A 201 cut off halfway: the post exists, its id is unknown.
    let server = server_with_me().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_string("{\"data\": {\"id\": \"e6"))
        .mount(&server)
        .await;
    let error = publish(&server, json!({"title": "T", "body_markdown": "B"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Provider { status: 201, .. }) && !error.is_retryable(),
        "{error:?}"
    );

    // A timeout after the request left.
    let server = server_with_me().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(created("public"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let ctx = context_with(&format!("{}/medium/", server.uri()), http);
    let input = json!({"title": "T", "body_markdown": "B"});
    let error = Medium
        .act(&ctx, &any(), "publish_article", &input, Some("k"))
        .await
        .unwrap_err();
    assert!(
        !error.is_retryable() && error.to_string().contains("timed out"),
        "{error:?}"
    );

    // What says nothing was created keeps its class: a 503 and a 429 are retried.
    let server = server_with_me().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let error = publish(&server, json!({"title": "T", "body_markdown": "B"}))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AdapterError::Unavailable { .. }),
        "{error:?}"
    );
}

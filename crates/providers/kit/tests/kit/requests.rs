//! The requests the adapter sends, as Kit v4 documents them: the API-key header, the
//! health check, the custom-field check of `field_map`, and each action's method,
//! path and JSON body.

use junction_core::{Adapter, AdapterError};
use junction_kit::Kit;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path, query_param},
};

use crate::support::*;

#[tokio::test]
async fn check_reads_the_account_with_the_api_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/account"))
        .and(header("X-Kit-Api-Key", KEY))
        .and(header("Accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account()))
        .expect(1)
        .mount(&server)
        .await;
    let health = Kit::api_key()
        .check(&context(&server), &connection(json!({})))
        .await
        .unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("Kit Greetings (test@kit.dev)")
    );
    assert_eq!(health.details["account_id"], 27);
    assert_eq!(health.details["plan_type"], "creator");
    assert_eq!(health.details["timezone"], "America/New_York");
    // No Authorization header: API keys travel in X-Kit-Api-Key only.
    let requests = server.received_requests().await.unwrap();
    assert!(requests[0].headers.get("authorization").is_none());
}

fn custom_fields_page(keys: &[&str], next: Option<&str>) -> serde_json::Value {
    json!({
        "custom_fields": keys.iter().enumerate().map(|(i, key)| json!({
            "id": i + 1, "name": format!("ck_field_{}_{key}", i + 1), "key": key, "label": key
        })).collect::<Vec<_>>(),
        "pagination": pagination(next.is_some(), next),
    })
}

#[tokio::test]
async fn check_verifies_mapped_custom_fields_across_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/custom_fields"))
        .and(query_param("after", "WzFd"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(custom_fields_page(&["company"], None)),
        )
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/custom_fields"))
        .and(query_param("per_page", "1000"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(custom_fields_page(&["last_name"], Some("WzFd"))),
        )
        .expect(2)
        .mount(&server)
        .await;
    let ctx = context(&server);
    let health = Kit::api_key()
        .check(
            &ctx,
            &connection(json!({"field_map": "surname:last_name, org:company"})),
        )
        .await
        .unwrap();
    assert_eq!(health.details["custom_fields"], 2);
    let err = Kit::api_key()
        .check(&ctx, &connection(json!({"field_map": "surname:last_nme"})))
        .await
        .unwrap_err();
    let AdapterError::Invalid { field, message } = err else {
        panic!("{err:?}")
    };
    assert_eq!(field.as_deref(), Some("field_map"));
    assert!(message.contains("`last_nme`"), "{message}");
}

#[tokio::test]
async fn add_subscriber_posts_the_mapped_fields() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/subscribers"))
        .and(header("X-Kit-Api-Key", KEY))
        .and(body_json(json!({
            "email_address": "alice@convertkit.dev",
            "first_name": "Alice",
            "state": "inactive",
            "fields": {"last_name": "Lamarr", "company": "Kit", "lead_score": "87", "vip": "true"}
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "subscriber": {
                "id": 349, "first_name": "Alice", "email_address": "alice@convertkit.dev",
                "state": "inactive", "created_at": "2023-02-17T11:43:55Z",
                "fields": {"last_name": "Lamarr", "company": "Kit"}
            },
            "warnings": ["lead_score", "vip"]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = act(
        &context(&server),
        &connection(json!({"field_map": "surname:last_name, org:company"})),
        "add_subscriber",
        json!({
            "email_address": "alice@convertkit.dev",
            "first_name": "Alice",
            "state": "inactive",
            "fields": {"surname": "Lamarr", "org": "Kit", "lead_score": 87, "vip": true}
        }),
        None,
    )
    .await
    .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some("349"));
    assert_eq!(outcome.output["created"], true);
    assert_eq!(outcome.output["warnings"], json!(["lead_score", "vip"]));
    assert_eq!(
        outcome.output["subscriber"]["email_address"],
        "alice@convertkit.dev"
    );
}

#[tokio::test]
async fn an_existing_subscriber_is_updated_not_created() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/subscribers"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "subscriber": {"id": 353, "first_name": "Alice", "email_address": "alice@convertkit.dev",
                           "state": "inactive", "created_at": "2023-02-17T11:43:55Z", "fields": {}}
        })))
        .mount(&server)
        .await;
    let outcome = act(
        &context(&server),
        &connection(json!({})),
        "add_subscriber",
        json!({"email_address": "alice@convertkit.dev"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(outcome.output["created"], false);
    assert!(outcome.output.get("warnings").is_none());
}

fn tagged(id: i64, at_field: &str) -> serde_json::Value {
    json!({"subscriber": {
        "id": id, "first_name": "Alice", "email_address": "alice@convertkit.dev", "state": "active",
        "created_at": "2023-02-17T11:43:55Z", at_field: "2023-02-17T11:43:55Z", "fields": {}
    }})
}

#[tokio::test]
async fn memberships_go_by_email_in_the_body_or_by_id_in_the_path() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/tags/207/subscribers"))
        .and(body_json(json!({"email_address": "alice@convertkit.dev"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(tagged(1266, "tagged_at")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/tags/184/subscribers/1247"))
        .and(body_json(json!({})))
        .respond_with(ResponseTemplate::new(200).set_body_json(tagged(1247, "tagged_at")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/sequences/324/subscribers"))
        .and(body_json(json!({"email_address": "alice@convertkit.dev"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(tagged(1029, "added_at")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/forms/210/subscribers/767"))
        .and(body_json(
            json!({"referrer": "https://mywebsite.com/bfpromo/?utm_source=facebook"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(tagged(767, "added_at")))
        .expect(1)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let out = act(
        &ctx,
        &conn,
        "tag_subscriber",
        json!({"tag_id": 207, "email_address": "alice@convertkit.dev"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (out.external_id.as_deref(), &out.output["already_tagged"]),
        (Some("1266"), &json!(false))
    );
    let out = act(
        &ctx,
        &conn,
        "tag_subscriber",
        json!({"tag_id": 184, "subscriber_id": 1247}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(out.output["already_tagged"], true);
    let out = act(
        &ctx,
        &conn,
        "add_subscriber_to_sequence",
        json!({"sequence_id": 324, "email_address": "alice@convertkit.dev"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(out.output["already_added"], false);
    let out = act(
        &ctx,
        &conn,
        "add_subscriber_to_form",
        json!({"form_id": 210, "subscriber_id": 767, "referrer": "https://mywebsite.com/bfpromo/?utm_source=facebook"}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (out.external_id.as_deref(), &out.output["already_added"]),
        (Some("767"), &json!(true))
    );
}

fn created_broadcast() -> serde_json::Value {
    json!({"broadcast": {
        "id": 64, "publication_id": 55, "created_at": "2026-03-15T11:59:00Z", "subject": "Hello!",
        "preview_text": "Pleased to meet you!", "description": "Intro email",
        "content": "<p>Let me introduce myself</p>", "public": true,
        "published_at": "2026-03-15T11:59:00Z", "send_at": "2026-03-20T09:00:00Z",
        "thumbnail_alt": null, "thumbnail_url": null, "public_url": "https://kit-greetings.kit.com/posts/",
        "email_address": "greetings@kit.dev", "email_template": {"id": 2, "name": "Classic"},
        "subscriber_filter": [{"all": [{"type": "segment", "ids": [18]}]}], "status": "scheduled"
    }})
}

fn broadcast_input() -> serde_json::Value {
    json!({
        "subject": "Hello!",
        "content": "<p>Let me introduce myself</p>",
        "description": "Intro email",
        "preview_text": "Pleased to meet you!",
        "public": true,
        "send_at": "2026-03-20T10:00:00+01:00",
        "email_template_id": 2,
        "subscriber_filter": [{"all": [{"type": "segment", "ids": [18]}]}]
    })
}

#[tokio::test]
async fn create_broadcast_posts_kits_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/broadcasts"))
        .and(body_json(json!({
            "subject": "Hello!",
            "content": "<p>Let me introduce myself</p>",
            "description": "Intro email",
            "preview_text": "Pleased to meet you!",
            "public": true,
            "send_at": "2026-03-20T09:00:00Z",
            "email_template_id": 2,
            "subscriber_filter": [{"all": [{"type": "segment", "ids": [18]}]}]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(created_broadcast()))
        .expect(1)
        .mount(&server)
        .await;
    // Without an idempotency key nothing is looked up first.
    Mock::given(method("GET"))
        .and(path("/kit/v4/broadcasts"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let out = act(
        &context(&server),
        &connection(json!({})),
        "create_broadcast",
        broadcast_input(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(out.external_id.as_deref(), Some("64"));
    assert_eq!(out.output["deduplicated"], false);
    assert_eq!(out.output["broadcast"]["status"], "scheduled");
}

#[tokio::test]
async fn a_retried_create_broadcast_finds_the_first_try() {
    let server = MockServer::start().await;
    // The newest broadcasts already hold the one this call would create.
    let existing = created_broadcast()["broadcast"].clone();
    Mock::given(method("GET"))
        .and(path("/kit/v4/broadcasts"))
        .and(query_param("per_page", "50"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "broadcasts": [existing],
            "pagination": pagination(false, Some("WzY0XQ=="))
        })))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/broadcasts"))
        .respond_with(ResponseTemplate::new(201).set_body_json(created_broadcast()))
        .expect(1)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let out = act(
        &ctx,
        &conn,
        "create_broadcast",
        broadcast_input(),
        Some("idem-1"),
    )
    .await
    .unwrap();
    assert_eq!(out.external_id.as_deref(), Some("64"));
    assert_eq!(out.output["deduplicated"], true);
    // A different send time is a different broadcast: it is created.
    let mut other = broadcast_input();
    other["send_at"] = json!("2026-03-21T09:00:00Z");
    let out = act(&ctx, &conn, "create_broadcast", other, Some("idem-2"))
        .await
        .unwrap();
    assert_eq!(out.output["deduplicated"], false);
}

//! Input validation of the actions and the settings they use: bad input is refused as
//! `Invalid` naming the field, before any request reaches Kit.

use junction_core::AdapterError;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// Runs `action` against a server that must not be called, expecting `Invalid` on
/// `field`.
async fn refused(config: Value, action: &str, input: Value, field: &str) {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let err = act(
        &context(&server),
        &connection(config),
        action,
        input.clone(),
        Some("k"),
    )
    .await
    .unwrap_err();
    match &err {
        AdapterError::Invalid { field: Some(f), .. } if f == field => {}
        other => panic!("{action} {input}: expected Invalid on `{field}`, got {other:?}"),
    }
}

#[tokio::test]
async fn add_subscriber_input_is_checked() {
    let none = json!({});
    for (input, field) in [
        (json!({}), "email_address"),
        (json!({"email_address": "not-an-email"}), "email_address"),
        (json!({"email_address": 42}), "email_address"),
        (json!({"email_address": "a@b.co", "state": "gone"}), "state"),
        (
            json!({"email_address": "a@b.co", "first_name": ["A"]}),
            "first_name",
        ),
        (json!({"email_address": "a@b.co", "fields": "x"}), "fields"),
        (
            json!({"email_address": "a@b.co", "fields": {"tags": {"a": 1}}}),
            "fields.tags",
        ),
        (json!({"email_address": "a@b.co", "tags": ["x"]}), "tags"),
    ] {
        refused(none.clone(), "add_subscriber", input, field).await;
    }
    let too_many: serde_json::Map<String, Value> =
        (0..141).map(|i| (format!("f{i}"), json!("v"))).collect();
    refused(
        none.clone(),
        "add_subscriber",
        json!({"email_address": "a@b.co", "fields": too_many}),
        "fields",
    )
    .await;
    // Two names landing on one Kit key would lose a value.
    refused(
        json!({"field_map": "surname:last_name"}),
        "add_subscriber",
        json!({"email_address": "a@b.co", "fields": {"surname": "a", "last_name": "b"}}),
        "fields.surname",
    )
    .await;
    // A broken mapping is a config problem, reported as such.
    refused(
        json!({"field_map": "a:b,a:c"}),
        "add_subscriber",
        json!({"email_address": "a@b.co"}),
        "field_map",
    )
    .await;
}

#[tokio::test]
async fn membership_input_is_checked() {
    let none = json!({});
    for action in [
        "tag_subscriber",
        "add_subscriber_to_sequence",
        "add_subscriber_to_form",
    ] {
        let id_field = match action {
            "tag_subscriber" => "tag_id",
            "add_subscriber_to_sequence" => "sequence_id",
            _ => "form_id",
        };
        refused(
            none.clone(),
            action,
            json!({"email_address": "a@b.co"}),
            id_field,
        )
        .await;
        refused(
            none.clone(),
            action,
            json!({ id_field: 0, "email_address": "a@b.co" }),
            id_field,
        )
        .await;
        refused(
            none.clone(),
            action,
            json!({ id_field: "12", "email_address": "a@b.co" }),
            id_field,
        )
        .await;
        refused(
            none.clone(),
            action,
            json!({ id_field: 12 }),
            "email_address",
        )
        .await;
        refused(
            none.clone(),
            action,
            json!({ id_field: 12, "email_address": "a@b.co", "subscriber_id": 3 }),
            "subscriber_id",
        )
        .await;
        refused(
            none.clone(),
            action,
            json!({ id_field: 12, "subscriber_id": -3 }),
            "subscriber_id",
        )
        .await;
        refused(
            none.clone(),
            action,
            json!({ id_field: 12, "subscriber_id": 3, "extra": true }),
            "extra",
        )
        .await;
    }
    refused(
        none.clone(),
        "add_subscriber_to_form",
        json!({"form_id": 1, "subscriber_id": 3, "referrer": "not a url"}),
        "referrer",
    )
    .await;
    refused(
        none,
        "tag_subscriber",
        json!({"tag_id": 1, "subscriber_id": 3, "referrer": "https://x.example"}),
        "referrer",
    )
    .await;
}

#[tokio::test]
async fn create_broadcast_input_is_checked() {
    let none = json!({});
    let base = |extra: Value| {
        let mut input = json!({"subject": "Hello", "content": "<p>Hi</p>"});
        input
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        input
    };
    for (input, field) in [
        (json!({"content": "<p>Hi</p>"}), "subject"),
        (json!({"subject": "Hello"}), "content"),
        (base(json!({"send_at": "2026-03-20 09:00"})), "send_at"),
        (base(json!({"published_at": "yesterday"})), "published_at"),
        (base(json!({"public": "yes"})), "public"),
        (base(json!({"email_address": "nobody"})), "email_address"),
        (
            base(json!({"subscriber_filter": [{"all": [{"type": "form", "ids": [1]}]}]})),
            "subscriber_filter",
        ),
        (base(json!({"to": "everyone"})), "to"),
    ] {
        refused(none.clone(), "create_broadcast", input, field).await;
    }
}

#[tokio::test]
async fn unknown_actions_streams_and_bad_keys_are_invalid() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let ctx = context(&server);
    let err = act(&ctx, &connection(json!({})), "send_email", json!({}), None)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "action"));
    let err = read(&ctx, &connection(json!({})), "purchases", None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "stream"));
    let err = read(
        &ctx,
        &connection(json!({})),
        "tags",
        Some(json!({"page": 2})),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "cursor"));
    // A key that cannot travel in a header is refused without echoing it.
    let err = read(
        &ctx,
        &connection_with_key("kit_SECRET\nX-Evil: 1", json!({})),
        "tags",
        None,
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "api_key"),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("SECRET"));
    // A connection without a key at all.
    let mut conn = connection(json!({}));
    conn.secrets.clear();
    let err = read(&ctx, &conn, "tags", None, None).await.unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "api_key"));
}

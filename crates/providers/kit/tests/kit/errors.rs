//! How Kit's refusals are classified: `{"errors": [...]}` with 401, 404 and 422, the
//! plain-text 429 `Retry later` without `Retry-After`, outages, malformed bodies and
//! broken pagination. No error may carry the API key.

use std::time::Duration;

use junction_core::{Adapter, AdapterError};
use junction_kit::Kit;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::support::*;

/// The error a `tags` read gets when Kit answers with `response`.
async fn read_error(response: ResponseTemplate) -> AdapterError {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/tags"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    let err = read(
        &context(&server),
        &connection(json!({})),
        "tags",
        None,
        None,
    )
    .await
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains(KEY), "{err:?}");
    err
}

#[tokio::test]
async fn retry_later_is_a_rate_limit_without_a_hint() {
    let err =
        read_error(ResponseTemplate::new(429).set_body_raw("Retry later", "text/plain")).await;
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_retry_after_is_honoured_should_kit_ever_send_one() {
    let err = read_error(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "30")
            .set_body_raw("Retry later", "text/plain"),
    )
    .await;
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(30))
        }
    );
}

#[tokio::test]
async fn a_rejected_key_is_not_refreshable() {
    let err = read_error(
        ResponseTemplate::new(401).set_body_json(kit_errors(&["The access token is invalid"])),
    )
    .await;
    assert_eq!(
        err,
        AdapterError::Unauthorized {
            refreshable: false,
            message: "The access token is invalid".into()
        }
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn forbidden_is_a_provider_refusal() {
    let err = read_error(ResponseTemplate::new(403).set_body_json(kit_errors(&[
        "You do not have sufficient permissions to access this resource. Please contact support.",
    ])))
    .await;
    let AdapterError::Provider {
        status, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(*status, 403);
    assert!(message.starts_with("You do not have sufficient permissions"));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn outages_are_unavailable() {
    for status in [500, 502, 503] {
        let err = read_error(ResponseTemplate::new(status)).await;
        assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn malformed_bodies_are_unavailable() {
    for body in [
        "{\"tags\": [",
        r#"{"tags": []}"#,
        r#"{"tags": [{"name": "no id"}], "pagination": {"has_next_page": false}}"#,
        r#"{"tags": [], "pagination": {"has_next_page": true, "end_cursor": null}}"#,
    ] {
        let err =
            read_error(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
        assert!(
            matches!(err, AdapterError::Unavailable { .. }),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_tag_names_the_input_field() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/tags/99/subscribers"))
        .respond_with(ResponseTemplate::new(404).set_body_json(kit_errors(&["Not Found"])))
        .expect(1)
        .mount(&server)
        .await;
    let err = act(
        &context(&server),
        &connection(json!({})),
        "tag_subscriber",
        json!({"tag_id": 99, "email_address": "alice@convertkit.dev"}),
        None,
    )
    .await
    .unwrap_err();
    let AdapterError::Invalid { field, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field.as_deref(), Some("tag_id"));
    assert!(message.contains("Not Found"), "{message}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn unprocessable_input_is_invalid() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/sequences/5/subscribers"))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(kit_errors(&["Sequence is inactive"])),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/broadcasts"))
        .respond_with(ResponseTemplate::new(422).set_body_json(kit_errors(&[
            "Email template not found",
            "Only a single filter group is supported. Use one of `all`, `any`, or `none`.",
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let err = act(
        &ctx,
        &conn,
        "add_subscriber_to_sequence",
        json!({"sequence_id": 5, "email_address": "alice@convertkit.dev"}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err, AdapterError::invalid("Sequence is inactive"));
    let err = act(
        &ctx,
        &conn,
        "create_broadcast",
        json!({"subject": "a", "content": "b", "email_template_id": 404}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        AdapterError::invalid(
            "Email template not found; Only a single filter group is supported. Use one of `all`, `any`, or `none`."
        )
    );
}

#[tokio::test]
async fn check_classifies_like_reads() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/account"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(kit_errors(&["The access token is invalid"])),
        )
        .mount(&server)
        .await;
    let err = Kit::api_key()
        .check(&context(&server), &connection(json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_host_is_unavailable() {
    let ctx = junction_core::Context::new(reqwest::Client::new())
        .with_base_url("http://127.0.0.1:9/kit".parse().unwrap());
    let err = read(&ctx, &connection(json!({})), "tags", None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains(KEY));
}

//! How Mailchimp's refusals are classified: problem documents for bad keys, disabled
//! users and the wrong data center, 429 without rate headers, outages, malformed
//! bodies, unreachable hosts; and that the API key never shows in an error.

use junction_core::{Adapter, AdapterError};
use junction_mailchimp::Mailchimp;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::support::*;

/// The error `check` gets when `GET /3.0/ping` answers with `response`.
async fn check_error(response: ResponseTemplate) -> AdapterError {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/ping"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    let err = Mailchimp::default()
        .check(&context(&server), &connection())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(KEY), "{err}");
    assert!(!format!("{err:?}").contains(KEY), "{err:?}");
    err
}

fn problem_response(status: u16, title: &str, detail: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        problem(status, title, detail).to_string(),
        "application/problem+json",
    )
}

#[tokio::test]
async fn a_good_key_passes_the_check() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/ping"))
        .and(wiremock::matchers::header(
            "authorization",
            basic_header().as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"health_status": "Everything's Chimpy!"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let health = Mailchimp::default()
        .check(&context(&server), &connection())
        .await
        .unwrap();
    assert_eq!(health.details["data_center"], "us21");
    assert_eq!(health.details["health_status"], "Everything's Chimpy!");
}

#[tokio::test]
async fn an_invalid_key_is_unauthorized_and_not_refreshable() {
    let err = check_error(problem_response(
        401,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    ))
    .await;
    assert_eq!(
        err,
        AdapterError::Unauthorized {
            refreshable: false,
            message:
                "Your API key may be invalid, or you've attempted to access the wrong datacenter."
                    .into()
        }
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_disabled_user_or_wrong_datacenter_is_unauthorized() {
    for (title, detail) in [
        ("User Disabled", "This account has been disabled."),
        (
            "Wrong Datacenter",
            "The API key provided is linked to a different datacenter.",
        ),
    ] {
        let err = check_error(problem_response(403, title, detail)).await;
        assert_eq!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                message: detail.into()
            },
            "{title}"
        );
    }
    let err = check_error(problem_response(
        403,
        "Forbidden",
        "You don't have permission.",
    ))
    .await;
    assert!(
        matches!(err, AdapterError::Provider { status: 403, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn too_many_connections_is_rate_limited_without_a_wait() {
    let err = check_error(problem_response(
        429,
        "Too Many Requests",
        "You have exceeded the limit of 10 simultaneous connections.",
    ))
    .await;
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    assert!(err.is_retryable());
}

#[tokio::test]
async fn outages_are_unavailable() {
    for status in [500, 502, 503] {
        let err = check_error(problem_response(
            status,
            "Internal Server Error",
            "An unexpected internal error has occurred.",
        ))
        .await;
        assert!(
            matches!(err, AdapterError::Unavailable { .. }),
            "{status}: {err:?}"
        );
    }
}

#[tokio::test]
async fn malformed_success_bodies_are_unavailable() {
    for body in [
        r#"{"health_status": "Every"#,
        r#"{"ok": true}"#,
        "<html>502</html>",
    ] {
        let err =
            check_error(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
        assert!(
            matches!(err, AdapterError::Unavailable { .. }),
            "{body}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_host_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ctx = context_with_base(&format!("http://127.0.0.1:{port}/mailchimp"));
    let err = Mailchimp::default()
        .check(&ctx, &connection())
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains(KEY));
}

#[tokio::test]
async fn a_key_without_a_data_center_is_invalid_before_any_request() {
    let server = MockServer::start().await;
    for key in [
        "5f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "5f1e2d3c4b5a69788796a5b4c3d2e1f0-us21.evil.example",
    ] {
        let err = Mailchimp::default()
            .check(&context(&server), &connection_with(key))
            .await
            .unwrap_err();
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "api_key"),
            "{err:?}"
        );
        assert!(!err.to_string().contains("5f1e2d3c"), "{err}");
    }
    let mut missing = connection();
    missing.secrets.clear();
    let err = Mailchimp::default()
        .check(&context(&server), &missing)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "api_key"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

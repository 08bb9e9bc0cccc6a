//! The `kit-oauth` entry: requests carry the connection's access token as
//! `Authorization: Bearer` and never an API key, a refused token is refreshable, and
//! (with the `sandbox` feature) the OAuth fake passes the conformance suite.

use junction_core::{Adapter, AdapterError, ReadRequest};
use junction_kit::{Kit, OAUTH_PROVIDER_ID};
use serde_json::json;
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::support::{
    TOKEN, account, context, kit_errors, oauth_connection, pagination, subscriber,
};

/// No request may carry Kit's API-key header.
fn assert_no_api_key(requests: &[Request]) {
    assert!(!requests.is_empty());
    for request in requests {
        assert!(
            !request.headers.contains_key("x-kit-api-key"),
            "{} carried an API key",
            request.url
        );
        assert_eq!(
            request
                .headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap(),
            format!("Bearer {TOKEN}"),
            "{}",
            request.url
        );
    }
}

#[tokio::test]
async fn the_oauth_entry_is_its_own_provider_with_the_same_streams_and_actions() {
    let (oauth, api_key) = (Kit::oauth(), Kit::api_key());
    let spec = oauth.spec();
    assert_eq!(spec.id, OAUTH_PROVIDER_ID);
    assert_eq!(spec.auth.kind_name(), "oauth2");
    assert!(spec.auth.credential_fields().is_empty());
    let key_spec = api_key.spec();
    assert_eq!(spec.streams.len(), key_spec.streams.len());
    assert_eq!(spec.actions.len(), key_spec.actions.len());
}

#[tokio::test]
async fn check_read_and_act_send_the_bearer_token_and_no_api_key() {
    let server = MockServer::start().await;
    let bearer = format!("Bearer {TOKEN}");
    Mock::given(method("GET"))
        .and(path("/kit/v4/account"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(account()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/subscribers"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "subscribers": [subscriber(7, "active")],
            "pagination": pagination(false, None)
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/tags/12/subscribers"))
        .and(header("authorization", bearer.as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "subscriber": {
                "id": 7, "first_name": "Alice", "email_address": "alice7@convertkit.dev",
                "state": "active", "created_at": "2023-02-17T11:43:55Z",
                "tagged_at": "2026-03-15T12:00:00Z", "fields": {}
            }
        })))
        .expect(1)
        .mount(&server)
        .await;

    let ctx = context(&server);
    let conn = oauth_connection(Some(TOKEN), json!({}));
    let health = Kit::oauth().check(&ctx, &conn).await.unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("Kit Greetings (test@kit.dev)")
    );
    let page = Kit::oauth()
        .read(
            &ctx,
            &conn,
            &ReadRequest {
                stream: "subscribers".into(),
                cursor: None,
                page_size: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    let outcome = Kit::oauth()
        .act(
            &ctx,
            &conn,
            "tag_subscriber",
            &json!({"tag_id": 12, "email_address": "alice7@convertkit.dev"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.output["already_tagged"], false,
        "{:?}",
        outcome.output
    );
    assert_no_api_key(&server.received_requests().await.unwrap());
}

#[tokio::test]
async fn a_refused_or_missing_token_asks_for_a_refresh_not_a_new_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/account"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(kit_errors(&["The access token expired"])),
        )
        .mount(&server)
        .await;
    let ctx = context(&server);
    let refused = Kit::oauth()
        .check(&ctx, &oauth_connection(Some(TOKEN), json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            AdapterError::Unauthorized {
                refreshable: true,
                ..
            }
        ),
        "{refused:?}"
    );
    assert_no_api_key(&server.received_requests().await.unwrap());

    // A connection with no stored token sends nothing and asks for one.
    let before = server.received_requests().await.unwrap().len();
    let missing = Kit::oauth()
        .check(&ctx, &oauth_connection(None, json!({})))
        .await
        .unwrap_err();
    assert!(
        matches!(
            missing,
            AdapterError::Unauthorized {
                refreshable: true,
                ..
            }
        ),
        "{missing:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), before);
}

#[cfg(feature = "sandbox")]
mod sandbox {
    use std::sync::Arc;

    use junction_conformance::{FakeServer, Suite, TokenTable};
    use junction_core::{Adapter, fake::TokenStatus};
    use junction_kit::{Kit, OAUTH_SCOPE, sandbox::KitFake};
    use serde_json::json;

    use super::oauth_connection;
    use crate::conformance::description;

    #[tokio::test]
    async fn kit_oauth_passes_the_conformance_suite() {
        let tokens = TokenTable::default()
            .with(
                "good",
                TokenStatus::Valid {
                    scopes: vec![OAUTH_SCOPE.into()],
                },
            )
            .with("expired", TokenStatus::Expired);
        let server = FakeServer::start(Arc::new(KitFake::oauth()), tokens).await;
        Suite::new(
            Arc::new(Kit::oauth()) as Arc<dyn Adapter>,
            oauth_connection(
                Some("good"),
                json!({"field_map": "surname:last_name", "lookback_days": 45}),
            ),
            oauth_connection(Some("expired"), json!({})),
            // An expired access token is Junction's to refresh.
            true,
        )
        .with_description(description())
        .run(&server)
        .await;
    }
}

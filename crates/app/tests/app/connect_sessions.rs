//! Connect sessions against the real store and sandbox: the token's rules (unknown,
//! an API key, expired, revoked, another workspace's session, a provider not
//! allowed, a provider connected twice), connecting with credentials and through
//! OAuth with the end user and tags carried to the integration, the filters of the
//! integration list, and a config field's choices listed by the provider.

use std::{collections::BTreeMap, sync::Arc};

use junction_app::{
    App,
    connect::OAuthCallback,
    connect_sessions::{ConnectOutcome, EndUser, NewConnectSession, tag_filter},
    kpis::WorkspaceChanges,
    models::{AuthKind, IntegrationFilter},
};
use junction_core::{ErrorCode, FixedClock, WorkspaceId};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use url::Url;

use crate::support::{GA4, PROPERTY, TestEnv};

const RETURN: &str = "https://app.example.com/connected";

fn session_request(providers: &[&str]) -> NewConnectSession {
    NewConnectSession {
        allowed_providers: providers.iter().map(|p| (*p).to_owned()).collect(),
        end_user: EndUser {
            id: "user-42".into(),
            email: Some("Ada@Example.com".into()),
            display_name: Some("Ada".into()),
        },
        tags: BTreeMap::from([("plan".to_owned(), "pro".to_owned())]),
        return_url: format!("{RETURN}?from=test"),
        expires_in_seconds: Some(120),
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

async fn allow_return_url(app: &App, workspace: WorkspaceId) {
    let updated = app
        .update_workspace(
            workspace,
            WorkspaceChanges {
                connect_return_urls: Some(vec![
                    "https://app.example.com".into(),
                    "https://app.example.com".into(),
                ]),
                ..WorkspaceChanges::default()
            },
        )
        .await
        .unwrap();
    // Repeats dropped, stored as parsed.
    assert_eq!(
        updated.connect_return_urls,
        vec!["https://app.example.com/"]
    );
}

#[tokio::test]
async fn a_token_connects_once_per_provider_and_reads_nothing_else() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let (workspace, api_key) = junction_testkit::create_workspace(env.db.store(), "Connect").await;
    let other = env.workspace("Other").await;

    // Nothing is allowed before the workspace lists its return URLs.
    let refused = app
        .create_connect_session(workspace, session_request(&["stripe"]))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::ReturnUrlNotAllowed);
    allow_return_url(&app, workspace).await;

    // Bad fields are all reported, nothing stored.
    let mut bad = session_request(&["stripe", "no-such-provider"]);
    bad.expires_in_seconds = Some(1801);
    bad.end_user.id = "   ".into();
    bad.tags.insert("bad:key".into(), "x".into());
    let refused = app
        .create_connect_session(workspace, bad)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::ValidationFailed);
    let fields: Vec<&str> = refused.fields.iter().map(|f| f.field.as_str()).collect();
    for field in ["allowed_providers[1]", "end_user.id", "tags", "expires_in"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    assert_eq!(
        env.count("SELECT count(*) AS n FROM connect_sessions")
            .await,
        0
    );

    let created = app
        .create_connect_session(workspace, session_request(&["stripe"]))
        .await
        .unwrap();
    let token = created.token.clone();
    assert!(token.expose_secret().starts_with("jcs_"));
    assert!(
        created
            .connect_url
            .expose_secret()
            .ends_with(&format!("/connect?session={}", token.expose_secret()))
    );
    assert_eq!(created.session.end_user["email"], "ada@example.com");
    // Only the hash is stored.
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM connect_sessions WHERE token_hash = sha256('{}'::bytea)",
            token.expose_secret()
        ))
        .await,
        1
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM connect_sessions WHERE position('{}' in return_url || end_user::text || tags::text) > 0",
            token.expose_secret()
        ))
        .await,
        0
    );

    // An unknown token and an API key are no session.
    for wrong in [SecretString::from("jcs_madeup"), api_key.clone()] {
        let error = app.open_connect_session(&wrong).await.unwrap_err();
        assert_eq!(error.code, ErrorCode::ConnectTokenInvalid);
    }
    // Another workspace does not see the session.
    let error = app
        .connect_session(other, created.session.id)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ConnectSessionNotFound);
    let error = app
        .revoke_connect_session(other, created.session.id)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ConnectSessionNotFound);

    // The providers it may connect: Stripe only, with its key field.
    let (open, providers) = app.connect_session_providers(&token).await.unwrap();
    assert_eq!(open.workspace_id, workspace);
    assert_eq!(providers.len(), 1);
    assert_eq!(providers[0].id, "stripe");
    assert_eq!(providers[0].auth_kind, AuthKind::ApiKey);
    assert!(
        providers[0]
            .fields
            .iter()
            .any(|f| f.name == "secret_key" && f.secret)
    );
    assert_eq!(providers[0].connected, None);

    // A provider it does not allow.
    let error = app
        .connect_session_start_oauth(&token, GA4, Map::new())
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ProviderNotAllowed);

    // A key the provider refuses is the error; nothing stored.
    let error = app
        .connect_session_connect(
            &token,
            "stripe",
            Map::new(),
            object(json!({"secret_key": "sk_test_wrong"})),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidCredentials, "{error:?}");
    assert_eq!(error.fields.len(), 1);
    assert_eq!(error.fields[0].field, "secret_key");
    assert!(!format!("{error:?}").contains("sk_test_wrong"));
    // A field the spec refuses is reported by name.
    let error = app
        .connect_session_connect(&token, "stripe", Map::new(), Map::new())
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ValidationFailed);
    assert_eq!(error.fields[0].field, "secret_key");
    assert_eq!(env.count("SELECT count(*) AS n FROM integrations").await, 0);

    let connected = app
        .connect_session_connect(
            &token,
            "stripe",
            Map::new(),
            object(json!({"secret_key": "sk_test_sandbox"})),
        )
        .await
        .unwrap();
    let integration = &connected.integration;
    assert_eq!(integration.end_user_id.as_deref(), Some("user-42"));
    assert_eq!(
        integration.end_user,
        Some(json!({"id": "user-42", "email": "ada@example.com", "display_name": "Ada"}))
    );
    assert_eq!(integration.tags, Some(json!({"plan": "pro"})));
    assert_eq!(integration.connect_session_id, Some(created.session.id));

    // Once per provider.
    let error = app
        .connect_session_connect(
            &token,
            "stripe",
            Map::new(),
            object(json!({"secret_key": "sk_test_sandbox"})),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ConnectSessionUsed);
    let details = app
        .connect_session(workspace, created.session.id)
        .await
        .unwrap();
    assert_eq!(
        details.connected,
        vec![("stripe".to_owned(), integration.id)]
    );

    // The list filters by end user and tags.
    let plain = env.create_stripe(workspace).await;
    let list = |filter: IntegrationFilter| {
        let app = app.clone();
        async move {
            app.integrations(workspace, &filter, junction_app::PageRequest::first(50))
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|d| d.integration.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(IntegrationFilter::default()).await.len(), 2);
    let by_user = IntegrationFilter {
        end_user_id: Some("user-42".into()),
        ..IntegrationFilter::default()
    };
    assert_eq!(list(by_user).await, vec![integration.id]);
    for (tag, expected) in [
        ("plan", vec![integration.id]),
        ("plan:pro", vec![integration.id]),
        ("plan:free", vec![]),
        ("other", vec![]),
    ] {
        let filter = IntegrationFilter {
            tag: Some(tag_filter(tag)),
            ..IntegrationFilter::default()
        };
        assert_eq!(list(filter).await, expected, "tag={tag}");
    }
    assert!(list(IntegrationFilter::default()).await.contains(&plain));

    // Revoked: the token connects nothing from then on.
    let revoked = app
        .revoke_connect_session(workspace, created.session.id)
        .await
        .unwrap();
    let first = revoked.session.revoked_at.unwrap();
    let again = app
        .revoke_connect_session(workspace, created.session.id)
        .await
        .unwrap();
    assert_eq!(again.session.revoked_at, Some(first));
    let error = app.open_connect_session(&token).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ConnectSessionRevoked);
}

#[tokio::test]
async fn a_token_dies_at_its_expiry() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let workspace = env.workspace("Expiry").await;
    allow_return_url(&app, workspace).await;
    let created = app
        .create_connect_session(workspace, session_request(&[]))
        .await
        .unwrap();
    assert_eq!(
        (created.session.expires_at - created.session.created_at).num_seconds(),
        120
    );
    // Every provider when none is named.
    let (_, providers) = app.connect_session_providers(&created.token).await.unwrap();
    assert!(providers.len() > 5, "{}", providers.len());

    let later = app.clone().with_clock(Arc::new(FixedClock(
        created.session.expires_at + chrono::Duration::seconds(1),
    )));
    let error = later
        .open_connect_session(&created.token)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ConnectSessionExpired);
    let error = later
        .connect_session_connect(
            &created.token,
            "stripe",
            Map::new(),
            object(json!({"secret_key": "sk_test_sandbox"})),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ConnectSessionExpired);
    let url = app
        .connect_session_return(
            &created.session,
            ConnectOutcome::Expired,
            None,
            Some(error.code),
        )
        .unwrap();
    assert_eq!(
        url.as_str(),
        format!(
            "{RETURN}?from=test&connect_session={}&outcome=expired&error=connect_session_expired",
            created.session.id
        )
    );
}

/// Follows an authorize URL through the sandbox's consent page with `decision`,
/// and returns the callback's query.
async fn consent(env: &TestEnv, authorize_url: &str, decision: &str) -> OAuthCallback {
    let mut url = Url::parse(authorize_url).unwrap();
    url.query_pairs_mut().append_pair("decision", decision);
    let response = env.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let location = Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let get = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    OAuthCallback {
        code: get("code"),
        state: get("state"),
        error: get("error"),
        error_description: get("error_description"),
    }
}

#[tokio::test]
async fn oauth_through_a_session_carries_the_end_user_and_lists_the_properties() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let workspace = env.workspace("OAuth").await;
    allow_return_url(&app, workspace).await;
    let created = app
        .create_connect_session(workspace, session_request(&[GA4, "stripe"]))
        .await
        .unwrap();

    // Typed-in credentials are no way to connect an OAuth provider.
    let error = app
        .connect_session_connect(&created.token, GA4, Map::new(), Map::new())
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::UnsupportedOperation);

    // Denied at the consent page: reported, nothing stored.
    let flow = app
        .connect_session_start_oauth(
            &created.token,
            GA4,
            object(json!({"property_id": PROPERTY})),
        )
        .await
        .unwrap();
    let outcome = app
        .finish_oauth(None, consent(&env, &flow.authorize_url, "deny").await)
        .await;
    assert_eq!(outcome.connect_session_id, Some(created.session.id));
    assert!(outcome.denied);
    assert_eq!(
        outcome.return_to.as_ref().map(Url::as_str),
        Some(format!("{RETURN}?from=test").as_str())
    );
    assert_eq!(env.count("SELECT count(*) AS n FROM integrations").await, 0);

    // Approved: the integration carries the session's end user and tags.
    let flow = app
        .connect_session_start_oauth(
            &created.token,
            GA4,
            object(json!({"property_id": PROPERTY})),
        )
        .await
        .unwrap();
    let callback = consent(&env, &flow.authorize_url, "approve").await;
    let outcome = app.finish_oauth(None, callback).await;
    let id = outcome.result.unwrap();
    assert_eq!(outcome.connect_session_id, Some(created.session.id));
    let integration = env.integration(workspace, id).await;
    assert_eq!(integration.end_user_id.as_deref(), Some("user-42"));
    assert_eq!(integration.tags, Some(json!({"plan": "pro"})));

    // A second GA4 through the same session is refused before any code exchange.
    let error = app
        .connect_session_start_oauth(
            &created.token,
            GA4,
            object(json!({"property_id": PROPERTY})),
        )
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::ConnectSessionUsed);

    // The property's choices, from the fake Admin API.
    let options = app
        .field_options(workspace, id, "property_id")
        .await
        .unwrap();
    let values: Vec<&str> = options.iter().map(|o| o.value.as_str()).collect();
    assert_eq!(values, vec![PROPERTY, "987654321", "555000111"]);
    assert_eq!(options[0].label, "Sandbox Shop – web");
    let error = app
        .field_options(workspace, id, "dimensions")
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::FieldHasNoOptions);
    let error = app
        .field_options(workspace, id, "no_such_field")
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::UnknownConfigField);
    let other = env.workspace("Other").await;
    let error = app
        .field_options(other, id, "property_id")
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::IntegrationNotFound);
    env.execute(&format!(
        "UPDATE integrations SET status = 'needs_reauth' WHERE id = '{id}'"
    ))
    .await;
    let error = app
        .field_options(workspace, id, "property_id")
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::IntegrationNeedsReauth);

    // A flow started before the session was revoked is refused at the callback,
    // and the browser is sent back with the outcome.
    let second = app
        .create_connect_session(workspace, session_request(&[GA4]))
        .await
        .unwrap();
    let flow = app
        .connect_session_start_oauth(&second.token, GA4, object(json!({"property_id": PROPERTY})))
        .await
        .unwrap();
    app.revoke_connect_session(workspace, second.session.id)
        .await
        .unwrap();
    let outcome = app
        .finish_oauth(None, consent(&env, &flow.authorize_url, "approve").await)
        .await;
    assert_eq!(
        outcome.result.unwrap_err().code,
        ErrorCode::ConnectSessionRevoked
    );
    assert_eq!(outcome.connect_session_id, Some(second.session.id));
    assert!(outcome.return_to.is_some());
    assert_eq!(env.count("SELECT count(*) AS n FROM integrations").await, 1);
}

#[tokio::test]
async fn two_tabs_racing_connect_one_integration() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let workspace = env.workspace("Race").await;
    allow_return_url(&app, workspace).await;
    let created = app
        .create_connect_session(workspace, session_request(&["stripe"]))
        .await
        .unwrap();
    let connect = || {
        app.connect_session_connect(
            &created.token,
            "stripe",
            Map::new(),
            object(json!({"secret_key": "sk_test_sandbox"})),
        )
    };
    let (first, second) = tokio::join!(connect(), connect());
    let mut outcomes = [
        first.map(|d| d.integration.id),
        second.map(|d| d.integration.id),
    ];
    outcomes.sort_by_key(Result::is_err);
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    let refused = outcomes[1].as_ref().unwrap_err();
    assert_eq!(refused.code, ErrorCode::ConnectSessionUsed, "{refused:?}");
    // Nothing half-written by the loser: one integration, one set of credentials.
    assert_eq!(env.count("SELECT count(*) AS n FROM integrations").await, 1);
    assert_eq!(
        env.count("SELECT count(DISTINCT integration_id) AS n FROM credentials")
            .await,
        1
    );
}

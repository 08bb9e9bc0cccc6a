//! The OAuth 2.0 connection flow against the sandbox's OAuth server and GA4 fake.

use junction_store::repo;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::{RETURN_TO, TestApp, assert_problem, query};

#[tokio::test]
async fn connecting_ga4_stores_sealed_tokens_scopes_expiry_and_logs() {
    let app = TestApp::spawn().await;
    let authorize = app
        .start_ga4(json!({"config": {"property_id": "123456"}, "display_name": "Main site", "return_to": RETURN_TO}))
        .await;
    let params = query(&authorize);
    assert_eq!(params["access_type"], "offline");
    assert_eq!(params["prompt"], "consent");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(
        params["scope"],
        "https://www.googleapis.com/auth/analytics.readonly"
    );
    assert!(params["redirect_uri"].ends_with("/oauth/callback"));

    let callback = app.consent(&authorize, "approve").await;
    let response = app.callback(&callback).await;
    assert_eq!(response.status(), 302);
    let back = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(back.as_str().starts_with(RETURN_TO));
    let outcome = query(&back);
    assert_eq!(outcome["status"], "connected");
    let id: uuid::Uuid = outcome["integration_id"].parse().unwrap();

    let integration: Value = app
        .get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(integration["provider"], "google-analytics");
    assert_eq!(integration["display_name"], "Main site");
    assert_eq!(integration["status"], "active");
    assert_eq!(integration["auth_kind"], "oauth2");
    assert_eq!(integration["config"], json!({"property_id": "123456"}));
    assert_eq!(
        integration["scopes"],
        json!(["https://www.googleapis.com/auth/analytics.readonly"])
    );
    assert!(integration["token_expires_at"].is_string());
    assert_eq!(integration["health"]["status"], "healthy");
    assert_eq!(
        integration["credential_fields"],
        json!(["access_token", "refresh_token"])
    );
    let text = integration.to_string();
    assert!(!text.contains("access_token\":\"") && !text.contains("refresh_token\":\""));

    // The tokens are sealed and open with the vault; they never appear in the API.
    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    let secrets = repo::credentials::get_all(tx.conn(), app.db.vault(), id)
        .await
        .unwrap();
    let access = secrets["access_token"].expose_secret().to_owned();
    assert!(!text.contains(&access));
    drop(tx);

    let logs: Value = app
        .get(&format!("/v1/integrations/{id}/logs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logs["data"][0]["operation"], "connect");
    assert!(!logs.to_string().contains(&access));
}

#[tokio::test]
async fn denied_consent_stores_nothing_and_says_so() {
    let app = TestApp::spawn().await;
    let authorize = app
        .start_ga4(json!({"config": {"property_id": "1"}, "return_to": RETURN_TO}))
        .await;
    let callback = app.consent(&authorize, "deny").await;
    let response = app.callback(&callback).await;
    assert_eq!(response.status(), 302);
    let back = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    let outcome = query(&back);
    assert_eq!(outcome["status"], "denied");
    assert_eq!(outcome["error"], "oauth_denied");
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM credentials").await, 0);
}

#[tokio::test]
async fn replayed_expired_and_unknown_states_are_refused() {
    let app = TestApp::spawn().await;
    // Replay: the second use of the same callback fails and stores nothing more.
    let authorize = app.start_ga4(json!({"config": {"property_id": "1"}})).await;
    let callback = app.consent(&authorize, "approve").await;
    assert_eq!(app.callback(&callback).await.status(), 200);
    assert_problem(app.callback(&callback).await, 404, "oauth_state_invalid").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 1);

    // Expired: move the state's expiry into the past before the callback.
    let authorize = app
        .start_ga4(json!({"config": {"property_id": "2"}, "return_to": RETURN_TO}))
        .await;
    let callback = app.consent(&authorize, "approve").await;
    app.db
        .execute("UPDATE oauth_states SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 minute' WHERE consumed_at IS NULL")
        .await;
    let response = app.callback(&callback).await;
    assert_eq!(response.status(), 302);
    let outcome =
        query(&url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap());
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["error"], "oauth_state_invalid");
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 1);

    // An unknown state names no pending flow; a callback without one is malformed.
    let forged = format!("{}/oauth/callback?code=abc&state=forged", app.url);
    assert_problem(
        app.client.get(forged).send().await.unwrap(),
        404,
        "oauth_state_invalid",
    )
    .await;
    let missing = format!("{}/oauth/callback?code=abc", app.url);
    assert_problem(
        app.client.get(missing).send().await.unwrap(),
        400,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn a_state_used_at_another_providers_callback_is_refused() {
    let app = TestApp::spawn().await;
    let authorize = app.start_ga4(json!({"config": {"property_id": "1"}})).await;
    let callback = app.consent(&authorize, "approve").await;
    let mut other = callback.clone();
    other.set_path("/oauth/callback/stripe");
    assert_problem(app.callback(&other).await, 404, "oauth_state_invalid").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);
    // The state was consumed by the refused attempt: it cannot be used afterwards.
    assert_problem(app.callback(&callback).await, 404, "oauth_state_invalid").await;
}

#[tokio::test]
async fn provider_errors_at_the_token_endpoint_store_nothing() {
    let app = TestApp::spawn().await;
    app.sandbox_control(
        "/_sandbox/oauth/failures",
        json!({"provider": "google-analytics", "grant_type": "authorization_code", "error": "server_error", "count": 1}),
    )
    .await;
    let authorize = app
        .start_ga4(json!({"config": {"property_id": "1"}, "return_to": RETURN_TO}))
        .await;
    let callback = app.consent(&authorize, "approve").await;
    let response = app.callback(&callback).await;
    let outcome =
        query(&url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap());
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["error"], "provider_unavailable");
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);

    // A property the account cannot read fails the health check: refused, nothing kept.
    let authorize = app
        .start_ga4(json!({"config": {"property_id": "403"}, "return_to": RETURN_TO}))
        .await;
    let callback = app.consent(&authorize, "approve").await;
    let response = app.callback(&callback).await;
    let outcome =
        query(&url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap());
    assert_eq!(outcome["status"], "error");
    assert_eq!(outcome["error"], "invalid_credentials");
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM credentials").await, 0);
}

#[tokio::test]
async fn connect_validates_config_and_return_to() {
    let app = TestApp::spawn().await;
    let bad_property = app
        .post("/v1/connect/google-analytics")
        .json(&json!({"config": {"property_id": "abc"}}))
        .send()
        .await
        .unwrap();
    let body = assert_problem(bad_property, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "property_id");
    let evil = app
        .post("/v1/connect/google-analytics")
        .json(
            &json!({"config": {"property_id": "1"}, "return_to": "https://evil.example.net/steal"}),
        )
        .send()
        .await
        .unwrap();
    let body = assert_problem(evil, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "return_to");
    let unknown = app
        .post("/v1/connect/nope")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404, "unknown_provider").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM oauth_states").await, 0);
}

#[tokio::test]
async fn test_refreshes_a_rejected_token_and_records_health() {
    let app = TestApp::spawn().await;
    let id = app.connect_ga4("777").await;
    let healthy: Value = app
        .post(&format!("/v1/integrations/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(healthy["healthy"], true, "{healthy}");

    // The provider expires the token early: the test refreshes once and passes.
    app.sandbox_control(
        "/_sandbox/tokens/expire",
        json!({"provider": "google-analytics"}),
    )
    .await;
    let refreshed: Value = app
        .post(&format!("/v1/integrations/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refreshed["healthy"], true, "{refreshed}");
    let logs: Value = app
        .get(&format!("/v1/integrations/{id}/logs?operation=refresh"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logs["data"].as_array().unwrap().len(), 1, "{logs}");

    // A provider outage is a failed check, stored and logged.
    app.sandbox_control(
        "/_sandbox/faults",
        json!({"provider": "google-analytics", "fault": {"kind": "server_error"}, "count": 1}),
    )
    .await;
    let failed: Value = app
        .post(&format!("/v1/integrations/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(failed["healthy"], false);
    assert_eq!(failed["code"], "provider_unavailable");
    let integration: Value = app
        .get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(integration["health"]["status"], "unhealthy");

    // A revoked grant: refresh fails with invalid_grant -> needs_reauth.
    app.sandbox_control(
        "/_sandbox/tokens/expire",
        json!({"provider": "google-analytics"}),
    )
    .await;
    app.sandbox_control(
        "/_sandbox/oauth/failures",
        json!({"provider": "google-analytics", "grant_type": "refresh_token", "error": "invalid_grant", "count": 1}),
    )
    .await;
    let revoked: Value = app
        .post(&format!("/v1/integrations/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["healthy"], false);
    assert_eq!(revoked["code"], "integration_needs_reauth");
    let integration: Value = app
        .get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(integration["status"], "needs_reauth");
}

#[tokio::test]
async fn reconnect_replaces_the_tokens_of_the_same_integration() {
    let app = TestApp::spawn().await;
    let id = app.connect_ga4("55").await;
    let response = app
        .post(&format!("/v1/integrations/{id}/reconnect"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let authorize = url::Url::parse(body["authorize_url"].as_str().unwrap()).unwrap();
    let callback = app.consent(&authorize, "approve").await;
    let outcome: Value = app.callback(&callback).await.json().await.unwrap();
    assert_eq!(outcome["integration_id"], id.to_string());
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 1);
    let logs: Value = app
        .get(&format!("/v1/integrations/{id}/logs?operation=reconnect"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logs["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn delete_revokes_at_the_provider_and_wipes_credentials() {
    let app = TestApp::spawn().await;
    let id = app.connect_ga4("99").await;
    let access = {
        let mut tx = app.db.store().begin(app.workspace).await.unwrap();
        let secrets = repo::credentials::get_all(tx.conn(), app.db.vault(), id)
            .await
            .unwrap();
        secrets["access_token"].expose_secret().to_owned()
    };
    let report = |token: String| {
        let client = app.client.clone();
        let url = app
            .sandbox
            .url
            .join("google-analytics/v1beta/properties/99:runReport")
            .unwrap();
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"dateRanges": [{"startDate": "yesterday", "endDate": "today"}], "metrics": [{"name": "sessions"}]}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        report(access.clone()).await,
        200,
        "the token works before the disconnect"
    );
    assert_eq!(
        app.delete(&format!("/v1/integrations/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        report(access).await,
        401,
        "the grant is revoked at the provider"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM credentials").await, 0);
    assert_problem(
        app.get(&format!("/v1/integrations/{id}"))
            .send()
            .await
            .unwrap(),
        404,
        "integration_not_found",
    )
    .await;
    assert_problem(
        app.delete(&format!("/v1/integrations/{id}"))
            .send()
            .await
            .unwrap(),
        404,
        "integration_not_found",
    )
    .await;
}

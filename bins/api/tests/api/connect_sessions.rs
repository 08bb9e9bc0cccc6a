//! Connect sessions over HTTP: the allow-list of return URLs on the workspace, a
//! session's creation, reading and revocation, a token that authenticates nothing,
//! an OAuth flow started through a session whose callback reports to the session's
//! return URL (through the Connect page's outcome page), the integration list's end-user and tag filters, and a config
//! field's choices (`/options/{field}`).

use junction_app::{App, Config, Role};
use junction_registry::Registry;
use junction_testkit::create_workspace;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use url::Url;

use crate::support::{TestApp, assert_problem, query};

const ORIGIN: &str = "https://app.example.com";

async fn allow_origin(app: &TestApp) {
    let response = app
        .patch("/v1/workspace")
        .json(&json!({"connect_return_urls": [ORIGIN]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["connect_return_urls"], json!([format!("{ORIGIN}/")]));
    // The calendar is left as it was.
    assert_eq!(body["time_zone"], "UTC");
}

async fn create_session(app: &TestApp, body: Value) -> Value {
    let response = app
        .post("/v1/connect-sessions")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/connect-sessions/{}", body["id"].as_str().unwrap())
    );
    body
}

/// The return URL with the outcome, from the Connect page's outcome page a
/// session's callback ends on (200, HTML, forwarding there).
async fn outcome_of(response: reqwest::Response) -> Url {
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let re = regex::Regex::new(r#"id="continue" href="([^"]*)""#).unwrap();
    Url::parse(
        &re.captures(&html).unwrap()[1]
            .replace("&amp;", "&")
            .replace("&#38;", "&"),
    )
    .unwrap()
}

#[tokio::test]
async fn sessions_are_created_read_and_revoked_and_their_token_is_no_api_key() {
    let app = TestApp::spawn().await;
    let request = json!({
        "allowed_providers": ["stripe", "meta-ads"],
        "end_user": {"id": "user-7", "email": "ops@example.com"},
        "tags": {"plan": "pro"},
        "return_url": format!("{ORIGIN}/connected"),
        "expires_in": 600
    });
    let refused = app
        .post("/v1/connect-sessions")
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_problem(refused, 403, "return_url_not_allowed").await;
    allow_origin(&app).await;
    let bad = app
        .post("/v1/connect-sessions")
        .json(&json!({"end_user": {"id": "u"}, "return_url": "ftp://x", "expires_in": 3600}))
        .send()
        .await
        .unwrap();
    assert_problem(bad, 422, "validation_failed").await;

    let created = create_session(&app, request).await;
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("jcs_"));
    assert_eq!(
        created["connect_url"],
        format!("{}/connect?session={token}", app.url)
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["session"]["status"], "active");
    assert_eq!(created["session"]["end_user"]["id"], "user-7");
    assert_eq!(
        created["session"]["allowed_providers"],
        json!(["stripe", "meta-ads"])
    );

    // The token reads nothing: not the integrations, not its own session.
    for path in [
        "/v1/integrations",
        &format!("/v1/connect-sessions/{id}"),
        "/v1/providers",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_problem(response, 401, "unauthenticated").await;
    }
    let response = app
        .client
        .post(format!("{}/v1/connect-sessions", app.url))
        .bearer_auth(&token)
        .json(&json!({"end_user": {"id": "x"}, "return_url": ORIGIN}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "unauthenticated").await;

    let read: Value = app
        .get(&format!("/v1/connect-sessions/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["tags"], json!({"plan": "pro"}));
    assert!(!read.to_string().contains(&token), "{read}");

    // Another workspace's key does not find it.
    let (_, other_key) = create_workspace(app.db.store(), "Other").await;
    for (method, path) in [
        (reqwest::Method::GET, format!("/v1/connect-sessions/{id}")),
        (
            reqwest::Method::POST,
            format!("/v1/connect-sessions/{id}/revoke"),
        ),
    ] {
        let response = app
            .client
            .request(method, format!("{}{path}", app.url))
            .bearer_auth(other_key.expose_secret())
            .send()
            .await
            .unwrap();
        assert_problem(response, 404, "connect_session_not_found").await;
    }

    // An answer holding a token is never stored for replay: the same
    // Idempotency-Key makes another session.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let response = app
            .post("/v1/connect-sessions")
            .header("Idempotency-Key", "same-key")
            .json(&json!({"end_user": {"id": "user-8"}, "return_url": ORIGIN}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert!(response.headers().get("idempotent-replayed").is_none());
        let body: Value = response.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(
        app.db
            .count("SELECT count(*) AS n FROM idempotency_keys")
            .await,
        0
    );

    let revoked = app
        .post(&format!("/v1/connect-sessions/{id}/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].is_string());
}

#[tokio::test]
async fn an_oauth_flow_through_a_session_reports_to_its_return_url_and_tags_the_integration() {
    let app = TestApp::spawn().await;
    allow_origin(&app).await;
    let created = create_session(
        &app,
        json!({
            "allowed_providers": ["meta-ads"],
            "end_user": {"id": "user-9", "display_name": "Grace"},
            "tags": {"plan": "pro", "region": "eu"},
            "return_url": format!("{ORIGIN}/connected?x=1")
        }),
    )
    .await;
    let session_id = created["id"].as_str().unwrap().to_owned();
    let token = SecretString::from(created["token"].as_str().unwrap().to_owned());

    // The Connect page's use case, on the same installation.
    let config = Config::from_figment(app.figment.clone()).unwrap();
    let use_cases = App::connect(config, Registry::builtin(), Role::Api)
        .await
        .unwrap();
    let catalog = app.catalog().await;
    let meta = catalog.provider("meta-ads").unwrap();
    let flow = use_cases
        .connect_session_start_oauth(&token, "meta-ads", meta.connect.config.clone())
        .await
        .unwrap();
    let authorize = Url::parse(&flow.authorize_url).unwrap();
    let callback = app.consent(&authorize, "approve").await;
    let response = app.callback(&callback).await;
    let back = outcome_of(response).await;
    assert!(
        back.as_str()
            .starts_with(&format!("{ORIGIN}/connected?x=1&")),
        "{back}"
    );
    let outcome = query(&back);
    assert_eq!(outcome["connect_session"], session_id);
    assert_eq!(outcome["outcome"], "connected");
    let id = outcome["integration_id"].clone();

    let integration: Value = app
        .get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(integration["end_user_id"], "user-9");
    assert_eq!(integration["end_user"]["display_name"], "Grace");
    assert_eq!(integration["tags"], json!({"plan": "pro", "region": "eu"}));
    assert_eq!(integration["connect_session_id"], session_id);

    // The filters: another integration of the workspace is left out.
    let stripe = catalog.provider("stripe").unwrap();
    app.connect_from_catalog(stripe).await;
    let ids = |body: Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for (filter, expected) in [
        ("", 2),
        ("?end_user_id=user-9", 1),
        ("?end_user_id=user-1", 0),
        ("?tag=region", 1),
        ("?tag=region:eu", 1),
        ("?tag=region:us", 0),
        ("?tag=plan:pro&provider=stripe", 0),
    ] {
        let body: Value = app
            .get(&format!("/v1/integrations{filter}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found = ids(body);
        assert_eq!(found.len(), expected, "{filter}: {found:?}");
        if expected == 1 {
            assert_eq!(found, vec![id.clone()]);
        }
    }

    // The ad account's choices, from the fake's `/me/adaccounts`.
    let response = app
        .get(&format!("/v1/integrations/{id}/options/ad_account_id"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let options: Value = response.json().await.unwrap();
    assert_eq!(options["field"], "ad_account_id");
    let values: Vec<&str> = options["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        vec!["act_1234567890", "act_2345678901", "act_3456789012"]
    );
    assert_eq!(options["options"][0]["description"], "USD · ACTIVE");
    assert_eq!(options["options"][2]["description"], "GBP · DISABLED");
    let response = app
        .get(&format!("/v1/integrations/{id}/options/lookback_days"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "field_has_no_options").await;
    let response = app
        .get(&format!("/v1/integrations/{id}/options/nothing"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "unknown_config_field").await;

    // The session connected Meta once: a second flow is refused up front.
    let error = use_cases
        .connect_session_start_oauth(&token, "meta-ads", Map::new())
        .await
        .unwrap_err();
    assert_eq!(error.code.name(), "connect_session_used");
    let read: Value = app
        .get(&format!("/v1/connect-sessions/{session_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        read["connections"],
        json!([{"provider": "meta-ads", "integration_id": id}])
    );
}

#[tokio::test]
async fn a_denied_consent_goes_back_to_the_session_return_url() {
    let app = TestApp::spawn().await;
    allow_origin(&app).await;
    let created = create_session(
        &app,
        json!({"end_user": {"id": "user-1"}, "return_url": format!("{ORIGIN}/back")}),
    )
    .await;
    let token = SecretString::from(created["token"].as_str().unwrap().to_owned());
    let config = Config::from_figment(app.figment.clone()).unwrap();
    let use_cases = App::connect(config, Registry::builtin(), Role::Api)
        .await
        .unwrap();
    let mut config = Map::new();
    config.insert("property_id".into(), json!("123456789"));
    let flow = use_cases
        .connect_session_start_oauth(&token, "google-analytics", config)
        .await
        .unwrap();
    let callback = app
        .consent(&Url::parse(&flow.authorize_url).unwrap(), "deny")
        .await;
    let response = app.callback(&callback).await;
    let back = outcome_of(response).await;
    let outcome = query(&back);
    assert_eq!(outcome["outcome"], "denied");
    assert_eq!(outcome["error"], "oauth_denied");
    assert_eq!(outcome["connect_session"], created["id"].as_str().unwrap());
    assert!(!outcome.contains_key("integration_id"));
}

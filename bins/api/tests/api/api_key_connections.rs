//! API-key connections: credentials are checked with the provider before anything is
//! stored. Uses a small API-key provider of the test's own, served by wiremock.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use junction_core::{
    Adapter, AdapterError, Connection, Context, Health, Page, ReadRequest,
    http::{ResponsePolicy, json, send},
    spec::{AuthSpec, Category, ConfigField, ProviderSpec, RateBudget},
};
use junction_registry::Registry;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::support::{TestApp, assert_problem};

struct KeyProvider;

static SPEC: LazyLock<ProviderSpec> = LazyLock::new(|| ProviderSpec {
    id: "keyed",
    name: "Keyed",
    category: Category::Email,
    auth: AuthSpec::ApiKey {
        fields: vec![ConfigField::secret("api_key", "API key", "").with_pattern("tk_[a-z0-9]+")],
    },
    config: vec![ConfigField::string("account", "Account", "")],
    streams: vec![junction_core::spec::StreamSpec {
        name: "things",
        description: "things",
        primary_key: vec!["id"],
        cursor_field: None,
        webhook_only: false,
        default_schedule: std::time::Duration::from_secs(1800),
        metrics: vec![],
    }],
    actions: vec![],
    webhook: None,
    rate_limit: RateBudget {
        requests: 10,
        per: std::time::Duration::from_secs(1),
        concurrency: None,
    },
    docs_url: "https://example.com/docs",
});

#[async_trait]
impl Adapter for KeyProvider {
    fn spec(&self) -> &ProviderSpec {
        &SPEC
    }

    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let url = ctx.url("https://keyed.invalid", "/v1/me")?;
        let request = ctx
            .http
            .get(url)
            .bearer_auth(conn.secret("api_key")?.expose_secret());
        let me: Value = json(send(ctx, &SPEC, request, &ResponsePolicy::default()).await?).await?;
        Ok(Health {
            account: me["name"].as_str().map(str::to_owned),
            details: me,
        })
    }

    async fn read(
        &self,
        _ctx: &Context,
        _conn: &Connection,
        _request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        Ok(Page::default())
    }

    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<junction_core::ProxyTarget, AdapterError> {
        Ok(junction_core::ProxyTarget::bearer(
            ctx.url("https://keyed.invalid", "")?,
            conn.secret("api_key")?,
        ))
    }
}

pub async fn spawn() -> (TestApp, MockServer) {
    let provider = MockServer::start().await;
    let base = provider.uri();
    let app = TestApp::spawn_with(
        Registry::from_adapters([Arc::new(KeyProvider) as Arc<dyn Adapter>]),
        move |figment| figment.merge(("providers.keyed.api_base_url", base)),
    )
    .await;
    (app, provider)
}

#[tokio::test]
async fn a_key_the_provider_accepts_is_sealed_and_never_returned() {
    let (app, provider) = spawn().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .and(header("authorization", "Bearer tk_good1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Acme mail"})))
        .expect(1)
        .mount(&provider)
        .await;
    let response = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {"account": "acme"}, "credentials": {"api_key": "tk_good1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/integrations/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(body["config"], json!({"account": "acme"}));
    assert_eq!(body["credential_fields"], json!(["api_key"]));
    assert_eq!(body["health"]["message"], "Acme mail");
    assert_eq!(body["schedule_seconds"], 1800);
    assert!(!body.to_string().contains("tk_good1"));
    assert_eq!(app.count("SELECT count(*) AS n FROM credentials").await, 1);
}

#[tokio::test]
async fn a_refused_key_answers_422_and_stores_nothing() {
    let (app, provider) = spawn().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid API key"})),
        )
        .mount(&provider)
        .await;
    let response = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {"account": "acme"}, "credentials": {"api_key": "tk_wrong"}}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "invalid_credentials").await;
    assert!(!problem.to_string().contains("tk_wrong"));
    // Said by the refused field, for a form to show it there.
    assert_eq!(problem["errors"][0]["field"], "api_key");
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM credentials").await, 0);
}

#[tokio::test]
async fn a_provider_outage_answers_502_and_stores_nothing() {
    let (app, provider) = spawn().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&provider)
        .await;
    let response = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {"account": "acme"}, "credentials": {"api_key": "tk_good"}}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 502, "provider_unavailable").await;
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);
}

#[tokio::test]
async fn invalid_fields_are_refused_before_calling_the_provider() {
    let (app, provider) = spawn().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&provider)
        .await;
    let response = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {}, "credentials": {"api_key": "sk_live_SECRET", "extra": 1}}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["api_key", "account", "extra"]);
    assert!(
        !problem.to_string().contains("SECRET"),
        "values are never echoed"
    );
    let unknown = app
        .post("/v1/integrations")
        .json(&json!({"provider": "nope"}))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404, "unknown_provider").await;
}

#[tokio::test]
async fn a_display_name_the_database_would_refuse_is_refused_first() {
    let (app, provider) = spawn().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&provider)
        .await;
    for name in ["", " \u{2003}", &"x".repeat(201)] {
        let response = app
            .post("/v1/integrations")
            .json(&json!({
                "provider": "keyed",
                "display_name": name,
                "config": {"account": "acme"},
                "credentials": {"api_key": "tk_good1"}
            }))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "display_name", "{problem}");
    }
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);
    // An OAuth flow keeps the name until it ends: refused before it starts.
    let app = TestApp::spawn().await;
    let response = app
        .post("/v1/connect/google-analytics")
        .json(&json!({"display_name": " ", "config": {"property_id": "1"}}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "display_name", "{problem}");
    assert_eq!(app.count("SELECT count(*) AS n FROM oauth_states").await, 0);
}

#[tokio::test]
async fn reconnect_checks_new_credentials_before_replacing_the_old_ones() {
    let (app, provider) = spawn().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .and(header("authorization", "Bearer tk_new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "new"})))
        .mount(&provider)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .and(header("authorization", "Bearer tk_old"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "old"})))
        .mount(&provider)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&provider)
        .await;
    let created: Value = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {"account": "a"}, "credentials": {"api_key": "tk_old"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let refused = app
        .post(&format!("/v1/integrations/{id}/reconnect"))
        .json(&json!({"credentials": {"api_key": "tk_bad"}}))
        .send()
        .await
        .unwrap();
    assert_problem(refused, 422, "invalid_credentials").await;
    let tested: Value = app
        .post(&format!("/v1/integrations/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tested["account"], "old", "the old key is still in place");
    let replaced = app
        .post(&format!("/v1/integrations/{id}/reconnect"))
        .json(&json!({"credentials": {"api_key": "tk_new"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    let tested: Value = app
        .post(&format!("/v1/integrations/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tested["account"], "new");
}

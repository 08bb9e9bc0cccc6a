//! Spawning the API with its dependencies, and helpers the tests share.

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use figment::Figment;
use junction_api::AppState;
use junction_app::{App, Config, Role};
use junction_core::WorkspaceId;
use junction_registry::Registry;
use junction_sandbox::{Catalog, CatalogProvider, RunningSandbox, SandboxConfig};
use junction_testkit::{TestDb, TestRedis, create_workspace};
use reqwest::{Client, RequestBuilder, Response, redirect};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

/// The process-wide metrics recorder (there can be only one per process).
fn metrics_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .unwrap()
        })
        .clone()
}

pub const RETURN_TO: &str = "https://app.example.com/integrations/done";

pub struct TestApp {
    pub db: TestDb,
    pub redis: TestRedis,
    pub sandbox: RunningSandbox,
    pub url: String,
    pub client: Client,
    pub workspace: WorkspaceId,
    pub api_key: String,
    /// The settings the API runs with (a worker for the same app starts from them).
    pub figment: Figment,
    server: ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let server = self.server.clone();
        let sandbox = self.sandbox.handle.clone();
        // Stopping is async; fire and forget, the runtime ends with the test.
        drop(tokio::spawn(async move {
            server.stop(false).await;
            sandbox.stop(false).await;
        }));
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Registry::builtin(), |figment| figment).await
    }

    /// Spawns with another registry and extra settings merged onto the defaults.
    pub async fn spawn_with(registry: Registry, settings: impl FnOnce(Figment) -> Figment) -> Self {
        let db = TestDb::new().await;
        let redis = TestRedis::new().await;
        let sandbox =
            junction_sandbox::spawn(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let figment = Config::defaults()
            .merge(("database_url", db.url().expose()))
            .merge(("keys", db.key_spec().expose_secret()))
            .merge(("bind", format!("127.0.0.1:{port}")))
            .merge(("public_url", url.clone()))
            .merge(("sandbox_url", sandbox.url.to_string()))
            .merge(("return_to_origins", vec!["https://app.example.com"]))
            .merge(("max_body_bytes", 64 * 1024))
            .merge(("redis_url", redis.url().to_owned()))
            .merge((
                "queue_prefix",
                redis.prefix().trim_end_matches(':').to_owned(),
            ));
        let figment = settings(figment);
        let config = Config::from_figment(figment.clone()).unwrap();
        let app = App::connect(config, registry, Role::Api).await.unwrap();
        let state = AppState::new(app, Some(metrics_handle()));
        let server = junction_api::spawn(state, listener).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        let (workspace, api_key) = create_workspace(db.store(), "Acme").await;
        Self {
            db,
            redis,
            sandbox,
            url,
            client: Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .unwrap(),
            workspace,
            api_key: api_key.expose_secret().to_owned(),
            figment,
            server: handle,
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.api_key)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.api_key)
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.client
            .patch(format!("{}{path}", self.url))
            .bearer_auth(&self.api_key)
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.client
            .put(format!("{}{path}", self.url))
            .bearer_auth(&self.api_key)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.client
            .delete(format!("{}{path}", self.url))
            .bearer_auth(&self.api_key)
    }

    /// Posts to the sandbox's control endpoints.
    pub async fn sandbox_control(&self, path: &str, body: Value) {
        let response = self
            .client
            .post(self.sandbox.url.join(path).unwrap())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "sandbox {path}: {}",
            response.status()
        );
    }

    /// Starts a GA4 connection and returns the authorize URL.
    pub async fn start_ga4(&self, body: Value) -> Url {
        let response = self
            .post("/v1/connect/google-analytics")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        Url::parse(body["authorize_url"].as_str().unwrap()).unwrap()
    }

    /// Answers the sandbox's consent page (`approve` or `deny`) and returns the
    /// redirect to Junction's callback.
    pub async fn consent(&self, authorize_url: &Url, decision: &str) -> Url {
        let mut url = authorize_url.clone();
        url.query_pairs_mut().append_pair("decision", decision);
        let response = self.client.get(url).send().await.unwrap();
        assert_eq!(
            response.status(),
            302,
            "{}",
            response.text().await.unwrap_or_default()
        );
        Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
    }

    /// Follows a callback URL (to Junction) and returns the response.
    pub async fn callback(&self, callback: &Url) -> Response {
        assert!(
            callback.as_str().starts_with(&self.url),
            "callback must come back to the API: {callback}"
        );
        self.client.get(callback.clone()).send().await.unwrap()
    }

    /// Connects GA4 through the whole OAuth flow (no return_to) and returns the id.
    pub async fn connect_ga4(&self, property_id: &str) -> Uuid {
        let authorize = self
            .start_ga4(json!({"config": {"property_id": property_id}}))
            .await;
        let callback = self.consent(&authorize, "approve").await;
        let response = self.callback(&callback).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "connected");
        body["integration_id"].as_str().unwrap().parse().unwrap()
    }

    /// The sandbox's catalog, read over HTTP as any client would.
    pub async fn catalog(&self) -> Catalog {
        let url = self.sandbox.url.join("_sandbox/catalog").unwrap();
        let response = self.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Connects a catalog entry with its values alone: API-key entries through
    /// `POST /v1/integrations`, OAuth 2.0 entries through the whole flow (consent
    /// approved). Returns the integration id.
    pub async fn connect_from_catalog(&self, entry: &CatalogProvider) -> Uuid {
        let provider = &entry.provider;
        let display_name = format!("Catalog {provider}");
        if entry.oauth.is_some() {
            let response = self
                .post(&format!("/v1/connect/{provider}"))
                .json(&json!({"display_name": display_name, "config": entry.connect.config}))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                201,
                "{provider}: {}",
                response.text().await.unwrap()
            );
            let body: Value = response.json().await.unwrap();
            let authorize = Url::parse(body["authorize_url"].as_str().unwrap()).unwrap();
            let callback = self.consent(&authorize, "approve").await;
            let response = self.callback(&callback).await;
            assert_eq!(
                response.status(),
                200,
                "{provider}: {}",
                response.text().await.unwrap()
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["status"], "connected", "{provider}: {body}");
            body["integration_id"].as_str().unwrap().parse().unwrap()
        } else {
            let response = self
                .post("/v1/integrations")
                .json(&json!({
                    "provider": provider,
                    "display_name": display_name,
                    "config": entry.connect.config,
                    "credentials": entry.connect.credentials,
                }))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                201,
                "{provider}: {}",
                response.text().await.unwrap()
            );
            let body: Value = response.json().await.unwrap();
            body["id"].as_str().unwrap().parse().unwrap()
        }
    }

    /// The API's `/metrics` text.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Rows of a table as the schema owner sees them (bypassing RLS).
    pub async fn count(&self, sql: &str) -> i64 {
        self.db.count(sql).await
    }

    /// A new operator key (installation-wide figures), as `junction operator-key
    /// create` makes one.
    pub async fn operator_key(&self) -> String {
        let operator = junction_app::workspaces::Operator::connect(
            self.db.url().clone(),
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
        let (_, key) = operator.create_operator_key("tests").await.unwrap();
        key.expose_secret().to_owned()
    }

    /// Dead-lettered sync jobs of `integration`, one per error code, as the worker
    /// leaves them: each with a three-attempt log and its run ended `dead` (a run
    /// still queued would take the next sync).
    pub async fn dead_sync_letters(&self, integration: Uuid, codes: &[&str]) -> Vec<Uuid> {
        use junction_store::{models::Queue, repo};
        let mut tx = self.db.store().begin(self.workspace).await.unwrap();
        let (mut letters, mut runs) = (Vec::new(), Vec::new());
        for (n, code) in codes.iter().enumerate() {
            let trigger = junction_store::models::SyncTrigger::Schedule;
            let run =
                repo::sync_runs::create(tx.conn(), self.workspace, integration, None, trigger)
                    .await
                    .unwrap();
            let job = junction_jobs::Job::Sync(junction_jobs::SyncJob {
                workspace_id: self.workspace,
                integration_id: integration,
                run_id: run.id,
                stream: None,
            });
            let letter = repo::dead_letters::insert(
                tx.conn(),
                repo::dead_letters::NewDeadLetter {
                    workspace_id: self.workspace,
                    integration_id: Some(integration),
                    queue: Queue::Sync,
                    job_id: &format!("sync-dead-{n}"),
                    job: serde_json::to_value(&job).unwrap(),
                    error_code: code,
                    error_message: "failed",
                    attempts: 3,
                    attempt_log: json!([{"attempt": 1}, {"attempt": 2}, {"attempt": 3}]),
                    first_failed_at: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
            letters.push(letter.id);
            runs.push(format!("'{}'", run.id));
        }
        tx.commit().await.unwrap();
        let runs = runs.join(", ");
        self.db
            .execute(&format!(
                "UPDATE sync_runs SET status = 'dead', finished_at = now() WHERE id IN ({runs})"
            ))
            .await;
        letters
    }

    /// Jobs committed to the outbox and not relayed to their queues yet.
    pub async fn staged_jobs(&self) -> i64 {
        self.count("SELECT count(*) AS n FROM outbox").await
    }

    /// One pass of the outbox relay, as a worker would run it: returns how many jobs
    /// went onto their queues.
    pub async fn relay(&self) -> usize {
        let queues = junction_jobs::Queues::connect(self.redis.url(), self.redis.prefix())
            .await
            .unwrap();
        junction_jobs::Relay::new(
            self.db.system_store().clone(),
            queues,
            junction_jobs::RelayOptions::default(),
        )
        .relay_once()
        .await
        .unwrap()
        .relayed
    }
}

/// Asserts a problem+json answer with a code; returns the body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    body
}

/// The first answer to `GET /v1/integrations` with `key` that is not a 200,
/// asking until `within` has passed (a key dropped from the API's cache is refused
/// at the next request, and the announcement of its revocation lands a moment
/// after the revoking transaction's commit returns).
pub async fn first_refusal(app: &TestApp, key: &str, within: std::time::Duration) -> Response {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let response = app
            .client
            .get(format!("{}/v1/integrations", app.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        if response.status() != 200 || tokio::time::Instant::now() > deadline {
            return response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The query parameters of a redirect.
pub fn query(url: &Url) -> std::collections::HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

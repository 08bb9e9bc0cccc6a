//! What the worker tests share (here, and the `junction-worker` binary's process
//! tests, which include this file): a fresh database, a Redis prefix and the real
//! sandbox per test; GA4 tokens through the sandbox's OAuth server; GA4
//! integrations written straight into the database; in-process workers; bounded
//! waits.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use figment::Figment;
use junction_app::{App, Config, Connections, Role, worker::Worker};
use junction_core::{AuthSpec, WorkspaceId};
use junction_oauth::TokenSet;
use junction_registry::Registry;
use junction_sandbox::{RunningSandbox, SandboxConfig};
use junction_store::{
    models::{AuthKind, Integration, IntegrationLog, IntegrationStatus, NewIntegration, SyncRun},
    repo,
};
use junction_testkit::{TestDb, TestRedis, create_workspace};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use uuid::Uuid;

pub const GA4: &str = "google-analytics";
pub const PROPERTY: &str = "123456789";

/// Polls `check` every 50 ms until it returns `Some`, failing the test after
/// `timeout` with `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One test's world: database, Redis prefix, sandbox.
pub struct TestEnv {
    pub db: TestDb,
    pub redis: TestRedis,
    pub sandbox: RunningSandbox,
    pub http: reqwest::Client,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let sandbox = self.sandbox.handle.clone();
        drop(tokio::spawn(async move { sandbox.stop(false).await }));
    }
}

impl TestEnv {
    pub async fn new() -> Self {
        let db = TestDb::new().await;
        let redis = TestRedis::new().await;
        let sandbox =
            junction_sandbox::spawn(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            db,
            redis,
            sandbox,
            http,
        }
    }

    /// The worker settings every test starts from (short intervals and retries), as
    /// `(setting, value)` in `JUNCTION_*` variable form without the prefix.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("QUEUE_PREFIX", self.redis.prefix().to_owned()),
            ("SANDBOX_URL", self.sandbox.base_url()),
            ("DATABASE_MAX_CONNECTIONS", "8".into()),
            ("WORKER__SCHEDULER_INTERVAL_SECONDS", "1".into()),
            ("WORKER__SYNC_CONCURRENCY", "4".into()),
            ("WORKER__RETRY_BASE_MS", "100".into()),
            ("WORKER__RETRY_CAP_SECONDS", "1".into()),
            ("WORKER__MAX_ATTEMPTS", "3".into()),
            ("WORKER__SHUTDOWN_GRACE_SECONDS", "30".into()),
            ("WORKER__METRICS_BIND", String::new()),
            // A killed worker's jobs come back after 2 s instead of a minute.
            ("WORKER__HEARTBEAT_INTERVAL_SECONDS", "1".into()),
            ("WORKER__MISSED_HEARTBEATS", "2".into()),
            ("WORKER__POLL_INTERVAL_MS", "50".into()),
        ]
    }

    /// The configuration of an in-process worker: [`Self::settings`] with
    /// `overrides` (same form) on top.
    pub fn config(&self, overrides: &[(&str, &str)]) -> Config {
        let mut figment: Figment = Config::defaults()
            .merge(("database_url", self.db.url().expose()))
            .merge(("keys", self.db.key_spec().expose_secret()))
            .merge(("redis_url", self.redis.url()));
        let settings = self.settings();
        let all = settings
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(overrides.iter().copied());
        for (key, value) in all {
            let path = key.to_ascii_lowercase().replace("__", ".");
            figment = match (value.parse::<i64>(), value.parse::<bool>()) {
                (Ok(number), _) => figment.merge((path, number)),
                (_, Ok(flag)) => figment.merge((path, flag)),
                _ => figment.merge((path, value)),
            };
        }
        Config::from_figment(figment).unwrap()
    }

    /// GA4 tokens from the sandbox's OAuth server: the authorize URL (with PKCE)
    /// approved, then the code exchanged with the sandbox client.
    pub async fn ga4_tokens(&self) -> TokenSet {
        let config = Arc::new(self.config(&[]));
        let connections =
            Connections::new(config, self.db.store().clone(), Registry::builtin()).unwrap();
        let adapter = connections.adapter(GA4).unwrap();
        let AuthSpec::OAuth2(spec) = &adapter.spec().auth else {
            panic!("GA4 uses OAuth 2.0");
        };
        let client = connections.oauth_client(GA4, spec).unwrap();
        let authorize = connections.oauth.authorize(spec, &client).unwrap();
        assert!(authorize.url.as_str().contains("code_challenge="));
        let mut url = authorize.url.clone();
        url.query_pairs_mut().append_pair("decision", "approve");
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 302);
        let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        let code = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("a code in the redirect");
        connections
            .oauth
            .exchange_code(
                spec,
                &client,
                &code,
                authorize.pkce_verifier.as_ref(),
                Utc::now(),
            )
            .await
            .unwrap()
    }

    pub async fn workspace(&self, name: &str) -> WorkspaceId {
        create_workspace(self.db.store(), name).await.0
    }

    /// An active Stripe integration on the sandbox's key, not scheduled.
    pub async fn create_stripe(&self, workspace: WorkspaceId) -> Uuid {
        let integration =
            junction_testkit::create_integration(self.db.store(), workspace, "stripe").await;
        let mut tx = self.db.store().begin(workspace).await.unwrap();
        let secrets = BTreeMap::from([(
            "secret_key".to_owned(),
            SecretString::from("sk_test_sandbox".to_owned()),
        )]);
        repo::credentials::put(
            tx.conn(),
            self.db.vault(),
            workspace,
            integration.id,
            &secrets,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        integration.id
    }

    /// An active GA4 integration with these tokens, straight into the database. The
    /// engine's tests count what `daily_report` alone writes (its rows are known from
    /// the fake), so GA4's other streams (realtime, goals, e-commerce, the custom
    /// report) are disabled on it.
    pub async fn create_ga4(&self, workspace_id: WorkspaceId, ga4: Ga4, tokens: &TokenSet) -> Uuid {
        let mut tx = self.db.store().begin(workspace_id).await.unwrap();
        let integration = repo::integrations::insert(
            tx.conn(),
            &NewIntegration {
                id: Uuid::new_v4(),
                workspace_id: workspace_id.as_uuid(),
                provider: GA4.to_owned(),
                display_name: "GA4 test".to_owned(),
                status: IntegrationStatus::Active,
                auth_kind: AuthKind::OAuth2,
                config: ga4.config,
                scopes: vec!["https://www.googleapis.com/auth/analytics.readonly".to_owned()],
                token_expires_at: ga4.token_expires_at,
                schedule_seconds: ga4.schedule_seconds,
                next_sync_at: ga4.next_sync_at,
            },
        )
        .await
        .unwrap();
        repo::credentials::put(
            tx.conn(),
            self.db.vault(),
            workspace_id,
            integration.id,
            &tokens.credential_fields(),
        )
        .await
        .unwrap();
        let spec = Registry::builtin().get(GA4).unwrap().spec().clone();
        let others = spec.streams.iter().filter(|s| s.name != "daily_report");
        for stream in others {
            let disabled = repo::stream_states::StreamPatch {
                enabled: Some(false),
                ..Default::default()
            };
            repo::stream_states::update(
                tx.conn(),
                workspace_id,
                integration.id,
                stream.name,
                &disabled,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        integration.id
    }

    pub async fn integration(&self, workspace_id: WorkspaceId, id: Uuid) -> Integration {
        let mut tx = self.db.store().begin(workspace_id).await.unwrap();
        let integration = repo::integrations::get(tx.conn(), id).await.unwrap();
        tx.commit().await.unwrap();
        integration
    }

    /// Every run of an integration, newest first.
    pub async fn runs(&self, workspace_id: WorkspaceId, id: Uuid) -> Vec<SyncRun> {
        let mut tx = self.db.store().begin(workspace_id).await.unwrap();
        let runs = repo::sync_runs::list_for_integration(tx.conn(), id, None, 100)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        runs
    }

    /// Every log entry of an integration, oldest first.
    pub async fn logs(&self, workspace_id: WorkspaceId, id: Uuid) -> Vec<IntegrationLog> {
        let mut tx = self.db.store().begin(workspace_id).await.unwrap();
        let mut logs = repo::logs::list(tx.conn(), id, None, None, 500)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        logs.reverse();
        logs
    }

    /// The stored secret fields of an integration, opened.
    pub async fn secrets(&self, workspace_id: WorkspaceId, id: Uuid) -> BTreeMap<String, String> {
        let mut tx = self.db.store().begin(workspace_id).await.unwrap();
        let secrets = repo::credentials::get_all(tx.conn(), self.db.vault(), id)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        secrets
            .into_iter()
            .map(|(k, v)| (k, v.expose_secret().to_owned()))
            .collect()
    }

    /// Waits for the integration's only run to end (any final status).
    pub async fn wait_run_ended(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        timeout: Duration,
    ) -> SyncRun {
        wait_for("the sync run to end", timeout, || async {
            let runs = self.runs(workspace_id, id).await;
            runs.into_iter().find(|run| run.finished_at.is_some())
        })
        .await
    }

    /// A number from SQL run as the schema owner (row-level security bypassed).
    pub async fn count(&self, sql: &str) -> i64 {
        self.db.count(sql).await
    }

    /// Runs SQL as the schema owner.
    pub async fn execute(&self, sql: &str) {
        self.db.execute(sql).await;
    }

    /// Posts to a sandbox control endpoint.
    pub async fn sandbox_control(&self, path: &str, body: Value) {
        let response = self
            .http
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

    /// How many rows the GA4 fake has for the report a first sync reads: the truth
    /// the synced records are compared with.
    pub async fn ga4_row_count(
        &self,
        tokens: &TokenSet,
        lookback_days: i64,
        dimensions: &[&str],
    ) -> i64 {
        let today = Utc::now().date_naive();
        let start = today - chrono::Duration::days(lookback_days);
        let mut all = vec![json!({"name": "date"})];
        all.extend(dimensions.iter().map(|d| json!({ "name": d })));
        let response = self
            .http
            .post(
                self.sandbox
                    .url
                    .join(&format!("{GA4}/v1beta/properties/{PROPERTY}:runReport"))
                    .unwrap(),
            )
            .bearer_auth(tokens.access_token.expose_secret())
            .json(&json!({
                "dateRanges": [{"startDate": start.to_string(), "endDate": today.to_string()}],
                "dimensions": all,
                "metrics": [{"name": "sessions"}],
                "limit": 1,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["rowCount"].as_i64().expect("rowCount")
    }

    /// The application with `config` (its use cases called directly).
    pub async fn app(&self, config: Config) -> App {
        App::connect(config, Registry::builtin(), Role::Worker)
            .await
            .unwrap()
    }

    /// Connects an in-process worker with `config` and runs it in the background.
    pub async fn start_worker(&self, config: Config) -> InProcessWorker {
        let app = self.app(config).await;
        self.start_worker_on(app)
    }

    /// Runs an in-process worker on `app` (a pinned clock, say) in the background.
    pub fn start_worker_on(&self, app: App) -> InProcessWorker {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(Worker::new(app.clone()).run(async move {
            let _ = stopped.await;
        }));
        InProcessWorker {
            stop: Some(stop),
            task: Some(task),
            app,
        }
    }
}

/// A GA4 integration to create.
pub struct Ga4 {
    pub config: Value,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub schedule_seconds: i32,
    pub next_sync_at: Option<DateTime<Utc>>,
}

impl Ga4 {
    /// Due now, a token valid for an hour, synced every 6 hours.
    pub fn due(lookback_days: u32, dimensions: &str) -> Self {
        Self {
            config: json!({
                "property_id": PROPERTY,
                "lookback_days": lookback_days,
                "dimensions": dimensions,
            }),
            token_expires_at: Some(Utc::now() + chrono::Duration::hours(1)),
            schedule_seconds: 6 * 3600,
            next_sync_at: Some(Utc::now() - chrono::Duration::seconds(1)),
        }
    }
}

/// A worker running in this test process.
pub struct InProcessWorker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Its application, for one-shot scheduler passes and direct calls.
    pub app: App,
}

impl InProcessWorker {
    /// Asks it to stop and waits (bounded) until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("the worker stops within 30 s")
                .unwrap()
                .unwrap();
        }
    }
}

impl Drop for InProcessWorker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

//! What the ingest and memory figures start from: a fresh migrated database, the
//! sandbox in this process, and GA4 integrations connected the way a user connects
//! them — the sandbox's OAuth authorization-code flow with PKCE, tokens sealed in the
//! vault — so the worker syncs them exactly as it would in production.

use std::{collections::BTreeMap, net::SocketAddr, time::Instant};

use anyhow::{Context, Result, anyhow, bail};
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use junction_core::{AuthSpec, OAuth2Spec, WorkspaceId};
use junction_oauth::{ClientConfig, EndpointOverrides, OAuthEngine};
use junction_sandbox::{RunningSandbox, SandboxConfig};
use junction_store::{
    models::{AuthKind, IntegrationStatus, NewIntegration},
    repo,
};
use junction_testkit::TestDb;
use secrecy::SecretString;
use serde_json::json;
use url::Url;
use uuid::Uuid;

const PROVIDER: &str = "google-analytics";

/// OAuth flows and inserts run at once while setting up (the sandbox serves on one
/// thread; more would only queue there).
const SETUP_CONCURRENCY: usize = 16;

/// The database and the sandbox, with one workspace of GA4 integrations.
pub struct Fixture {
    pub db: TestDb,
    pub sandbox: RunningSandbox,
}

impl Fixture {
    /// `count` GA4 integrations reading `lookback_days` days by `dimensions` (empty:
    /// one row a day). They are not due: [`Fixture::make_due`] starts their syncs, so
    /// the worker can be measured idle first.
    pub async fn new(count: usize, lookback_days: u32, dimensions: &str) -> Result<Self> {
        let started = Instant::now();
        let db = TestDb::new().await;
        let bind: SocketAddr = ([127, 0, 0, 1], 0).into();
        let sandbox = junction_sandbox::spawn(SandboxConfig::default(), bind)
            .await
            .context("starting the sandbox")?;
        let workspace_id = WorkspaceId::new();
        {
            let mut tx = db.store().begin(workspace_id).await?;
            repo::workspaces::create(tx.conn(), workspace_id, "Benchmark").await?;
            tx.commit().await?;
        }
        let connector = Connector::new(&sandbox)?;
        let _: Vec<Uuid> = futures::stream::iter(0..count)
            .map(|index| {
                let connector = &connector;
                let db = &db;
                async move {
                    connector
                        .connect(db, workspace_id, index, lookback_days, dimensions)
                        .await
                }
            })
            .buffer_unordered(SETUP_CONCURRENCY)
            .try_collect()
            .await?;
        eprintln!(
            "bench: {count} GA4 integrations connected through the sandbox's OAuth flow in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(Self { db, sandbox })
    }

    /// Makes every integration due now, so the worker's scheduler claims them all.
    pub async fn make_due(&self) -> Result<()> {
        self.db
            .execute("UPDATE integrations SET next_sync_at = now() - interval '1 second'")
            .await;
        Ok(())
    }

    /// The sandbox's base URL, as `JUNCTION_SANDBOX_URL` takes it.
    pub fn sandbox_url(&self) -> String {
        self.sandbox.base_url()
    }
}

/// Runs the sandbox's OAuth flow the way the API's connect and callback routes do.
struct Connector {
    engine: OAuthEngine,
    /// Follows nothing: the consent answer is a redirect whose `Location` is read.
    http: reqwest::Client,
    spec: OAuth2Spec,
    client: ClientConfig,
}

impl Connector {
    fn new(sandbox: &RunningSandbox) -> Result<Self> {
        let registry = junction_registry::Registry::builtin();
        let adapter = registry
            .get(PROVIDER)
            .ok_or_else(|| anyhow!("this build has no {PROVIDER} provider"))?;
        let AuthSpec::OAuth2(spec) = &adapter.spec().auth else {
            bail!("{PROVIDER} does not connect with OAuth 2.0");
        };
        let at = |path: &str| -> Result<Url> { Ok(sandbox.url.join(path)?) };
        let client = ClientConfig::from_spec(
            spec,
            junction_sandbox::CLIENT_ID.to_owned(),
            SecretString::from(junction_sandbox::CLIENT_SECRET),
            // Never visited: the code is read from the consent page's redirect.
            Url::parse("http://127.0.0.1:9/oauth/callback")?,
            &EndpointOverrides {
                authorize_url: Some(at(&format!("oauth/{PROVIDER}/authorize"))?),
                token_url: Some(at(&format!("oauth/{PROVIDER}/token"))?),
                revoke_url: Some(at(&format!("oauth/{PROVIDER}/revoke"))?),
            },
        )?;
        Ok(Self {
            engine: OAuthEngine::new()?,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            spec: spec.clone(),
            client,
        })
    }

    /// One integration: consent (approved), code exchange, then the rows the API's
    /// OAuth callback writes (integration, sealed tokens).
    async fn connect(
        &self,
        db: &TestDb,
        workspace_id: WorkspaceId,
        index: usize,
        lookback_days: u32,
        dimensions: &str,
    ) -> Result<Uuid> {
        let request = self.engine.authorize(&self.spec, &self.client)?;
        let mut consent = request.url.clone();
        consent.query_pairs_mut().append_pair("decision", "approve");
        let answer = self.http.get(consent).send().await?;
        let location = answer
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                anyhow!(
                    "the sandbox's consent page answered {} without a redirect",
                    answer.status()
                )
            })?;
        let callback = Url::parse(location)?;
        let code = callback
            .query_pairs()
            .find(|(name, _)| name == "code")
            .map(|(_, value)| value.into_owned())
            .ok_or_else(|| anyhow!("the sandbox's redirect carries no code"))?;
        let tokens = self
            .engine
            .exchange_code(
                &self.spec,
                &self.client,
                &code,
                request.pkce_verifier.as_ref(),
                Utc::now(),
            )
            .await?;
        let id = Uuid::new_v4();
        let mut tx = db.store().begin(workspace_id).await?;
        repo::integrations::insert(
            tx.conn(),
            &NewIntegration {
                id,
                workspace_id: workspace_id.as_uuid(),
                provider: PROVIDER.to_owned(),
                display_name: format!("Benchmark property {index}"),
                status: IntegrationStatus::Active,
                auth_kind: AuthKind::OAuth2,
                // Each property is its own deterministic data set in the sandbox.
                config: json!({
                    "property_id": (100_000_000 + index).to_string(),
                    "dimensions": dimensions,
                    "lookback_days": lookback_days,
                }),
                scopes: tokens
                    .scopes
                    .clone()
                    .unwrap_or_else(|| self.spec.scopes.iter().map(|s| (*s).to_owned()).collect()),
                token_expires_at: tokens.expires_at,
                schedule_seconds: 3600,
                next_sync_at: None,
            },
        )
        .await?;
        let fields: BTreeMap<String, SecretString> = tokens.credential_fields();
        repo::credentials::put(tx.conn(), db.vault(), workspace_id, id, &fields).await?;
        tx.commit().await?;
        Ok(id)
    }
}

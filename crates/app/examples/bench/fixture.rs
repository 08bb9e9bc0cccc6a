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
    vault::SealContext,
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

/// The database and the sandbox, with one workspace.
pub struct Fixture {
    pub db: TestDb,
    pub sandbox: RunningSandbox,
    pub workspace_id: WorkspaceId,
}

impl Fixture {
    /// A fresh database with one empty workspace, and the sandbox.
    pub async fn start() -> Result<Self> {
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
        Ok(Self {
            db,
            sandbox,
            workspace_id,
        })
    }

    /// `count` GA4 integrations reading `lookback_days` days by `dimensions` (empty:
    /// one row a day), each connected through the sandbox's OAuth flow. They are not
    /// due: [`Fixture::make_due`] starts their syncs, so the worker can be measured
    /// idle first.
    pub async fn new(count: usize, lookback_days: u32, dimensions: &str) -> Result<Self> {
        let started = Instant::now();
        let fixture = Self::start().await?;
        let workspace_id = fixture.workspace_id;
        let connector = Connector::new(&fixture.sandbox)?;
        let _: Vec<Uuid> = futures::stream::iter(0..count)
            .map(|index| {
                let connector = &connector;
                let db = &fixture.db;
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
        Ok(fixture)
    }

    /// A new API key of the workspace.
    pub async fn api_key(&self) -> Result<SecretString> {
        let mut tx = self.db.store().begin(self.workspace_id).await?;
        let (_, key) = repo::api_keys::create(tx.conn(), self.workspace_id, "benchmark").await?;
        tx.commit().await?;
        Ok(key)
    }

    /// `count` GA4 integrations as [`Fixture::new`] makes them (not due, one report
    /// row a day for `lookback_days` days), written in bulk: one OAuth flow through
    /// the sandbox gives the tokens, which every integration gets sealed for itself
    /// (the vault binds each sealed value to its integration), and the rows go in with
    /// a few multi-row `INSERT`s as the schema owner. For the figures that need more
    /// integrations than OAuth flows can connect in reasonable time.
    pub async fn seed_ga4(&self, count: usize, lookback_days: u32) -> Result<Vec<Uuid>> {
        const CHUNK: usize = 5_000;
        let started = Instant::now();
        let connector = Connector::new(&self.sandbox)?;
        let (tokens, scopes) = connector.tokens().await?;
        let fields: BTreeMap<String, SecretString> = tokens.credential_fields();
        let mut client = self.admin_client().await?;
        let ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
        let workspace = self.workspace_id.as_uuid();
        for (chunk_index, chunk) in ids.chunks(CHUNK).enumerate() {
            let offset = i64::try_from(chunk_index * CHUNK)?;
            let mut key_ids = Vec::new();
            let mut owners = Vec::new();
            let mut names = Vec::new();
            let mut sealed = Vec::new();
            for id in chunk {
                for (field, secret) in &fields {
                    let value = self.db.vault().seal(
                        SealContext {
                            workspace_id: workspace,
                            owner_id: *id,
                            field,
                        },
                        secret,
                    )?;
                    owners.push(*id);
                    names.push(field.clone());
                    key_ids.push(value.key_id);
                    sealed.push(value.bytes);
                }
            }
            let transaction = client.transaction().await?;
            transaction
                .execute(
                    "INSERT INTO integrations (id, workspace_id, provider, display_name, status, \
                         auth_kind, config, scopes, token_expires_at, schedule_seconds, next_sync_at) \
                     SELECT id::uuid, $2::text::uuid, $3, 'Benchmark property ' || (ord + $4 - 1), \
                         'active', 'oauth2', jsonb_build_object('property_id', \
                             (100000000 + ord + $4 - 1)::text, 'dimensions', '', \
                             'lookback_days', $5::int), \
                         $6, $7::text::timestamptz, 3600, NULL \
                     FROM unnest($1::text[]) WITH ORDINALITY AS t(id, ord)",
                    &[
                        &texts(chunk),
                        &workspace.to_string(),
                        &PROVIDER,
                        &offset,
                        &i32::try_from(lookback_days)?,
                        &scopes,
                        &tokens.expires_at.map(|at| at.to_rfc3339()),
                    ],
                )
                .await
                .context("inserting integrations")?;
            transaction
                .execute(
                    "INSERT INTO credentials (workspace_id, integration_id, field, key_id, sealed) \
                     SELECT $1::text::uuid, owner::uuid, field, key_id, sealed \
                     FROM unnest($2::text[], $3::text[], $4::text[], $5::bytea[]) \
                         AS t(owner, field, key_id, sealed)",
                    &[
                        &workspace.to_string(),
                        &texts(&owners),
                        &names,
                        &key_ids,
                        &sealed,
                    ],
                )
                .await
                .context("inserting credentials")?;
            transaction.commit().await?;
        }
        client
            .batch_execute("ANALYZE integrations; ANALYZE credentials")
            .await?;
        eprintln!(
            "bench: {count} GA4 integrations written in bulk in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(ids)
    }

    /// A connection as the schema owner (row-level security does not apply).
    pub async fn admin_client(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) =
            tokio_postgres::connect(self.db.url().expose(), tokio_postgres::NoTls)
                .await
                .context("connecting to the benchmark database")?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                eprintln!("bench: database connection ended: {err}");
            }
        });
        Ok(client)
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

    /// One authorization: consent (approved) and code exchange; the tokens and the
    /// scopes granted.
    async fn tokens(&self) -> Result<(junction_oauth::TokenSet, Vec<String>)> {
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
        let scopes = tokens
            .scopes
            .clone()
            .unwrap_or_else(|| self.spec.scopes.iter().map(|s| (*s).to_owned()).collect());
        Ok((tokens, scopes))
    }

    /// One integration: an authorization, then the rows the API's OAuth callback
    /// writes (integration, sealed tokens).
    async fn connect(
        &self,
        db: &TestDb,
        workspace_id: WorkspaceId,
        index: usize,
        lookback_days: u32,
        dimensions: &str,
    ) -> Result<Uuid> {
        let (tokens, scopes) = self.tokens().await?;
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
                scopes,
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

/// Ids as text, which the bench's Postgres client sends without extra features
/// (the SQL casts them back).
fn texts(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

//! The commands of `junction` and their output (human text, or JSON with `--json`).

use std::{convert::Infallible, fmt, time::Duration};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use junction_app::{
    DatabaseUrl, KEYS_ENV, KeyRing, Vault, dashboard, dead_letters,
    models::{DeadLetterFilter, Queue},
    workspaces::{self, Operator},
};
use junction_core::WorkspaceId;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

/// Administers a Junction installation: database schema, workspaces, API keys and
/// the credential key ring.
#[derive(Debug, Parser)]
#[command(name = "junction", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Database {
    /// Postgres URL of the schema owner (who runs migrations).
    // Taken as an opaque secret and checked by `check` with a message of our own:
    // a clap value parser's error would quote the rejected value, password included.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = opaque_secret)]
    database_url: SecretString,
    /// Seconds to wait for the database.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    connect_timeout: u64,
}

impl Database {
    fn url(&self) -> Result<DatabaseUrl, UsageError> {
        parse_database_url(self.database_url.expose_secret())
    }
}

/// Never fails, so clap never has a reason to quote the value.
fn opaque_secret(value: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::from(value.to_owned()))
}

/// Bad arguments found after clap parsed them (exit code 2). Messages name the
/// argument, never its value.
#[derive(Debug)]
pub struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Checks what clap takes unchecked (the database URL), before anything runs.
pub fn check(cli: &Cli) -> Result<(), UsageError> {
    match cli.command.database() {
        Some(db) => db.url().map(drop),
        None => Ok(()),
    }
}

/// The database URL through the store's own parser, whose errors never quote the
/// value; they are reworded to name both places the URL comes from.
fn parse_database_url(value: &str) -> Result<DatabaseUrl, UsageError> {
    DatabaseUrl::parse(value).map_err(|error| {
        let why = error.strip_prefix("DATABASE_URL ").unwrap_or(&error);
        UsageError(format!("DATABASE_URL (or --database-url) {why}"))
    })
}

fn parse_workspace(value: &str) -> Result<WorkspaceId, String> {
    value
        .parse()
        .map_err(|_| "the value is not a workspace id (expected a UUID)".to_owned())
}

fn parse_key_id(value: &str) -> Result<Uuid, String> {
    value.parse().map_err(|_| {
        "the value is not an API key id (expected a UUID from `junction api-key list`, not the key itself)"
            .to_owned()
    })
}

fn parse_dead_letter_id(value: &str) -> Result<Uuid, String> {
    value
        .parse()
        .map_err(|_| "the value is not a dead letter id (expected a UUID)".to_owned())
}

fn parse_integration_id(value: &str) -> Result<Uuid, String> {
    value
        .parse()
        .map_err(|_| "the value is not an integration id (expected a UUID)".to_owned())
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Applies pending database migrations.
    Migrate {
        #[command(flatten)]
        db: Database,
        /// Only list pending migrations.
        #[arg(long)]
        status: bool,
    },
    /// Creates and lists workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Creates, lists and revokes workspace API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Creates, lists and revokes operator keys: installation-wide keys that read
    /// the queue figures of every workspace (GET /v1/jobs/stats) and nothing else.
    #[command(subcommand, name = "operator-key")]
    OperatorKey(OperatorKeyCommand),
    /// Manages the credential key ring (JUNCTION_KEYS).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Lists and replays dead letters (jobs that failed for good).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Prints a one-time link that signs in to a workspace's dashboard (works once,
    /// within 15 minutes).
    #[command(name = "dashboard-link")]
    DashboardLink {
        #[arg(long, value_parser = parse_workspace)]
        workspace: WorkspaceId,
        /// The API's public URL, which the link starts with.
        #[arg(long, env = "JUNCTION_PUBLIC_URL", default_value = "http://127.0.0.1:8080", value_parser = parse_public_url)]
        public_url: url::Url,
        #[command(flatten)]
        db: Database,
        /// Print one JSON object {"url", "expires_at"}.
        #[arg(long)]
        json: bool,
    },
    /// Asks a Junction process whether it is healthy: GETs the URL and succeeds on a
    /// 2xx answer. The container image's health check (the image has no curl, and
    /// needs no shell).
    Probe {
        /// What to ask: the API's `/healthz` or `/readyz`, or the worker's on its
        /// metrics address (`http://127.0.0.1:9090/readyz`).
        #[arg(default_value = "http://127.0.0.1:8080/healthz", value_parser = parse_probe_url)]
        url: url::Url,
        /// Seconds to wait for the answer, connecting included.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=60))]
        timeout: u64,
    },
}

/// A probe's URL: plain http(s), without credentials (the URL is printed in errors).
fn parse_probe_url(value: &str) -> Result<url::Url, String> {
    url::Url::parse(value)
        .ok()
        .filter(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.username().is_empty()
                && url.password().is_none()
        })
        .ok_or_else(|| {
            "the value is not an http(s) URL without credentials, like http://127.0.0.1:8080/readyz"
                .to_owned()
        })
}

fn parse_public_url(value: &str) -> Result<url::Url, String> {
    url::Url::parse(value)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
        .ok_or_else(|| {
            "the value is not an http(s) URL like https://junction.example.com".to_owned()
        })
}

#[derive(Debug, Args)]
struct DlqFilter {
    /// Only this queue: sync, action, webhook, notify or outbound.
    #[arg(long, value_parser = parse_queue)]
    queue: Option<Queue>,
    /// Only this integration.
    #[arg(long, value_parser = parse_integration_id)]
    integration: Option<Uuid>,
    /// Only this error code.
    #[arg(long)]
    error_code: Option<String>,
}

fn parse_queue(value: &str) -> Result<Queue, String> {
    Queue::parse(value).ok_or_else(|| {
        "the value is not a queue (sync, action, webhook, notify or outbound)".to_owned()
    })
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// Lists a workspace's dead letters, newest first.
    List {
        #[arg(long, value_parser = parse_workspace)]
        workspace: WorkspaceId,
        #[command(flatten)]
        filter: DlqFilter,
        /// Only those not replayed yet.
        #[arg(long)]
        pending: bool,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=500))]
        limit: i64,
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
    /// Replays one dead letter by id, or every pending one matching the filter with --all.
    Replay {
        #[arg(long, value_parser = parse_workspace)]
        workspace: WorkspaceId,
        /// The dead letter's id (from `junction dlq list`).
        #[arg(value_parser = parse_dead_letter_id)]
        id: Option<Uuid>,
        /// Replay every pending dead letter matching the filter.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        #[command(flatten)]
        filter: DlqFilter,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..=500))]
        limit: i64,
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum WorkspaceCommand {
    /// Creates a workspace and its first API key (shown once).
    Create {
        /// The workspace's display name.
        name: String,
        #[command(flatten)]
        db: Database,
        /// Print one JSON object {"workspace_id", "api_key"}.
        #[arg(long)]
        json: bool,
    },
    /// Lists every workspace.
    List {
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Creates an API key for a workspace (shown once).
    Create {
        #[arg(long, value_parser = parse_workspace)]
        workspace: WorkspaceId,
        /// A label telling what the key is for.
        #[arg(long, default_value = "default")]
        name: String,
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
    /// Lists a workspace's API keys (never the keys themselves).
    List {
        #[arg(long, value_parser = parse_workspace)]
        workspace: WorkspaceId,
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
    /// Revokes an API key; requests with it are refused from then on.
    Revoke {
        #[arg(long, value_parser = parse_workspace)]
        workspace: WorkspaceId,
        /// The key's id (from `junction api-key list`).
        #[arg(value_parser = parse_key_id)]
        key_id: Uuid,
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OperatorKeyCommand {
    /// Creates an operator key (shown once).
    Create {
        /// A label telling what the key is for.
        #[arg(long, default_value = "operator")]
        name: String,
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
    /// Lists the operator keys (never the keys themselves).
    List {
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
    /// Revokes an operator key; requests with it are refused from then on.
    Revoke {
        /// The key's id (from `junction operator-key list`).
        #[arg(value_parser = parse_operator_key_id)]
        key_id: Uuid,
        #[command(flatten)]
        db: Database,
        #[arg(long)]
        json: bool,
    },
}

fn parse_operator_key_id(value: &str) -> Result<Uuid, String> {
    value.parse().map_err(|_| {
        "the value is not an operator key id (expected a UUID from `junction operator-key list`, not the key itself)"
            .to_owned()
    })
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-seals every credential with the first key of JUNCTION_KEYS. Resumable:
    /// run it again after an interruption. Afterwards older keys can be removed.
    Rotate {
        #[command(flatten)]
        db: Database,
        /// Credentials re-sealed per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..=10_000))]
        batch_size: i64,
        #[arg(long)]
        json: bool,
    },
    /// Prints a new random key as a JUNCTION_KEYS entry (`id:base64key`).
    Generate {
        /// The new key's id.
        #[arg(long, default_value = "k1")]
        id: String,
    },
}

impl Command {
    /// The database the command works on, if any.
    fn database(&self) -> Option<&Database> {
        match self {
            Self::Migrate { db, .. }
            | Self::Workspace(
                WorkspaceCommand::Create { db, .. } | WorkspaceCommand::List { db, .. },
            )
            | Self::ApiKey(
                ApiKeyCommand::Create { db, .. }
                | ApiKeyCommand::List { db, .. }
                | ApiKeyCommand::Revoke { db, .. },
            )
            | Self::OperatorKey(
                OperatorKeyCommand::Create { db, .. }
                | OperatorKeyCommand::List { db, .. }
                | OperatorKeyCommand::Revoke { db, .. },
            )
            | Self::Keys(KeysCommand::Rotate { db, .. })
            | Self::Dlq(DlqCommand::List { db, .. } | DlqCommand::Replay { db, .. })
            | Self::DashboardLink { db, .. } => Some(db),
            Self::Keys(KeysCommand::Generate { .. }) | Self::Probe { .. } => None,
        }
    }
}

/// Runs a command; returns what to print on stdout.
pub async fn run(cli: Cli) -> Result<String> {
    match cli.command {
        Command::Migrate { db, status } => migrate_cmd(&db, status).await,
        Command::Workspace(WorkspaceCommand::Create { name, db, json }) => {
            workspace_create(&db, &name, json).await
        }
        Command::Workspace(WorkspaceCommand::List { db, json }) => workspace_list(&db, json).await,
        Command::ApiKey(ApiKeyCommand::Create {
            workspace,
            name,
            db,
            json,
        }) => api_key_create(&db, workspace, &name, json).await,
        Command::ApiKey(ApiKeyCommand::List {
            workspace,
            db,
            json,
        }) => api_key_list(&db, workspace, json).await,
        Command::ApiKey(ApiKeyCommand::Revoke {
            workspace,
            key_id,
            db,
            json,
        }) => api_key_revoke(&db, workspace, key_id, json).await,
        Command::OperatorKey(OperatorKeyCommand::Create { name, db, json }) => {
            operator_key_create(&db, &name, json).await
        }
        Command::OperatorKey(OperatorKeyCommand::List { db, json }) => {
            operator_key_list(&db, json).await
        }
        Command::OperatorKey(OperatorKeyCommand::Revoke { key_id, db, json }) => {
            operator_key_revoke(&db, key_id, json).await
        }
        Command::Keys(KeysCommand::Rotate {
            db,
            batch_size,
            json,
        }) => keys_rotate(&db, batch_size, json).await,
        Command::Keys(KeysCommand::Generate { id }) => keys_generate(&id),
        Command::Dlq(DlqCommand::List {
            workspace,
            filter,
            pending,
            limit,
            db,
            json,
        }) => dlq_list(&db, workspace, &filter, pending, limit, json).await,
        Command::Dlq(DlqCommand::Replay {
            workspace,
            id,
            all,
            filter,
            limit,
            db,
            json,
        }) => dlq_replay(&db, workspace, id, all, &filter, limit, json).await,
        Command::DashboardLink {
            workspace,
            public_url,
            db,
            json,
        } => dashboard_link(&db, workspace, &public_url, json).await,
        Command::Probe { url, timeout } => probe(&url, Duration::from_secs(timeout)).await,
    }
}

/// GETs `url`; a 2xx answer is healthy (printed as `ok: 200`), anything else an
/// error naming the status and the start of the body (`/readyz` says what failed).
async fn probe(url: &url::Url, timeout: Duration) -> Result<String> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    let status = response.status();
    if status.is_success() {
        return Ok(format!("ok: {}", status.as_u16()));
    }
    let body = response.text().await.unwrap_or_default();
    let excerpt: String = body.chars().take(300).collect();
    bail!("{url} answered {}: {}", status.as_u16(), excerpt.trim())
}

/// Prints a one-time sign-in link to a workspace's dashboard.
async fn dashboard_link(
    db: &Database,
    workspace: WorkspaceId,
    public_url: &url::Url,
    json: bool,
) -> Result<String> {
    let store = operator(db).await?.store().await.map_err(fail)?;
    let link = dashboard::create_sign_in_link(&store, workspace)
        .await
        .map_err(fail)?;
    let mut url = public_url.join(dashboard::LINK_PATH)?;
    url.query_pairs_mut()
        .append_pair("token", link.token.expose_secret());
    Ok(if json {
        json!({"url": url.as_str(), "expires_at": link.expires_at}).to_string()
    } else {
        format!(
            "{url}\nopen it within {} minutes (until {}); it signs in once",
            dashboard::LINK_LIFETIME_MINUTES,
            link.expires_at.format("%Y-%m-%d %H:%M UTC")
        )
    })
}

/// The operator's access to the database the arguments name.
async fn operator(db: &Database) -> Result<Operator> {
    Operator::connect(db.url()?, Duration::from_secs(db.connect_timeout))
        .await
        .map_err(fail)
}

/// A use case's failure as the one line the command prints.
fn fail(error: junction_app::Error) -> anyhow::Error {
    match error.source {
        Some(source) if error.code == junction_core::ErrorCode::Internal => {
            anyhow!("{source:#}")
        }
        _ => anyhow!(error.detail),
    }
}

async fn migrate_cmd(db: &Database, status: bool) -> Result<String> {
    let operator = operator(db).await?;
    if status {
        let pending = operator.pending_migrations().await.map_err(fail)?;
        return Ok(if pending.is_empty() {
            "the schema is up to date".into()
        } else {
            format!("pending migrations: {}", pending.join(", "))
        });
    }
    let applied = operator.migrate().await.map_err(fail)?;
    Ok(if applied.is_empty() {
        "the schema is already up to date".into()
    } else {
        format!(
            "applied {} migration(s): {}",
            applied.len(),
            applied.join(", ")
        )
    })
}

async fn workspace_create(db: &Database, name: &str, json: bool) -> Result<String> {
    let store = operator(db).await?.store().await.map_err(fail)?;
    let (workspace, key) = workspaces::create_workspace(&store, name)
        .await
        .map_err(fail)?;
    Ok(if json {
        json!({"workspace_id": workspace.id, "api_key": key.expose_secret()}).to_string()
    } else {
        format!(
            "workspace {} created ({})\napi key: {}\nstore this key now: it is shown only once",
            workspace.id,
            workspace.name,
            key.expose_secret()
        )
    })
}

async fn workspace_list(db: &Database, json: bool) -> Result<String> {
    let workspaces = operator(db).await?.workspaces().await.map_err(fail)?;
    Ok(if json {
        serde_json::to_string(&workspaces)?
    } else if workspaces.is_empty() {
        "no workspaces".into()
    } else {
        workspaces
            .iter()
            .map(|w| {
                format!(
                    "{}  {}  {}",
                    w.id,
                    w.created_at.format("%Y-%m-%d %H:%M"),
                    w.name
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

async fn api_key_create(
    db: &Database,
    workspace: WorkspaceId,
    name: &str,
    json: bool,
) -> Result<String> {
    let store = operator(db).await?.store().await.map_err(fail)?;
    let (row, key) = workspaces::create_api_key(&store, workspace, name)
        .await
        .map_err(fail)?;
    Ok(if json {
        json!({"id": row.id, "workspace_id": workspace, "name": row.name, "api_key": key.expose_secret()}).to_string()
    } else {
        created_key(
            &format!("api key {} created for workspace {workspace}", row.id),
            "api key",
            key.expose_secret(),
        )
    })
}

/// What the CLI prints for a new key: what was created, the key, and that it is
/// shown only once.
fn created_key(created: &str, label: &str, key: &str) -> String {
    format!("{created}\n{label}: {key}\nstore this key now: it is shown only once")
}

/// A key list as the CLI prints it: one line per key (id, prefix, state, name), or
/// `none` when there is no key.
fn key_lines<'k>(
    keys: impl IntoIterator<Item = (Uuid, &'k str, Option<DateTime<Utc>>, &'k str)>,
    none: &str,
) -> String {
    let lines: Vec<String> = keys
        .into_iter()
        .map(|(id, prefix, revoked_at, name)| {
            let state = match revoked_at {
                Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                None => "active".into(),
            };
            format!("{id}  {prefix}…  {state}  {name}")
        })
        .collect();
    if lines.is_empty() {
        none.to_owned()
    } else {
        lines.join("\n")
    }
}

async fn api_key_list(db: &Database, workspace: WorkspaceId, json: bool) -> Result<String> {
    let store = operator(db).await?.store().await.map_err(fail)?;
    let keys = workspaces::api_keys(&store, workspace)
        .await
        .map_err(fail)?;
    Ok(if json {
        serde_json::to_string(&keys)?
    } else {
        key_lines(
            keys.iter().map(|k| {
                (
                    k.id,
                    k.display_prefix.as_str(),
                    k.revoked_at,
                    k.name.as_str(),
                )
            }),
            "no API keys",
        )
    })
}

async fn api_key_revoke(
    db: &Database,
    workspace: WorkspaceId,
    key_id: Uuid,
    json: bool,
) -> Result<String> {
    let store = operator(db).await?.store().await.map_err(fail)?;
    let revoked = workspaces::revoke_api_key(&store, workspace, key_id)
        .await
        .map_err(fail)?;
    Ok(if json {
        serde_json::to_string(&revoked)?
    } else {
        format!("api key {key_id} revoked")
    })
}

async fn operator_key_create(db: &Database, name: &str, json: bool) -> Result<String> {
    let (row, key) = operator(db)
        .await?
        .create_operator_key(name)
        .await
        .map_err(fail)?;
    Ok(if json {
        json!({"id": row.id, "name": row.name, "operator_key": key.expose_secret()}).to_string()
    } else {
        created_key(
            &format!("operator key {} created", row.id),
            "operator key",
            key.expose_secret(),
        )
    })
}

async fn operator_key_list(db: &Database, json: bool) -> Result<String> {
    let keys = operator(db).await?.operator_keys().await.map_err(fail)?;
    Ok(if json {
        serde_json::to_string(&keys)?
    } else {
        key_lines(
            keys.iter().map(|k| {
                (
                    k.id,
                    k.display_prefix.as_str(),
                    k.revoked_at,
                    k.name.as_str(),
                )
            }),
            "no operator keys",
        )
    })
}

async fn operator_key_revoke(db: &Database, key_id: Uuid, json: bool) -> Result<String> {
    let revoked = operator(db)
        .await?
        .revoke_operator_key(key_id)
        .await
        .map_err(fail)?;
    Ok(if json {
        serde_json::to_string(&revoked)?
    } else {
        format!("operator key {key_id} revoked")
    })
}

async fn keys_rotate(db: &Database, batch_size: i64, json: bool) -> Result<String> {
    let vault = Vault::new(key_ring()?);
    let rotation = operator(db)
        .await?
        .rotate_keys(&vault, batch_size)
        .await
        .map_err(fail)?;
    let key_id = &rotation.key_id;
    Ok(if json {
        json!({
            "key_id": key_id,
            "resealed": rotation.report.resealed,
            "already_current": rotation.report.already_current,
            "oauth_verifiers_resealed": rotation.oauth_verifiers_resealed,
            "webhook_secrets_resealed": rotation.webhook_secrets_resealed,
            "credentials_by_key": rotation.by_key.iter().map(|(k, n)| json!({"key_id": k, "count": n})).collect::<Vec<_>>(),
        })
        .to_string()
    } else {
        format!(
            "re-sealed {} credential(s) with key `{key_id}` ({} already current, {} OAuth verifier(s) and {} webhook signing secret(s) re-sealed); \
             every credential is now sealed with `{key_id}`, so other keys can be removed from {KEYS_ENV}",
            rotation.report.resealed,
            rotation.report.already_current,
            rotation.oauth_verifiers_resealed,
            rotation.webhook_secrets_resealed
        )
    })
}

/// The key ring from `JUNCTION_KEYS`; errors name the variable, never its value.
fn key_ring() -> Result<KeyRing> {
    if let Err(std::env::VarError::NotUnicode(_)) = std::env::var(KEYS_ENV) {
        bail!("{KEYS_ENV} is malformed: it is not valid UTF-8");
    }
    Ok(KeyRing::from_env()?)
}

fn keys_generate(id: &str) -> Result<String> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        // Not quoted: a whole `id:key` entry pasted here would be a secret.
        bail!("the key id (--id) is invalid: use 1-64 letters, digits, `-` or `_`");
    }
    let key = KeyRing::generate_key()?;
    Ok(format!("{id}:{}", key.expose_secret()))
}

fn dead_letter_filter(filter: &DlqFilter, pending_only: bool) -> DeadLetterFilter {
    DeadLetterFilter {
        queue: filter.queue,
        integration_id: filter.integration,
        error_code: filter.error_code.clone(),
        pending_only,
    }
}

async fn dlq_list(
    db: &Database,
    workspace: WorkspaceId,
    filter: &DlqFilter,
    pending: bool,
    limit: i64,
    json: bool,
) -> Result<String> {
    let store = operator(db).await?.store().await.map_err(fail)?;
    let letters = dead_letters::list(
        &store,
        workspace,
        &dead_letter_filter(filter, pending),
        junction_app::PageRequest::first(limit),
    )
    .await
    .map_err(fail)?
    .items;
    Ok(if json {
        serde_json::to_string(&letters)?
    } else if letters.is_empty() {
        "no dead letters".into()
    } else {
        letters
            .iter()
            .map(|d| {
                let state = match d.replayed_at {
                    Some(at) => format!("replayed {}", at.format("%Y-%m-%d %H:%M")),
                    None => "pending".into(),
                };
                format!(
                    "{}  {}  {}  {} attempt(s)  {}  {}: {}",
                    d.id,
                    d.dead_at.format("%Y-%m-%d %H:%M"),
                    d.queue,
                    d.attempts,
                    state,
                    d.error_code,
                    d.error_message.replace('\n', " ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// Replays dead letters: their jobs are staged in the outbox and a worker relays
/// them to their queues (no Redis needed here).
async fn dlq_replay(
    db: &Database,
    workspace: WorkspaceId,
    id: Option<Uuid>,
    all: bool,
    filter: &DlqFilter,
    limit: i64,
    json: bool,
) -> Result<String> {
    if id.is_none() && !all {
        bail!(
            "name a dead letter id, or pass --all to replay every pending one matching the filter"
        );
    }
    let store = operator(db).await?.store().await.map_err(fail)?;
    let replayed = match id {
        Some(id) => vec![
            dead_letters::replay(&store, workspace, id)
                .await
                .map_err(fail)?,
        ],
        None => dead_letters::replay_matching(
            &store,
            workspace,
            &dead_letter_filter(filter, true),
            limit,
        )
        .await
        .map_err(fail)?,
    };
    Ok(if json {
        json!({"replayed": replayed.iter().map(|r| json!({"dead_letter_id": r.dead_letter_id, "job_id": r.job_id})).collect::<Vec<_>>()}).to_string()
    } else if replayed.is_empty() {
        "nothing to replay".into()
    } else {
        replayed
            .iter()
            .map(|r| format!("replayed {} as job {}", r.dead_letter_id, r.job_id))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

//! junction_mixpanel: the Mixpanel provider (product analytics).
//!
//! A connection is a service account (HTTP Basic, `username:secret`) and the
//! project it reads (`project_id`), on the hosts of the project's data residency
//! (`region`: US, EU or India); optionally the project token, which imports then
//! authenticate with. Mixpanel's three APIs are described as data for the provider
//! toolkit ([`api`]); the crate keeps what is its own:
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the [`ProviderSpec`]: auth, settings, streams and action (data files), the two request budgets |
//! | [`api`] | the Query, Export and ingestion APIs: regional hosts, auth modes, the error table |
//! | `query` | the Query API streams — `insights`, `segmentation`, `funnels`, `retention` — into KPIs |
//! | `export` | the `events` stream: the raw export's JSONL, one day per page |
//! | `import` | the `import_events` action: `/import` in strict mode, batched, `$insert_id` on every event |
//! | `sandbox` | (feature `sandbox`) the fake the sandbox serves and the conformance suite runs against |
//!
//! `check` lists the project's saved funnels (`GET /api/query/funnels/list`): it
//! proves the service account may query the project and confirms every configured
//! funnel id exists.

pub mod api;
mod export;
mod import;
mod query;
pub mod spec;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use http::Method;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget,
    ReadRequest, spec::ProviderSpec,
};
use junction_toolkit::data;
use serde_json::{Value, json};

pub use api::{EXPORT_API, INGESTION_API, QUERY_API};
pub use export::MAX_DAY_BYTES;
pub use import::{MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, is_insert_id};
pub use spec::*;

/// The Mixpanel adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mixpanel;

#[async_trait]
impl Adapter for Mixpanel {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// `GET /api/query/funnels/list?project_id`: the service account may query the
    /// project, and each of `funnel_ids` is one of its funnels.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let project = PROJECT_ID.require(conn)?;
        let wanted = FUNNEL_IDS.read(conn)?;
        // Settings are read before any request, so a bad one fails without a query.
        BOOKMARK_IDS.read(conn)?;
        EVENT_NAMES.read(conn)?;
        EXPORT_EVENTS.read(conn)?;
        PROJECT_TOKEN.read(conn)?;
        let client = api::query(ctx, conn)?;
        let request = client
            .request(Method::GET, "funnels/list")?
            .query(&[("project_id", project.as_str())]);
        let funnels: Vec<Value> = client.json(request).await?;
        let known: Vec<String> = funnels
            .iter()
            .filter_map(|funnel| data::text(funnel.get("funnel_id")))
            .collect();
        if let Some(missing) = wanted.iter().find(|id| !known.contains(id)) {
            return Err(AdapterError::invalid_field(
                FUNNEL_IDS.text.name,
                format!("project {project} has no saved funnel {missing}"),
            ));
        }
        Ok(Health {
            account: Some(format!("Mixpanel project {project}")),
            details: json!({
                "project_id": project,
                "region": REGION.read(conn)?,
                "funnels": funnels.len(),
                "imports_authenticate_with": if PROJECT_TOKEN.read(conn)?.is_some() {
                    "project_token"
                } else {
                    "service_account"
                },
            }),
        })
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let stream = data::stream(self.spec(), request)?;
        match stream.name {
            EVENTS => export::read(&api::export(ctx, conn)?, conn, request).await,
            name => query::read(&api::query(ctx, conn)?, conn, request, name).await,
        }
    }

    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        match action {
            IMPORT_EVENTS => {
                import::run(&api::ingestion(ctx, conn)?, conn, input, idempotency_key).await
            }
            other => Err(AdapterError::unknown_action(self.spec().name, other)),
        }
    }

    /// The Query API's host of the project's region (or the context's override) with
    /// the service account's Basic credential; clients add `project_id` themselves.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::query(ctx, conn)?.proxy_target()
    }
}

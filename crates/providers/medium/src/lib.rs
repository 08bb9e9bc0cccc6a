//! junction_medium: Medium, through its legacy API and a self-issued integration
//! token.
//!
//! Medium no longer supports its API and issues no new integration tokens; what it
//! still answers is the profile, the user's publications and creating a post. So
//! this crate syncs the profile and the publications (nothing else exists to read,
//! so no KPI) and publishes posts; it cannot update one (there is no
//! `update_article`), and a publish whose answer is lost cannot be detected.
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the [`ProviderSpec`]: the integration token, the streams, the action, the request budget |
//! | [`api`] | the HTTP API as data: host, Bearer token, verification, error table |
//! | `streams` | `profile` and `publications` |
//! | `actions` | `publish_article`, sent once, an unknown outcome never retried |
//! | `sandbox` | (feature `sandbox`) the fake the sandbox serves and the conformance suite runs against |

mod actions;
pub mod api;
pub mod spec;
mod streams;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget,
    ReadRequest, spec::ProviderSpec,
};
use junction_toolkit::data;
use serde_json::Value;

pub use api::API;
pub use spec::{PROFILE, PROVIDER_ID, PUBLICATIONS, PUBLISH_ARTICLE};

/// The Medium adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Medium;

#[async_trait]
impl Adapter for Medium {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// `GET /v1/me`, the account labelled by its username.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        api::client(ctx, conn)?.check().await
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let stream = data::stream(self.spec(), request)?;
        let client = api::client(ctx, conn)?;
        match stream.name {
            PROFILE => streams::profile(&client).await,
            PUBLICATIONS => streams::publications(&client).await,
            other => Err(AdapterError::invalid_field(
                "stream",
                format!("no reader for `{other}`"),
            )),
        }
    }

    /// `publish_article`; the idempotency key cannot be passed on (Medium takes
    /// none) and cannot find an earlier try (Medium lists no posts).
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        _idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        let client = api::client(ctx, conn)?;
        actions::run(self.spec(), &client, action, input).await
    }

    /// The API root (or the context's override) with the Bearer token.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, conn)?.proxy_target()
    }
}

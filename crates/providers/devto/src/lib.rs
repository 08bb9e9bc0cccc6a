//! junction_devto: DEV (dev.to), through the Forem API v1.
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the [`ProviderSpec`]: the API key, the `articles` stream, the actions, the request budget |
//! | [`api`] | the HTTP API as data: host, `api-key` header, v1 Accept header, verification, paging, error table |
//! | `articles` | the `articles` stream: the user's articles, their counts as gauges and daily changes |
//! | `actions` | publish, update and unpublish an article, a retried publish never creating a second |
//! | `contract` | the article input and output shared with the other blog providers |
//! | `sandbox` | (feature `sandbox`) the fake the sandbox serves and the conformance suite runs against |
//!
//! [`Devto`] takes the toolkit's defaults for `check` (`GET /api/users/me`, the
//! account labelled by its username) and `proxy_target`.

mod actions;
pub mod api;
mod articles;
pub mod spec;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget,
    ReadRequest, spec::ProviderSpec,
};
use junction_toolkit::data;
use serde_json::Value;

pub use api::{API, PAGING};
pub use spec::{
    ARTICLES, COMMENTS, COMMENTS_CHANGE, PAGE_VIEWS, PAGE_VIEWS_CHANGE, PROVIDER_ID,
    PUBLISH_ARTICLE, REACTIONS, REACTIONS_CHANGE, UNPUBLISH_ARTICLE, UPDATE_ARTICLE,
};

/// The DEV adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Devto;

#[async_trait]
impl Adapter for Devto {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// `GET /api/users/me`, the account labelled by its username.
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
            ARTICLES => articles::read(&client, request).await,
            other => Err(AdapterError::invalid_field(
                "stream",
                format!("no reader for `{other}`"),
            )),
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
        let client = api::client(ctx, conn)?;
        actions::run(self.spec(), &client, action, input, idempotency_key).await
    }

    /// The API root (or the context's override) with the connection's `api-key`.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, conn)?.proxy_target()
    }
}

//! junction_buffer: the Buffer provider, on Buffer's GraphQL API.
//!
//! Buffer schedules posts to social channels (X, LinkedIn, Instagram, Facebook,
//! Threads, Bluesky, ...). A connection holds a personal API key (Bearer) acting for
//! the whole account; OAuth 2.0 for third-party apps is announced by Buffer but not
//! open, so the provider entry takes a key. Every call is a GraphQL operation
//! `POST`ed to `https://api.buffer.com` (`ops`); errors come as top-level `errors[]`
//! with HTTP 200 (classified by [`api::API`]'s table) or as the error members of a
//! mutation's payload union (`actions`).
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the [`ProviderSpec`]: the key, settings, streams and actions (data files), the budget |
//! | [`api`] | the API as data: endpoint, auth, error table, rate-limit headers, paging |
//! | `ops` | the GraphQL documents Junction sends |
//! | `account` | the check, the organizations synced, the `organizations` and `channels` streams |
//! | `posts` | the `posts` stream (incremental, queue sizes) |
//! | `limits` | the `daily_posting_limits` stream |
//! | `actions` | `create_post`, `delete_post`, `create_idea`; payload unions; retries that never act twice |
//! | `sandbox` | (feature `sandbox`) the fake speaking the same GraphQL |

mod account;
mod actions;
pub mod api;
mod limits;
pub mod ops;
mod posts;
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

pub use api::{API, IDEAS_PAGING, PAGING};
pub use spec::*;

/// The Buffer adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Buffer;

#[async_trait]
impl Adapter for Buffer {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// The `account` query, labelled by the account's email; a chosen organization
    /// must be one of the account's.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        account::check(&api::client(ctx, conn)?, conn).await
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
            ORGANIZATIONS => account::read_organizations(&client, conn).await,
            CHANNELS => account::read_channels(&client, conn).await,
            POSTS => posts::read(&client, conn, request).await,
            POSTING_LIMITS => limits::read(&client, conn, request).await,
            // `data::stream` refuses streams the spec does not list; a listed stream
            // without a reader is a mistake of this crate.
            other => Err(AdapterError::invalid_field(
                "stream",
                format!("no reader for `{other}`"),
            )),
        }
    }

    /// Buffer takes no idempotency key; see the `actions` module for how a retried
    /// create finds what an earlier try made.
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        let client = api::client(ctx, conn)?;
        actions::run(self.spec(), &client, conn, action, input, idempotency_key).await
    }

    /// The GraphQL endpoint (or the context's override) with the connection's key.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, conn)?.proxy_target()
    }
}

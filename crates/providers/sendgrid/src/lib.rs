//! junction_sendgrid: the Sendgrid provider.
//!
//! Scaffolded by `cargo xtask new-provider sendgrid --auth api-key`;
//! docs/adding-a-provider.md walks through each part. The crate keeps what is truly
//! the provider's own — how its items map into records and KPI points — and
//! describes the rest as data for the provider toolkit:
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the [`ProviderSpec`]: auth, settings, the `items` stream, the request budget |
//! | [`api`] | the HTTP API as data: host, auth mode, verification request, paging, error table |
//! | `items` | the `items` stream: its typed cursor, one page read, an item as a record and a KPI point |
//! | `sandbox` | (feature `sandbox`) the fake the sandbox serves and the conformance suite runs against |
//!
//! [`Sendgrid`] takes the toolkit's defaults for `check` (the description's
//! verification request) and `proxy_target` (the API root with the connection's
//! credential).

pub mod api;
mod items;
pub mod spec;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget, ReadRequest,
    spec::ProviderSpec,
};
use junction_toolkit::data;

pub use api::{API, PAGING};
pub use spec::{ITEM_VALUE, ITEMS, PROVIDER_ID};

/// The Sendgrid adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sendgrid;

#[async_trait]
impl Adapter for Sendgrid {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// The description's verification request (`GET /v1/account`), the account
    /// labelled by its name.
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
            ITEMS => items::read(&client, conn, request).await,
            // `data::stream` refuses streams the spec does not list; a listed stream
            // without a reader is a mistake of this crate.
            other => Err(AdapterError::invalid_field(
                "stream",
                format!("no reader for `{other}`"),
            )),
        }
    }

    /// The API root (or the context's override) with the connection's credential.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, conn)?.proxy_target()
    }
}

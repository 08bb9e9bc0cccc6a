//! junction_hashnode: Hashnode, through its GraphQL API.
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the [`ProviderSpec`]: the personal access token, the default publication, the streams, the actions, the request budget |
//! | [`api`] | the GraphQL API as data (host, `Authorization` header, error codes, connections) and the call every operation goes through |
//! | [`operations`] | the GraphQL operations Junction sends, by name |
//! | `streams` | `publications` and `posts`, with each post's views, reactions and responses |
//! | `actions` | publish, update, save a draft, a retried publish never creating a second post |
//! | `contract` | the article input and output shared with the other blog providers |
//! | `sandbox` | (feature `sandbox`) the fake the sandbox serves and the conformance suite runs against |

mod actions;
pub mod api;
pub mod operations;
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
use serde_json::{Value, json};

pub use api::{API, DRAFTS_PAGING, POSTS_PAGING, PUBLICATIONS_PAGING};
pub use spec::{
    POSTS, PROVIDER_ID, PUBLICATIONS, PUBLISH_ARTICLE, REACTIONS, RESPONSES, SAVE_DRAFT,
    UPDATE_ARTICLE, VIEWS,
};

/// The Hashnode adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hashnode;

#[async_trait]
impl Adapter for Hashnode {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// The `Me` query, the account labelled by its username; with a default
    /// publication set, it must be one of the user's.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let client = api::client(ctx, conn)?;
        let data = api::call(&client, &operations::ME, json!({}), |_, err| err).await?;
        let Some(username) = data.pointer("/me/username").and_then(Value::as_str) else {
            return Err(AdapterError::Unauthorized {
                refreshable: false,
                message: "Hashnode answered without a user for this token".into(),
            });
        };
        if let Some(publication) = spec::PUBLICATION.read(conn)?
            && !streams::publication_ids(&client)
                .await?
                .contains(&publication)
        {
            return Err(AdapterError::invalid_field(
                spec::PUBLICATION.name,
                "is not a publication of this user",
            ));
        }
        Ok(Health {
            account: Some(username.to_owned()),
            details: Value::Null,
        })
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
            PUBLICATIONS => streams::publications(&client, request).await,
            POSTS => streams::posts(&client, conn, request).await,
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
        actions::run(self.spec(), &client, conn, action, input, idempotency_key).await
    }

    /// The GraphQL endpoint (or the context's override) with the token.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, conn)?.proxy_target()
    }
}

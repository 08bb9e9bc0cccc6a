//! A fake of Hashnode's GraphQL API for the sandbox (demo mode, end-to-end tests)
//! and the conformance suite: `POST /` with `{operationName, query, variables}`,
//! answered by operation name with the shapes of Hashnode's schema, over a stateful
//! account with deterministic seed data.
//!
//! It answers the operations of [`crate::operations`]: `Me`, `MyPublications`
//! (connections paged with `first` ≤ 20 and opaque `after` cursors),
//! `PublicationPosts`, `PostBySlug`, `PublicationDrafts`, and the mutations
//! `PublishPost`, `UpdatePost` and `CreateDraft`. Like Hashnode, it reports failures
//! with HTTP 200 and `{"errors": [{"message", "extensions": {"code"}}], "data":
//! null}`: `UNAUTHENTICATED` for a token it does not know, `NOT_FOUND` for an
//! unknown publication or post, `FORBIDDEN` for a post of another user,
//! `BAD_USER_INPUT` for a blank title, more than 15 tags or a slug the publication
//! already has (Hashnode's slugs are unique per publication), and
//! `GRAPHQL_VALIDATION_FAILED` (HTTP 400) for an operation it does not know.
//!
//! Views grow with the hours since the fake was seeded. It accepts the token
//! [`SANDBOX_TOKEN`] in the `Authorization` header.
//!
//! Faults: a 500 with `INTERNAL_SERVER_ERROR`, a 429 with `Retry-After` (a used-up
//! quota looks the same), `UNAUTHENTICATED` for an expired token, and a 200 body cut
//! off halfway.

mod errors;
mod store;

use std::sync::{Arc, Mutex, PoisonError};

use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{Auth, Call, Key, Route, Service};
use serde_json::Value;

use crate::{
    api::API,
    spec::{PROVIDER_ID, TOKEN_FIELD},
};
use errors::{ERRORS, error};
use store::Store;
pub use store::{SANDBOX_PUBLICATION, SANDBOX_TEAM_PUBLICATION, SANDBOX_USERNAME, SEEDED_POSTS};

/// The personal access token the fake accepts.
pub const SANDBOX_TOKEN: &str = "hashnode-sandbox-token-5a1e";

const ROUTES: &[Route<Store>] = &[Route::post("", graphql)];

const SERVICE: Service<Store> = Service::new(
    API.base.prefix,
    ROUTES,
    Auth::new(API.auth, PROVIDER_ID).keys(&[Key::full(SANDBOX_TOKEN)]),
    ERRORS,
);

/// The Hashnode fake. Clones share one account, so a test can look at what the
/// adapter did ([`HashnodeFake::posts`], [`HashnodeFake::drafts`]).
#[derive(Debug, Clone, Default)]
pub struct HashnodeFake {
    store: Arc<Mutex<Option<Store>>>,
}

impl HashnodeFake {
    /// Every post of every publication, as `PublicationPosts` nodes.
    pub fn posts(&self) -> Vec<Value> {
        self.with(|store| store.all_posts())
    }

    /// Every draft, as `PublicationDrafts` nodes.
    pub fn drafts(&self) -> Vec<Value> {
        self.with(|store| store.all_drafts())
    }

    fn with(&self, read: impl FnOnce(&Store) -> Vec<Value>) -> Vec<Value> {
        let guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(read).unwrap_or_default()
    }
}

impl ProviderFake for HashnodeFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // Every write is one insert or one post's fields: the data stays whole.
        let mut guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let store = guard.get_or_insert_with(|| Store::seed(ctx.now));
        SERVICE.serve(store, request, ctx)
    }

    /// The token the fake accepts; the seeded publications. No default publication:
    /// `posts` reads both.
    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .credential(TOKEN_FIELD, SANDBOX_TOKEN)
            .fixture("publication_id", SANDBOX_PUBLICATION)
            .fixture("team_publication_id", SANDBOX_TEAM_PUBLICATION)
            .fixture("posts", SEEDED_POSTS)
            .fixture("username", SANDBOX_USERNAME)
    }
}

/// `POST /`: the operation named in the body.
fn graphql(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let Ok(body) = call.json::<Value>() else {
        return error(
            400,
            "BAD_REQUEST",
            "POST body missing, invalid Content-Type, or JSON object has no keys.",
        );
    };
    let variables = body.get("variables").cloned().unwrap_or(Value::Null);
    let name = body
        .get("operationName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    store.operation(name, &variables, call)
}

//! A fake of the Forem API v1 as DEV serves it, for the sandbox (demo mode,
//! end-to-end tests) and the conformance suite: the real paths, JSON shapes, page
//! numbers and error bodies, over a stateful account with deterministic seed data.
//!
//! Served under the sandbox's `/devto/` mount, it answers below `/api/`:
//! - `GET users/me`: the account the key belongs to;
//! - `GET articles/me/all?page&per_page`: every article of the account in Forem's
//!   `me` shape (`published`, `page_views_count`, `tag_list` an array, `tags` a
//!   string), unpublished ones first (newest created first), then published ones
//!   (newest first); `per_page` 30 by default, at most 1000;
//! - `POST articles` (`{"article": {...}}`): 201 with the article in the
//!   single-article shape (`tag_list` a string, `tags` an array); 422 for a missing
//!   `article`, a blank title, more than four tags, or a second article of the same
//!   title and body (`Body markdown has already been taken`, as Forem validates);
//! - `PUT articles/{id}`: the given fields changed (`published: false` back to
//!   draft), 200 with the article; 404 `{"error": "not found"}` for another id.
//!
//! Page views grow with the hours since the fake was seeded, so successive syncs
//! see a change. It accepts the key [`SANDBOX_API_KEY`] in the `api-key` header;
//! any other gets Forem's `401 {"error": "unauthorized", "status": 401}`.
//!
//! Faults render as Forem renders them: a 500 `{"error": "Internal Server Error"}`,
//! a 429 with `Retry-After` (a used-up quota looks the same: Forem has one throttle
//! signal), a 401 for an expired key, and a 200 body cut off halfway.

mod errors;
mod store;

use std::sync::{Arc, Mutex, PoisonError};

use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{Auth, Call, Key, PageError, Pager, Route, Service};
use serde_json::Value;

use crate::{
    api::{API, PAGING},
    spec::{API_KEY_FIELD, PROVIDER_ID},
};
use errors::ERRORS;
use store::Store;
pub use store::{SANDBOX_USERNAME, SEEDED_ARTICLES};

/// The API key the fake accepts (the sandbox's catalog lists it).
pub const SANDBOX_API_KEY: &str = "devto_sandbox_key_7c1f9e";

/// The article lists, paged as the adapter walks them (Forem's default of 30).
const PAGER: Pager = Pager::new(PAGING).size(30, 1000);

const ROUTES: &[Route<Store>] = &[
    Route::get("users/me", |store, _| {
        FakeResponse::json(200, &store.user())
    }),
    Route::get("articles/me/all", my_articles),
    Route::post("articles", |store, call| store.create(call)),
    Route::put("articles/{id}", |store, call| store.update(call)),
];

const SERVICE: Service<Store> = Service::new(
    API.base.prefix,
    ROUTES,
    Auth::new(API.auth, PROVIDER_ID).keys(&[Key::full(SANDBOX_API_KEY)]),
    ERRORS,
);

/// The DEV fake. Clones share one account, so a test can look at what the adapter
/// did ([`DevtoFake::articles`]).
#[derive(Debug, Clone, Default)]
pub struct DevtoFake {
    store: Arc<Mutex<Option<Store>>>,
}

impl DevtoFake {
    /// Every article of the account in Forem's `me` shape, in list order (empty
    /// before the first request seeds it).
    pub fn articles(&self) -> Vec<Value> {
        let guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        guard
            .as_ref()
            .map(|store| store.listed(store.seeded_at))
            .unwrap_or_default()
    }
}

impl ProviderFake for DevtoFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // Every write is one insert or one article's fields: the data stays whole.
        let mut guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let store = guard.get_or_insert_with(|| Store::seed(ctx.now));
        SERVICE.serve(store, request, ctx)
    }

    /// The key the fake accepts; the seeded articles and the account's username.
    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .credential(API_KEY_FIELD, SANDBOX_API_KEY)
            .fixture("articles", SEEDED_ARTICLES)
            .fixture("username", SANDBOX_USERNAME)
    }
}

/// `GET articles/me/all`.
fn my_articles(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    match PAGER.page(call.request, store.listed(call.now)) {
        Ok(page) => page.reply(),
        Err(
            PageError::Size { .. }
            | PageError::Position { .. }
            | PageError::Cursor { .. }
            | PageError::BothDirections,
        ) => ERRORS.reply(400, None, "per_page and page must be positive integers"),
    }
}

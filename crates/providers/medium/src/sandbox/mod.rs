//! A fake of Medium's API for the sandbox (demo mode, end-to-end tests) and the
//! conformance suite: the paths, `{"data": ...}` envelopes and `{"errors": [...]}`
//! refusals of Medium's API documentation, over a stateful account.
//!
//! Served under the sandbox's `/medium/` mount, it answers below `/v1/`:
//! - `GET me`: the user;
//! - `GET users/{userId}/publications`: three publications (the user edits one,
//!   writes for one, follows one); 403 for another user's id;
//! - `GET publications/{publicationId}/contributors`: the editors and writers;
//! - `POST users/{authorId}/posts`: 201 with the post (tags past the third and
//!   longer than 25 characters dropped, as Medium does; no `publishedAt` for a
//!   draft); 400 for a missing or invalid field, 403 for another author id;
//! - `POST publications/{publicationId}/posts`: the same with `publicationId`; an
//!   editor may use any status, a writer only `draft`, anyone else gets 403.
//!
//! It accepts the token [`SANDBOX_TOKEN`] as `Authorization: Bearer`; any other
//! gets `401 {"errors": [{"message": "Token was invalid.", "code": 6003}]}`.
//!
//! Faults: a 500, a 429 with `Retry-After` (a used-up quota, Medium's daily cap on
//! posts, looks the same), a 401 for an expired token, and a 2xx body cut off
//! halfway (after the post was created).

mod errors;
mod store;

use std::sync::{Arc, Mutex, PoisonError};

use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{Auth, Key, Route, Service};
use serde_json::Value;

use crate::{
    api::API,
    spec::{PROVIDER_ID, TOKEN_FIELD},
};
use errors::ERRORS;
use store::Store;
pub use store::{
    SANDBOX_EDITED_PUBLICATION, SANDBOX_USER_ID, SANDBOX_USERNAME, SANDBOX_WRITER_PUBLICATION,
};

/// The integration token the fake accepts.
pub const SANDBOX_TOKEN: &str = "2f1e0d9c8b7a65432f1e0d9c8b7a6543a";

const ROUTES: &[Route<Store>] = &[
    Route::get("me", |store, _| store.me()),
    Route::get("users/{user}/publications", |store, call| {
        store.publications(call.param("user"))
    }),
    Route::get("publications/{publication}/contributors", |store, call| {
        store.contributors(call.param("publication"))
    }),
    Route::post("users/{user}/posts", |store, call| store.create(call, None)),
    Route::post("publications/{publication}/posts", |store, call| {
        let publication = call.param("publication").to_owned();
        store.create(call, Some(&publication))
    }),
];

const SERVICE: Service<Store> = Service::new(
    API.base.prefix,
    ROUTES,
    Auth::new(API.auth, PROVIDER_ID).keys(&[Key::full(SANDBOX_TOKEN)]),
    ERRORS,
);

/// The Medium fake. Clones share one account, so a test can count the posts the
/// adapter made ([`MediumFake::posts`]).
#[derive(Debug, Clone, Default)]
pub struct MediumFake {
    store: Arc<Mutex<Option<Store>>>,
}

impl MediumFake {
    /// Every post created, as Medium answered it.
    pub fn posts(&self) -> Vec<Value> {
        let guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        guard.as_ref().map(Store::posts).unwrap_or_default()
    }
}

impl ProviderFake for MediumFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        let mut guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let store = guard.get_or_insert_with(Store::default);
        SERVICE.serve(store, request, ctx)
    }

    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .credential(TOKEN_FIELD, SANDBOX_TOKEN)
            .fixture("user_id", SANDBOX_USER_ID)
            .fixture("username", SANDBOX_USERNAME)
            .fixture("publication_id", SANDBOX_EDITED_PUBLICATION)
            .fixture("writer_publication_id", SANDBOX_WRITER_PUBLICATION)
    }
}

//! Scaffolding for provider fakes (feature `fake`): what every fake of a provider's
//! API does the same way, built from the same description the adapter uses, so a
//! fake keeps only its data and what is truly its provider's own.
//!
//! A provider crate enables it from its `sandbox` feature
//! (`sandbox = ["junction-toolkit/fake"]`). It depends on core's fake contract
//! ([`junction_core::fake`]) alone, never on the sandbox server, so a fake runs the
//! same under `junction-sandbox` and under the conformance suite's `FakeServer`.
//!
//! | module | what it gives a fake |
//! |---|---|
//! | [`route`] | the route table: method and path pattern (named segments) to handler; 404 and 405 |
//! | [`data`] | [`Data`]: the JSON data files of a fake (seed tables, constant parts of objects) |
//! | [`auth`] | the credential read with the adapter's [`crate::AuthMode`]s, checked against the fake's keys or the sandbox's token authority; refusals to word |
//! | [`paging`] | [`Pager`]: a list paged as the adapter's [`crate::Paging`] walks it, in every style |
//! | [`idempotency`] | idempotency keys: the same request replays, another is refused |
//! | [`fields`] | [`Fields`]: a request body's fields read one by one, refusals worded by the catalogue |
//! | [`faults`] | the provider's answers to the fault switches |
//! | [`reply`] | error bodies in the provider's shape, JSON at pointers |
//! | [`service`] | [`Service`]: the description of a fake and the one order it answers in |
//!
//! A fake is a `const` [`Service`] (its routes a `const` table of handlers) served
//! from [`junction_core::fake::ProviderFake::handle`], its words — the errors it
//! answers with by name — data beside it:
//!
//! ```
//! use junction_core::fake::FakeResponse;
//! use junction_toolkit::{AuthMode, fake::*};
//!
//! static DATA: Data = Data::new(
//!     r#"{"errors": {
//!         "missing": [401, "unauthorized", "No API key"],
//!         "unknown": [401, "unauthorized", "Invalid API key"],
//!         "server_error": [500, "internal", "Try again later"],
//!         "rate_limited": {"status": 429, "code": "rate_limited", "message": "Slow down",
//!             "headers": {"retry-after": "{secs}"}},
//!         "quota_exhausted": [429, "quota", "Daily quota used up"],
//!         "not_found": [404, "not_found", "No route {method} {path}"]
//!     }}"#,
//! );
//! const MODES: &[AuthMode] = &[AuthMode::api_key_header("api_key", "X-Api-Key", "{key}")];
//! const ERRORS: ErrorShape =
//!     ErrorShape::new(Some("/error/code"), "/error/message").catalogue(&DATA, "/errors");
//!
//! fn me(_: &mut (), _: &Call<'_>) -> FakeResponse {
//!     FakeResponse::json(200, &serde_json::json!({"email": "me@example.com"}))
//! }
//!
//! const FAKE: Service<()> = Service::new(
//!     "v2",
//!     &[Route::get("me", me)],
//!     Auth::new(MODES, "example").keys(&[Key::full("k_test")]),
//!     ERRORS,
//! );
//! ```

pub mod auth;
pub mod data;
pub mod faults;
pub mod fields;
pub mod idempotency;
pub mod paging;
pub mod reply;
pub mod route;
pub mod service;

pub use auth::{Auth, Key, Principal, Refusal, Refused, Serves};
pub use data::{Data, fill, merged};
pub use fields::Fields;
pub use idempotency::{Idempotency, Reuse};
pub use paging::{Cursor, Page, PageError, Pager, Params, Sizes};
pub use reply::{ErrorShape, cut, empty, names, set};
pub use route::{Call, Found, Handler, Route};
pub use service::Service;

#[cfg(test)]
mod tests;

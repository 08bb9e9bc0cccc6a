//! A fake of the Sendgrid API.
//!
//! For the sandbox (demo mode, end-to-end tests) and the conformance suite, built on
//! the toolkit's fake scaffolding from the adapter's own description: routes below [`API_VERSION`], credentials read with [`API`]'s
//! auth modes, the list paged as [`PAGING`] walks it, errors in the provider's shape.
//!
//! Served under the sandbox's `/sendgrid/` mount, it answers:
//! - `GET /v1/account`: the account the credential belongs to;
//! - `GET /v1/items?created_since=YYYY-MM-DD`: [`ITEM_COUNT`] items, one a day
//!   back from today, newest first (see `data`).
//!
//! It accepts the key [`SANDBOX_API_KEY`] and refuses any other.
//!
//! Faults render as the provider renders them: a 500 `internal_error`, a 429
//! `rate_limited` with `Retry-After`, a 429 `quota_exceeded`, a 401 for an expired
//! credential, and a 200 body cut off halfway.

mod data;

use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{
    Auth, Call, Data, ErrorShape, Key, PageError, Pager, Refusal, Refused, Route, Service, set,
};
use serde_json::{Value, json};

pub use data::ITEM_COUNT;

use crate::{
    api::{API, PAGING},
    spec::{API_KEY_FIELD, API_VERSION, PROVIDER_ID},
};

/// The API key the fake accepts (the sandbox's catalog lists it).
pub const SANDBOX_API_KEY: &str = "sendgrid_test_sandbox";

/// Where the fake writes an error's code and message: where [`API`]'s envelope
/// reads them. Its faults and unknown paths answer in the words of [`WORDS`].
const ERRORS: ErrorShape =
    ErrorShape::new(Some("/error/code"), "/error/message").catalogue(&WORDS, "");

/// The provider's words, by name (see `junction_toolkit::fake::names`): `[status,
/// code, message]`, or an object with headers of its own; `{secs}`, `{method}` and
/// `{path}` are filled in.
static WORDS: Data = Data::new(
    r#"{
 "server_error": [500, "internal_error", "Something went wrong."],
 "rate_limited": {"status": 429, "code": "rate_limited", "message": "Too many requests; slow down.", "headers": {"retry-after": "{secs}"}},
 "quota_exhausted": [429, "quota_exceeded", "The quota is used up."],
 "not_found": [404, "not_found", "No such endpoint: {method} {path}"]
}"#,
);

/// The list of items, paged as the adapter walks it.
const PAGER: Pager = Pager::new(PAGING);

/// The fake's routes, credentials, errors and faults.
const SERVICE: Service<()> = Service::new(
    API_VERSION,
    &[Route::get("account", account), Route::get("items", items)],
    Auth::new(API.auth, PROVIDER_ID).keys(&[Key::full(SANDBOX_API_KEY)]),
    ERRORS,
)
.refuse(refuse);

/// The Sendgrid fake.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendgridFake;

impl ProviderFake for SendgridFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        SERVICE.serve(&mut (), request, ctx)
    }

    /// What connects the entry here: the key the fake accepts, and a lookback that
    /// covers every seeded item.
    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .credential(API_KEY_FIELD, SANDBOX_API_KEY)
            .config("lookback_days", 30)
            .fixture("items", ITEM_COUNT)
    }
}

/// A refused credential, in the provider's words.
fn refuse(refusal: &Refusal, _: &FakeRequest) -> FakeResponse {
    match refusal.why {
        Refused::Insufficient => ERRORS.reply(
            403,
            Some("forbidden"),
            "The credential lacks the permission this endpoint needs.",
        ),
        Refused::Expired => ERRORS.reply(401, Some("unauthorized"), "The credential has expired."),
        _ => ERRORS.reply(401, Some("unauthorized"), "Invalid or missing credentials."),
    }
}

/// `GET /v1/account`.
fn account(_: &mut (), _: &Call<'_>) -> FakeResponse {
    FakeResponse::json(
        200,
        &json!({"id": "acct_sandbox", "name": "Sendgrid Sandbox"}),
    )
}

/// `GET /v1/items`: the items created on or after `created_since`, newest first.
fn items(_: &mut (), call: &Call<'_>) -> FakeResponse {
    let since = call.query("created_since");
    if since.as_deref().is_some_and(|day| !data::is_day(day)) {
        return invalid("created_since", "must be a day, YYYY-MM-DD");
    }
    let kept = |item: &Value| match (&since, item["created_at"].as_str()) {
        (Some(since), Some(created)) => created.get(..10) >= Some(since.as_str()),
        _ => true,
    };
    match PAGER.page_where(call.request, data::items(call.now), kept) {
        Ok(page) => page.reply(),
        Err(PageError::Size { param, .. }) => invalid(param, "must be a number from 1 to 100"),
        Err(PageError::Cursor { param, .. } | PageError::Position { param, .. }) => {
            invalid(param, "is not a cursor of this list")
        }
        Err(PageError::BothDirections) => invalid("cursor", "pages one way at a time"),
    }
}

/// A 400 `invalid_parameter` naming `param`.
fn invalid(param: &str, problem: &str) -> FakeResponse {
    let message = format!("`{param}` {problem}");
    let mut body = ERRORS.body(400, Some("invalid_parameter"), &message);
    set(&mut body, "/error/param", Value::String(param.to_owned()));
    ERRORS.respond(400, &body)
}

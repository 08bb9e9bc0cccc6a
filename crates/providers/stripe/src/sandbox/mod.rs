//! A fake of Stripe's API for the sandbox (demo mode, end-to-end tests): the real
//! paths, form-encoded requests, JSON shapes (copied from Stripe's official fixtures,
//! `stripe/openapi` fixtures3.json, vendored beside this module), authentication,
//! errors and idempotency, over a deterministic, stateful data set.
//!
//! Served under the sandbox's `/stripe/` mount, it answers:
//! - `GET /v1/account`, `GET /v1/balance`;
//! - `GET /v1/{charges,payment_intents,customers,subscriptions,invoices,refunds,prices}`
//!   with `limit` (1–100, default 10), `starting_after` / `ending_before`, `created`
//!   and `created[gt|gte|lt|lte]` and each list's filters (`status=all` for
//!   subscriptions, `charge` for refunds, `customer`, …); unknown parameters are
//!   refused with Stripe's `parameter_unknown`;
//! - `GET /v1/{kind}/{id}`, also for `invoiceitems`, `payment_links` and
//!   `checkout/sessions`, and `GET /v1/customers/search` (Stripe's query language,
//!   `next_page` paging);
//! - `POST /v1/customers`, `/v1/payment_intents`, `/v1/subscriptions`, `/v1/refunds`,
//!   `/v1/invoices`, `/v1/invoiceitems`, `/v1/checkout/sessions`, `/v1/payment_links`,
//!   `/v1/customers/{id}`, `/v1/subscriptions/{id}` (items with prorations,
//!   `cancel_at_period_end`, `pause_collection`), `/v1/invoices/{id}/finalize|send|void`
//!   with form-encoded bodies, Stripe's validation messages and state rules, and
//!   `Idempotency-Key`: the same key with the same parameters replays the stored
//!   response (`Idempotent-Replayed: true`) without doing anything again; the same key
//!   with other parameters is a 400 `idempotency_error`;
//! - `DELETE /v1/subscriptions/{id}`, without idempotency as at Stripe: a canceled
//!   subscription reads as deleted (404).
//!
//! Credentials it accepts (test-mode values, published so demos need no setup):
//! - [`SECRET_KEY`] `sk_test_sandbox`: everything;
//! - [`RESTRICTED_KEY`] `rk_test_sandbox`: a restricted key that can read the synced
//!   lists and objects but not the account, and cannot write (403 otherwise).
//!
//! Any other key is a 401 `Invalid API Key provided`, with the key masked as Stripe
//! masks it. Test payment methods for confirming payment intents: `pm_card_visa`,
//! `pm_card_mastercard`, `pm_card_amex` succeed; `pm_card_chargeDeclined` and
//! `pm_card_chargeDeclinedInsufficientFunds` are declined with a 402 `card_error`.
//!
//! Every create records the events Stripe would send (`payment_intent.succeeded`,
//! `charge.refunded`, `customer.subscription.created`, `invoice.paid`, …);
//! [`StripeFake::events`] lists them and [`sign_event`] signs one with
//! [`WEBHOOK_SECRET`] (`whsec_junctionsandbox`) for delivery to Junction's webhook
//! endpoint.
//!
//! Faults render as Stripe renders them: a 500 `api_error` with
//! `Stripe-Should-Retry: true`; a 429 `rate_limit` error for rate limits and quotas
//! alike, **without** `Retry-After` (Stripe sends none, so an armed fault's
//! `retry_after_secs` is not echoed); a 401 `api_key_expired`; a 200 whose JSON is
//! cut off.
//!
//! Routing, the key check, paging, idempotency and the faults are the toolkit's fake
//! scaffolding ([`junction_toolkit::fake`]), read from the adapter's own description
//! ([`crate::api::API`], [`crate::streams::PAGING`], [`crate::api::IDEMPOTENCY`]);
//! this module keeps Stripe's words and its data.

mod fixtures;
mod seed;
mod store;

use std::sync::{Mutex, MutexGuard, PoisonError};

use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::{
    AuthMode,
    fake::{Auth, Call, Idempotency, Key, Refused, Reuse, Route, Service, names},
};
use secrecy::SecretString;
use serde_json::Value;

pub use fixtures::ACCOUNT_ID;
pub use seed::{SEED_END, SEED_START};

use crate::{
    api::{API, IDEMPOTENCY},
    spec::{API_VERSION, PROVIDER_ID, SECRET_KEY_FIELD},
};
use fixtures::ERRORS;
use store::{Op, Store};

/// The secret key the fake accepts for everything.
pub const SECRET_KEY: &str = "sk_test_sandbox";

/// A restricted key the fake accepts for reading lists and objects only.
pub const RESTRICTED_KEY: &str = "rk_test_sandbox";

/// The endpoint secret [`sign_event`] signs webhook deliveries with.
pub const WEBHOOK_SECRET: &str = "whsec_junctionsandbox";

/// The fake's mutable state: the data, the idempotency results, a request counter.
struct State {
    store: Store,
    /// Keyed by API key as well: Stripe scopes keys to the account.
    idempotency: Idempotency,
    requests: u64,
}

impl Default for State {
    fn default() -> Self {
        let mut store = Store::default();
        seed::seed(&mut store);
        Self {
            store,
            // Stripe saves the result once the request ran (a success or a card
            // refusal); requests refused by validation may be retried as they are.
            idempotency: Idempotency::default()
                .replayed("idempotent-replayed", "true")
                .keeps(|status| matches!(status, 200 | 402)),
            requests: 0,
        }
    }
}

/// The Stripe API fake. `Default` gives the seeded data set.
#[derive(Default)]
pub struct StripeFake {
    state: Mutex<State>,
}

impl std::fmt::Debug for StripeFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: the idempotency table is keyed by the API keys presented.
        let state = self.state();
        f.debug_struct("StripeFake")
            .field("requests", &state.requests)
            .field("events", &state.store.events().len())
            .finish_non_exhaustive()
    }
}

/// A webhook delivery as Stripe sends it: the `Stripe-Signature` header and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    pub signature: String,
    pub body: Vec<u8>,
}

/// Signs `event` with [`WEBHOOK_SECRET`] at `timestamp` (unix seconds).
pub fn sign_event(event: &Value, timestamp: i64) -> SignedWebhook {
    let body = event.to_string().into_bytes();
    let secret = SecretString::from(WEBHOOK_SECRET);
    SignedWebhook {
        signature: junction_core::webhook::stripe::sign(&secret, &body, timestamp),
        body,
    }
}

impl StripeFake {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves whole objects behind (every change is
        // one push or one field write), so the data stays usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The events the fake's operations emitted, oldest first.
    pub fn events(&self) -> Vec<Value> {
        self.state().store.events().to_vec()
    }

    /// The events of one type, oldest first.
    pub fn events_of(&self, event_type: &str) -> Vec<Value> {
        let events = self.events().into_iter();
        events.filter(|event| event["type"] == event_type).collect()
    }

    /// One stored object of a list (`charges`, `refunds`, …) by id.
    pub fn object(&self, list: &str, id: &str) -> Option<Value> {
        self.state().store.get(list, id).cloned()
    }

    /// Every stored object of a list, oldest first.
    pub fn objects(&self, list: &str) -> Vec<Value> {
        self.state().store.all(list).to_vec()
    }
}

/// The lists served at `/v1/{kind}` and `/v1/{kind}/{id}`.
macro_rules! lists {
    () => {
        "charges|payment_intents|customers|subscriptions|invoices|refunds|prices|invoiceitems|payment_links"
    };
}

/// The served endpoints; a restricted key may not read the account or write.
const ROUTES: &[Route<State>] = &[
    Route::get("account", |_, _| {
        FakeResponse::json(200, &fixtures::account())
    })
    .needs(&["full"]),
    Route::get("balance", |state, _| {
        FakeResponse::json(200, &state.store.balance())
    }),
    // Before `customers/{id}`.
    Route::get("customers/search", |state, call| {
        reply(state.store.search_customers(call.request))
    }),
    Route::get("checkout/sessions", |state, call| {
        reply(state.store.list("checkout_sessions", call.request))
    }),
    Route::get("checkout/sessions/{id}", |state, call| {
        reply(state.store.retrieve("checkout_sessions", call.param("id")))
    }),
    Route::get(concat!("{kind:", lists!(), "}"), |state, call| {
        reply(state.store.list(kind(call), call.request))
    }),
    Route::get(concat!("{kind:", lists!(), "}/{id}"), |state, call| {
        reply(state.store.retrieve(kind(call), call.param("id")))
    }),
    Route::post(
        "{kind:customers|payment_intents|subscriptions|refunds|invoices|invoiceitems|payment_links}",
        |state, call| idempotent(state, call, |store, call, body, op| store.create(kind(call), body, op)),
    )
    .needs(&["full"]),
    Route::post("checkout/sessions", |state, call| {
        idempotent(state, call, |store, _, body, op| store.create("checkout_sessions", body, op))
    })
    .needs(&["full"]),
    Route::post("customers/{id}", |state, call| {
        idempotent(state, call, |store, call, body, op| {
            store.update_customer(call.param("id"), body, op)
        })
    })
    .needs(&["full"]),
    Route::post("subscriptions/{id}", |state, call| {
        idempotent(state, call, |store, call, body, op| {
            store.update_subscription(call.param("id"), body, op)
        })
    })
    .needs(&["full"]),
    // Stripe keeps no idempotency for deletions: a second one meets the canceled
    // subscription, which reads as deleted (404).
    Route::delete("subscriptions/{id}", |state: &mut State, call| {
        let (body, op) = match decoded(call, true) {
            Ok(decoded) => decoded,
            Err(refused) => return refused,
        };
        reply(state.store.cancel_subscription(call.param("id"), &body, &op))
    })
    .needs(&["full"]),
    Route::post("invoices/{id}/{verb:finalize|send|void}", |state, call| {
        idempotent(state, call, |store, call, body, op| {
            store.invoice_verb(call.param("id"), call.param("verb"), body, op)
        })
    })
    .needs(&["full"]),
];

const SERVICE: Service<State> = Service::new(
    API.base.prefix,
    ROUTES,
    // Bearer as the adapter sends it, or Basic with the key as the user name.
    Auth::new(API.auth, PROVIDER_ID)
        .also(&[AuthMode::basic_key_as_username(SECRET_KEY_FIELD)])
        .keys(&[Key::full(SECRET_KEY), Key::with(RESTRICTED_KEY, &["read"])])
        .needs(&["read"]),
    ERRORS,
)
.routes_first()
// Stripe quotes the key, masked.
.refuse(|refusal, _| {
    let name = match refusal.why {
        Refused::Missing => names::MISSING,
        Refused::Expired => names::EXPIRED,
        Refused::Insufficient => names::INSUFFICIENT,
        Refused::Unknown | Refused::Disabled => names::UNKNOWN,
    };
    let key = mask(refusal.credential.as_deref().unwrap_or_default());
    ERRORS.named(name, &[("key", &key), ("account", ACCOUNT_ID)])
})
.guard(|call| {
    let version = call.request.header("stripe-version")?;
    (!is_version(version)).then(|| ERRORS.named("version", &[("version", version)]))
});

/// `sk_test_sandbox` → `sk_test_***********ndbox`-style masking, as Stripe shows keys.
fn mask(key: &str) -> String {
    let prefix_end = key
        .match_indices('_')
        .nth(1)
        .map_or(0, |(at, _)| at + 1)
        .min(key.len());
    let tail: Vec<char> = key.chars().rev().take(4).collect();
    let tail: String = tail.into_iter().rev().collect();
    format!("{}{}{tail}", &key[..prefix_end], "*".repeat(20))
}

/// Whether a `Stripe-Version` value has the form of a version (`2025-03-31.basil`).
fn is_version(value: &str) -> bool {
    let (date, name) = value.split_once('.').unwrap_or((value, "a"));
    let digits =
        |part: &str, len: usize| part.len() == len && part.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = date.split('-').collect();
    parts.len() == 3
        && digits(parts[0], 4)
        && digits(parts[1], 2)
        && digits(parts[2], 2)
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase())
}

impl ProviderFake for StripeFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn catalog(&self) -> CatalogEntry {
        fixtures::SEED.catalog(PROVIDER_ID)
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        let mut state = self.state();
        state.requests += 1;
        let request_id = format!("req_sandbox{:08}", state.requests);
        let version = request
            .header("stripe-version")
            .filter(|v| is_version(v))
            .unwrap_or(API_VERSION)
            .to_owned();
        SERVICE
            .serve(&mut state, request, ctx)
            .with_header("request-id", &request_id)
            .with_header("stripe-version", &version)
    }
}

/// The list a route names (the table admits only served kinds).
fn kind(call: &Call<'_>) -> &'static str {
    store::kind(call.param("kind")).unwrap_or("charges")
}

fn reply(result: Result<Value, store::Refused>) -> FakeResponse {
    match result {
        Ok(value) => FakeResponse::json(200, &value),
        Err(refusal) => *refusal,
    }
}

/// A request's parameters (its form body, and for a deletion its query too) and
/// when it runs; or Stripe's refusal of an unreadable form.
fn decoded(call: &Call<'_>, with_query: bool) -> Result<(Value, Op), FakeResponse> {
    let request = call.request;
    let mut pairs = request.form_pairs();
    if with_query {
        pairs.extend(request.query_pairs());
    }
    let body = crate::form::decode(&pairs)
        .map_err(|e| ERRORS.named("bad_form", &[("key", &e.key), ("message", e.message)]))?;
    let op = Op {
        now: call.now.timestamp(),
        idempotency_key: request.header(IDEMPOTENCY.header).map(str::to_owned),
    };
    Ok((body, op))
}

/// What a write does to the store.
type Write = fn(&mut Store, &Call<'_>, &Value, &Op) -> Result<Value, store::Refused>;

/// A write through the idempotency store (keys scoped to the API key): the same key
/// with the same parameters replays the first answer, with others it is refused.
fn idempotent(state: &mut State, call: &Call<'_>, write: Write) -> FakeResponse {
    let request = call.request;
    let (body, op) = match decoded(call, false) {
        Ok(decoded) => decoded,
        Err(refused) => return refused,
    };
    let mut pairs = request.form_pairs();
    pairs.sort();
    let form = crate::form::to_body(&pairs);
    let fingerprint = format!("{} {}\n{form}", request.method, request.path).into_bytes();
    let State {
        store, idempotency, ..
    } = state;
    let answer = || reply(write(store, call, &body, &op));
    match idempotency.run(
        &IDEMPOTENCY,
        call.credential(),
        request,
        fingerprint,
        answer,
    ) {
        Ok(response) => response,
        Err(Reuse::BadKey) => ERRORS.named("bad_idempotency_key", &[]),
        Err(Reuse::Conflict(key)) => ERRORS.named("idempotency_conflict", &[("key", &key)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use junction_core::fake::{Fault, NoTokens};

    #[test]
    fn the_catalog_names_the_fakes_values() {
        let entry = StripeFake::default().catalog();
        assert_eq!(entry.credentials["secret_key"], SECRET_KEY);
        assert_eq!(entry.credentials["webhook_secret"], WEBHOOK_SECRET);
        assert_eq!(entry.webhook_secret.as_deref(), Some(WEBHOOK_SECRET));
        assert_eq!(entry.special_values[0].value, RESTRICTED_KEY);
        assert_eq!(entry.fixtures["account_id"], ACCOUNT_ID);
    }

    #[test]
    fn the_faults_read_as_the_adapter_reads_them() {
        let policy = junction_core::http::ResponsePolicy::API_KEY;
        let checked = junction_toolkit::fake::faults::check(&ERRORS, &API, &policy);
        assert_eq!(checked, Ok(()));
    }

    fn request(
        method: http::Method,
        path: &str,
        query: &str,
        key: Option<&str>,
        body: &str,
    ) -> FakeRequest {
        let mut headers = http::HeaderMap::new();
        if let Some(key) = key {
            headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        FakeRequest {
            method,
            path: path.into(),
            query: query.into(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    fn call(fake: &StripeFake, request: &FakeRequest, fault: Option<Fault>) -> (u16, Value) {
        let ctx = FakeContext {
            tokens: &NoTokens,
            fault,
            now: Utc.with_ymd_and_hms(2026, 4, 15, 12, 0, 0).unwrap(),
        };
        let response = fake.handle(request, &ctx);
        (
            response.status,
            serde_json::from_slice(&response.body).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn keys_are_checked_and_masked() {
        let fake = StripeFake::default();
        let get = http::Method::GET;
        let (status, body) = call(
            &fake,
            &request(get.clone(), "/v1/charges", "", None, ""),
            None,
        );
        assert_eq!(status, 401);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("You did not provide an API key")
        );
        let (status, body) = call(
            &fake,
            &request(
                get.clone(),
                "/v1/charges",
                "",
                Some("sk_test_wrongkey1234"),
                "",
            ),
            None,
        );
        assert_eq!(status, 401);
        assert_eq!(
            body["error"]["message"],
            "Invalid API Key provided: sk_test_********************1234"
        );
        let (status, _) = call(
            &fake,
            &request(get.clone(), "/v1/account", "", Some(RESTRICTED_KEY), ""),
            None,
        );
        assert_eq!(status, 403);
        let (status, _) = call(
            &fake,
            &request(get, "/v1/charges", "limit=1", Some(RESTRICTED_KEY), ""),
            None,
        );
        assert_eq!(status, 200);
        let (status, _) = call(
            &fake,
            &request(
                http::Method::POST,
                "/v1/customers",
                "",
                Some(RESTRICTED_KEY),
                "name=x",
            ),
            None,
        );
        assert_eq!(status, 403);
    }

    #[test]
    fn unknown_routes_and_parameters_are_refused() {
        let fake = StripeFake::default();
        let (status, body) = call(
            &fake,
            &request(http::Method::GET, "/v1/nothing", "", Some(SECRET_KEY), ""),
            None,
        );
        assert_eq!(status, 404);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Unrecognized request URL")
        );
        let (status, body) = call(
            &fake,
            &request(
                http::Method::GET,
                "/v1/charges",
                "expand%5B%5D=data.customer",
                Some(SECRET_KEY),
                "",
            ),
            None,
        );
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], "parameter_unknown");
        let (status, body) = call(
            &fake,
            &request(
                http::Method::GET,
                "/v1/charges",
                "limit=101",
                Some(SECRET_KEY),
                "",
            ),
            None,
        );
        assert_eq!(
            (status, body["error"]["param"].as_str()),
            (400, Some("limit"))
        );
    }

    #[test]
    fn faults_render_like_stripe() {
        let fake = StripeFake::default();
        let get = request(http::Method::GET, "/v1/account", "", Some(SECRET_KEY), "");
        let ctx = |fault| FakeContext {
            tokens: &NoTokens,
            fault: Some(fault),
            now: Utc::now(),
        };
        let response = fake.handle(&get, &ctx(Fault::ServerError));
        assert_eq!(response.status, 500);
        assert!(
            response
                .headers
                .iter()
                .any(|(k, v)| k == "stripe-should-retry" && v == "true")
        );
        let response = fake.handle(
            &get,
            &ctx(Fault::RateLimited {
                retry_after_secs: 9,
            }),
        );
        assert_eq!(response.status, 429);
        assert!(
            !response
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        );
        let response = fake.handle(&get, &ctx(Fault::ExpiredToken));
        assert_eq!(response.status, 401);
        let response = fake.handle(&get, &ctx(Fault::MalformedBody));
        assert_eq!(response.status, 200);
        assert!(serde_json::from_slice::<Value>(&response.body).is_err());
    }

    #[test]
    fn versions_are_checked() {
        assert!(is_version("2025-03-31.basil"));
        assert!(is_version("2024-06-20"));
        assert!(!is_version("latest"));
        assert!(!is_version("2024-6-20"));
        assert!(!is_version("2025-03-31."));
        let fake = StripeFake::default();
        let mut get = request(http::Method::GET, "/v1/account", "", Some(SECRET_KEY), "");
        get.headers
            .insert("stripe-version", "yesterday".parse().unwrap());
        let (status, body) = call(&fake, &get, None);
        assert_eq!(status, 400);
        assert_eq!(
            body["error"]["message"],
            "Invalid Stripe API version: yesterday"
        );
    }
}

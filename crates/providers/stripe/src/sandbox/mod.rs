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
//! - `GET /v1/{kind}/{id}`;
//! - `POST /v1/customers`, `/v1/payment_intents`, `/v1/subscriptions`, `/v1/refunds`,
//!   `/v1/invoices` with form-encoded bodies, Stripe's validation messages, and
//!   `Idempotency-Key`: the same key with the same parameters replays the stored
//!   response (`Idempotent-Replayed: true`) without doing anything again; the same key
//!   with other parameters is a 400 `idempotency_error`.
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

mod error;
mod fixtures;
mod seed;
mod store;

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use junction_core::fake::{
    CatalogEntry, FakeContext, FakeRequest, FakeResponse, Fault, ProviderFake,
};
use secrecy::SecretString;
use serde_json::Value;

pub use fixtures::ACCOUNT_ID;
pub use seed::{PRICES, SEED_END, SEED_START};

use crate::spec::{API_VERSION, PROVIDER_ID};
use error::stripe_error;
use store::{Kind, Op, Store};

/// The secret key the fake accepts for everything.
pub const SECRET_KEY: &str = "sk_test_sandbox";

/// A restricted key the fake accepts for reading lists and objects only.
pub const RESTRICTED_KEY: &str = "rk_test_sandbox";

/// The endpoint secret [`sign_event`] signs webhook deliveries with.
pub const WEBHOOK_SECRET: &str = "whsec_junctionsandbox";

/// A stored result of an idempotent request.
#[derive(Debug, Clone)]
struct Stored {
    /// Method, path and the sorted parameters: what must match for a replay.
    fingerprint: String,
    response: FakeResponse,
}

/// The fake's mutable state: the data, the idempotency results, a request counter.
struct State {
    store: Store,
    /// By (API key, idempotency key): Stripe scopes keys to the account.
    idempotency: HashMap<(String, String), Stored>,
    requests: u64,
}

impl Default for State {
    fn default() -> Self {
        let mut store = Store::default();
        seed::seed(&mut store);
        Self {
            store,
            idempotency: HashMap::new(),
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
            .field("idempotency_keys", &state.idempotency.len())
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
        self.events()
            .into_iter()
            .filter(|event| event.get("type").and_then(Value::as_str) == Some(event_type))
            .collect()
    }

    /// One stored object of a list (`charges`, `refunds`, …) by id.
    pub fn object(&self, list: &str, id: &str) -> Option<Value> {
        let kind = Kind::from_segment(list)?;
        self.state().store.get(kind, id).cloned()
    }

    /// Every stored object of a list, oldest first.
    pub fn objects(&self, list: &str) -> Vec<Value> {
        match Kind::from_segment(list) {
            Some(kind) => self.state().store.all(kind).to_vec(),
            None => Vec::new(),
        }
    }
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq)]
enum Route {
    Account,
    Balance,
    List(Kind),
    Retrieve(Kind, String),
    Create(Kind),
}

impl Route {
    fn parse(method: &http::Method, path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/v1/")?;
        let segments: Vec<&str> = rest.split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["account"]) => Some(Self::Account),
            ("GET", ["balance"]) => Some(Self::Balance),
            ("GET", [list]) => Kind::from_segment(list).map(Self::List),
            ("GET", [list, id]) if !id.is_empty() => {
                Kind::from_segment(list).map(|kind| Self::Retrieve(kind, (*id).to_owned()))
            }
            ("POST", [list]) => match Kind::from_segment(list)? {
                kind @ (Kind::Customer
                | Kind::PaymentIntent
                | Kind::Subscription
                | Kind::Refund
                | Kind::Invoice) => Some(Self::Create(kind)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `sk_test_sandbox` → `sk_test_***********ndbox`-style masking, as Stripe shows keys.
fn mask(key: &str) -> String {
    let prefix_end = key
        .match_indices('_')
        .nth(1)
        .map_or(0, |(at, _)| at + 1)
        .min(key.len());
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{}{}{tail}", &key[..prefix_end], "*".repeat(20))
}

/// The API key of a request: `Authorization: Bearer <key>` or Basic with the key as
/// the username (both work with Stripe).
fn presented_key(request: &FakeRequest) -> Option<String> {
    if let Some(token) = request.bearer().filter(|t| !t.is_empty()) {
        return Some(token.to_owned());
    }
    let value = request.header("authorization")?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split(':').next()?.to_owned();
    (!user.is_empty()).then_some(user)
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
        CatalogEntry::default()
            .credential("secret_key", SECRET_KEY)
            .credential("webhook_secret", WEBHOOK_SECRET)
            .webhook_secret(WEBHOOK_SECRET)
            .special_value(
                "secret_key",
                RESTRICTED_KEY,
                "a restricted key: reads the synced lists and objects, not the account; \
                 cannot write (403)",
            )
            .fixture("account_id", ACCOUNT_ID)
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
        let response = answer(&mut state, request, ctx);
        response
            .with_header("request-id", &request_id)
            .with_header("stripe-version", &version)
    }
}

fn answer(state: &mut State, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
    let Some(route) = Route::parse(&request.method, &request.path) else {
        return stripe_error(
            404,
            "invalid_request_error",
            None,
            &format!(
                "Unrecognized request URL ({}: {}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.",
                request.method, request.path
            ),
            None,
        );
    };
    // An outage answers before anything is checked.
    if ctx.fault == Some(Fault::ServerError) {
        return stripe_error(500, "api_error", None, "An unknown error occurred", None)
            .with_header("stripe-should-retry", "true");
    }
    let key = match authenticate(request, ctx) {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    if matches!(
        ctx.fault,
        Some(Fault::RateLimited { .. } | Fault::QuotaExhausted)
    ) {
        return stripe_error(
            429,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            None,
        );
    }
    if let Some(version) = request.header("stripe-version")
        && !is_version(version)
    {
        return stripe_error(
            400,
            "invalid_request_error",
            None,
            &format!("Invalid Stripe API version: {version}"),
            None,
        );
    }
    let restricted = key.starts_with("rk_");
    if restricted && matches!(route, Route::Account | Route::Create(_)) {
        return stripe_error(
            403,
            "invalid_request_error",
            None,
            &format!(
                "The provided key '{}' does not have the required permissions for this endpoint on account '{}'.",
                mask(&key),
                ACCOUNT_ID
            ),
            None,
        );
    }
    let response = match route {
        Route::Account => FakeResponse::json(200, &fixtures::account()),
        Route::Balance => FakeResponse::json(200, &state.store.balance()),
        Route::List(kind) => reply(state.store.list(kind, &request.query_pairs())),
        Route::Retrieve(kind, id) => reply(state.store.retrieve(kind, &id)),
        Route::Create(kind) => create(state, &key, kind, request, ctx),
    };
    if ctx.fault == Some(Fault::MalformedBody) && response.status == 200 {
        // A transfer cut off halfway: a 200 whose JSON never closes.
        let cut = response.body.len() / 2;
        return FakeResponse {
            body: response.body[..cut].to_vec(),
            ..response
        };
    }
    response
}

fn reply(result: Result<Value, store::Refused>) -> FakeResponse {
    match result {
        Ok(value) => FakeResponse::json(200, &value),
        Err(refusal) => *refusal,
    }
}

/// Checks the API key the way Stripe does.
fn authenticate(request: &FakeRequest, ctx: &FakeContext<'_>) -> Result<String, FakeResponse> {
    let Some(key) = presented_key(request) else {
        return Err(stripe_error(
            401,
            "invalid_request_error",
            None,
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
            None,
        ));
    };
    if ctx.fault == Some(Fault::ExpiredToken) {
        return Err(stripe_error(
            401,
            "invalid_request_error",
            Some("api_key_expired"),
            &format!("Expired API Key provided: {}", mask(&key)),
            None,
        ));
    }
    if key != SECRET_KEY && key != RESTRICTED_KEY {
        return Err(stripe_error(
            401,
            "invalid_request_error",
            None,
            &format!("Invalid API Key provided: {}", mask(&key)),
            None,
        ));
    }
    Ok(key)
}

/// A create request, through the idempotency store.
fn create(
    state: &mut State,
    api_key: &str,
    kind: Kind,
    request: &FakeRequest,
    ctx: &FakeContext<'_>,
) -> FakeResponse {
    let idempotency_key = request.header("idempotency-key").map(str::to_owned);
    if let Some(key) = &idempotency_key
        && (key.is_empty() || key.chars().count() > 255)
    {
        return stripe_error(
            400,
            "invalid_request_error",
            None,
            "Invalid idempotency key: must be between 1 and 255 characters long.",
            None,
        );
    }
    let mut pairs = request.form_pairs();
    let body = match crate::form::decode(&pairs) {
        Ok(body) => body,
        Err(error) => {
            return stripe_error(
                400,
                "invalid_request_error",
                None,
                &format!("Invalid request parameter {}: {}", error.key, error.message),
                Some(&error.key),
            );
        }
    };
    pairs.sort();
    let fingerprint = format!(
        "{} {}\n{}",
        request.method,
        request.path,
        crate::form::to_body(&pairs)
    );
    let slot = idempotency_key.clone().map(|key| (api_key.to_owned(), key));
    if let Some(stored) = slot.as_ref().and_then(|slot| state.idempotency.get(slot)) {
        if stored.fingerprint == fingerprint {
            return stored
                .response
                .clone()
                .with_header("idempotent-replayed", "true");
        }
        return stripe_error(
            400,
            "idempotency_error",
            None,
            &format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{}' if you meant to execute a different request.",
                slot.as_ref().map_or("", |(_, key)| key.as_str())
            ),
            None,
        );
    }
    let op = Op {
        now: ctx.now.timestamp(),
        idempotency_key,
    };
    let result = match kind {
        Kind::Customer => state.store.create_customer(&body, &op),
        Kind::PaymentIntent => state.store.create_payment_intent(&body, &op),
        Kind::Subscription => state.store.create_subscription(&body, &op),
        Kind::Refund => state.store.create_refund(&body, &op),
        Kind::Invoice => state.store.create_invoice(&body, &op),
        Kind::Charge | Kind::Price => {
            return stripe_error(
                404,
                "invalid_request_error",
                None,
                "Unrecognized request URL.",
                None,
            );
        }
    };
    let response = reply(result);
    // Stripe saves the result once the request ran (a success or a card refusal);
    // requests refused by validation are not saved and may be retried as they are.
    if let Some(slot) = slot
        && matches!(response.status, 200 | 402)
    {
        state.idempotency.insert(
            slot,
            Stored {
                fingerprint,
                response: response.clone(),
            },
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use junction_core::fake::NoTokens;

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

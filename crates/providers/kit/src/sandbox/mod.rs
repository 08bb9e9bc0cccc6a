//! A fake of Kit's v4 API for the sandbox (demo mode, end-to-end tests): the real
//! paths, JSON shapes, cursor paging, auth check and error bodies, over a stateful
//! fake account with deterministic seed data.
//!
//! Served under the sandbox's `/kit/` mount, it answers below `/v4/`:
//! - `GET account`, `GET account/growth_stats?starting&ending` (whole UTC days: the
//!   fake account's sending time zone is UTC);
//! - `GET subscribers?status&updated_after&per_page&after` and `POST subscribers`
//!   (an upsert by email address: 201 when created, 200 when updated; unknown custom
//!   field keys are ignored and named in `warnings`);
//! - `GET tags`, `GET sequences`, `GET forms?status&type`, `GET custom_fields`;
//! - `POST tags|sequences|forms/{id}/subscribers` (by `email_address`) and
//!   `POST tags|sequences|forms/{id}/subscribers/{subscriber_id}`: 201 when added, 200
//!   when already there, 404 for an unknown id or subscriber, 422 for an inactive
//!   sequence;
//! - `GET broadcasts?sent_after&per_page&after`, `POST broadcasts`,
//!   `GET broadcasts/{id}/stats`.
//!
//! Lists are ordered newest (highest id) first and paged like Kit: `per_page` (default
//! 500, at most 1000) and opaque `after` cursors (base64 of `[id]`).
//!
//! **Credentials.** [`KitFake::default()`] (the `kit` entry, mounted at `/kit/`)
//! accepts one API key, [`SANDBOX_API_KEY`] (`kit_sandbox_4f9a2c7e1b8d5a30`), in the
//! `X-Kit-Api-Key` header; any other key, or none, gets Kit's 401
//! `{"errors": ["The API key is invalid"]}`. [`KitFake::oauth()`] (the `kit-oauth`
//! entry, mounted at `/kit-oauth/`) serves the same account and paths but accepts only
//! `Authorization: Bearer <token>` with a token the sandbox's OAuth server issued for
//! `kit-oauth` and that is still valid; an unknown token gets Kit's 401 `The access
//! token is invalid`, an expired or revoked one `The access token expired` (which tells
//! Junction to refresh). Kit does not sign its webhooks, so there is no webhook secret.
//!
//! **Faults** render as Kit renders them: 500 with an `errors` body, 401 for a key
//! treated as revoked, 429 with the plain-text body `Retry later` and no `Retry-After`
//! (Kit has no separate quota signal, so an exhausted quota looks the same), and a
//! truncated 200 body.
//!
//! The fake seeds its account on its first request, backwards from that moment; later
//! writes change it (behind a mutex), so a created subscriber shows up in the next
//! list and in the growth stats.

mod store;

use std::sync::Mutex;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use junction_core::fake::{
    CatalogEntry, FakeContext, FakeRequest, FakeResponse, Fault, ProviderFake, TokenStatus,
};
use serde_json::{Map, Value, json};

use crate::spec::{API_KEY_FIELD, OAUTH_PROVIDER_ID, PROVIDER_ID};
use store::{Broadcast, CUSTOM_FIELDS, EMAIL_TEMPLATES, SENDING_ADDRESS, Stats, Store, Subscriber};

/// The API key the sandbox accepts.
pub const SANDBOX_API_KEY: &str = "kit_sandbox_4f9a2c7e1b8d5a30";

/// The fake account's id and name.
pub const SANDBOX_ACCOUNT_ID: u64 = 424_242;
pub const SANDBOX_ACCOUNT_NAME: &str = "Sandbox Creator";

/// Kit's page size default and maximum.
const DEFAULT_PER_PAGE: usize = 500;
const MAX_PER_PAGE: usize = 1000;

/// How the fake authenticates requests: which provider entry it fakes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Auth {
    /// `kit`: the `X-Kit-Api-Key` header.
    #[default]
    ApiKey,
    /// `kit-oauth`: a Bearer token from the sandbox's OAuth server.
    OAuth,
}

/// The Kit API fake. See the module documentation.
#[derive(Debug, Default)]
pub struct KitFake {
    auth: Auth,
    store: Mutex<Option<Store>>,
}

impl KitFake {
    /// The fake of the `kit-oauth` entry: the same API, authenticated by Bearer tokens
    /// the sandbox's OAuth server issued.
    pub fn oauth() -> Self {
        Self {
            auth: Auth::OAuth,
            store: Mutex::default(),
        }
    }

    /// Kit's 401 for the request's credential, or `None` when it is accepted.
    fn refuse(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> Option<FakeResponse> {
        match self.auth {
            Auth::ApiKey => {
                let key_ok = request.header("x-kit-api-key") == Some(SANDBOX_API_KEY);
                (!key_ok || ctx.fault == Some(Fault::ExpiredToken))
                    .then(|| errors(401, &["The API key is invalid"]))
            }
            Auth::OAuth => {
                let status = match request.bearer().filter(|t| !t.is_empty()) {
                    None => return Some(errors(401, &["The access token is invalid"])),
                    Some(_) if ctx.fault == Some(Fault::ExpiredToken) => TokenStatus::Expired,
                    Some(token) => ctx.tokens.check(OAUTH_PROVIDER_ID, token),
                };
                match status {
                    TokenStatus::Valid { .. } => None,
                    TokenStatus::Expired => Some(errors(401, &["The access token expired"])),
                    TokenStatus::Unknown => Some(errors(401, &["The access token is invalid"])),
                }
            }
        }
    }
}

impl ProviderFake for KitFake {
    fn provider_id(&self) -> &'static str {
        match self.auth {
            Auth::ApiKey => PROVIDER_ID,
            Auth::OAuth => OAUTH_PROVIDER_ID,
        }
    }

    fn catalog(&self) -> CatalogEntry {
        // Every setting is optional: the key (or the token) alone reaches the account.
        let entry = CatalogEntry::default()
            .fixture("account_id", SANDBOX_ACCOUNT_ID)
            .fixture("account_name", SANDBOX_ACCOUNT_NAME);
        match self.auth {
            Auth::ApiKey => entry.credential(API_KEY_FIELD, SANDBOX_API_KEY),
            Auth::OAuth => entry,
        }
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // An outage answers before anything is checked.
        if ctx.fault == Some(Fault::ServerError) {
            return errors(500, &["Something went wrong. Please try again later."]);
        }
        if let Some(refused) = self.refuse(request, ctx) {
            return refused;
        }
        if matches!(
            ctx.fault,
            Some(Fault::RateLimited { .. } | Fault::QuotaExhausted)
        ) {
            // Kit's limiter answers in plain text and sends no Retry-After.
            return FakeResponse::text(429, "Retry later");
        }
        let Ok(mut guard) = self.store.lock() else {
            return errors(500, &["Something went wrong. Please try again later."]);
        };
        let store = guard.get_or_insert_with(|| Store::seed(ctx.now));
        let response = route(store, request, ctx.now);
        if ctx.fault == Some(Fault::MalformedBody) && response.status < 300 {
            // A transfer cut off halfway: a 2xx whose JSON never closes.
            let cut = response.body.len() / 2;
            return FakeResponse {
                body: response.body[..cut].to_vec(),
                ..response
            };
        }
        response
    }
}

/// Kit's error body.
fn errors(status: u16, messages: &[&str]) -> FakeResponse {
    FakeResponse::json(status, &json!({ "errors": messages }))
}

fn not_found() -> FakeResponse {
    errors(404, &["Not Found"])
}

fn route(store: &mut Store, request: &FakeRequest, now: DateTime<Utc>) -> FakeResponse {
    let Some(path) = request.path.strip_prefix("/v4/") else {
        return not_found();
    };
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let get = request.method == http::Method::GET;
    let post = request.method == http::Method::POST;
    match segments.as_slice() {
        ["account"] if get => account(),
        ["account", "growth_stats"] if get => growth_stats(store, request, now),
        ["subscribers"] if get => list_subscribers(store, request),
        ["subscribers"] if post => with_body(request, |body| upsert_subscriber(store, body, now)),
        ["tags"] if get => list(request, "tags", store.tags.values().map(|t| store.tag_json(t))),
        ["sequences"] if get => list(
            request,
            "sequences",
            store.sequences.values().map(|s| store.sequence_json(s)),
        ),
        ["forms"] if get => list_forms(store, request),
        ["custom_fields"] if get => list(
            request,
            "custom_fields",
            CUSTOM_FIELDS.iter().map(|(id, key, label)| {
                json!({"id": id, "name": format!("ck_field_{id}_{key}"), "key": key, "label": label})
            }),
        ),
        ["broadcasts"] if get => list_broadcasts(store, request),
        ["broadcasts"] if post => with_body(request, |body| create_broadcast(store, body, now)),
        ["broadcasts", id, "stats"] if get => match parse_id(id).and_then(|id| store.broadcasts.get(&id)) {
            Some(broadcast) => FakeResponse::json(200, &store.stats_json(broadcast)),
            None => not_found(),
        },
        [collection @ ("tags" | "sequences" | "forms"), id, "subscribers"] if post => {
            with_body(request, |body| {
                let email = body.get("email_address").and_then(Value::as_str);
                let Some(email) = email.filter(|e| !e.trim().is_empty()) else {
                    return errors(
                        422,
                        &[&format!(
                            "Either subscriber id or email address is required to {}",
                            match *collection {
                                "tags" => "tag subscriber",
                                "sequences" => "add subscriber to sequence",
                                _ => "add subscriber to form",
                            }
                        )],
                    );
                };
                let subscriber = store.subscriber_by_email(email).map(|s| s.id);
                add_member(store, collection, id, subscriber, body, now)
            })
        }
        [collection @ ("tags" | "sequences" | "forms"), id, "subscribers", subscriber] if post => {
            with_body(request, |body| {
                let subscriber = parse_id(subscriber).filter(|s| store.subscribers.contains_key(s));
                add_member(store, collection, id, subscriber, body, now)
            })
        }
        _ => not_found(),
    }
}

/// Runs `handler` on the request's JSON object body (an empty body is `{}`).
fn with_body(
    request: &FakeRequest,
    handler: impl FnOnce(&Map<String, Value>) -> FakeResponse,
) -> FakeResponse {
    if request.body.is_empty() {
        return handler(&Map::new());
    }
    match request.json::<Value>() {
        Ok(Value::Object(body)) => handler(&body),
        _ => errors(400, &["The request body is not valid JSON"]),
    }
}

fn parse_id(text: &str) -> Option<u64> {
    text.parse().ok()
}

fn account() -> FakeResponse {
    FakeResponse::json(
        200,
        &json!({
            "user": {"email": SENDING_ADDRESS, "id": SANDBOX_ACCOUNT_ID},
            "account": {
                "id": SANDBOX_ACCOUNT_ID,
                "name": SANDBOX_ACCOUNT_NAME,
                "plan_type": "creator",
                "primary_email_address": SENDING_ADDRESS,
                "created_at": "2024-01-08T09:30:00Z",
                "timezone": {"name": "Etc/UTC", "friendly_name": "UTC", "utc_offset": "+00:00"},
                "sending_addresses": [{
                    "email_address": SENDING_ADDRESS,
                    "from_name": SANDBOX_ACCOUNT_NAME,
                    "status": "verified",
                    "is_default": true,
                    "is_verified": true,
                    "is_dmarc_configured": true
                }]
            }
        }),
    )
}

/// A `yyyy-mm-dd` query date (a longer ISO 8601 time is read by its date part).
fn query_date(request: &FakeRequest, name: &str) -> Result<Option<NaiveDate>, ()> {
    match request.query_param(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ()),
    }
}

fn growth_stats(store: &Store, request: &FakeRequest, now: DateTime<Utc>) -> FakeResponse {
    let today = now.date_naive();
    let Ok(starting) = query_date(request, "starting") else {
        return errors(
            422,
            &["Starting date is incorrectly formatted. Use YYYY-MM-DD."],
        );
    };
    let Ok(ending) = query_date(request, "ending") else {
        return errors(
            422,
            &["Ending date is incorrectly formatted. Use YYYY-MM-DD."],
        );
    };
    let ending = ending.unwrap_or(today);
    let starting = starting.unwrap_or(today - chrono::Duration::days(90));
    if starting > ending {
        return errors(422, &["Starting date must be before the ending date."]);
    }
    FakeResponse::json(200, &store.growth_json(starting, ending))
}

/// Encodes Kit's opaque cursor for an item id.
fn cursor_of(id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("[{id}]"))
}

fn id_of_cursor(cursor: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// One page of `items` (any order in, highest id first out) under `key`.
fn list(request: &FakeRequest, key: &str, items: impl Iterator<Item = Value>) -> FakeResponse {
    let mut items: Vec<Value> = items.collect();
    let id = |item: &Value| item.get("id").and_then(Value::as_u64).unwrap_or_default();
    items.sort_by_key(|item| std::cmp::Reverse(id(item)));
    let per_page = request
        .query_param("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    let after = match request.query_param("after").filter(|a| !a.is_empty()) {
        None => None,
        Some(cursor) => match id_of_cursor(&cursor) {
            Some(after) => Some(after),
            None => return errors(400, &["Invalid pagination cursor"]),
        },
    };
    let remaining: Vec<Value> = items
        .into_iter()
        .filter(|item| after.is_none_or(|after| id(item) < after))
        .collect();
    let has_next_page = remaining.len() > per_page;
    let page: Vec<Value> = remaining.into_iter().take(per_page).collect();
    let cursor = |item: Option<&Value>| item.map_or(Value::Null, |item| json!(cursor_of(id(item))));
    FakeResponse::json(
        200,
        &json!({
            key: page,
            "pagination": {
                "has_previous_page": after.is_some(),
                "has_next_page": has_next_page,
                "start_cursor": cursor(page.first()),
                "end_cursor": cursor(page.last()),
                "per_page": per_page,
            }
        }),
    )
}

fn list_subscribers(store: &Store, request: &FakeRequest) -> FakeResponse {
    let status = request
        .query_param("status")
        .unwrap_or_else(|| "active".to_owned());
    if ![
        "active",
        "inactive",
        "bounced",
        "complained",
        "cancelled",
        "all",
    ]
    .contains(&status.as_str())
    {
        return errors(422, &["Status is not valid"]);
    }
    let Ok(updated_after) = query_date(request, "updated_after") else {
        return errors(
            422,
            &["updated_after is incorrectly formatted. Use YYYY-MM-DD."],
        );
    };
    let since = updated_after.map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc());
    let items = store
        .subscribers
        .values()
        .filter(|s| status == "all" || s.state == status)
        .filter(|s| since.is_none_or(|since| s.updated_at >= since))
        .map(|s| store.subscriber_json(s));
    list(request, "subscribers", items)
}

fn list_forms(store: &Store, request: &FakeRequest) -> FakeResponse {
    let status = request
        .query_param("status")
        .unwrap_or_else(|| "active".to_owned());
    let kind = request.query_param("type");
    let items = store
        .forms
        .values()
        .filter(|f| match status.as_str() {
            "all" => true,
            "archived" => f.archived,
            // The fake has no trashed forms.
            "trashed" => false,
            _ => !f.archived,
        })
        .filter(|f| kind.as_deref().is_none_or(|k| k == f.kind))
        .map(|f| store.form_json(f));
    list(request, "forms", items)
}

fn list_broadcasts(store: &Store, request: &FakeRequest) -> FakeResponse {
    let (Ok(sent_after), Ok(sent_before)) = (
        query_date(request, "sent_after"),
        query_date(request, "sent_before"),
    ) else {
        return errors(422, &["Dates must be formatted YYYY-MM-DD."]);
    };
    let items = store
        .broadcasts
        .values()
        .filter(|b| match (sent_after, sent_before) {
            (None, None) => true,
            _ => b.send_at.is_some_and(|at| {
                sent_after.is_none_or(|d| at.date_naive() >= d)
                    && sent_before.is_none_or(|d| at.date_naive() <= d)
            }),
        })
        .map(|b| store.broadcast_json(b));
    list(request, "broadcasts", items)
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
}

fn upsert_subscriber(
    store: &mut Store,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> FakeResponse {
    let Some(email) = body
        .get("email_address")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|e| valid_email(e))
    else {
        return errors(422, &["Email address is invalid"]);
    };
    let state = match body.get("state") {
        None | Some(Value::Null) => "active",
        Some(Value::String(state))
            if ["active", "inactive", "cancelled", "bounced", "complained"]
                .contains(&state.as_str()) =>
        {
            state.as_str()
        }
        Some(_) => return errors(422, &["State is not valid"]),
    };
    let first_name = match body.get("first_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return errors(422, &["First name must be a string"]),
    };
    let mut known = Vec::new();
    let mut warnings = Vec::new();
    if let Some(fields) = body.get("fields") {
        let Some(fields) = fields.as_object() else {
            return errors(422, &["Fields must be an object"]);
        };
        for (key, value) in fields {
            let value = match value {
                Value::Null => None,
                Value::String(text) => Some(text.clone()),
                _ => {
                    return errors(
                        422,
                        &[&format!("The value of custom field {key} must be a string")],
                    );
                }
            };
            if CUSTOM_FIELDS.iter().any(|(_, k, _)| k == key) {
                known.push((key.clone(), value));
            } else {
                warnings.push(format!(
                    "Custom field key `{key}` does not exist and was ignored"
                ));
            }
        }
    }
    let (status, id) = match store.subscriber_by_email(email).map(|s| s.id) {
        Some(id) => (200, id),
        None => {
            let id = store.next_subscriber_id();
            store.subscribers.insert(
                id,
                Subscriber {
                    id,
                    first_name: None,
                    email: email.to_owned(),
                    state: state.to_owned(),
                    created_at: now,
                    updated_at: now,
                    cancelled_at: (state == "cancelled").then_some(now),
                    fields: Default::default(),
                },
            );
            (201, id)
        }
    };
    let Some(subscriber) = store.subscribers.get_mut(&id) else {
        return not_found();
    };
    if first_name.is_some() {
        subscriber.first_name = first_name;
    }
    subscriber.fields.extend(known);
    subscriber.updated_at = now;
    let subscriber = subscriber.clone();
    let mut response = json!({ "subscriber": store.subscriber_json(&subscriber) });
    if !warnings.is_empty() {
        response["warnings"] = json!(warnings);
    }
    FakeResponse::json(status, &response)
}

/// Adds `subscriber` to tag / sequence / form `id` (201), or says it already was (200).
fn add_member(
    store: &mut Store,
    collection: &str,
    id: &str,
    subscriber: Option<u64>,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> FakeResponse {
    let Some(id) = parse_id(id) else {
        return not_found();
    };
    let exists = match collection {
        "tags" => store.tags.contains_key(&id),
        "sequences" => store.sequences.contains_key(&id),
        _ => store.forms.contains_key(&id),
    };
    let (true, Some(subscriber)) = (exists, subscriber) else {
        return not_found();
    };
    if collection == "sequences" && store.sequences.get(&id).is_some_and(|s| !s.active) {
        return errors(422, &["Sequence is inactive"]);
    }
    let referrer = body
        .get("referrer")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (status, at, referrer) = match collection {
        "tags" => entry(&mut store.taggings, (id, subscriber), now, |at| (at, None)),
        "sequences" => entry(&mut store.enrollments, (id, subscriber), now, |at| {
            (at, None)
        }),
        _ => {
            let key = (id, subscriber);
            match store.form_subscriptions.get(&key) {
                Some((at, referrer)) => (200, *at, referrer.clone()),
                None => {
                    store
                        .form_subscriptions
                        .insert(key, (now, referrer.clone()));
                    (201, now, referrer)
                }
            }
        }
    };
    let Some(subscriber) = store.subscribers.get(&subscriber) else {
        return not_found();
    };
    let mut json = store.subscriber_json(subscriber);
    let at_field = if collection == "tags" {
        "tagged_at"
    } else {
        "added_at"
    };
    json[at_field] = json!(store::kit_time(at));
    if collection == "forms" {
        json["referrer"] = json!(referrer);
        json["referrer_utm_parameters"] = utm_parameters(referrer.as_deref());
    }
    FakeResponse::json(status, &json!({ "subscriber": json }))
}

/// Inserts `key` at `now` unless present; (status, time, referrer) either way.
fn entry(
    map: &mut std::collections::BTreeMap<(u64, u64), DateTime<Utc>>,
    key: (u64, u64),
    now: DateTime<Utc>,
    shape: impl Fn(DateTime<Utc>) -> (DateTime<Utc>, Option<String>),
) -> (u16, DateTime<Utc>, Option<String>) {
    match map.get(&key) {
        Some(at) => {
            let (at, referrer) = shape(*at);
            (200, at, referrer)
        }
        None => {
            map.insert(key, now);
            let (at, referrer) = shape(now);
            (201, at, referrer)
        }
    }
}

/// The UTM parameters of a referrer URL, as Kit reports them.
fn utm_parameters(referrer: Option<&str>) -> Value {
    let pairs: Vec<(String, String)> = referrer
        .and_then(|r| url::Url::parse(r).ok())
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == &format!("utm_{name}"))
            .map_or(String::new(), |(_, v)| v.clone())
    };
    json!({
        "source": get("source"),
        "medium": get("medium"),
        "campaign": get("campaign"),
        "term": get("term"),
        "content": get("content"),
    })
}

fn text_field(body: &Map<String, Value>, name: &str) -> Result<Option<String>, FakeResponse> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(errors(422, &[&format!("{name} must be a string")])),
    }
}

fn time_field(
    body: &Map<String, Value>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, FakeResponse> {
    match text_field(body, name)? {
        None => Ok(None),
        Some(text) => DateTime::parse_from_rfc3339(&text)
            .map(|at| Some(at.with_timezone(&Utc)))
            .map_err(|_| errors(422, &[&format!("{name} is not a valid ISO 8601 time")])),
    }
}

fn create_broadcast(
    store: &mut Store,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> FakeResponse {
    let parsed = (|| {
        let template = match body.get("email_template_id") {
            None | Some(Value::Null) => EMAIL_TEMPLATES[0].0,
            Some(value) => match value
                .as_u64()
                .filter(|id| EMAIL_TEMPLATES.iter().any(|(t, _)| t == id))
            {
                Some(id) => id,
                None => return Err(errors(422, &["Email template not found"])),
            },
        };
        if let Some(filter) = body.get("subscriber_filter").filter(|f| !f.is_null()) {
            let groups = filter.as_array().map_or(0, Vec::len);
            let kinds = filter
                .as_array()
                .and_then(|groups| groups.first())
                .and_then(Value::as_object)
                .map_or(0, |group| group.values().filter(|v| !v.is_null()).count());
            if groups > 1 || kinds > 1 {
                return Err(errors(
                    422,
                    &[
                        "Only a single filter group is supported. Use one of `all`, `any`, or `none`.",
                    ],
                ));
            }
        }
        let public = match body.get("public") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => return Err(errors(422, &["public must be true or false"])),
        };
        Ok(Broadcast {
            id: store.next_broadcast_id(),
            created_at: now,
            subject: text_field(body, "subject")?.unwrap_or_default(),
            preview_text: text_field(body, "preview_text")?,
            description: text_field(body, "description")?,
            content: text_field(body, "content")?,
            public,
            published_at: if public {
                time_field(body, "published_at")?.or(Some(now))
            } else {
                None
            },
            send_at: time_field(body, "send_at")?,
            thumbnail_alt: text_field(body, "thumbnail_alt")?,
            thumbnail_url: text_field(body, "thumbnail_url")?,
            email_address: text_field(body, "email_address")?
                .unwrap_or_else(|| SENDING_ADDRESS.to_owned()),
            email_template_id: template,
            subscriber_filter: body
                .get("subscriber_filter")
                .filter(|f| !f.is_null())
                .cloned()
                .unwrap_or_else(|| json!([{"all": [{"type": "all_subscribers"}]}])),
            stats: Stats {
                recipients: 0,
                emails_opened: 0,
                total_clicks: 0,
                unsubscribes: 0,
                status: "draft",
            },
        })
    })();
    let mut broadcast = match parsed {
        Ok(broadcast) => broadcast,
        Err(refusal) => return refusal,
    };
    if broadcast.send_at.is_some() {
        broadcast.stats.status = "scheduled";
    }
    let json = store.broadcast_json(&broadcast);
    store.broadcasts.insert(broadcast.id, broadcast);
    FakeResponse::json(201, &json!({ "broadcast": json }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use junction_core::fake::NoTokens;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
    }

    fn request(
        method: http::Method,
        path: &str,
        query: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> FakeRequest {
        let mut headers = http::HeaderMap::new();
        if let Some(key) = key {
            headers.insert("x-kit-api-key", key.parse().unwrap());
        }
        FakeRequest {
            method,
            path: path.into(),
            query: query.into(),
            headers,
            body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        }
    }

    fn call(fake: &KitFake, request: &FakeRequest, fault: Option<Fault>) -> (u16, Value) {
        let ctx = FakeContext {
            tokens: &NoTokens,
            fault,
            now: now(),
        };
        let response = fake.handle(request, &ctx);
        let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status, body)
    }

    fn get(fake: &KitFake, path: &str, query: &str) -> (u16, Value) {
        call(
            fake,
            &request(http::Method::GET, path, query, Some(SANDBOX_API_KEY), None),
            None,
        )
    }

    /// A token authority that knows `good` and `old` for `kit-oauth` only.
    struct Tokens;

    impl junction_core::fake::TokenAuthority for Tokens {
        fn check(&self, provider: &str, access_token: &str) -> TokenStatus {
            match (provider, access_token) {
                (OAUTH_PROVIDER_ID, "good") => TokenStatus::Valid {
                    scopes: vec![crate::spec::OAUTH_SCOPE.into()],
                },
                (OAUTH_PROVIDER_ID, "old") => TokenStatus::Expired,
                _ => TokenStatus::Unknown,
            }
        }
    }

    #[test]
    fn the_oauth_fake_accepts_only_valid_sandbox_tokens() {
        let fake = KitFake::oauth();
        assert_eq!(fake.provider_id(), "kit-oauth");
        let ask = |auth: Option<(&str, &str)>, fault: Option<Fault>| {
            let mut request = request(http::Method::GET, "/v4/account", "", None, None);
            if let Some((name, value)) = auth {
                request.headers.insert(
                    http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    value.parse().unwrap(),
                );
            }
            let ctx = FakeContext {
                tokens: &Tokens,
                fault,
                now: now(),
            };
            let response = fake.handle(&request, &ctx);
            let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
            (response.status, body)
        };
        let (status, body) = ask(Some(("authorization", "Bearer good")), None);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["account"]["id"], SANDBOX_ACCOUNT_ID);
        for (auth, message) in [
            (None, "The access token is invalid"),
            // The API key does not open the OAuth entry.
            (
                Some(("x-kit-api-key", SANDBOX_API_KEY)),
                "The access token is invalid",
            ),
            (
                Some(("authorization", "Bearer other")),
                "The access token is invalid",
            ),
            (
                Some(("authorization", "Bearer old")),
                "The access token expired",
            ),
        ] {
            let (status, body) = ask(auth, None);
            assert_eq!(
                (status, &body["errors"][0]),
                (401, &json!(message)),
                "{auth:?}"
            );
        }
        let (status, body) = ask(
            Some(("authorization", "Bearer good")),
            Some(Fault::ExpiredToken),
        );
        assert_eq!(
            (status, &body["errors"][0]),
            (401, &json!("The access token expired"))
        );
        // A bearer token does not open the API-key entry.
        let (status, _) = call(
            &KitFake::default(),
            &{
                let mut request = request(http::Method::GET, "/v4/account", "", None, None);
                request
                    .headers
                    .insert("authorization", "Bearer good".parse().unwrap());
                request
            },
            None,
        );
        assert_eq!(status, 401);
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(cursor_of(10), "WzEwXQ==");
        assert_eq!(id_of_cursor("WzEwXQ=="), Some(10));
        assert_eq!(id_of_cursor("nonsense"), None);
    }

    #[test]
    fn the_key_is_checked_and_faults_render_like_kit() {
        let fake = KitFake::default();
        let (status, body) = call(
            &fake,
            &request(http::Method::GET, "/v4/account", "", None, None),
            None,
        );
        assert_eq!(
            (status, body),
            (401, json!({"errors": ["The API key is invalid"]}))
        );
        let (status, _) = call(
            &fake,
            &request(
                http::Method::GET,
                "/v4/account",
                "",
                Some("kit_other"),
                None,
            ),
            None,
        );
        assert_eq!(status, 401);
        let ok = request(
            http::Method::GET,
            "/v4/account",
            "",
            Some(SANDBOX_API_KEY),
            None,
        );
        assert_eq!(call(&fake, &ok, None).0, 200);
        assert_eq!(call(&fake, &ok, Some(Fault::ExpiredToken)).0, 401);
        assert_eq!(call(&fake, &ok, Some(Fault::ServerError)).0, 500);
        let ctx = FakeContext {
            tokens: &NoTokens,
            fault: Some(Fault::RateLimited {
                retry_after_secs: 9,
            }),
            now: now(),
        };
        let limited = fake.handle(&ok, &ctx);
        assert_eq!(
            (limited.status, limited.body.as_slice()),
            (429, b"Retry later".as_slice())
        );
        assert!(
            !limited
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("retry-after"))
        );
        let (status, body) = call(&fake, &ok, Some(Fault::MalformedBody));
        assert_eq!((status, body), (200, Value::Null));
        assert_eq!(get(&fake, "/v4/nothing", "").0, 404);
        assert_eq!(get(&fake, "/v3/account", "").0, 404);
    }

    #[test]
    fn lists_page_newest_first_with_cursors() {
        let fake = KitFake::default();
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let query = if after.is_empty() {
                "status=all&per_page=100".to_owned()
            } else {
                format!("status=all&per_page=100&after={after}")
            };
            let (status, body) = get(&fake, "/v4/subscribers", &query);
            assert_eq!(status, 200);
            for s in body["subscribers"].as_array().unwrap() {
                seen.push(s["id"].as_u64().unwrap());
            }
            if !body["pagination"]["has_next_page"].as_bool().unwrap() {
                break;
            }
            after = body["pagination"]["end_cursor"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        assert_eq!(seen.len(), 240);
        assert!(seen.windows(2).all(|w| w[0] > w[1]));
        let (_, active) = get(&fake, "/v4/subscribers", "per_page=1000");
        let active = active["subscribers"].as_array().unwrap();
        assert!(active.len() < 240 && active.iter().all(|s| s["state"] == "active"));
        assert_eq!(get(&fake, "/v4/subscribers", "after=%25%25").0, 400);
    }

    #[test]
    fn upserts_and_memberships_answer_201_then_200() {
        let fake = KitFake::default();
        let post = |path: &str, body: Value| {
            call(
                &fake,
                &request(
                    http::Method::POST,
                    path,
                    "",
                    Some(SANDBOX_API_KEY),
                    Some(body),
                ),
                None,
            )
        };
        let (status, body) = post(
            "/v4/subscribers",
            json!({"email_address": "new@example.com", "first_name": "New", "fields": {"company": "Acme", "shoe_size": "42"}}),
        );
        assert_eq!(status, 201);
        assert_eq!(body["subscriber"]["fields"]["company"], "Acme");
        assert_eq!(body["warnings"].as_array().map(Vec::len), Some(1));
        let id = body["subscriber"]["id"].as_u64().unwrap();
        let (status, body) = post(
            "/v4/subscribers",
            json!({"email_address": "NEW@example.com", "first_name": "Renamed"}),
        );
        assert_eq!((status, body["subscriber"]["id"].as_u64()), (200, Some(id)));
        assert_eq!(body["subscriber"]["first_name"], "Renamed");
        assert_eq!(
            post("/v4/subscribers", json!({"email_address": "nope"})).0,
            422
        );

        assert_eq!(
            post(
                "/v4/tags/1/subscribers",
                json!({"email_address": "new@example.com"})
            )
            .0,
            201
        );
        assert_eq!(
            post(
                "/v4/tags/1/subscribers",
                json!({"email_address": "new@example.com"})
            )
            .0,
            200
        );
        assert_eq!(
            post(&format!("/v4/tags/2/subscribers/{id}"), json!({})).0,
            201
        );
        assert_eq!(
            post(
                "/v4/tags/99/subscribers",
                json!({"email_address": "new@example.com"})
            )
            .0,
            404
        );
        assert_eq!(
            post(
                "/v4/tags/1/subscribers",
                json!({"email_address": "ghost@example.com"})
            )
            .0,
            404
        );
        assert_eq!(post("/v4/tags/1/subscribers", json!({})).0, 422);
        assert_eq!(
            post(
                "/v4/sequences/1/subscribers",
                json!({"email_address": "new@example.com"})
            )
            .0,
            201
        );
        assert_eq!(
            post(
                "/v4/sequences/3/subscribers",
                json!({"email_address": "new@example.com"})
            )
            .0,
            422
        );
        let (status, body) = post(
            "/v4/forms/1/subscribers",
            json!({"email_address": "new@example.com", "referrer": "https://x.example/?utm_source=fb&utm_campaign=bf"}),
        );
        assert_eq!(status, 201);
        assert_eq!(
            body["subscriber"]["referrer_utm_parameters"]["source"],
            "fb"
        );
        assert_eq!(
            body["subscriber"]["referrer_utm_parameters"]["campaign"],
            "bf"
        );
    }

    #[test]
    fn broadcasts_are_created_and_have_stats() {
        let fake = KitFake::default();
        let post = |body: Value| {
            call(
                &fake,
                &request(
                    http::Method::POST,
                    "/v4/broadcasts",
                    "",
                    Some(SANDBOX_API_KEY),
                    Some(body),
                ),
                None,
            )
        };
        let (status, body) = post(
            json!({"subject": "Hi", "content": "<p>x</p>", "send_at": "2026-04-01T09:00:00Z"}),
        );
        assert_eq!(status, 201);
        assert_eq!(body["broadcast"]["status"], "scheduled");
        assert_eq!(body["broadcast"]["id"], 13);
        assert_eq!(
            post(json!({"subject": "Hi", "email_template_id": 99})).0,
            422
        );
        let (status, stats) = get(&fake, "/v4/broadcasts/5/stats", "");
        assert_eq!(status, 200);
        assert_eq!(stats["broadcast"]["stats"]["status"], "completed");
        assert_eq!(get(&fake, "/v4/broadcasts/404/stats", "").0, 404);
        let (_, recent) = get(&fake, "/v4/broadcasts", "sent_after=2026-03-01");
        assert!(
            recent["broadcasts"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b["send_at"].as_str().unwrap() >= "2026-03-01")
        );
    }

    #[test]
    fn growth_stats_validate_dates() {
        let fake = KitFake::default();
        let (status, body) = get(
            &fake,
            "/v4/account/growth_stats",
            "starting=2026-03-10&ending=2026-03-10",
        );
        assert_eq!(status, 200);
        assert_eq!(body["stats"]["starting"], "2026-03-10T00:00:00+00:00");
        assert_eq!(
            get(
                &fake,
                "/v4/account/growth_stats",
                "starting=2026-03-11&ending=2026-03-10"
            )
            .0,
            422
        );
        assert_eq!(
            get(&fake, "/v4/account/growth_stats", "starting=03/10/2026").0,
            422
        );
    }
}

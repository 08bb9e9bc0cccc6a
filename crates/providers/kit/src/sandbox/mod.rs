//! A fake of Kit's v4 API for the sandbox (demo mode, end-to-end tests): the real
//! paths, JSON shapes, cursor paging, auth check and error bodies, over a stateful
//! fake account with deterministic seed data.
//!
//! Served under the sandbox's `/kit/` mount, it answers below `/v4/`:
//! - `GET account`, `GET account/growth_stats?starting&ending` (whole UTC days: the
//!   fake account's sending time zone is UTC);
//! - `GET subscribers?status&email_address&updated_after&per_page&after` and
//!   `POST subscribers` (an upsert by email address: 201 when created, 200 when
//!   updated; unknown custom field keys are ignored and named in `warnings`);
//! - `POST bulk/subscribers` (OAuth tokens only, as Kit: each subscriber upserted as
//!   above, `{"subscribers": [...], "failures": [{"subscriber", "errors"}]}`; more
//!   than 100 are answered 202 without a body, as Kit queues them);
//! - `POST bulk/tags/subscribers` (OAuth only; `{"subscribers": [...], "failures":
//!   [{"errors", "tagging"}]}`, the missing side of a failed tagging null; 202 above
//!   100);
//! - `POST subscribers/{id}/unsubscribe` (204; the state becomes cancelled once);
//! - `POST tags` (201 new, 200 with the tag of that name),
//!   `DELETE tags/{id}/subscribers/{subscriber_id}` and `DELETE tags/{id}/subscribers`
//!   (by `email_address` in the body): 204, 404 when the subscriber does not have it;
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
//!
//! Routing, the credential checks, paging and the faults are the toolkit's fake
//! scaffolding ([`junction_toolkit::fake`]) over the adapter's own description
//! ([`crate::api::API`], [`crate::api::paging`]).

mod store;

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{
    Auth, Call, Cursor, Data, ErrorShape, Fields, Key, Pager, Route, Serves, Service, Sizes, merged,
};
use serde_json::{Map, Value, json};

use crate::{
    api::{API, LIST_SIZE, paging},
    spec::{OAUTH_PROVIDER_ID, PROVIDER_ID},
};
use store::{
    Broadcast, COLLECTIONS, CUSTOM_FIELDS, EMAIL_TEMPLATES, SENDING_ADDRESS, Stats, Store,
    Subscriber, kit_time, opt_time,
};

/// The API key the sandbox accepts.
pub const SANDBOX_API_KEY: &str = "kit_sandbox_4f9a2c7e1b8d5a30";

/// The fake account's id and name.
pub const SANDBOX_ACCOUNT_ID: u64 = 424_242;
pub const SANDBOX_ACCOUNT_NAME: &str = "Sandbox Creator";

/// The Kit API fake. See the module documentation.
#[derive(Debug, Default)]
pub struct KitFake {
    /// Whether it fakes the `kit-oauth` entry (Bearer tokens), else `kit` (the key).
    oauth: bool,
    store: Mutex<Option<Store>>,
}

impl KitFake {
    /// The fake of the `kit-oauth` entry: the same API, authenticated by Bearer tokens
    /// the sandbox's OAuth server issued.
    pub fn oauth() -> Self {
        Self {
            oauth: true,
            store: Mutex::default(),
        }
    }
}

/// Kit's error body (`{"errors": ["..."]}`) and words.
const ERRORS: ErrorShape = ErrorShape::new(None, "/errors/0").catalogue(&WORDS, "");

static WORDS: Data = Data::new(include_str!("errors.json"));

fn errors(status: u16, message: &str) -> FakeResponse {
    ERRORS.reply(status, None, message)
}

fn not_found() -> FakeResponse {
    errors(404, "Not Found")
}

const ROUTES: &[Route<Store>] = &[
    Route::get("account", |_, _| account()),
    Route::get("account/growth_stats", growth_stats),
    Route::get("subscribers", list_subscribers),
    Route::post("subscribers", |store, call| {
        with_body(call, |body| upsert_subscriber(store, body, call.now))
    }),
    Route::get("tags", |store, call| list_collection(store, call, "tags")),
    Route::get("sequences", |store, call| {
        list_collection(store, call, "sequences")
    }),
    Route::get("forms", list_forms),
    Route::get("custom_fields", |_, call| {
        let fields = CUSTOM_FIELDS.iter().map(|(id, key, label)| {
            json!({"id": id, "name": format!("ck_field_{id}_{key}"), "key": key, "label": label})
        });
        list(call, "/custom_fields", fields)
    }),
    Route::get("broadcasts", list_broadcasts),
    Route::post("broadcasts", |store, call| {
        with_body(call, |body| create_broadcast(store, body, call.now))
    }),
    Route::get("broadcasts/{id}/stats", |store, call| {
        let id = call.param("id").parse().ok();
        match id.and_then(|id| store.broadcasts.get(&id)) {
            Some(broadcast) => {
                let id = id.unwrap_or_default();
                FakeResponse::json(200, &store.stats_json(id, &broadcast.stats))
            }
            None => not_found(),
        }
    }),
    Route::post("tags", |store, call| {
        with_body(call, |body| create_tag(store, body, call.now))
    }),
    Route::post("subscribers/{id}/unsubscribe", unsubscribe),
    Route::post("bulk/subscribers", bulk_upsert),
    Route::post("bulk/tags/subscribers", bulk_tag),
    Route::delete("tags/{id}/subscribers", remove_tag),
    Route::delete("tags/{id}/subscribers/{subscriber}", remove_tag),
    Route::post(
        "{collection:tags|sequences|forms}/{id}/subscribers",
        add_member,
    ),
    Route::post(
        "{collection:tags|sequences|forms}/{id}/subscribers/{subscriber}",
        add_member,
    ),
];

/// The `kit` entry: the `X-Kit-Api-Key` header.
const KEY_SERVICE: Service<Store> = Service::new(
    API.base.prefix,
    ROUTES,
    Auth::new(API.auth, PROVIDER_ID)
        .serves(Serves::Keys)
        .keys(&[Key::full(SANDBOX_API_KEY)]),
    ERRORS,
);

/// The `kit-oauth` entry: a Bearer token from the sandbox's OAuth server.
const TOKEN_SERVICE: Service<Store> = Service {
    auth: Auth::new(API.auth, OAUTH_PROVIDER_ID).serves(Serves::Tokens),
    errors: ERRORS.catalogue(&WORDS, "/token"),
    ..KEY_SERVICE
};

impl ProviderFake for KitFake {
    fn provider_id(&self) -> &'static str {
        if self.oauth {
            OAUTH_PROVIDER_ID
        } else {
            PROVIDER_ID
        }
    }

    fn catalog(&self) -> CatalogEntry {
        store::SEED.catalog(self.provider_id())
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // Every change is one insert or one field write: the data stays whole.
        let mut guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let store = guard.get_or_insert_with(|| Store::seed(ctx.now));
        let service = if self.oauth {
            &TOKEN_SERVICE
        } else {
            &KEY_SERVICE
        };
        service.serve(store, request, ctx)
    }
}

/// Runs `handler` on the fields of the request's JSON object body (an empty body
/// is `{}`).
fn with_body(call: &Call<'_>, handler: impl FnOnce(Fields<'_>) -> FakeResponse) -> FakeResponse {
    let body = match call.request.body.is_empty() {
        true => json!({}),
        false => call.json().unwrap_or(Value::Null),
    };
    match Fields::json(&body, &ERRORS) {
        Ok(fields) => handler(fields),
        Err(refusal) => refusal,
    }
}

fn account() -> FakeResponse {
    let vars =
        json!({"id": SANDBOX_ACCOUNT_ID, "name": SANDBOX_ACCOUNT_NAME, "email": SENDING_ADDRESS});
    FakeResponse::json(200, &store::SEED.fill("/account", &vars))
}

/// A `yyyy-mm-dd` query date (a longer ISO 8601 time is read by its date part).
fn query_date(call: &Call<'_>, name: &str) -> Result<Option<NaiveDate>, ()> {
    match call.query(name) {
        None => Ok(None),
        Some(text) => NaiveDate::parse_from_str(text.get(..10).unwrap_or(&text), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ()),
    }
}

fn growth_stats(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let today = call.now.date_naive();
    let Ok(starting) = query_date(call, "starting") else {
        return errors(
            422,
            "Starting date is incorrectly formatted. Use YYYY-MM-DD.",
        );
    };
    let Ok(ending) = query_date(call, "ending") else {
        return errors(422, "Ending date is incorrectly formatted. Use YYYY-MM-DD.");
    };
    let ending = ending.unwrap_or(today);
    let starting = starting.unwrap_or(today - chrono::Duration::days(90));
    if starting > ending {
        return errors(422, "Starting date must be before the ending date.");
    }
    FakeResponse::json(200, &store.growth_json(starting, ending))
}

/// One page of `items` (any order in, highest id first out) at `items_at`, paged by
/// Kit's opaque cursors (base64 of `[id]`).
fn list(
    call: &Call<'_>,
    items_at: &'static str,
    items: impl Iterator<Item = Value>,
) -> FakeResponse {
    let mut items: Vec<Value> = items.collect();
    items.sort_by_key(|item| std::cmp::Reverse(item["id"].as_u64().unwrap_or_default()));
    let pager = Pager::new(paging(items_at, LIST_SIZE))
        .sizes(Sizes::Lenient)
        .cursor(Cursor::Key("id"));
    let Ok(page) = pager.page(call.request, items) else {
        return errors(400, "Invalid pagination cursor");
    };
    let (first, last, resumed, size) = (
        page.first.clone(),
        page.last.clone(),
        page.resumed,
        page.size,
    );
    let more = json!({"has_previous_page": resumed, "start_cursor": first, "end_cursor": last, "per_page": size});
    let mut body = page.body;
    body["pagination"] = merged(body["pagination"].take(), more);
    FakeResponse::json(200, &body)
}

fn list_collection(store: &mut Store, call: &Call<'_>, collection: &'static str) -> FakeResponse {
    let items = store
        .collections
        .get(collection)
        .into_iter()
        .flat_map(|c| c.values());
    let pointer = if collection == "tags" {
        "/tags"
    } else {
        "/sequences"
    };
    list(
        call,
        pointer,
        items.map(|item| store.counted(collection, item)),
    )
}

fn list_subscribers(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let status = call.query("status").unwrap_or_else(|| "active".to_owned());
    let statuses = [
        "active",
        "inactive",
        "bounced",
        "complained",
        "cancelled",
        "all",
    ];
    if !statuses.contains(&status.as_str()) {
        return errors(422, "Status is not valid");
    }
    let Ok(updated_after) = query_date(call, "updated_after") else {
        return errors(
            422,
            "updated_after is incorrectly formatted. Use YYYY-MM-DD.",
        );
    };
    let since = updated_after.map(|day| day.and_time(chrono::NaiveTime::MIN).and_utc());
    let email = call.query("email_address");
    let items = store
        .subscribers
        .values()
        .filter(|s| status == "all" || s.state == status)
        .filter(|s| {
            email
                .as_deref()
                .is_none_or(|e| s.email.eq_ignore_ascii_case(e.trim()))
        })
        .filter(|s| since.is_none_or(|since| s.updated_at >= since))
        .map(|s| store.subscriber_json(s));
    list(call, "/subscribers", items)
}

fn list_forms(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let status = call.query("status").unwrap_or_else(|| "active".to_owned());
    let kind = call.query("type");
    let items = store
        .collections
        .get("forms")
        .into_iter()
        .flat_map(|forms| forms.values())
        .filter(|f| match status.as_str() {
            "all" => true,
            "archived" => f["archived"] == true,
            // The fake has no trashed forms.
            "trashed" => false,
            _ => f["archived"] != true,
        })
        .filter(|f| kind.as_deref().is_none_or(|k| f["type"] == k))
        .map(|f| store.counted("forms", f));
    list(call, "/forms", items)
}

fn list_broadcasts(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let (Ok(after), Ok(before)) = (
        query_date(call, "sent_after"),
        query_date(call, "sent_before"),
    ) else {
        return errors(422, "Dates must be formatted YYYY-MM-DD.");
    };
    let items = store
        .broadcasts
        .values()
        .filter(|b| match (after, before) {
            (None, None) => true,
            _ => b.send_at.is_some_and(|at| {
                after.is_none_or(|d| at.date_naive() >= d)
                    && before.is_none_or(|d| at.date_naive() <= d)
            }),
        })
        .map(|b| store.broadcast_json(b));
    list(call, "/broadcasts", items)
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
}

fn upsert_subscriber(store: &mut Store, body: Fields<'_>, now: DateTime<Utc>) -> FakeResponse {
    let email = body
        .map
        .get("email_address")
        .and_then(Value::as_str)
        .map(str::trim);
    let Some(email) = email.filter(|e| valid_email(e)) else {
        return errors(422, "Email address is invalid");
    };
    let state = match body.map.get("state") {
        None | Some(Value::Null) => "active",
        Some(Value::String(state))
            if ["active", "inactive", "cancelled", "bounced", "complained"]
                .contains(&state.as_str()) =>
        {
            state.as_str()
        }
        Some(_) => return errors(422, "State is not valid"),
    };
    let first_name = match body.map.get("first_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return errors(422, "First name must be a string"),
    };
    let mut known = Vec::new();
    let mut warnings = Vec::new();
    if let Some(fields) = body.map.get("fields") {
        let Some(fields) = fields.as_object() else {
            return errors(422, "Fields must be an object");
        };
        for (key, value) in fields {
            let value = match value {
                Value::Null => None,
                Value::String(text) => Some(text.clone()),
                _ => {
                    let message = format!("The value of custom field {key} must be a string");
                    return errors(422, &message);
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
            let subscriber = Subscriber {
                id,
                first_name: None,
                email: email.to_owned(),
                state: state.to_owned(),
                created_at: now,
                updated_at: now,
                cancelled_at: (state == "cancelled").then_some(now),
                fields: Default::default(),
            };
            store.subscribers.insert(id, subscriber);
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

/// An answer without a body (Kit's 204 for removals and unsubscribes).
fn no_content() -> FakeResponse {
    FakeResponse {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// `POST tags`: 201 with a new tag, or 200 with the tag of that name (compared
/// without case, as Kit's names are).
fn create_tag(store: &mut Store, body: Fields<'_>, now: DateTime<Utc>) -> FakeResponse {
    let name = match body.text("name") {
        Ok(Some(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        Ok(_) => return errors(422, "Name can't be blank"),
        Err(refusal) => return refusal,
    };
    let tags = store.collections.entry("tags").or_default();
    let existing = tags.values().find(|tag| {
        tag["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(&name))
    });
    if let Some(tag) = existing {
        return FakeResponse::json(200, &json!({ "tag": tag }));
    }
    let id = tags.keys().next_back().map_or(1, |id| id + 1);
    let tag = json!({"id": id, "name": name, "created_at": kit_time(now)});
    tags.insert(id, tag.clone());
    FakeResponse::json(201, &json!({ "tag": tag }))
}

/// `DELETE tags/{id}/subscribers[/{subscriber}]` (the address in the body when not in
/// the path): 204, or 404 when the tag, the subscriber or the tagging is missing.
fn remove_tag(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    with_body(call, |body| {
        let subscriber = match call.param("subscriber") {
            "" => match body.map.get("email_address").and_then(Value::as_str) {
                Some(email) => store.subscriber_by_email(email.trim()).map(|s| s.id),
                None => {
                    return errors(
                        422,
                        "Either subscriber id or email address is required to remove tag",
                    );
                }
            },
            id => id.parse().ok(),
        };
        let tag: Option<u64> = call.param("id").parse().ok();
        match (tag, subscriber) {
            (Some(tag), Some(subscriber))
                if store.members.remove(&("tags", tag, subscriber)).is_some() =>
            {
                no_content()
            }
            _ => not_found(),
        }
    })
}

/// `POST subscribers/{id}/unsubscribe`: the subscriber's state becomes cancelled
/// (once: unsubscribing again changes nothing), 204.
fn unsubscribe(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let id: Option<u64> = call.param("id").parse().ok();
    let Some(subscriber) = id.and_then(|id| store.subscribers.get_mut(&id)) else {
        return not_found();
    };
    if subscriber.state != "cancelled" {
        subscriber.state = "cancelled".to_owned();
        subscriber.cancelled_at = Some(call.now);
        subscriber.updated_at = call.now;
    }
    no_content()
}

/// The most subscribers `POST bulk/subscribers` answers synchronously; Kit queues
/// larger batches (202, no body) and posts their results to the `callback_url`.
const BULK_SYNC_LIMIT: usize = 100;

/// Kit's answer to a bulk request from an API key: its bulk endpoints serve OAuth
/// apps only (Kit's answer is a client error; the fake words it).
fn bulk_refused(call: &Call<'_>) -> Option<FakeResponse> {
    call.request.header("x-kit-api-key").map(|_| {
        errors(
            403,
            "Bulk requests are only available to OAuth applications",
        )
    })
}

/// The answer to a bulk request of `count` items: Kit queues more than
/// [`BULK_SYNC_LIMIT`] (202, no body), else answers `body`.
fn bulk_answer(count: usize, body: &Value) -> FakeResponse {
    if count > BULK_SYNC_LIMIT {
        return FakeResponse {
            status: 202,
            headers: Vec::new(),
            body: Vec::new(),
        };
    }
    FakeResponse::json(200, body)
}

/// `POST bulk/tags/subscribers`: each tagging applied (again: nothing changes), or a
/// failure naming the side that exists, the other null, as Kit does.
fn bulk_tag(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    if let Some(refusal) = bulk_refused(call) {
        return refusal;
    }
    let body = call.json::<Value>().unwrap_or(Value::Null);
    let Some(taggings) = body.get("taggings").and_then(Value::as_array) else {
        return errors(422, "Taggings is required");
    };
    let mut tagged = Vec::new();
    let mut failures = Vec::new();
    for tagging in taggings {
        let id_at = |name: &str| tagging.get(name).and_then(Value::as_u64);
        let tag = id_at("tag_id").filter(|id| {
            store
                .collections
                .get("tags")
                .is_some_and(|tags| tags.contains_key(id))
        });
        let subscriber = id_at("subscriber_id").filter(|id| store.subscribers.contains_key(id));
        let (Some(tag), Some(subscriber)) = (tag, subscriber) else {
            let error = match subscriber {
                None => "Subscriber does not exist",
                Some(_) => "Tag does not exist",
            };
            let named = json!({"tag_id": tag, "subscriber_id": subscriber});
            failures.push(json!({"errors": [error], "tagging": named}));
            continue;
        };
        let at = store
            .members
            .entry(("tags", tag, subscriber))
            .or_insert((call.now, None))
            .0;
        if let Some(found) = store.subscribers.get(&subscriber) {
            let mut json = store.subscriber_json(found);
            if let Some(fields) = json.as_object_mut() {
                fields.remove("fields");
                fields.remove("state");
            }
            json["tagged_at"] = json!(kit_time(at));
            tagged.push(json);
        }
    }
    let answer = json!({"subscribers": tagged, "failures": failures});
    bulk_answer(taggings.len(), &answer)
}

/// `POST bulk/subscribers`: each subscriber upserted as `POST subscribers` does it,
/// the refused ones among `failures` with Kit's errors.
fn bulk_upsert(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    if let Some(refusal) = bulk_refused(call) {
        return refusal;
    }
    let body = call.json::<Value>().unwrap_or(Value::Null);
    let Some(subscribers) = body.get("subscribers").and_then(Value::as_array) else {
        return errors(422, "Subscribers is required");
    };
    let mut written = Vec::new();
    let mut failures = Vec::new();
    for item in subscribers {
        let answer = match Fields::json(item, &ERRORS) {
            Ok(fields) => upsert_subscriber(store, fields, call.now),
            Err(refusal) => refusal,
        };
        let answer: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        match answer.get("subscriber") {
            Some(subscriber) => written.push(subscriber.clone()),
            None => {
                let email = item
                    .get("email_address")
                    .and_then(Value::as_str)
                    .filter(|email| valid_email(email.trim()));
                let failed = json!({
                    "first_name": item.get("first_name"), "email_address": email,
                    "state": item.get("state").cloned().unwrap_or_else(|| json!("active")),
                    "created_at": null,
                });
                failures.push(json!({"subscriber": failed, "errors": answer["errors"]}));
            }
        }
    }
    let written: Vec<Value> = written
        .into_iter()
        .map(|mut s| {
            // The bulk answer lists subscribers without their custom fields.
            if let Some(s) = s.as_object_mut() {
                s.remove("fields");
            }
            s
        })
        .collect();
    let answer = json!({"subscribers": written, "failures": failures});
    bulk_answer(subscribers.len(), &answer)
}

/// Adds the subscriber (of the route, or of the body's `email_address`) to the
/// route's tag / sequence / form (201), or says it already was (200).
fn add_member(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    with_body(call, |body| {
        let subscriber = match call.param("subscriber") {
            "" => {
                let email = body.map.get("email_address").and_then(Value::as_str);
                let Some(email) = email.filter(|e| !e.trim().is_empty()) else {
                    let what = match call.param("collection") {
                        "tags" => "tag subscriber",
                        "sequences" => "add subscriber to sequence",
                        _ => "add subscriber to form",
                    };
                    let message =
                        format!("Either subscriber id or email address is required to {what}");
                    return errors(422, &message);
                };
                store.subscriber_by_email(email).map(|s| s.id)
            }
            id => id
                .parse()
                .ok()
                .filter(|s| store.subscribers.contains_key(s)),
        };
        add(store, call, subscriber, body)
    })
}

fn add(
    store: &mut Store,
    call: &Call<'_>,
    subscriber: Option<u64>,
    body: Fields<'_>,
) -> FakeResponse {
    let collection = COLLECTIONS
        .into_iter()
        .find(|c| *c == call.param("collection"))
        .unwrap_or("tags");
    let id: Option<u64> = call.param("id").parse().ok();
    let item = id.and_then(|id| store.collections.get(collection)?.get(&id));
    let (Some(id), Some(item), Some(subscriber)) = (id, item, subscriber) else {
        return not_found();
    };
    if collection == "sequences" && item["active"] == false {
        return errors(422, "Sequence is inactive");
    }
    let key = (collection, id, subscriber);
    let (status, (at, referrer)) = match store.members.get(&key) {
        Some(entry) => (200, entry.clone()),
        None => {
            let referrer = body
                .get("referrer")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let entry = (call.now, referrer.filter(|_| collection == "forms"));
            store.members.insert(key, entry.clone());
            (201, entry)
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
    json[at_field] = json!(kit_time(at));
    if collection == "forms" {
        json["referrer_utm_parameters"] = utm_parameters(referrer.as_deref());
        json["referrer"] = json!(referrer);
    }
    FakeResponse::json(status, &json!({ "subscriber": json }))
}

/// The UTM parameters of a referrer URL, as Kit reports them.
fn utm_parameters(referrer: Option<&str>) -> Value {
    let pairs: Vec<(String, String)> = referrer
        .and_then(|r| url::Url::parse(r).ok())
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    ["source", "medium", "campaign", "term", "content"]
        .into_iter()
        .map(|name| {
            let value = pairs.iter().find(|(k, _)| *k == format!("utm_{name}"));
            (
                name.to_owned(),
                json!(value.map_or("", |(_, v)| v.as_str())),
            )
        })
        .collect::<Map<String, Value>>()
        .into()
}

fn create_broadcast(store: &mut Store, body: Fields<'_>, now: DateTime<Utc>) -> FakeResponse {
    let parsed = (|| {
        let template = match body.map.get("email_template_id") {
            None | Some(Value::Null) => EMAIL_TEMPLATES[0].0,
            Some(value) => match value
                .as_u64()
                .filter(|id| EMAIL_TEMPLATES.iter().any(|(t, _)| t == id))
            {
                Some(id) => id,
                None => return Err(errors(422, "Email template not found")),
            },
        };
        if let Some(filter) = body.map.get("subscriber_filter").filter(|f| !f.is_null()) {
            let groups = filter.as_array().map_or(0, Vec::len);
            let kinds = filter
                .as_array()
                .and_then(|groups| groups.first())
                .and_then(Value::as_object)
                .map_or(0, |group| group.values().filter(|v| !v.is_null()).count());
            if groups > 1 || kinds > 1 {
                return Err(errors(
                    422,
                    "Only a single filter group is supported. Use one of `all`, `any`, or `none`.",
                ));
            }
        }
        let public = body.boolean("public")?.unwrap_or(false);
        let mut fields = json!({"public": public});
        for name in ["subject", "preview_text", "description", "content"] {
            fields[name] = json!(body.text(name)?);
        }
        if fields["subject"].is_null() {
            fields["subject"] = json!("");
        }
        let published_at = match public {
            true => body.time("published_at")?.or(Some(now)),
            false => None,
        };
        fields["published_at"] = opt_time(published_at);
        let send_at = body.time("send_at")?;
        for name in ["thumbnail_alt", "thumbnail_url", "email_address"] {
            fields[name] = json!(body.text(name)?);
        }
        if fields["email_address"].is_null() {
            fields["email_address"] = json!(SENDING_ADDRESS);
        }
        fields["subscriber_filter"] = body
            .map
            .get("subscriber_filter")
            .filter(|f| !f.is_null())
            .cloned()
            .unwrap_or_else(|| json!([{"all": [{"type": "all_subscribers"}]}]));
        let stats = Stats::unsent(if send_at.is_some() {
            "scheduled"
        } else {
            "draft"
        });
        let id = store.next_broadcast_id();
        Ok(Broadcast::new(id, now, fields, template, send_at, stats))
    })();
    let broadcast = match parsed {
        Ok(broadcast) => broadcast,
        Err(refusal) => return refusal,
    };
    let json = store.broadcast_json(&broadcast);
    let id = json["id"].as_u64().unwrap_or_default();
    store.broadcasts.insert(id, broadcast);
    FakeResponse::json(201, &json!({ "broadcast": json }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use junction_core::fake::{Fault, NoTokens, TokenStatus};

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
    fn the_catalog_names_the_fakes_values() {
        let key = KitFake::default().catalog();
        assert_eq!(key.credentials[crate::spec::API_KEY_FIELD], SANDBOX_API_KEY);
        for entry in [key, KitFake::oauth().catalog()] {
            assert_eq!(entry.fixtures["account_id"], SANDBOX_ACCOUNT_ID);
            assert_eq!(entry.fixtures["account_name"], SANDBOX_ACCOUNT_NAME);
        }
        assert!(KitFake::oauth().catalog().credentials.is_empty());
    }

    #[test]
    fn the_faults_read_as_the_adapter_reads_them() {
        for (service, policy) in [
            (KEY_SERVICE, junction_core::http::ResponsePolicy::API_KEY),
            (TOKEN_SERVICE, junction_core::http::ResponsePolicy::OAUTH),
        ] {
            let checked = junction_toolkit::fake::faults::check(&service.errors, &API, &policy);
            assert_eq!(checked, Ok(()));
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
    fn cursors_are_base64_of_the_last_id() {
        let fake = KitFake::default();
        let (_, page) = get(&fake, "/v4/tags", "per_page=2");
        // Tags 6 and 5, newest first: the end cursor names 5.
        assert_eq!(page["pagination"]["end_cursor"], "WzVd");
        assert_eq!(page["pagination"]["start_cursor"], "WzZd");
        assert_eq!(page["pagination"]["has_previous_page"], false);
        let (_, next) = get(&fake, "/v4/tags", "per_page=2&after=WzVd");
        assert_eq!(next["tags"][0]["id"], 4);
        assert_eq!(next["pagination"]["has_previous_page"], true);
        assert_eq!(get(&fake, "/v4/tags", "after=nonsense").0, 400);
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

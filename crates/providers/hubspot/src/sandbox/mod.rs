//! A fake of HubSpot's API for the sandbox (demo mode, end-to-end tests) and the
//! conformance suite: HubSpot's real paths, JSON shapes, paging, auth and error
//! bodies over a stateful fake account seeded backwards from its first request.
//!
//! Served under the sandbox's `/hubspot/` (private app) and `/hubspot-oauth/` mounts,
//! it answers:
//! - `GET /account-info/v3/details`;
//! - `GET /crm/v3/objects/{contacts|companies|deals}?limit&after&properties` (ids
//!   ascending, at most 100 a page, opaque `after` cursors) and
//!   `GET /crm/v3/objects/{type}/{id}` (404 `OBJECT_NOT_FOUND` for none);
//! - `POST /crm/v3/objects/{contacts|companies|deals|notes}/search`: filters `EQ`,
//!   `NEQ`, `GT`, `GTE`, `LT`, `LTE` on properties (times compared as epoch
//!   milliseconds) and on `associations.{type}`, one sort, `limit` up to 200, numeric
//!   `after` offsets — refused with 400 past 10,000 results as HubSpot does — and the
//!   `total`;
//! - `POST /crm/v3/objects/contacts/batch/upsert` (by `idProperty: email`; `new`
//!   says whether it created), `POST /crm/v3/objects/deals`, `PATCH
//!   /crm/v3/objects/deals/{id}`, `POST /crm/v3/objects/notes` (with its
//!   associations);
//! - `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{id}`;
//! - `GET /crm/v3/owners`, `GET /crm/v3/pipelines/deals`.
//!
//! **Credentials.** [`HubspotFake::default()`] (`hubspot`) accepts the private-app
//! token [`SANDBOX_TOKEN`] with every scope and [`SANDBOX_READ_ONLY_TOKEN`] with the
//! read scopes only (writes get 403 `MISSING_SCOPES`). [`HubspotFake::oauth()`]
//! (`hubspot-oauth`) accepts the access tokens the sandbox's OAuth server issued for
//! that entry, with their scopes; an expired one gets 401 `EXPIRED_AUTHENTICATION`.
//! The private app's webhook signing secret is [`SANDBOX_WEBHOOK_SECRET`];
//! [`sign_delivery`] signs a delivery as HubSpot would.
//!
//! **Faults** render as HubSpot renders them: 500 `INTERNAL_ERROR`, 429 of the
//! ten-second window with its `X-HubSpot-RateLimit-*` headers, 429 of the daily limit
//! (`policyName: DAILY`, `X-HubSpot-RateLimit-Daily-Remaining: 0`), and a truncated
//! 200 body.

mod store;

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{Auth, Call, ErrorShape, Key, Pager, Route, Serves, Service};
use secrecy::SecretString;
use serde_json::{Map, Value, json};

use crate::{
    api::{API, PAGING, SEARCH_RESULT_LIMIT},
    spec::{OAUTH_PROVIDER_ID, PROVIDER_ID},
};
use store::{SEED, Store, format_amount, iso, millis, singular};

/// The private-app token the sandbox accepts, with every scope.
pub const SANDBOX_TOKEN: &str = "pat-na1-7f3c2a90-sandbox-4b1e-9d2f-junction0001";

/// A private-app token with the read scopes only.
pub const SANDBOX_READ_ONLY_TOKEN: &str = "pat-na1-7f3c2a90-sandbox-4b1e-9d2f-readonly0002";

/// The private app's client secret, which signs its webhooks.
pub const SANDBOX_WEBHOOK_SECRET: &str = "hubspot-sandbox-client-secret-5e8a";

/// The fake account's id.
pub const SANDBOX_PORTAL_ID: u64 = 24_681_357;

const READ_SCOPES: &[&str] = &[
    "crm.objects.contacts.read",
    "crm.objects.companies.read",
    "crm.objects.deals.read",
    "crm.objects.owners.read",
];

/// The fake. See the module documentation.
#[derive(Debug, Default)]
pub struct HubspotFake {
    /// Whether it fakes `hubspot-oauth` (tokens), else `hubspot` (private apps).
    oauth: bool,
    store: Mutex<Option<Store>>,
}

impl HubspotFake {
    /// The fake of the `hubspot-oauth` entry.
    pub fn oauth() -> Self {
        Self {
            oauth: true,
            store: Mutex::default(),
        }
    }
}

/// HubSpot's error body: `{"status": "error", "message", "correlationId",
/// "category"}`.
const ERRORS: ErrorShape = ErrorShape::new(Some("/category"), "/message")
    .fixed(&[
        ("/status", "error"),
        ("/correlationId", "5c0d39a1-0000-4000-8000-00000000f4c3"),
    ])
    .catalogue(&SEED, "");

fn error(status: u16, category: &str, message: &str) -> FakeResponse {
    ERRORS.reply(status, Some(category), message)
}

fn not_found() -> FakeResponse {
    error(404, "OBJECT_NOT_FOUND", "resource not found")
}

fn invalid(message: &str) -> FakeResponse {
    error(400, "VALIDATION_ERROR", message)
}

const OBJECTS: &str = "crm/v3/objects/{type:contacts|companies|deals}";

const ROUTES: &[Route<Store>] = &[
    Route::get("account-info/v3/details", |_, _| {
        FakeResponse::json(200, SEED.at("/account"))
    }),
    Route::get(OBJECTS, list),
    Route::get(
        "crm/v3/objects/{type:contacts|companies|deals}/{id}",
        get_one,
    ),
    Route::post(
        "crm/v3/objects/{type:contacts|companies|deals|notes}/search",
        search,
    ),
    Route::post("crm/v3/objects/contacts/batch/upsert", upsert_contacts)
        .needs(&["crm.objects.contacts.write"]),
    Route::post("crm/v3/objects/{type:deals|notes}", create),
    Route::new("PATCH", "crm/v3/objects/{type:deals}/{id}", update_deal)
        .needs(&["crm.objects.deals.write"]),
    Route::put(
        "crm/v4/objects/{from:contact|company|deal|contacts|companies|deals}/{from_id}/associations/default/{to:contact|company|deal|contacts|companies|deals}/{to_id}",
        associate,
    ),
    Route::get("crm/v3/owners", |_, call| {
        page_of(call, SEED.list("/owners").to_vec())
    })
    .needs(&["crm.objects.owners.read"]),
    Route::get("crm/v3/pipelines/deals", |_, _| {
        FakeResponse::json(200, SEED.at("/pipelines"))
    })
    .needs(&["crm.objects.deals.read"]),
];

/// `hubspot`: a private app's token.
const KEY_SERVICE: Service<Store> = Service::new(
    "",
    ROUTES,
    Auth::new(API.auth, PROVIDER_ID)
        .serves(Serves::Keys)
        .keys(&[
            Key::full(SANDBOX_TOKEN),
            Key::with(SANDBOX_READ_ONLY_TOKEN, READ_SCOPES),
        ]),
    ERRORS,
)
.guard(scopes);

/// `hubspot-oauth`: a token from the sandbox's OAuth server.
const TOKEN_SERVICE: Service<Store> = Service {
    auth: Auth::new(API.auth, OAUTH_PROVIDER_ID).serves(Serves::Tokens),
    errors: ERRORS.catalogue(&SEED, "/token"),
    ..KEY_SERVICE
};

impl ProviderFake for HubspotFake {
    fn provider_id(&self) -> &'static str {
        if self.oauth {
            OAUTH_PROVIDER_ID
        } else {
            PROVIDER_ID
        }
    }

    fn catalog(&self) -> CatalogEntry {
        SEED.catalog(self.provider_id())
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // Every change is whole under the lock: the data stays consistent.
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

/// The scope a request needs by its object type and method (HubSpot's scopes are
/// per object), refused as HubSpot refuses it.
fn scopes(call: &Call<'_>) -> Option<FakeResponse> {
    let principal = call.principal.as_ref()?;
    let kind = ["contact", "compan", "deal"]
        .into_iter()
        .find(|kind| call.request.path.contains(&format!("/{kind}")))?;
    let object = match kind {
        "compan" => "companies",
        "contact" => "contacts",
        _ => "deals",
    };
    let write = call.request.method != http::Method::GET && !call.request.path.ends_with("/search");
    let scope = format!(
        "crm.objects.{object}.{}",
        if write { "write" } else { "read" }
    );
    (!principal.may(&[scope.as_str()])).then(|| {
        error(
            403,
            "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call.",
        )
    })
}

/// A page of `items` as HubSpot's lists page (`results`, `paging.next.after`).
fn page_of(call: &Call<'_>, items: Vec<Value>) -> FakeResponse {
    match PAGER.page(call.request, items) {
        Ok(page) => page.reply(),
        Err(_) => invalid("limit must be from 1 to 100 and after a cursor of this list"),
    }
}

/// HubSpot's lists: opaque cursors naming the last item read.
const PAGER: Pager = Pager::new(PAGING).cursor(junction_toolkit::fake::Cursor::Key("id"));

/// The `properties` asked for, comma separated.
fn wanted(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn kind(call: &Call<'_>) -> &'static str {
    match call.param("type") {
        "contacts" => "contacts",
        "companies" => "companies",
        "deals" => "deals",
        _ => "notes",
    }
}

/// `GET /crm/v3/objects/{type}`.
fn list(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let kind = kind(call);
    let wanted = wanted(call.query("properties"));
    let items = store.objects[kind]
        .values()
        .map(|object| store.json(kind, object, &wanted))
        .collect();
    page_of(call, items)
}

/// `GET /crm/v3/objects/{type}/{id}`.
fn get_one(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let kind = kind(call);
    let found = call
        .param("id")
        .parse::<u64>()
        .ok()
        .and_then(|id| store.objects[kind].get(&id));
    match found {
        Some(object) => FakeResponse::json(
            200,
            &store.json(kind, object, &wanted(call.query("properties"))),
        ),
        None => not_found(),
    }
}

/// Whether `object` passes one search filter.
fn passes(
    store: &Store,
    kind: &str,
    object: &Value,
    id: u64,
    filter: &Value,
) -> Result<bool, String> {
    let property = filter["propertyName"].as_str().unwrap_or_default();
    let operator = filter["operator"].as_str().unwrap_or_default();
    let wanted = filter["value"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| filter["value"].as_f64().map(|v| v.to_string()));
    if let Some(other) = property.strip_prefix("associations.") {
        let other_id = wanted
            .and_then(|w| w.parse::<u64>().ok())
            .unwrap_or_default();
        return Ok(operator == "EQ" && store.associated(kind, id, other, other_id));
    }
    let have = object
        .pointer(&format!("/properties/{property}"))
        .and_then(Value::as_str);
    let (Some(have), Some(wanted)) = (have, wanted) else {
        return Ok(operator == "NEQ");
    };
    let ordering = match (millis(have), millis(&wanted)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => match (have.parse::<f64>(), wanted.parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
            _ => have.to_lowercase().cmp(&wanted.to_lowercase()),
        },
    };
    use std::cmp::Ordering::{Equal, Greater, Less};
    Ok(match operator {
        "EQ" => ordering == Equal,
        "NEQ" => ordering != Equal,
        "GT" => ordering == Greater,
        "GTE" => ordering != Less,
        "LT" => ordering == Less,
        "LTE" => ordering != Greater,
        other => return Err(format!("Unsupported filter operator {other}")),
    })
}

/// `POST /crm/v3/objects/{type}/search`.
fn search(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let kind = kind(call);
    let Ok(body) = call.json::<Value>() else {
        return invalid("Invalid input JSON");
    };
    let limit = body["limit"].as_u64().unwrap_or(10);
    if !(1..=200).contains(&limit) {
        return invalid("limit must be from 1 to 200");
    }
    let after = match body.get("after").and_then(Value::as_str) {
        None => 0,
        Some(after) => match after.parse::<u64>() {
            Ok(after) => after,
            Err(_) => return invalid("after must be a number"),
        },
    };
    if after >= SEARCH_RESULT_LIMIT {
        return invalid("The maximum number of results this search can return is 10000.");
    }
    let groups = body["filterGroups"].as_array().cloned().unwrap_or_default();
    let mut matched = Vec::new();
    for object in store.objects[kind].values() {
        let json = store.json(kind, object, &[]);
        let mut keep = groups.is_empty();
        for group in &groups {
            let mut all = true;
            for filter in group["filters"].as_array().into_iter().flatten() {
                match passes(store, kind, &json, object.id, filter) {
                    Ok(true) => {}
                    Ok(false) => all = false,
                    Err(message) => return invalid(&message),
                }
            }
            keep |= all;
        }
        if keep {
            matched.push(json);
        }
    }
    if let Some(sort) = body.pointer("/sorts/0") {
        let property = sort["propertyName"]
            .as_str()
            .unwrap_or("hs_object_id")
            .to_owned();
        let key = |object: &Value| {
            let text = object
                .pointer(&format!("/properties/{property}"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            millis(text).unwrap_or_default()
        };
        matched.sort_by_key(|object| key(object));
        if sort["direction"].as_str() == Some("DESCENDING") {
            matched.reverse();
        }
    }
    let wanted: Vec<String> = body["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    let total = matched.len();
    let start = usize::try_from(after).unwrap_or(usize::MAX).min(total);
    let end = (start + limit as usize).min(total);
    let results: Vec<Value> = matched[start..end]
        .iter()
        .map(|object| trim(object, &wanted))
        .collect();
    let mut answer = json!({"total": total, "results": results});
    if end < total {
        answer["paging"] =
            json!({"next": {"after": end.to_string(), "link": format!("?after={end}")}});
    }
    FakeResponse::json(200, &answer)
}

/// `object` with only the `wanted` properties (and those every answer carries).
fn trim(object: &Value, wanted: &[String]) -> Value {
    let mut object = object.clone();
    if wanted.is_empty() {
        return object;
    }
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        properties.retain(|name, _| {
            wanted.iter().any(|w| w == name)
                || [
                    "hs_object_id",
                    "createdate",
                    "lastmodifieddate",
                    "hs_lastmodifieddate",
                ]
                .contains(&name.as_str())
        });
    }
    object
}

/// The text properties of a write's body, or the refusal of a non-text value.
fn text_properties(body: &Value) -> Result<Map<String, Value>, FakeResponse> {
    let mut out = Map::new();
    for (name, value) in body["properties"].as_object().into_iter().flatten() {
        match value {
            Value::String(_) => {
                out.insert(name.clone(), value.clone());
            }
            Value::Number(n) => {
                out.insert(name.clone(), Value::String(n.to_string()));
            }
            _ => return Err(invalid(&format!("Property values were not valid: {name}"))),
        }
    }
    for (name, problem) in [("amount", "a number"), ("closedate", "a date")] {
        if let Some(text) = out.get(name).and_then(Value::as_str)
            && !text.is_empty()
            && text.parse::<f64>().is_err()
            && millis(text).is_none()
        {
            return Err(invalid(&format!(
                "Property values were not valid: {name} must be {problem}"
            )));
        }
    }
    if let Some(Value::String(amount)) = out.get("amount").cloned()
        && let Ok(number) = amount.parse::<f64>()
    {
        out.insert("amount".into(), Value::String(format_amount(number)));
    }
    Ok(out)
}

/// Keeps a deal's `hs_is_closed*` as HubSpot computes them from its stage.
fn closed_flags(properties: &mut Map<String, Value>) {
    if let Some(stage) = properties
        .get("dealstage")
        .and_then(Value::as_str)
        .map(str::to_owned)
    {
        properties.insert(
            "hs_is_closed".into(),
            json!(stage.starts_with("closed").to_string()),
        );
        properties.insert(
            "hs_is_closed_won".into(),
            json!((stage == "closedwon").to_string()),
        );
    }
}

/// `POST /crm/v3/objects/contacts/batch/upsert` by email.
fn upsert_contacts(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let Ok(body) = call.json::<Value>() else {
        return invalid("Invalid input JSON");
    };
    let started = iso(call.now);
    let mut results = Vec::new();
    for input in body["inputs"].as_array().into_iter().flatten() {
        if input["idProperty"].as_str() != Some("email") {
            return invalid("idProperty must be a unique property: email");
        }
        let Some(email) = input["id"].as_str().map(str::to_lowercase) else {
            return invalid("id is required");
        };
        let mut properties = match text_properties(input) {
            Ok(properties) => properties,
            Err(refusal) => return refusal,
        };
        properties.insert("email".into(), Value::String(email.clone()));
        let existing = store.objects["contacts"]
            .values()
            .find(|c| c.properties.get("email").and_then(Value::as_str) == Some(&email))
            .map(|c| c.id);
        let (id, new) = match existing {
            Some(id) => {
                store.update("contacts", id, &properties, call.now);
                (id, false)
            }
            None => (store.insert("contacts", properties, call.now), true),
        };
        let object = &store.objects["contacts"][&id];
        let mut json = store.json("contacts", object, &[]);
        json["new"] = Value::Bool(new);
        results.push(json);
    }
    FakeResponse::json(
        200,
        &json!({"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": iso(call.now)}),
    )
}

/// `POST /crm/v3/objects/{deals|notes}`, with `associations`.
fn create(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let kind = kind(call);
    let Ok(body) = call.json::<Value>() else {
        return invalid("Invalid input JSON");
    };
    let mut properties = match text_properties(&body) {
        Ok(properties) => properties,
        Err(refusal) => return refusal,
    };
    closed_flags(&mut properties);
    let mut links = Vec::new();
    for association in body["associations"].as_array().into_iter().flatten() {
        let to = association
            .pointer("/to/id")
            .and_then(|id| {
                id.as_str()
                    .map(str::to_owned)
                    .or_else(|| id.as_u64().map(|n| n.to_string()))
            })
            .and_then(|id| id.parse::<u64>().ok());
        let type_id = association
            .pointer("/types/0/associationTypeId")
            .and_then(Value::as_u64);
        let target = match type_id {
            Some(202) => "contacts",
            Some(190) => "companies",
            Some(214) => "deals",
            _ => return invalid("Unsupported association type"),
        };
        match to {
            Some(id) if store.has(target, id) => links.push((singular(target).to_owned(), id)),
            _ => return not_found(),
        }
    }
    let id = store.insert(kind, properties, call.now);
    for (to, to_id) in links {
        store.associate(singular(kind), id, &to, to_id);
    }
    let object = &store.objects[kind][&id];
    FakeResponse::json(201, &store.json(kind, object, &[]))
}

/// `PATCH /crm/v3/objects/deals/{id}`.
fn update_deal(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let Ok(body) = call.json::<Value>() else {
        return invalid("Invalid input JSON");
    };
    let Some(id) = call
        .param("id")
        .parse::<u64>()
        .ok()
        .filter(|id| store.has("deals", *id))
    else {
        return not_found();
    };
    let mut properties = match text_properties(&body) {
        Ok(properties) => properties,
        Err(refusal) => return refusal,
    };
    closed_flags(&mut properties);
    store.update("deals", id, &properties, call.now);
    let object = &store.objects["deals"][&id];
    FakeResponse::json(200, &store.json("deals", object, &[]))
}

/// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{id}`.
fn associate(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let plural = |name: &str| match singular(name) {
        "company" => "companies",
        "contact" => "contacts",
        _ => "deals",
    };
    let (from, to) = (plural(call.param("from")), plural(call.param("to")));
    let ids = (
        call.param("from_id").parse::<u64>().ok(),
        call.param("to_id").parse::<u64>().ok(),
    );
    let (Some(from_id), Some(to_id)) = ids else {
        return invalid("Object ids must be numeric");
    };
    if !store.has(from, from_id) || !store.has(to, to_id) {
        return not_found();
    }
    store.associate(singular(from), from_id, singular(to), to_id);
    let spec = json!({"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1});
    FakeResponse::json(
        200,
        &json!({
            "status": "COMPLETE",
            "results": [
                {"from": {"id": from_id.to_string()}, "to": {"id": to_id.to_string()}, "associationSpec": spec},
                {"from": {"id": to_id.to_string()}, "to": {"id": from_id.to_string()}, "associationSpec": spec},
            ],
            "startedAt": iso(call.now),
            "completedAt": iso(call.now),
        }),
    )
}

/// A webhook delivery as HubSpot sends it to `url` at `now`: the
/// `X-HubSpot-Signature-v3` and `X-HubSpot-Request-Timestamp` headers for `body`,
/// signed with the private app's client secret.
pub fn sign_delivery(url: &str, body: &[u8], now: DateTime<Utc>) -> [(&'static str, String); 2] {
    let secret = SecretString::from(SANDBOX_WEBHOOK_SECRET);
    let timestamp = now.timestamp_millis();
    let signature = junction_core::webhook::hubspot::sign(&secret, "POST", url, body, timestamp);
    [
        (junction_core::webhook::hubspot::SIGNATURE_HEADER, signature),
        (
            junction_core::webhook::hubspot::TIMESTAMP_HEADER,
            timestamp.to_string(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_names_the_fakes_values() {
        let entry = HubspotFake::default().catalog();
        assert_eq!(entry.credentials["access_token"], SANDBOX_TOKEN);
        assert_eq!(
            entry.webhook_secret.as_deref(),
            Some(SANDBOX_WEBHOOK_SECRET)
        );
        assert_eq!(entry.fixtures["portal_id"], SANDBOX_PORTAL_ID);
        assert_eq!(entry.special_values[0].value, SANDBOX_READ_ONLY_TOKEN);
        let oauth = HubspotFake::oauth().catalog();
        assert!(oauth.credentials.is_empty());
        assert_eq!(SEED.at("/account/portalId"), SANDBOX_PORTAL_ID);
    }

    #[test]
    fn the_seed_has_every_object() {
        let store = Store::seed(Utc::now());
        assert_eq!(store.objects["contacts"].len(), 12);
        assert_eq!(store.objects["companies"].len(), 5);
        assert_eq!(store.objects["deals"].len(), 8);
        let _: &store::Object = &store.objects["deals"][&118];
        assert!(store.associated("contacts", 101, "company", 113));
    }
}

//! A fake of the Mailchimp Marketing API 3.0 for the sandbox (demo mode, end-to-end
//! tests): the real paths under `/3.0`, JSON shapes, Basic auth, problem documents
//! and the batch endpoint with its results archive, over deterministic seed data.
//!
//! Served under the sandbox's `/mailchimp/` mount, it answers:
//! - `GET /3.0/ping`;
//! - `GET /3.0/lists` (`count`, `offset`, `sort_dir`) and `GET /3.0/lists/{id}`;
//! - `GET /3.0/lists/{id}/members` (`count` ≤ 1000, `offset`, `status`,
//!   `since_`/`before_last_changed`, `since_`/`before_timestamp_opt` — all
//!   exclusive, as Mailchimp's are —, `sort_field`, `sort_dir`) and
//!   `GET /3.0/lists/{id}/members/{hash}`;
//! - `PUT /3.0/lists/{id}/members/{hash}` (add or update: the hash must be the MD5
//!   of the lower-cased address; addresses at a `.invalid` domain "look fake" and
//!   get Mailchimp's 400; `BIRTHDAY` must be `MM/DD`);
//! - `POST /3.0/lists/{id}/members/{hash}/tags` (204);
//! - `POST /3.0/batches` and `GET /3.0/batches/{id}`: operations run when the batch
//!   is submitted; the first poll says `started`, the second `finished` with a
//!   `response_body_url` at `/mailchimp/batch-results/{id}.tar.gz` on the host the
//!   request came to. That archive is the real format (a gzipped tar of JSON arrays
//!   of `{status_code, operation_id, response}`), and like Mailchimp's pre-signed
//!   storage link it needs no API key.
//!
//! Credentials: the API key [`SANDBOX_API_KEY`] (as the Basic password with any user
//! name, or as a Bearer token). [`DISABLED_API_KEY`] answers 403 `User Disabled`;
//! any other key 401 `API Key Invalid`. There are no webhooks, so no webhook secret.
//!
//! [`MailchimpFake::oauth`] is the fake of the `mailchimp-oauth` entry, mounted at
//! `/mailchimp-oauth/`: the same data and paths, but requests carry
//! `Authorization: Bearer <token>` with a token the sandbox's OAuth server issued for
//! `mailchimp-oauth` (checked through [`FakeContext::tokens`]; an unknown, expired or
//! revoked one answers 401 `API Key Invalid`, as Mailchimp does). It also serves
//! `GET /oauth2/metadata` (with `Authorization: OAuth <token>`, Mailchimp's scheme
//! there), whose `api_endpoint` points back at the fake's mount on the requested host.
//!
//! Faults render as Mailchimp's: `ServerError` a 500 problem, `RateLimited` and
//! `QuotaExhausted` a 429 "Too Many Requests" without rate headers (Mailchimp sends
//! none), `ExpiredToken` a 401 as for a revoked key, `MalformedBody` a truncated 200.
//!
//! State (seeded audiences and members, upserts, batches) lives in the fake behind
//! a mutex; reads never change it.
//!
//! Routing, the credential checks (the adapter's auth modes; the metadata endpoint's
//! own scheme from [`crate::api::METADATA_API`]), offset paging and the faults are the
//! toolkit's fake scaffolding ([`junction_toolkit::fake`]).

mod data;

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use chrono::{DateTime, Utc};
use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::{
    AuthMode, Placement,
    fake::{
        Auth, Call, Data, ErrorShape, Key, PageError, Pager, Route, Serves, Service, Sizes, empty,
    },
};
use serde_json::{Map, Value, json};

use crate::{
    actions::is_plausible_email,
    api::{API, METADATA_API},
    archive, md5_hex,
    spec::{API_KEY_FIELD, MEMBER_STATUSES, OAUTH_PROVIDER_ID, PROVIDER_ID},
    streams::{AUDIENCE_PAGING, MEMBER_PAGING},
    subscriber_hash,
    wire::{BatchRequest, OperationResult, PROBLEM_TYPE, TagsUpdate},
};
use data::{FakeList, FakeMember, list_json, mailchimp_time, member_json};

/// The API key the sandbox accepts.
pub const SANDBOX_API_KEY: &str = "0123456789abcdef0123456789abcdef-us21";

/// An API key whose user is disabled (403 `User Disabled`).
pub const DISABLED_API_KEY: &str = "dddddddddddddddddddddddddddddddd-us21";

/// The id of the seeded audience with the most members.
pub const NEWSLETTER_AUDIENCE: &str = "b1f3a9c2d4";

/// Where finished batches' archives are served, below the mount.
pub const RESULTS_PATH: &str = "/batch-results/";

/// Results per file of a results archive.
const RESULTS_PER_FILE: usize = 500;

/// The data center the fake's accounts live in.
pub const SANDBOX_DATA_CENTER: &str = "us21";

/// The account name the OAuth fake's metadata reports.
pub const SANDBOX_ACCOUNT_NAME: &str = "Junction Sandbox Co";

/// The login e-mail the OAuth fake's metadata reports.
pub const SANDBOX_LOGIN_EMAIL: &str = "owner@sandbox.example";

/// The Mailchimp fake (of API keys by default, of OAuth tokens from [`Self::oauth`]).
#[derive(Debug, Default)]
pub struct MailchimpFake {
    oauth: bool,
    state: Mutex<Option<State>>,
}

impl MailchimpFake {
    /// The fake of the `mailchimp-oauth` entry.
    pub fn oauth() -> Self {
        Self {
            oauth: true,
            state: Mutex::new(None),
        }
    }
}

/// Mailchimp's problem documents (`instance` derived from what they say) and words.
const ERRORS: ErrorShape = ErrorShape::new(Some("/title"), "/detail")
    .status_at("/status")
    .fixed(&[("/type", PROBLEM_TYPE)])
    .content_type("application/problem+json")
    .finish(|_, body| {
        let title = body["title"].as_str().unwrap_or_default();
        let said = format!("{title}:{}", body["detail"].as_str().unwrap_or_default());
        body["instance"] = json!(md5_hex(said.as_bytes()));
    })
    .catalogue(&WORDS, "");

static WORDS: Data = Data::new(include_str!("errors.json"));

fn not_found() -> FakeResponse {
    ERRORS.named("not_found", &[])
}

/// A 400 `Invalid Resource` naming one field.
fn invalid_field(detail: &str, field: &str, message: &str) -> FakeResponse {
    let vars = [("detail", detail), ("field", field), ("message", message)];
    ERRORS.named("invalid_field", &vars)
}

const VALIDATION: &str = "The resource submitted could not be validated. For field-specific \
                          details, see the 'errors' array.";

const ROUTES: &[Route<State>] = &[
    Route::get("ping", |_, _| {
        FakeResponse::json(200, &json!({"health_status": "Everything's Chimpy!"}))
    }),
    Route::get("lists", get_lists),
    Route::get("lists/{id}", |state, call| {
        match state.list(call.param("id")) {
            Some(list) => FakeResponse::json(200, &list_json(list, state.members_of(&list.id))),
            None => not_found(),
        }
    }),
    Route::get("lists/{id}/members", get_members),
    Route::get("lists/{id}/members/{hash}", |state, call| {
        match state.find_member(call.param("id"), call.param("hash")) {
            Some((list, member)) => FakeResponse::json(200, &member_json(list, member)),
            None => not_found(),
        }
    }),
    Route::put("lists/{id}/members/{hash}", put_member),
    Route::post("lists/{id}/members/{hash}/tags", post_tags),
    Route::post("batches", post_batch),
    Route::get("batches/{id}", get_batch),
    // Like Mailchimp's pre-signed storage link: no key, no faults.
    Route::get("/batch-results/{file}", results_archive).public(),
    // The login service, with its own auth scheme.
    Route::get("/oauth2/metadata", metadata).public(),
];

const KEY_SERVICE: Service<State> = Service::new(
    API.base.prefix,
    ROUTES,
    // The key as the Basic password with any user name, or as a Bearer token.
    Auth::new(API.auth, PROVIDER_ID)
        .serves(Serves::Keys)
        .also(&[AuthMode::ApiKey {
            field: API_KEY_FIELD,
            placement: Placement::BEARER_KEY,
        }])
        .keys(&[Key::full(SANDBOX_API_KEY), Key::disabled(DISABLED_API_KEY)]),
    ERRORS,
);

/// The `mailchimp-oauth` entry: Bearer tokens from the sandbox's OAuth server
/// (Mailchimp's OAuth has no scopes: a valid token can do what its user can; one it
/// does not know is an invalid key).
const TOKEN_SERVICE: Service<State> = Service {
    auth: Auth::new(API.auth, OAUTH_PROVIDER_ID).serves(Serves::Tokens),
    ..KEY_SERVICE
};

impl ProviderFake for MailchimpFake {
    fn provider_id(&self) -> &'static str {
        if self.oauth {
            OAUTH_PROVIDER_ID
        } else {
            PROVIDER_ID
        }
    }

    fn catalog(&self) -> CatalogEntry {
        data::SEED.catalog(self.provider_id())
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // Every change is one push or one field write: the data stays whole.
        let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = guard.get_or_insert_with(|| State::seed(ctx.now, self.provider_id()));
        let service = if self.oauth {
            &TOKEN_SERVICE
        } else {
            &KEY_SERVICE
        };
        service.serve(state, request, ctx)
    }
}

fn results_archive(state: &mut State, call: &Call<'_>) -> FakeResponse {
    state.results_archive(call.param("file"))
}

/// The absolute URL of the fake's mount, from the request's Host header.
fn mount_url(request: &FakeRequest, provider_id: &str) -> String {
    let scheme = request.header("x-forwarded-proto").unwrap_or("http");
    match request.header("host") {
        Some(host) => format!("{scheme}://{host}/{provider_id}"),
        None => format!("/{provider_id}"),
    }
}

/// `GET /oauth2/metadata` with `Authorization: OAuth <token>`: the token's account
/// and data center, `api_endpoint` pointing back at this fake. Only the OAuth
/// entry's fake serves it.
fn metadata(state: &mut State, call: &Call<'_>) -> FakeResponse {
    if state.provider != OAUTH_PROVIDER_ID {
        return not_found();
    }
    if let Some(outage) = junction_toolkit::fake::faults::before_auth(&ERRORS, call.fault) {
        return outage;
    }
    let auth = Auth::new(METADATA_API.auth, OAUTH_PROVIDER_ID);
    if auth.check(call.request, call.tokens, call.fault).is_err() {
        // The login service answers in OAuth 2.0's error shape, not a problem document.
        return ERRORS.named("metadata_token", &[]);
    }
    let vars = json!({
        "dc": SANDBOX_DATA_CENTER, "account": SANDBOX_ACCOUNT_NAME, "email": SANDBOX_LOGIN_EMAIL,
        "endpoint": mount_url(call.request, OAUTH_PROVIDER_ID),
    });
    FakeResponse::json(200, &data::SEED.fill("/metadata", &vars))
}

/// A submitted batch.
#[derive(Debug, Clone)]
struct FakeBatch {
    submitted_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    results: Vec<OperationResult>,
    polls: u32,
}

/// The fake's data.
#[derive(Debug)]
struct State {
    /// The entry served, for links back to the fake.
    provider: &'static str,
    lists: Vec<FakeList>,
    /// Members per audience id, in signup order.
    members: BTreeMap<String, Vec<FakeMember>>,
    batches: BTreeMap<String, FakeBatch>,
}

impl State {
    fn seed(now: DateTime<Utc>, provider: &'static str) -> Self {
        let anchor = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
        let lists = data::lists(anchor);
        let members = lists
            .iter()
            .enumerate()
            .map(|(index, list)| (list.id.clone(), data::members(index, anchor)))
            .collect();
        Self {
            provider,
            lists,
            members,
            batches: BTreeMap::new(),
        }
    }

    fn list(&self, id: &str) -> Option<&FakeList> {
        self.lists.iter().find(|l| l.id == id)
    }

    fn members_of(&self, list: &str) -> &[FakeMember] {
        self.members
            .get(list)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn find_member(&self, list_id: &str, hash: &str) -> Option<(&FakeList, &FakeMember)> {
        let list = self.list(list_id)?;
        let members = self.members_of(list_id);
        let member = members.iter().find(|m| subscriber_hash(&m.email) == hash)?;
        Some((list, member))
    }

    /// `GET /batch-results/{id}.tar.gz`: the archive of a finished batch.
    fn results_archive(&self, file: &str) -> FakeResponse {
        let batch = file
            .strip_suffix(".tar.gz")
            .and_then(|id| self.batches.get(id).map(|b| (id, b)))
            .filter(|(_, b)| b.completed_at.is_some());
        let Some((id, batch)) = batch else {
            // What S3 answers for a key that does not exist.
            return ERRORS.named("no_such_key", &[]);
        };
        let files: Vec<(String, Vec<u8>)> = batch
            .results
            .chunks(RESULTS_PER_FILE)
            .enumerate()
            .map(|(index, chunk)| {
                let name = format!("{id}/{}.json", md5_hex(format!("{id}:{index}").as_bytes()));
                (name, serde_json::to_vec(chunk).unwrap_or_default())
            })
            .collect();
        let entries: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(name, body)| (name.as_str(), body.as_slice()))
            .collect();
        match archive::tar(&entries).and_then(|tarred| archive::gzip(&tarred)) {
            Ok(body) => FakeResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/x-gzip".into())],
                body,
            },
            Err(err) => ERRORS.reply(500, Some("Internal Server Error"), &err.to_string()),
        }
    }
}

/// Mailchimp's lists: `count` (default 10, at most 1000) and `offset`.
fn page(pager: Pager, call: &Call<'_>, items: Vec<Value>) -> Result<Value, FakeResponse> {
    let pager = pager.size(10, 1_000).sizes(Sizes::Cap);
    match pager.page(call.request, items) {
        Ok(page) => Ok(page.body),
        Err(PageError::Size { param, .. } | PageError::Position { param, .. }) => {
            Err(invalid_field(
                "The resource submitted could not be validated.",
                param,
                "Must be a non-negative integer.",
            ))
        }
        Err(_) => Err(not_found()),
    }
}

fn get_lists(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let mut lists: Vec<&FakeList> = state.lists.iter().collect();
    lists.sort_by_key(|l| l.date_created);
    if call
        .query("sort_dir")
        .is_some_and(|d| d.eq_ignore_ascii_case("DESC"))
    {
        lists.reverse();
    }
    let lists = lists
        .iter()
        .map(|list| list_json(list, state.members_of(&list.id)));
    match page(Pager::new(AUDIENCE_PAGING), call, lists.collect()) {
        Ok(mut body) => {
            let total = state.lists.len();
            body["constraints"] =
                json!({"may_create": true, "max_instances": 100, "current_total_instances": total});
            body["_links"] = json!([]);
            FakeResponse::json(200, &body)
        }
        Err(refusal) => refusal,
    }
}

fn get_members(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let list_id = call.param("id");
    let Some(list) = state.list(list_id) else {
        return not_found();
    };
    // Mailchimp's bounds are exclusive.
    let mut bounds = Vec::new();
    for name in [
        "since_last_changed",
        "before_last_changed",
        "since_timestamp_opt",
        "before_timestamp_opt",
    ] {
        match call
            .request
            .query_param(name)
            .map(|v| DateTime::parse_from_rfc3339(v.trim()))
        {
            None => bounds.push(None),
            Some(Ok(at)) => bounds.push(Some(at.with_timezone(&Utc))),
            Some(Err(_)) => {
                return invalid_field(
                    VALIDATION,
                    name,
                    "Please provide a valid ISO 8601 date-time.",
                );
            }
        }
    }
    let status = call.query("status");
    let mut members: Vec<&FakeMember> = state
        .members_of(list_id)
        .iter()
        .filter(|m| status.as_ref().is_none_or(|s| &m.status == s))
        .filter(|m| bounds[0].is_none_or(|since| m.last_changed > since))
        .filter(|m| bounds[1].is_none_or(|before| m.last_changed < before))
        .filter(|m| bounds[2].is_none_or(|since| m.timestamp_opt.is_some_and(|t| t > since)))
        .filter(|m| bounds[3].is_none_or(|before| m.timestamp_opt.is_some_and(|t| t < before)))
        .collect();
    match call.query("sort_field").as_deref() {
        None => {}
        Some("timestamp_signup") => members.sort_by_key(|m| m.timestamp_signup),
        Some("timestamp_opt") => members.sort_by_key(|m| m.timestamp_opt),
        Some("last_changed") => members.sort_by_key(|m| m.last_changed),
        Some(_) => {
            return invalid_field(
                "The resource submitted could not be validated.",
                "sort_field",
                "Must be one of: timestamp_opt, timestamp_signup, last_changed.",
            );
        }
    }
    if call
        .query("sort_dir")
        .is_some_and(|d| d.eq_ignore_ascii_case("DESC"))
    {
        members.reverse();
    }
    let members = members.iter().map(|m| member_json(list, m)).collect();
    match page(Pager::new(MEMBER_PAGING), call, members) {
        Ok(mut body) => {
            body["list_id"] = json!(list_id);
            body["_links"] = json!([]);
            FakeResponse::json(200, &body)
        }
        Err(refusal) => refusal,
    }
}

fn put_member(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let (list_id, hash, now) = (call.param("id"), call.param("hash"), call.now);
    if state.list(list_id).is_none() {
        return not_found();
    }
    let Ok(Value::Object(body)) = call.json::<Value>() else {
        return ERRORS.named("json", &[]);
    };
    let email = body
        .get("email_address")
        .and_then(Value::as_str)
        .map(str::trim);
    let Some(email) = email.filter(|e| !e.is_empty()) else {
        return invalid_field(
            VALIDATION,
            "email_address",
            "This value should not be blank.",
        );
    };
    if !is_plausible_email(email) || email.to_ascii_lowercase().ends_with(".invalid") {
        return ERRORS.named("fake_email", &[("email", email)]);
    }
    if subscriber_hash(email) != hash {
        let message = "The email address does not match the subscriber hash in the URL.";
        return invalid_field(VALIDATION, "email_address", message);
    }
    let mut statuses = Vec::new();
    for name in ["status", "status_if_new"] {
        match body.get(name) {
            None | Some(Value::Null) => statuses.push(None),
            Some(Value::String(s)) if MEMBER_STATUSES.contains(&s.as_str()) => {
                statuses.push(Some(s.clone()));
            }
            Some(_) => return invalid_field(VALIDATION, name, "Status must be a valid status."),
        }
    }
    let merge_fields = match body.get("merge_fields") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(fields)) => fields.clone(),
        Some(_) => return invalid_field(VALIDATION, "merge_fields", "Must be an object."),
    };
    if let Some(birthday) = merge_fields.get("BIRTHDAY")
        && !is_month_day(birthday)
    {
        let message = "Please enter a complete date";
        return invalid_field("Your merge fields were invalid.", "BIRTHDAY", message);
    }
    let members = state.members.entry(list_id.to_owned()).or_default();
    let index = match members
        .iter()
        .position(|m| subscriber_hash(&m.email) == hash)
    {
        Some(index) => {
            let member = &mut members[index];
            member.email = email.to_owned();
            if let Some(status) = &statuses[0] {
                if status == "subscribed" && member.status != "subscribed" {
                    member.timestamp_opt = Some(now);
                }
                member.status = status.clone();
            }
            member.merge_fields.extend(merge_fields);
            member.last_changed = now;
            index
        }
        None => {
            let Some(status) = statuses[0].clone().or_else(|| statuses[1].clone()) else {
                let message = "A status is required for a new member.";
                return invalid_field(VALIDATION, "status_if_new", message);
            };
            let web_id = 900_000_000 + members.len() as u64;
            members.push(FakeMember {
                email: email.to_owned(),
                timestamp_opt: (status == "subscribed").then_some(now),
                status,
                merge_fields,
                tags: Vec::new(),
                timestamp_signup: now,
                last_changed: now,
                web_id,
                source: "API - Generic".into(),
                rating: 2,
                country: 0,
                ip_opt: String::new(),
            });
            members.len() - 1
        }
    };
    match (state.list(list_id), state.members.get(list_id)) {
        (Some(list), Some(members)) => FakeResponse::json(200, &member_json(list, &members[index])),
        _ => not_found(),
    }
}

fn post_tags(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let (list_id, hash) = (call.param("id"), call.param("hash"));
    if state.find_member(list_id, hash).is_none() {
        return not_found();
    }
    let Ok(update) = call.json::<TagsUpdate>() else {
        return ERRORS.named("bad_tags", &[]);
    };
    if let Some(bad) = update.tags.iter().position(|t| {
        t.name.trim().is_empty() || !matches!(t.status.as_str(), "active" | "inactive")
    }) {
        return invalid_field(
            "The resource submitted could not be validated.",
            &format!("tags[{bad}]"),
            "A tag needs a name and a status of active or inactive.",
        );
    }
    let member = state.members.get_mut(list_id).and_then(|members| {
        members
            .iter_mut()
            .find(|m| subscriber_hash(&m.email) == hash)
    });
    let Some(member) = member else {
        return not_found();
    };
    for tag in update.tags {
        let name = tag.name.trim().to_owned();
        if tag.status != "active" {
            member.tags.retain(|t| t != &name);
        } else if !member.tags.contains(&name) {
            member.tags.push(name);
        }
    }
    member.last_changed = call.now;
    empty(204)
}

fn post_batch(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let Ok(request) = call.json::<BatchRequest>() else {
        return ERRORS.named("bad_batch", &[]);
    };
    let mut results = Vec::with_capacity(request.operations.len());
    for operation in &request.operations {
        let method = http::Method::from_bytes(operation.method.to_ascii_uppercase().as_bytes())
            .unwrap_or(http::Method::GET);
        let path = operation.path.trim_start_matches('/');
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let response = if path.starts_with("batches") {
            ERRORS.named("nested_batch", &[])
        } else {
            // Each operation runs as the caller's own request would, without its
            // credential or faults.
            let request = FakeRequest {
                method,
                path: format!("/{}/{path}", API.base.prefix),
                query: query.to_owned(),
                headers: http::HeaderMap::new(),
                body: operation.body.clone().unwrap_or_default().into_bytes(),
            };
            KEY_SERVICE
                .dispatch(state, call, &request)
                .unwrap_or_else(not_found)
        };
        results.push(OperationResult {
            status_code: response.status,
            operation_id: operation.operation_id.clone(),
            response: String::from_utf8_lossy(&response.body).into_owned(),
        });
    }
    let id = md5_hex(format!("batch:{}", state.batches.len() + 1).as_bytes())[..10].to_owned();
    let batch = FakeBatch {
        submitted_at: call.now,
        completed_at: None,
        results,
        polls: 0,
    };
    let response = batch_json(&id, &batch, "pending", call, state.provider);
    state.batches.insert(id, batch);
    FakeResponse::json(200, &response)
}

fn get_batch(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let provider = state.provider;
    let Some(batch) = state.batches.get_mut(call.param("id")) else {
        return not_found();
    };
    batch.polls += 1;
    let status = if batch.polls >= 2 {
        batch.completed_at.get_or_insert(call.now);
        "finished"
    } else {
        "started"
    };
    FakeResponse::json(
        200,
        &batch_json(call.param("id"), batch, status, call, provider),
    )
}

/// A batch's JSON in the given status.
fn batch_json(id: &str, batch: &FakeBatch, status: &str, call: &Call<'_>, provider: &str) -> Value {
    let total = batch.results.len();
    let finished = match status {
        "finished" => total,
        "started" => total / 2,
        _ => 0,
    };
    let errored = batch
        .results
        .iter()
        .take(finished)
        .filter(|r| r.status_code >= 400)
        .count();
    let done = status == "finished";
    let results = format!(
        "{}{RESULTS_PATH}{id}.tar.gz",
        mount_url(call.request, provider)
    );
    json!({
        "id": id, "status": status, "total_operations": total, "finished_operations": finished,
        "errored_operations": errored, "submitted_at": mailchimp_time(batch.submitted_at),
        "completed_at": batch.completed_at.filter(|_| done).map(mailchimp_time).unwrap_or_default(),
        "response_body_url": if done { results } else { String::new() }, "_links": []
    })
}

/// Whether a BIRTHDAY merge value is `MM/DD` (or empty, which clears it).
fn is_month_day(value: &Value) -> bool {
    let parts = value.as_str().map(|text| (text, text.split_once('/')));
    match parts {
        Some(("", _)) => true,
        Some((_, Some((month, day)))) => {
            matches!((month.parse::<u8>(), day.parse::<u8>()), (Ok(m), Ok(d)) if (1..=12).contains(&m) && (1..=31).contains(&d))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_names_the_fakes_values() {
        let key = MailchimpFake::default().catalog();
        assert_eq!(key.credentials[API_KEY_FIELD], SANDBOX_API_KEY);
        assert_eq!(key.special_values[0].value, DISABLED_API_KEY);
        let token = MailchimpFake::oauth().catalog();
        assert_eq!(token.fixtures["login_email"], SANDBOX_LOGIN_EMAIL);
        for entry in [key, token] {
            assert_eq!(entry.fixtures["data_center"], SANDBOX_DATA_CENTER);
            assert_eq!(entry.fixtures["account_name"], SANDBOX_ACCOUNT_NAME);
            assert_eq!(entry.fixtures["audiences"][0]["id"], NEWSLETTER_AUDIENCE);
        }
    }

    #[test]
    fn the_faults_read_as_the_adapter_reads_them() {
        let policy = junction_core::http::ResponsePolicy::API_KEY;
        let checked = junction_toolkit::fake::faults::check(&ERRORS, &API, &policy);
        assert_eq!(checked, Ok(()));
    }
}

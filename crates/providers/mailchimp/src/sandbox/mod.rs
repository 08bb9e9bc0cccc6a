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

mod data;

use std::{collections::BTreeMap, sync::Mutex};

use base64::Engine;
use chrono::{DateTime, Utc};
use junction_core::fake::{
    CatalogEntry, FakeContext, FakeRequest, FakeResponse, Fault, ProviderFake, TokenStatus,
};
use serde_json::{Map, Value, json};

use crate::{
    actions::is_plausible_email,
    archive, md5_hex,
    spec::{API_KEY_FIELD, MEMBER_STATUSES, OAUTH_PROVIDER_ID, PROVIDER_ID},
    subscriber_hash,
    wire::{BatchRequest, OperationResult, Problem, TagsUpdate},
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

/// How a fake authenticates requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthMode {
    ApiKey,
    OAuth,
}

/// The Mailchimp fake (of API keys by default, of OAuth tokens from [`Self::oauth`]).
#[derive(Debug)]
pub struct MailchimpFake {
    mode: AuthMode,
    state: Mutex<Option<State>>,
}

impl Default for MailchimpFake {
    fn default() -> Self {
        Self {
            mode: AuthMode::ApiKey,
            state: Mutex::new(None),
        }
    }
}

impl MailchimpFake {
    /// The fake of the `mailchimp-oauth` entry.
    pub fn oauth() -> Self {
        Self {
            mode: AuthMode::OAuth,
            state: Mutex::new(None),
        }
    }
}

impl ProviderFake for MailchimpFake {
    fn provider_id(&self) -> &'static str {
        match self.mode {
            AuthMode::ApiKey => PROVIDER_ID,
            AuthMode::OAuth => OAUTH_PROVIDER_ID,
        }
    }

    fn catalog(&self) -> CatalogEntry {
        // Mailchimp has no settings: the key (its data center included) or the token
        // reaches every audience.
        let audiences: Vec<Value> = data::AUDIENCES
            .iter()
            .map(|(id, name, ..)| json!({"id": id, "name": name}))
            .collect();
        let entry = CatalogEntry::default()
            .fixture("data_center", SANDBOX_DATA_CENTER)
            .fixture("account_name", SANDBOX_ACCOUNT_NAME)
            .fixture("audiences", audiences);
        match self.mode {
            AuthMode::ApiKey => entry
                .credential(API_KEY_FIELD, SANDBOX_API_KEY)
                .special_value(
                    API_KEY_FIELD,
                    DISABLED_API_KEY,
                    "a key whose user is disabled: 403 User Disabled",
                ),
            AuthMode::OAuth => entry.fixture("login_email", SANDBOX_LOGIN_EMAIL),
        }
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let state = guard.get_or_insert_with(|| State::seed(ctx.now));
        if request.method == http::Method::GET
            && let Some(file) = request.path.strip_prefix(RESULTS_PATH)
        {
            return state.results_archive(file);
        }
        // An outage answers before anything is checked.
        if ctx.fault == Some(Fault::ServerError) {
            return problem(
                500,
                "Internal Server Error",
                "An unexpected internal error has occurred. Please contact Support for more \
                 information.",
            );
        }
        let revoked = ctx.fault == Some(Fault::ExpiredToken);
        if self.mode == AuthMode::OAuth && request.path == "/oauth2/metadata" {
            return metadata(request, ctx, revoked);
        }
        let authenticated = match self.mode {
            AuthMode::ApiKey => authenticate(request, revoked),
            AuthMode::OAuth => authenticate_token(request.bearer(), ctx, revoked),
        };
        if let Err(refusal) = authenticated {
            return refusal;
        }
        if matches!(
            ctx.fault,
            Some(Fault::RateLimited { .. } | Fault::QuotaExhausted)
        ) {
            return problem(
                429,
                "Too Many Requests",
                "You have exceeded the limit of 10 simultaneous connections.",
            );
        }
        let Some(path) = request.path.strip_prefix("/3.0/") else {
            return not_found();
        };
        let query: BTreeMap<String, String> = request.query_pairs().into_iter().collect();
        let context = Call {
            now: ctx.now,
            results_base: format!("{}{RESULTS_PATH}", mount_url(request, self.provider_id())),
        };
        let response = state.route(&request.method, path, &query, &request.body, &context);
        if ctx.fault == Some(Fault::MalformedBody) && (200..300).contains(&response.status) {
            // A transfer cut off halfway: a 200 whose JSON never closes.
            let cut = response.body.len() / 2;
            return FakeResponse {
                body: response.body[..cut].to_vec(),
                ..response
            };
        }
        response
    }
}

/// The absolute URL of the fake's mount, from the request's Host header.
fn mount_url(request: &FakeRequest, provider_id: &str) -> String {
    let scheme = request.header("x-forwarded-proto").unwrap_or("http");
    match request.header("host") {
        Some(host) => format!("{scheme}://{host}/{provider_id}"),
        None => format!("/{provider_id}"),
    }
}

/// Checks an OAuth access token with the sandbox's OAuth server.
fn authenticate_token(
    token: Option<&str>,
    ctx: &FakeContext<'_>,
    revoked: bool,
) -> Result<(), FakeResponse> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(problem(
            401,
            "API Key Missing",
            "Your request did not include an API key.",
        ));
    };
    if revoked {
        return Err(invalid_token());
    }
    match ctx.tokens.check(OAUTH_PROVIDER_ID, token) {
        // Mailchimp's OAuth has no scopes: a valid token can do what its user can.
        TokenStatus::Valid { .. } => Ok(()),
        TokenStatus::Expired | TokenStatus::Unknown => Err(invalid_token()),
    }
}

fn invalid_token() -> FakeResponse {
    problem(
        401,
        "API Key Invalid",
        "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
    )
}

/// `GET /oauth2/metadata` with `Authorization: OAuth <token>`: the token's account
/// and data center, `api_endpoint` pointing back at this fake.
fn metadata(request: &FakeRequest, ctx: &FakeContext<'_>, revoked: bool) -> FakeResponse {
    if request.method != http::Method::GET {
        return not_found();
    }
    let token = request
        .header("authorization")
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("oauth"))
        .map(|(_, token)| token.trim());
    if token.is_none_or(str::is_empty) || authenticate_token(token, ctx, revoked).is_err() {
        // The login service answers in OAuth 2.0's error shape, not a problem document.
        return FakeResponse::json(
            401,
            &json!({"error": "invalid_token", "error_description": "The access token is missing, invalid or revoked."}),
        );
    }
    FakeResponse::json(
        200,
        &json!({
            "dc": SANDBOX_DATA_CENTER,
            "role": "owner",
            "accountname": SANDBOX_ACCOUNT_NAME,
            "user_id": 81_726_354,
            "login": {
                "email": SANDBOX_LOGIN_EMAIL,
                "avatar": null,
                "login_id": 81_726_354,
                "login_name": "sandbox-owner",
                "login_email": SANDBOX_LOGIN_EMAIL
            },
            "login_url": "https://login.mailchimp.com",
            "api_endpoint": mount_url(request, OAUTH_PROVIDER_ID),
        }),
    )
}

/// The API key of a request: the Basic password, or a Bearer token.
fn presented_key(request: &FakeRequest) -> Option<String> {
    let header = request.header("authorization")?;
    let (scheme, value) = header.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (_, key) = text.split_once(':')?;
        Some(key.to_owned())
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(value.trim().to_owned())
    } else {
        None
    }
}

fn authenticate(request: &FakeRequest, revoked: bool) -> Result<(), FakeResponse> {
    let Some(key) = presented_key(request).filter(|k| !k.is_empty()) else {
        return Err(problem(
            401,
            "API Key Missing",
            "Your request did not include an API key.",
        ));
    };
    if key == DISABLED_API_KEY && !revoked {
        return Err(problem(
            403,
            "User Disabled",
            "This account has been disabled.",
        ));
    }
    if key != SANDBOX_API_KEY || revoked {
        return Err(problem(
            401,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        ));
    }
    Ok(())
}

/// A problem document response.
fn problem(status: u16, title: &str, detail: &str) -> FakeResponse {
    problem_with(Problem::new(status, title, detail))
}

fn problem_with(mut problem: Problem) -> FakeResponse {
    problem.instance = md5_hex(format!("{}:{}", problem.title, problem.detail).as_bytes());
    let body = serde_json::to_value(&problem).unwrap_or(Value::Null);
    FakeResponse {
        status: problem.status,
        headers: vec![("content-type".into(), "application/problem+json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn not_found() -> FakeResponse {
    problem(
        404,
        "Resource Not Found",
        "The requested resource could not be found.",
    )
}

/// A 400 `Invalid Resource` naming one field.
fn invalid_field(detail: &str, field: &str, message: &str) -> FakeResponse {
    let mut problem = Problem::new(400, "Invalid Resource", detail);
    problem.errors.push(crate::wire::FieldProblem {
        field: field.into(),
        message: message.into(),
    });
    problem_with(problem)
}

/// What a call needs besides its request.
struct Call {
    now: DateTime<Utc>,
    results_base: String,
}

/// A submitted batch.
#[derive(Debug, Clone)]
struct FakeBatch {
    submitted_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    results: Vec<OperationResult>,
    polls: u32,
}

impl FakeBatch {
    fn errored(&self, among: usize) -> usize {
        self.results
            .iter()
            .take(among)
            .filter(|r| r.status_code >= 400)
            .count()
    }
}

/// The fake's data.
#[derive(Debug)]
struct State {
    lists: Vec<FakeList>,
    /// Members per audience id, in signup order.
    members: BTreeMap<String, Vec<FakeMember>>,
    batches: BTreeMap<String, FakeBatch>,
}

impl State {
    fn seed(now: DateTime<Utc>) -> Self {
        let anchor = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
        let lists = data::lists(anchor);
        let members = lists
            .iter()
            .enumerate()
            .map(|(index, list)| (list.id.clone(), data::members(index, anchor)))
            .collect();
        Self {
            lists,
            members,
            batches: BTreeMap::new(),
        }
    }

    fn list(&self, id: &str) -> Option<&FakeList> {
        self.lists.iter().find(|l| l.id == id)
    }

    fn route(
        &mut self,
        method: &http::Method,
        path: &str,
        query: &BTreeMap<String, String>,
        body: &[u8],
        call: &Call,
    ) -> FakeResponse {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET", ["ping"]) => {
                FakeResponse::json(200, &json!({"health_status": "Everything's Chimpy!"}))
            }
            ("GET", ["lists"]) => self.get_lists(query),
            ("GET", ["lists", id]) => match self.list(id) {
                Some(list) => FakeResponse::json(200, &list_json(list, self.members_of(id))),
                None => not_found(),
            },
            ("GET", ["lists", id, "members"]) => self.get_members(id, query),
            ("GET", ["lists", id, "members", hash]) => match self.find_member(id, hash) {
                Some((list, member)) => FakeResponse::json(200, &member_json(list, member)),
                None => not_found(),
            },
            ("PUT", ["lists", id, "members", hash]) => self.put_member(id, hash, body, call.now),
            ("POST", ["lists", id, "members", hash, "tags"]) => {
                self.post_tags(id, hash, body, call.now)
            }
            ("POST", ["batches"]) => self.post_batch(body, call),
            ("GET", ["batches", id]) => self.get_batch(id, call),
            _ => not_found(),
        }
    }

    fn members_of(&self, list: &str) -> &[FakeMember] {
        self.members
            .get(list)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn find_member(&self, list_id: &str, hash: &str) -> Option<(&FakeList, &FakeMember)> {
        let list = self.list(list_id)?;
        let member = self
            .members_of(list_id)
            .iter()
            .find(|m| subscriber_hash(&m.email) == hash)?;
        Some((list, member))
    }

    fn get_lists(&self, query: &BTreeMap<String, String>) -> FakeResponse {
        let (count, offset) = match paging(query) {
            Ok(paging) => paging,
            Err(refusal) => return refusal,
        };
        let mut lists: Vec<&FakeList> = self.lists.iter().collect();
        lists.sort_by_key(|l| l.date_created);
        if query
            .get("sort_dir")
            .is_some_and(|d| d.eq_ignore_ascii_case("DESC"))
        {
            lists.reverse();
        }
        let page: Vec<Value> = lists
            .iter()
            .skip(offset)
            .take(count)
            .map(|list| list_json(list, self.members_of(&list.id)))
            .collect();
        FakeResponse::json(
            200,
            &json!({
                "lists": page,
                "total_items": self.lists.len(),
                "constraints": {
                    "may_create": true,
                    "max_instances": 100,
                    "current_total_instances": self.lists.len()
                },
                "_links": []
            }),
        )
    }

    fn get_members(&self, list_id: &str, query: &BTreeMap<String, String>) -> FakeResponse {
        let Some(list) = self.list(list_id) else {
            return not_found();
        };
        let (count, offset) = match paging(query) {
            Ok(paging) => paging,
            Err(refusal) => return refusal,
        };
        let mut bounds = Vec::new();
        for name in [
            "since_last_changed",
            "before_last_changed",
            "since_timestamp_opt",
            "before_timestamp_opt",
        ] {
            match query
                .get(name)
                .map(|v| DateTime::parse_from_rfc3339(v.trim()))
            {
                None => bounds.push(None),
                Some(Ok(at)) => bounds.push(Some(at.with_timezone(&Utc))),
                Some(Err(_)) => {
                    return invalid_field(
                        "The resource submitted could not be validated. For field-specific \
                         details, see the 'errors' array.",
                        name,
                        "Please provide a valid ISO 8601 date-time.",
                    );
                }
            }
        }
        let status = query.get("status").filter(|s| !s.is_empty());
        let mut members: Vec<&FakeMember> = self
            .members_of(list_id)
            .iter()
            .filter(|m| status.is_none_or(|s| &m.status == s))
            .filter(|m| bounds[0].is_none_or(|since| m.last_changed > since))
            .filter(|m| bounds[1].is_none_or(|before| m.last_changed < before))
            .filter(|m| bounds[2].is_none_or(|since| m.timestamp_opt.is_some_and(|t| t > since)))
            .filter(|m| bounds[3].is_none_or(|before| m.timestamp_opt.is_some_and(|t| t < before)))
            .collect();
        match query.get("sort_field").map(String::as_str) {
            None | Some("") => {}
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
        if query
            .get("sort_dir")
            .is_some_and(|d| d.eq_ignore_ascii_case("DESC"))
        {
            members.reverse();
        }
        let total = members.len();
        let page: Vec<Value> = members
            .into_iter()
            .skip(offset)
            .take(count)
            .map(|m| member_json(list, m))
            .collect();
        FakeResponse::json(
            200,
            &json!({"members": page, "list_id": list_id, "total_items": total, "_links": []}),
        )
    }

    fn put_member(
        &mut self,
        list_id: &str,
        hash: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> FakeResponse {
        if self.list(list_id).is_none() {
            return not_found();
        }
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
            return problem(
                400,
                "JSON Parse Error",
                "We encountered an unspecified JSON parsing error.",
            );
        };
        let validation = "The resource submitted could not be validated. For field-specific \
                          details, see the 'errors' array.";
        let Some(email) = body
            .get("email_address")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|e| !e.is_empty())
        else {
            return invalid_field(
                validation,
                "email_address",
                "This value should not be blank.",
            );
        };
        if !is_plausible_email(email) || email.to_ascii_lowercase().ends_with(".invalid") {
            return problem(
                400,
                "Invalid Resource",
                &format!("{email} looks fake or invalid, please enter a real email address."),
            );
        }
        if subscriber_hash(email) != hash {
            return invalid_field(
                validation,
                "email_address",
                "The email address does not match the subscriber hash in the URL.",
            );
        }
        let mut statuses = Vec::new();
        for name in ["status", "status_if_new"] {
            match body.get(name) {
                None | Some(Value::Null) => statuses.push(None),
                Some(Value::String(s)) if MEMBER_STATUSES.contains(&s.as_str()) => {
                    statuses.push(Some(s.clone()));
                }
                Some(_) => {
                    return invalid_field(validation, name, "Status must be a valid status.");
                }
            }
        }
        let merge_fields = match body.get("merge_fields") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(fields)) => fields.clone(),
            Some(_) => {
                return invalid_field(validation, "merge_fields", "Must be an object.");
            }
        };
        if let Some(birthday) = merge_fields.get("BIRTHDAY")
            && !is_month_day(birthday)
        {
            return invalid_field(
                "Your merge fields were invalid.",
                "BIRTHDAY",
                "Please enter a complete date",
            );
        }
        let members = self.members.entry(list_id.to_owned()).or_default();
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
                    return invalid_field(
                        validation,
                        "status_if_new",
                        "A status is required for a new member.",
                    );
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
        match (self.list(list_id), self.members.get(list_id)) {
            (Some(list), Some(members)) => {
                FakeResponse::json(200, &member_json(list, &members[index]))
            }
            _ => not_found(),
        }
    }

    fn post_tags(
        &mut self,
        list_id: &str,
        hash: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> FakeResponse {
        if self.find_member(list_id, hash).is_none() {
            return not_found();
        }
        let Ok(update) = serde_json::from_slice::<TagsUpdate>(body) else {
            return problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated: `tags` must be an array of \
                 {name, status}.",
            );
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
        let Some(member) = self.members.get_mut(list_id).and_then(|members| {
            members
                .iter_mut()
                .find(|m| subscriber_hash(&m.email) == hash)
        }) else {
            return not_found();
        };
        for tag in update.tags {
            let name = tag.name.trim().to_owned();
            if tag.status == "active" {
                if !member.tags.contains(&name) {
                    member.tags.push(name);
                }
            } else {
                member.tags.retain(|t| t != &name);
            }
        }
        member.last_changed = now;
        FakeResponse {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn post_batch(&mut self, body: &[u8], call: &Call) -> FakeResponse {
        let Ok(request) = serde_json::from_slice::<BatchRequest>(body) else {
            return problem(
                400,
                "Invalid Resource",
                "The resource submitted could not be validated: `operations` must be an \
                 array of {method, path, body, operation_id}.",
            );
        };
        let mut results = Vec::with_capacity(request.operations.len());
        for operation in &request.operations {
            let method = http::Method::from_bytes(operation.method.to_ascii_uppercase().as_bytes())
                .unwrap_or(http::Method::GET);
            let path = operation.path.trim_start_matches('/');
            let response = if path.starts_with("batches") {
                problem(400, "Invalid Action", "Batch operations cannot be nested.")
            } else {
                let body = operation.body.clone().unwrap_or_default();
                self.route(&method, path, &BTreeMap::new(), body.as_bytes(), call)
            };
            results.push(OperationResult {
                status_code: response.status,
                operation_id: operation.operation_id.clone(),
                response: String::from_utf8_lossy(&response.body).into_owned(),
            });
        }
        let id = md5_hex(format!("batch:{}", self.batches.len() + 1).as_bytes())[..10].to_owned();
        let batch = FakeBatch {
            submitted_at: call.now,
            completed_at: None,
            results,
            polls: 0,
        };
        let response = batch_json(&id, &batch, "pending", call);
        self.batches.insert(id, batch);
        FakeResponse::json(200, &response)
    }

    fn get_batch(&mut self, id: &str, call: &Call) -> FakeResponse {
        let Some(batch) = self.batches.get_mut(id) else {
            return not_found();
        };
        batch.polls += 1;
        let status = if batch.polls >= 2 {
            batch.completed_at.get_or_insert(call.now);
            "finished"
        } else {
            "started"
        };
        FakeResponse::json(200, &batch_json(id, batch, status, call))
    }

    /// `GET /batch-results/{id}.tar.gz`: the archive of a finished batch.
    fn results_archive(&self, file: &str) -> FakeResponse {
        let batch = file
            .strip_suffix(".tar.gz")
            .and_then(|id| self.batches.get(id).map(|b| (id, b)))
            .filter(|(_, b)| b.completed_at.is_some());
        let Some((id, batch)) = batch else {
            // What S3 answers for a key that does not exist.
            return FakeResponse {
                status: 404,
                headers: vec![("content-type".into(), "application/xml".into())],
                body: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>".to_vec(),
            };
        };
        let files: Vec<(String, Vec<u8>)> = batch
            .results
            .chunks(RESULTS_PER_FILE)
            .enumerate()
            .map(|(index, chunk)| {
                let name = format!("{id}/{}.json", md5_hex(format!("{id}:{index}").as_bytes()));
                let body = serde_json::to_vec(chunk).unwrap_or_default();
                (name, body)
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
            Err(err) => problem(500, "Internal Server Error", &err.to_string()),
        }
    }
}

/// A batch's JSON in the given status.
fn batch_json(id: &str, batch: &FakeBatch, status: &str, call: &Call) -> Value {
    let total = batch.results.len();
    let finished = match status {
        "finished" => total,
        "started" => total / 2,
        _ => 0,
    };
    let done = status == "finished";
    json!({
        "id": id,
        "status": status,
        "total_operations": total,
        "finished_operations": finished,
        "errored_operations": batch.errored(finished),
        "submitted_at": mailchimp_time(batch.submitted_at),
        "completed_at": batch.completed_at.filter(|_| done).map(mailchimp_time).unwrap_or_default(),
        "response_body_url": if done { format!("{}{id}.tar.gz", call.results_base) } else { String::new() },
        "_links": []
    })
}

/// `count` (default 10, at most 1000) and `offset` (default 0).
fn paging(query: &BTreeMap<String, String>) -> Result<(usize, usize), FakeResponse> {
    let number = |name: &str, default: usize| match query.get(name) {
        None => Ok(default),
        Some(text) => text.trim().parse::<usize>().map_err(|_| {
            invalid_field(
                "The resource submitted could not be validated.",
                name,
                "Must be a non-negative integer.",
            )
        }),
    };
    Ok((number("count", 10)?.min(1_000), number("offset", 0)?))
}

/// Whether a BIRTHDAY merge value is `MM/DD` (or empty, which clears it).
fn is_month_day(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    if text.is_empty() {
        return true;
    }
    let Some((month, day)) = text.split_once('/') else {
        return false;
    };
    matches!((month.parse::<u8>(), day.parse::<u8>()), (Ok(m), Ok(d)) if (1..=12).contains(&m) && (1..=31).contains(&d))
}

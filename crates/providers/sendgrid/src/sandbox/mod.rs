//! A fake of the SendGrid v3 API for the sandbox (demo mode, end-to-end tests) and
//! the conformance suite: SendGrid's real paths, JSON shapes, error bodies
//! (`{"errors": [{"message", "field", "help"}]}`) and asynchronous jobs, with
//! deterministic data (see `data`) and injectable faults.
//!
//! Served under the sandbox's `/sendgrid/` mount (paths below `/v3`):
//! - `GET scopes`: the key's scopes;
//! - `GET stats` and `GET categories/stats` (`start_date` required, `end_date`,
//!   `aggregated_by=day`, up to 10 repeated `categories`), `GET categories`
//!   (`limit`/`offset`);
//! - `GET marketing/lists` (`page_size` ≤ 1000, `page_token`; the next page's URL
//!   in `_metadata.next`);
//! - `PUT marketing/contacts` → 202 `{"job_id"}`; `GET
//!   marketing/contacts/imports/{id}`: `pending` on the first poll, then
//!   `completed` (or `errored`, with an `errors_url`, when an address is on the
//!   domain [`REJECTED_DOMAIN`]);
//! - `POST marketing/contacts/exports` → `{"id"}`; `GET
//!   marketing/contacts/exports/{id}`: `pending`, then `ready` with two file
//!   `urls` (one JSON contact per line, SendGrid's upper-case field names);
//! - `GET suppression/{bounces|blocks|spam_reports|unsubscribes}` (`limit` ≤ 500,
//!   `offset`, `start_time`);
//! - `POST mail/send`: validated as SendGrid validates (personalizations, sender
//!   identity, content or template, subject, categories, `send_at` within 72 hours),
//!   202 with an empty body and `X-Message-Id`. Each accepted message queues its
//!   Event Webhook events — `processed`, then `delivered`, or `bounce` for
//!   [`BOUNCE_ADDRESS`], or `delivered` and `spamreport` for [`SPAM_ADDRESS`] —
//!   which [`SendgridFake::take_webhooks`] hands out signed with the sandbox's key
//!   ([`SANDBOX_WEBHOOK_PUBLIC_KEY`] verifies them).
//!
//! - `GET messages?limit=&query=` (the Email Activity API): the messages sent
//!   through the fake, newest first, one per recipient, filtered by
//!   `to_email="…"` or `msg_id="…"` in `query`.
//!
//! Credentials: [`SANDBOX_API_KEY`] has every scope; [`SANDBOX_SEND_ONLY_KEY`] only
//! `mail.send` (403 `access forbidden` elsewhere); no key or any other is 401.
//! Every answer carries `X-RateLimit-Limit` and `-Remaining`.
//!
//! Faults: `ServerError` a 500, `RateLimited` a 429 with the `X-RateLimit-*`
//! headers, `ExpiredToken` a 401, `MalformedBody` a 200 cut in half.

mod data;

use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard, PoisonError},
};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use junction_core::{
    fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake},
    webhook::{WebhookError, sendgrid::SigningKey},
};
use junction_toolkit::{
    OnStall, PageSize, Paging, Style,
    fake::{Auth, Call, Data, ErrorShape, Key, PageError, Pager, Route, Service, empty, set},
    input::{bare_address, is_email},
};
use serde_json::{Map, Value, json};

pub use data::{CATEGORIES, LISTS as SEEDED_LISTS, SEEDED_CONTACTS, STATS_DAYS, SUPPRESSED};

use crate::{
    api::{API, OFFSET_PAGING},
    spec::{API_KEY_FIELD, PROVIDER_ID, WEBHOOK_KEY_FIELD},
};

/// The full-access API key the fake accepts (the sandbox's catalog lists it).
pub const SANDBOX_API_KEY: &str = "SG.sandbox_full_access.junction-sendgrid-sandbox";

/// An API key restricted to `mail.send`.
pub const SANDBOX_SEND_ONLY_KEY: &str = "SG.sandbox_send_only.junction-sendgrid-sandbox";

/// A verified sender of the sandbox account.
pub const SANDBOX_SENDER: &str = "Junction <alerts@junction-demo.dev>";

/// The domain of the sandbox's verified senders.
pub const SENDER_DOMAIN: &str = "junction-demo.dev";

/// Mail to it bounces.
pub const BOUNCE_ADDRESS: &str = "bounce@sandbox.sendgrid.example";

/// Mail to it is delivered, then reported as spam.
pub const SPAM_ADDRESS: &str = "spamreport@sandbox.sendgrid.example";

/// Contacts on this domain fail their import (the job ends `errored`).
pub const REJECTED_DOMAIN: &str = "invalid.sendgrid.example";

/// The sandbox account's Event Webhook signing key (PKCS#8, base64): a test key made
/// for the sandbox, never a real account's.
const SANDBOX_WEBHOOK_SIGNING_KEY: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg/O/K7dDvaTH+2PH0FVehy/5NzXgfWQnbmEmlAwy7EtChRANCAATr5E8TMHRCPaPsC+DnpvWirGjT0WAsbOUx917fyHdnRQXoEmdxE1pluPP207RVBLb+0ngPVIZhAavcQ309+f+U";

/// Its public key, as SendGrid shows it (what a connection's
/// `webhook_public_key` holds).
pub const SANDBOX_WEBHOOK_PUBLIC_KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6+RPEzB0Qj2j7Avg56b1oqxo09FgLGzlMfde38h3Z0UF6BJncRNaZbjz9tO0VQS2/tJ4D1SGYQGr3EN9Pfn/lA==";

/// Every scope a full-access key lists here (those Junction's features need, and a
/// few more, as a real key's list is long).
const ALL_SCOPES: &[&str] = &[
    "mail.send",
    "stats.read",
    "categories.read",
    "categories.stats.read",
    "suppression.bounces.read",
    "suppression.blocks.read",
    "suppression.spam_reports.read",
    "suppression.unsubscribes.read",
    "marketing.read",
    "marketing.write",
    "alerts.read",
    "user.webhooks.event.settings.read",
    "messages.read",
];

/// SendGrid's error body, without codes.
const ERRORS: ErrorShape = ErrorShape::new(None, "/errors/0/message").catalogue(&WORDS, "");

static WORDS: Data = Data::new(include_str!("errors.json"));

/// A SendGrid error naming `field`.
fn refusal(status: u16, field: Option<&str>, message: &str) -> FakeResponse {
    let mut body = ERRORS.body(status, None, message);
    set(
        &mut body,
        "/errors/0/field",
        field.map_or(Value::Null, |f| json!(f)),
    );
    set(&mut body, "/errors/0/help", Value::Null);
    ERRORS.respond(status, &body)
}

/// `limit`/`offset` lists (suppressions, categories).
const OFFSET_PAGER: Pager = Pager::new(OFFSET_PAGING);

/// `GET marketing/lists`, paged by `page_token` (the fake's tokens are offsets).
const LIST_PAGING: Paging = Paging {
    style: Style::Offset {
        param: "page_token",
        total: None,
    },
    items: "/result",
    size_param: "page_size",
    size: PageSize {
        default: 100,
        max: 1000,
    },
    on_stall: OnStall::End,
};
const LIST_PAGER: Pager = Pager::new(LIST_PAGING);

const MARKETING: &[&str] = &["marketing.read", "marketing.write"];

const ROUTES: &[Route<State>] = &[
    Route::get("scopes", scopes),
    Route::get("stats", global_stats).needs(&["stats.read"]),
    Route::get("categories", categories).needs(&["categories.read"]),
    Route::get("categories/stats", category_stats).needs(&["categories.stats.read"]),
    Route::get("marketing/lists", lists).needs(MARKETING),
    Route::put("marketing/contacts", upsert).needs(MARKETING),
    Route::get("marketing/contacts/imports/{id}", import_status).needs(MARKETING),
    // Import errors and export files are pre-signed downloads: no credential.
    Route::get("marketing/contacts/imports/{id}/errors", import_errors).public(),
    Route::post("marketing/contacts/exports", start_export).needs(MARKETING),
    Route::get("marketing/contacts/exports/{id}", export_status).needs(MARKETING),
    Route::get("marketing/contacts/exports/{id}/files/{n}", export_file).public(),
    Route::get(
        "suppression/{kind:bounces|blocks|spam_reports|unsubscribes}",
        suppressions,
    )
    .needs(&[
        "suppression.bounces.read",
        "suppression.blocks.read",
        "suppression.spam_reports.read",
        "suppression.unsubscribes.read",
    ]),
    Route::post("mail/send", send).needs(&["mail.send"]),
    // The Email Activity API (a paid add-on at SendGrid), so tests and the demo can
    // see what was sent.
    Route::get("messages", activity).needs(&["messages.read"]),
];

const SERVICE: Service<State> = Service::new(
    API.base.prefix,
    ROUTES,
    Auth::new(API.auth, PROVIDER_ID).keys(&[
        Key::full(SANDBOX_API_KEY),
        Key::with(SANDBOX_SEND_ONLY_KEY, &["mail.send"]),
    ]),
    ERRORS,
)
.decorate(|response| {
    response
        .with_header("x-ratelimit-limit", "600")
        .with_header("x-ratelimit-remaining", "599")
});

/// The SendGrid fake.
#[derive(Debug, Default)]
pub struct SendgridFake {
    state: Mutex<State>,
}

/// An import job: the polls so far, its final answer, its rejected contacts
/// (`(email, error)`).
type Import = (u32, Value, Vec<(String, String)>);

#[derive(Debug, Default)]
struct State {
    /// Contacts upserted through the fake, by email.
    contacts: BTreeMap<String, Value>,
    /// Import jobs by id.
    imports: BTreeMap<String, Import>,
    /// Export jobs: id → polls so far.
    exports: BTreeMap<String, u32>,
    /// Messages accepted, oldest first.
    sent: Vec<Value>,
    /// Event Webhook events not yet taken.
    events: Vec<Value>,
    seq: u64,
}

impl ProviderFake for SendgridFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        SERVICE.serve(&mut self.state(), request, ctx)
    }

    /// What connects the entry here: the full-access key, a verified sender, the
    /// webhook's public key, and a lookback covering the seeded data.
    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .credential(API_KEY_FIELD, SANDBOX_API_KEY)
            .credential(WEBHOOK_KEY_FIELD, SANDBOX_WEBHOOK_PUBLIC_KEY)
            .webhook_secret(SANDBOX_WEBHOOK_PUBLIC_KEY)
            .config("region", "global")
            .config("from", SANDBOX_SENDER)
            .config("lookback_days", 30)
            .special_value(
                API_KEY_FIELD,
                SANDBOX_SEND_ONLY_KEY,
                "a key with only the mail.send scope: the check reports the other features unavailable and their reads are refused (403 access forbidden)",
            )
            .special_value("to", BOUNCE_ADDRESS, "the message bounces (Event Webhook `bounce`)")
            .special_value("to", SPAM_ADDRESS, "delivered, then reported as spam (`spamreport`)")
            .fixture("categories", CATEGORIES.len())
            .fixture("lists", data::LISTS.len())
            .fixture("contacts", SEEDED_CONTACTS)
            .fixture("stats_days", STATS_DAYS)
    }
}

/// A signed Event Webhook delivery: the headers and the raw body to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SignedWebhook {
    /// The headers as an [`http::HeaderMap`].
    pub fn header_map(&self) -> http::HeaderMap {
        self.headers
            .iter()
            .filter_map(|(name, value)| {
                Some((
                    http::HeaderName::from_bytes(name.as_bytes()).ok()?,
                    http::HeaderValue::from_str(value).ok()?,
                ))
            })
            .collect()
    }
}

/// `events` as SendGrid posts them (a JSON array, `\r\n` after each event), signed
/// at `now` with the sandbox's key.
pub fn sign_events(events: &[Value], now: DateTime<Utc>) -> Result<SignedWebhook, WebhookError> {
    let inner: Vec<String> = events.iter().map(Value::to_string).collect();
    let body = format!("[{}]\r\n", inner.join(",\r\n")).into_bytes();
    let key = SigningKey::from_pkcs8_base64(SANDBOX_WEBHOOK_SIGNING_KEY)?;
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    headers.extend(
        key.sign(now.timestamp(), &body)?
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    Ok(SignedWebhook { headers, body })
}

impl SendgridFake {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every change is one insert or push: the data stays whole after a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The Event Webhook delivery of the events queued since the last call (one
    /// batch, as SendGrid batches), signed at `now`; `None` when nothing happened.
    pub fn take_webhooks(&self, now: DateTime<Utc>) -> Option<SignedWebhook> {
        let events = std::mem::take(&mut self.state().events);
        if events.is_empty() {
            return None;
        }
        sign_events(&events, now).ok()
    }

    /// The messages accepted, oldest first: the request body with its `message_id`.
    pub fn sent_messages(&self) -> Vec<Value> {
        self.state().sent.clone()
    }
}

fn scopes(_: &mut State, call: &Call<'_>) -> FakeResponse {
    let scopes: &[&str] = if call.request.bearer() == Some(SANDBOX_SEND_ONLY_KEY) {
        &["mail.send"]
    } else {
        ALL_SCOPES
    };
    FakeResponse::json(200, &json!({"scopes": scopes}))
}

/// `start_date` (required) through `end_date` (default today), as days the fake has.
fn window(call: &Call<'_>) -> Result<(NaiveDate, NaiveDate), FakeResponse> {
    let parse = |name: &str| {
        call.query(name)
            .map(|text| NaiveDate::parse_from_str(&text, "%Y-%m-%d"))
    };
    let start = match parse("start_date") {
        None => {
            return Err(refusal(
                400,
                Some("start_date"),
                "start_date is a required field",
            ));
        }
        Some(Err(_)) => {
            return Err(refusal(
                400,
                Some("start_date"),
                "start_date must be YYYY-MM-DD",
            ));
        }
        Some(Ok(day)) => day,
    };
    let end = match parse("end_date") {
        None => call.now.date_naive(),
        Some(Err(_)) => {
            return Err(refusal(
                400,
                Some("end_date"),
                "end_date must be YYYY-MM-DD",
            ));
        }
        Some(Ok(day)) => day,
    };
    if start > end {
        return Err(refusal(
            400,
            Some("end_date"),
            "end_date must be on or after start_date",
        ));
    }
    if call.query("aggregated_by").is_some_and(|by| by != "day") {
        return Err(refusal(
            400,
            Some("aggregated_by"),
            "the sandbox aggregates by day only",
        ));
    }
    Ok((start, end))
}

fn days_in(call: &Call<'_>, start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    data::stat_days(call.now)
        .into_iter()
        .filter(|day| *day >= start && *day <= end)
        .collect()
}

fn global_stats(_: &mut State, call: &Call<'_>) -> FakeResponse {
    let (start, end) = match window(call) {
        Ok(window) => window,
        Err(refused) => return refused,
    };
    let days: Vec<Value> = days_in(call, start, end)
        .into_iter()
        .map(|day| json!({"date": day.to_string(), "stats": [{"metrics": data::metrics(day, 0, 10)}]}))
        .collect();
    FakeResponse::json(200, &Value::Array(days))
}

fn categories(_: &mut State, call: &Call<'_>) -> FakeResponse {
    let prefix = call.query("category").unwrap_or_default();
    let items: Vec<Value> = CATEGORIES
        .iter()
        .filter(|c| c.starts_with(prefix.as_str()))
        .map(|c| json!({"category": c}))
        .collect();
    offset_page(call, items)
}

fn offset_page(call: &Call<'_>, items: Vec<Value>) -> FakeResponse {
    match OFFSET_PAGER.page(call.request, items) {
        Ok(page) => page.reply(),
        Err(PageError::Size { param, .. }) => {
            refusal(400, Some(param), "limit must be between 1 and 500")
        }
        Err(_) => refusal(400, Some("offset"), "offset must be a non-negative number"),
    }
}

fn category_stats(_: &mut State, call: &Call<'_>) -> FakeResponse {
    let (start, end) = match window(call) {
        Ok(window) => window,
        Err(refused) => return refused,
    };
    let wanted: Vec<String> = call
        .request
        .query_pairs()
        .into_iter()
        .filter(|(name, _)| name == "categories")
        .map(|(_, value)| value)
        .collect();
    if wanted.is_empty() {
        return refusal(400, Some("categories"), "categories is a required field");
    }
    if wanted.len() > 10 {
        return refusal(
            400,
            Some("categories"),
            "you may request up to 10 categories",
        );
    }
    if let Some(unknown) = wanted.iter().find(|c| !CATEGORIES.contains(&c.as_str())) {
        return refusal(404, None, &format!("category {unknown} does not exist"));
    }
    let days: Vec<Value> = days_in(call, start, end)
        .into_iter()
        .map(|day| {
            let stats: Vec<Value> = wanted
                .iter()
                .map(|name| {
                    let salt = CATEGORIES.iter().position(|c| c == name).unwrap_or(0) as u64 + 1;
                    json!({"type": "category", "name": name, "metrics": data::metrics(day, salt, 1)})
                })
                .collect();
            json!({"date": day.to_string(), "stats": stats})
        })
        .collect();
    FakeResponse::json(200, &Value::Array(days))
}

/// Every contact up to `now`: the seeded ones, then those upserted, by email.
fn all_contacts(state: &State, now: DateTime<Utc>) -> Vec<Value> {
    let mut by_email: BTreeMap<String, Value> = data::contacts(now)
        .into_iter()
        .map(|c| (c["email"].as_str().unwrap_or_default().to_owned(), c))
        .collect();
    by_email.extend(state.contacts.clone());
    by_email.into_values().collect()
}

fn lists(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let contacts = all_contacts(state, call.now);
    let items: Vec<Value> = data::LISTS
        .iter()
        .map(|(id, name)| {
            let count = contacts
                .iter()
                .filter(|c| c["list_ids"].as_array().is_some_and(|l| l.iter().any(|x| x == id)))
                .count();
            json!({"id": id, "name": name, "contact_count": count,
                   "_metadata": {"self": format!("https://api.sendgrid.com/v3/marketing/lists/{id}")}})
        })
        .collect();
    match LIST_PAGER.page(call.request, items) {
        Ok(page) => {
            let size = page.size;
            let url = |token: String| {
                json!(format!(
                    "https://api.sendgrid.com/v3/marketing/lists?page_size={size}&page_token={token}"
                ))
            };
            let this = if page.start == 0 {
                String::new()
            } else {
                page.start.to_string()
            };
            let next = page.more.then(|| (page.start + page.count).to_string());
            let total = page.total;
            let mut page = page.with("/_metadata/self", url(this));
            if let Some(next) = next {
                page = page.with("/_metadata/next", url(next));
            }
            page.with("/_metadata/count", json!(total)).reply()
        }
        Err(PageError::Size { .. }) => refusal(
            400,
            Some("page_size"),
            "page_size must be between 1 and 1000",
        ),
        Err(_) => refusal(400, Some("page_token"), "invalid page_token"),
    }
}

fn next_id(state: &mut State, kind: &str) -> String {
    state.seq += 1;
    format!(
        "{kind}-{:08x}-4000-8000-{:012x}",
        state.seq * 7919,
        state.seq
    )
}

fn upsert(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let Ok(body) = call.request.json::<Value>() else {
        return refusal(400, None, "invalid JSON");
    };
    let Some(contacts) = body["contacts"].as_array().filter(|c| !c.is_empty()) else {
        return refusal(
            400,
            Some("contacts"),
            "contacts is required and must contain at least one contact",
        );
    };
    if contacts.len() > 30_000 {
        return refusal(
            400,
            Some("contacts"),
            "at most 30000 contacts may be upserted at once",
        );
    }
    let list_ids: Vec<String> = body["list_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(unknown) = list_ids
        .iter()
        .find(|id| !data::LISTS.iter().any(|(l, _)| l == *id))
    {
        return refusal(
            400,
            Some("list_ids"),
            &format!("list {unknown} does not exist"),
        );
    }
    let (mut created, mut updated, mut errors) = (0u64, 0u64, Vec::new());
    let existing = all_contacts(state, call.now);
    for contact in contacts {
        let email = contact["email"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        if !is_email(&email) || email.ends_with(&format!("@{REJECTED_DOMAIN}")) {
            errors.push((email, "email is invalid".to_owned()));
            continue;
        }
        let before = existing
            .iter()
            .find(|c| c["email"] == email.as_str())
            .cloned();
        let mut merged = before.clone().unwrap_or_else(|| {
            json!({"id": format!("5a9c8d3e-1111-4000-8000-{:012}", state.contacts.len() + 1), "email": email,
                   "list_ids": [], "created_at": call.now.to_rfc3339()})
        });
        if let (Some(map), Some(given)) = (merged.as_object_mut(), contact.as_object()) {
            for (key, value) in given {
                map.insert(key.clone(), value.clone());
            }
            let mut lists: Vec<Value> = map
                .get("list_ids")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for id in &list_ids {
                if !lists.iter().any(|l| l == id) {
                    lists.push(json!(id));
                }
            }
            map.insert("list_ids".into(), Value::Array(lists));
            map.insert("email".into(), json!(email));
            map.insert("updated_at".into(), json!(call.now.to_rfc3339()));
        }
        if before.is_some() {
            updated += 1;
        } else {
            created += 1;
        }
        state.contacts.insert(email, merged);
    }
    let id = next_id(state, "imp");
    let status = if errors.is_empty() {
        "completed"
    } else if created + updated == 0 {
        "failed"
    } else {
        "errored"
    };
    let mut results = json!({"requested_count": contacts.len(), "created_count": created,
                             "updated_count": updated, "deleted_count": 0, "errored_count": errors.len()});
    if !errors.is_empty() {
        results["errors_url"] = json!(format!("marketing/contacts/imports/{id}/errors"));
    }
    let done = json!({"id": id, "status": status, "job_type": "upsert", "results": results,
                      "started_at": call.now.to_rfc3339(), "finished_at": (call.now + Duration::seconds(2)).to_rfc3339()});
    state.imports.insert(id.clone(), (0, done, errors));
    FakeResponse::json(202, &json!({"job_id": id}))
}

fn import_status(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let Some((polls, done, _)) = state.imports.get_mut(call.param("id")) else {
        return refusal(404, None, "job not found");
    };
    *polls += 1;
    if *polls == 1 {
        // The first look finds it queued, as a real job would be.
        let mut pending = done.clone();
        pending["status"] = json!("pending");
        pending["results"] = json!({"requested_count": done["results"]["requested_count"]});
        if let Some(map) = pending.as_object_mut() {
            map.remove("finished_at");
        }
        return FakeResponse::json(200, &pending);
    }
    FakeResponse::json(200, done)
}

fn import_errors(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let Some((_, _, errors)) = state.imports.get(call.param("id")) else {
        return refusal(404, None, "not found");
    };
    let mut csv = String::from("email,error\n");
    for (email, error) in errors {
        csv.push_str(&format!("{email},{error}\n"));
    }
    FakeResponse::text(200, &csv)
}

fn start_export(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let body = call.request.json::<Value>().unwrap_or(Value::Null);
    if body["file_type"]
        .as_str()
        .is_some_and(|t| t != "json" && t != "csv")
    {
        return refusal(400, Some("file_type"), "file_type must be json or csv");
    }
    let id = next_id(state, "exp");
    state.exports.insert(id.clone(), 0);
    FakeResponse::json(
        202,
        &json!({"id": id, "_metadata": {"self": format!("https://api.sendgrid.com/v3/marketing/contacts/exports/{id}")}}),
    )
}

fn export_status(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let id = call.param("id").to_owned();
    let Some(polls) = state.exports.get_mut(&id) else {
        return refusal(404, None, "export not found");
    };
    *polls += 1;
    let created = call.now.to_rfc3339();
    if *polls == 1 {
        return FakeResponse::json(
            200,
            &json!({"id": id, "status": "pending", "created_at": created,
                                                "export_type": "contacts_export"}),
        );
    }
    let urls: Vec<String> = (0..2)
        .map(|n| format!("marketing/contacts/exports/{id}/files/{n}"))
        .collect();
    FakeResponse::json(
        200,
        &json!({"id": id, "status": "ready", "created_at": created,
        "completed_at": created, "expires_at": (call.now + Duration::hours(72)).to_rfc3339(),
        "export_type": "contacts_export", "urls": urls}),
    )
}

fn export_file(state: &mut State, call: &Call<'_>) -> FakeResponse {
    if !state.exports.contains_key(call.param("id")) {
        return refusal(404, None, "not found");
    }
    let n: usize = call.param("n").parse().unwrap_or(usize::MAX);
    let contacts = all_contacts(state, call.now);
    let half = contacts.len().div_ceil(2);
    let Some(part) = contacts.chunks(half.max(1)).nth(n) else {
        return refusal(404, None, "not found");
    };
    let lines: Vec<String> = part
        .iter()
        .map(|c| {
            let upper: Map<String, Value> = c
                .as_object()
                .into_iter()
                .flatten()
                .map(|(key, value)| {
                    (
                        if key == "id" {
                            "CONTACT_ID".to_owned()
                        } else {
                            key.to_uppercase()
                        },
                        value.clone(),
                    )
                })
                .collect();
            Value::Object(upper).to_string()
        })
        .collect();
    FakeResponse::text(200, &(lines.join("\n") + "\n"))
        .with_header("content-type", "application/json")
}

fn suppressions(_: &mut State, call: &Call<'_>) -> FakeResponse {
    let since = call
        .query("start_time")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(0);
    let items: Vec<Value> = data::suppressions(call.param("kind"), call.now)
        .into_iter()
        .filter(|item| item["created"].as_i64().unwrap_or(0) >= since)
        .collect();
    offset_page(call, items)
}

/// `GET messages`: one entry per message and recipient, newest first.
fn activity(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let limit: usize = match call.query("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(limit)) if (1..=1000).contains(&limit) => limit,
        Some(_) => return refusal(400, Some("limit"), "limit must be between 1 and 1000"),
    };
    // `to_email="a@b"` / `msg_id="x"`: the two filters the sandbox understands.
    let query = call.query("query").unwrap_or_default();
    let wanted = |name: &str| {
        let start = query.find(&format!("{name}=\""))? + name.len() + 2;
        let end = query[start..].find('"')? + start;
        Some(query[start..end].to_owned())
    };
    let (to, id) = (wanted("to_email"), wanted("msg_id"));
    let mut messages = Vec::new();
    for mail in state.sent.iter().rev() {
        let msg_id = mail["message_id"].as_str().unwrap_or_default();
        for p in mail["personalizations"].as_array().into_iter().flatten() {
            for recipient in p["to"].as_array().into_iter().flatten() {
                let email = recipient["email"].as_str().unwrap_or_default();
                if to.as_deref().is_some_and(|t| t != email)
                    || id.as_deref().is_some_and(|i| i != msg_id)
                {
                    continue;
                }
                let status = if email == BOUNCE_ADDRESS {
                    "not_delivered"
                } else {
                    "delivered"
                };
                messages.push(json!({
                    "from_email": mail["from"]["email"], "msg_id": msg_id,
                    "subject": p.get("subject").unwrap_or(&mail["subject"]),
                    "to_email": email, "status": status, "opens_count": 0, "clicks_count": 0,
                    "last_event_time": call.now.to_rfc3339(),
                }));
            }
        }
    }
    messages.truncate(limit);
    FakeResponse::json(200, &json!({"messages": messages}))
}

/// `POST mail/send`, validated as SendGrid validates.
fn send(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let Ok(mail) = call.request.json::<Value>() else {
        return refusal(400, None, "Bad Request");
    };
    let Some(personalizations) = mail["personalizations"]
        .as_array()
        .filter(|p| !p.is_empty())
    else {
        return refusal(
            400,
            Some("personalizations"),
            "The personalizations field is required and must have at least one personalization.",
        );
    };
    if personalizations.len() > 1000 {
        return refusal(
            400,
            Some("personalizations"),
            "The personalizations field can have at most 1000 personalizations.",
        );
    }
    let templated = mail["template_id"].is_string();
    for (i, p) in personalizations.iter().enumerate() {
        let to = p["to"].as_array().filter(|to| !to.is_empty());
        if to.is_none_or(|to| {
            to.iter()
                .any(|r| !r["email"].as_str().is_some_and(is_email))
        }) {
            return refusal(
                400,
                Some(&format!("personalizations.{i}.to")),
                "The to array is required for all personalization objects, and must have at least one email object with a valid email address.",
            );
        }
        if !templated && !mail["subject"].is_string() && !p["subject"].is_string() {
            return refusal(
                400,
                Some("subject"),
                "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined.",
            );
        }
    }
    let from = mail["from"]["email"].as_str().unwrap_or_default();
    if !is_email(from) {
        return refusal(
            400,
            Some("from.email"),
            "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter.",
        );
    }
    if !from.to_lowercase().ends_with(&format!("@{SENDER_DOMAIN}")) {
        return refusal(
            403,
            Some("from"),
            "The from address does not match a verified Sender Identity. Mail cannot be sent until this error is resolved.",
        );
    }
    if !templated && mail["content"].as_array().is_none_or(Vec::is_empty) {
        return refusal(
            400,
            Some("content"),
            "Unless a valid template_id is provided, the content parameter is required.",
        );
    }
    if mail["categories"].as_array().is_some_and(|c| c.len() > 10) {
        return refusal(
            400,
            Some("categories"),
            "Too many categories. The maximum number of categories per email is 10.",
        );
    }
    let latest = (call.now + Duration::hours(72)).timestamp();
    if mail["send_at"].as_i64().is_some_and(|at| at > latest) {
        return refusal(
            400,
            Some("send_at"),
            "The send_at parameter cannot be more than 72 hours in the future.",
        );
    }
    state.seq += 1;
    let message_id = format!("sbx{:019}", state.seq);
    let mut stored = mail.clone();
    stored["message_id"] = json!(message_id);
    for (i, p) in personalizations.iter().enumerate() {
        for recipient in p["to"].as_array().into_iter().flatten() {
            let email = recipient["email"]
                .as_str()
                .and_then(bare_address)
                .unwrap_or_default();
            let kinds: &[&str] = if email == BOUNCE_ADDRESS {
                &["processed", "bounce"]
            } else if email == SPAM_ADDRESS {
                &["processed", "delivered", "spamreport"]
            } else {
                &["processed", "delivered"]
            };
            for (n, kind) in kinds.iter().enumerate() {
                let mut event = json!({
                    "email": email, "event": kind, "timestamp": call.now.timestamp() + n as i64,
                    "sg_event_id": format!("{message_id}-{i}-{email}-{kind}"),
                    "sg_message_id": format!("{message_id}.sandbox-{i}"),
                    "smtp-id": format!("<{message_id}@sandbox.sendgrid.example>"),
                    "category": mail["categories"],
                });
                if let Some(args) = mail["custom_args"].as_object() {
                    for (key, value) in args {
                        event[key] = value.clone();
                    }
                }
                if *kind == "bounce" {
                    event["type"] = json!("bounce");
                    event["status"] = json!("5.1.1");
                    event["reason"] = json!(
                        "550 5.1.1 The email account that you tried to reach does not exist."
                    );
                }
                state.events.push(event);
            }
        }
    }
    state.sent.push(stored);
    empty(202).with_header("x-message-id", &message_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use junction_core::spec::WebhookScheme;
    use junction_core::webhook::{WebhookRequest, verify};
    use secrecy::SecretString;

    #[test]
    fn the_sandbox_key_pair_matches() {
        let key = SigningKey::from_pkcs8_base64(SANDBOX_WEBHOOK_SIGNING_KEY).unwrap();
        assert_eq!(key.public_key_base64().unwrap(), SANDBOX_WEBHOOK_PUBLIC_KEY);
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let signed = sign_events(&[json!({"event": "delivered"})], now).unwrap();
        let headers = signed.header_map();
        let request = WebhookRequest {
            headers: &headers,
            body: &signed.body,
        };
        assert_eq!(
            verify(
                WebhookScheme::SendgridEcdsa {
                    tolerance_secs: 600
                },
                &SecretString::from(SANDBOX_WEBHOOK_PUBLIC_KEY),
                &request,
                now
            ),
            Ok(())
        );
        assert!(signed.body.ends_with(b"}]\r\n"));
    }
}

//! A fake of the Resend API for the sandbox (demo mode, end-to-end tests): the real
//! paths, JSON shapes, auth checks, error bodies and idempotency, with deterministic
//! data and injectable faults.
//!
//! Served under the sandbox's `/resend/` mount, it answers:
//! - `POST /emails` and `POST /emails/batch` (≤ 100): validates like Resend
//!   (`missing_required_field`, `invalid_from_address`, 403 `validation_error` for a
//!   sender on an unverified domain), stores the email and answers `{"id"}` /
//!   `{"data": [{"id"}]}`. An `Idempotency-Key` (1–256 characters) replays the
//!   stored answer for the same request and refuses another request with 409
//!   `invalid_idempotent_request`;
//! - `GET /emails` (newest first, `limit` 1–100 default 20, `after`/`before`),
//!   `GET /emails/{id}`, `GET /domains` (every domain without `limit`) and
//!   `GET /emails/metrics` (daily `period` rows of sent, delivered, bounced,
//!   complained, opened and clicked; only `granularity=daily`, `timezone=UTC` and
//!   the `period` dimension are supported).
//!
//! Emails are the seeded ones of the last 45 days (see `data`) plus those sent
//! through the fake, whose status follows Resend's test addresses:
//! `bounced@resend.dev` bounces, `complained@resend.dev` complains, anything else is
//! delivered. Their delivery webhooks wait in [`ResendFake::take_webhooks`].
//!
//! Credentials: [`SANDBOX_API_KEY`] has full access; [`SANDBOX_SENDING_KEY`] may only
//! send (401 `restricted_api_key` elsewhere); no key is 401 `missing_api_key`, any
//! other 403 `invalid_api_key`; a request without `User-Agent` gets Resend's edge
//! refusal (403 `error code: 1010`). Webhooks are signed with
//! [`SANDBOX_WEBHOOK_SECRET`]. These constants live in `credentials`.
//!
//! Faults: `ServerError` is a 500 `application_error`; `RateLimited` a 429
//! `rate_limit_exceeded` with `retry-after` and the `ratelimit-*` headers;
//! `QuotaExhausted` a 429 `daily_quota_exceeded`; `ExpiredToken` treats the key as
//! revoked (403 `invalid_api_key`); `MalformedBody` cuts a 200 answer in half (after
//! the request took effect, as a dropped connection would).

mod credentials;
mod data;
mod webhook;

use std::{collections::HashMap, sync::Mutex};

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use junction_core::fake::{
    CatalogEntry, FakeContext, FakeRequest, FakeResponse, Fault, ProviderFake,
};
use serde_json::{Map, Value, json};

use crate::{
    actions::valid_mailbox,
    spec::{MAX_BATCH, MAX_IDEMPOTENCY_KEY_CHARS, MAX_RECIPIENTS, METRICS, PROVIDER_ID},
    wire::parse_timestamp,
};

pub use credentials::{
    SANDBOX_API_KEY, SANDBOX_SENDER, SANDBOX_SENDING_KEY, SANDBOX_WEBHOOK_SECRET,
};
pub use data::{BOUNCED_ADDRESS, COMPLAINED_ADDRESS, DELIVERED_ADDRESS};
pub use webhook::{SignedWebhook, email_event, sign_event, signed_email_event};

/// The requests per second the fake advertises in its `ratelimit-*` headers.
const RATE_LIMIT: u32 = 2;

/// The Resend API fake.
#[derive(Debug, Default)]
pub struct ResendFake {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Emails sent through the fake, oldest first.
    sent: Vec<Value>,
    /// Idempotency keys: the request they were first used with, and its answer.
    idempotency: HashMap<String, Remembered>,
    /// Delivery webhooks not yet taken: (event type, email).
    webhooks: Vec<(String, Value)>,
}

#[derive(Debug, Clone)]
struct Remembered {
    path: String,
    body: Vec<u8>,
    response: FakeResponse,
}

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Full,
    SendingOnly,
}

impl ProviderFake for ResendFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .config("from", SANDBOX_SENDER)
            .credential("api_key", SANDBOX_API_KEY)
            .credential("webhook_secret", SANDBOX_WEBHOOK_SECRET)
            .webhook_secret(SANDBOX_WEBHOOK_SECRET)
            .special_value(
                "api_key",
                SANDBOX_SENDING_KEY,
                "a sending-access key: it may send, anything else is 401 restricted_api_key",
            )
            .fixture("delivered_address", DELIVERED_ADDRESS)
            .fixture("bounced_address", BOUNCED_ADDRESS)
            .fixture("complained_address", COMPLAINED_ADDRESS)
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        if ctx.fault == Some(Fault::ServerError) {
            return error(
                500,
                "application_error",
                "An unexpected error occurred, please try again later.",
            );
        }
        if request
            .header("user-agent")
            .is_none_or(|agent| agent.trim().is_empty())
        {
            // Resend's edge (Cloudflare) refuses requests without a User-Agent.
            return FakeResponse::text(403, "error code: 1010");
        }
        let access = match authorize(request, ctx.fault) {
            Ok(access) => access,
            Err(refusal) => return refusal,
        };
        let sending = request.method == http::Method::POST
            && matches!(request.path.as_str(), "/emails" | "/emails/batch");
        if access == Access::SendingOnly && !sending {
            return error(
                401,
                "restricted_api_key",
                "This API key is restricted to only send emails.",
            );
        }
        match ctx.fault {
            Some(Fault::RateLimited { retry_after_secs }) => {
                let wait = retry_after_secs.max(1).to_string();
                return error(
                    429,
                    "rate_limit_exceeded",
                    &format!(
                        "Too many requests. You can only make {RATE_LIMIT} requests per second. \
                         See rate limit response headers for more information. Or contact \
                         support to increase rate limit."
                    ),
                )
                .with_header("ratelimit-limit", &RATE_LIMIT.to_string())
                .with_header("ratelimit-remaining", "0")
                .with_header("ratelimit-reset", &wait)
                .with_header("retry-after", &wait);
            }
            Some(Fault::QuotaExhausted) => {
                return error(
                    429,
                    "daily_quota_exceeded",
                    "You have reached your daily email sending quota.",
                );
            }
            _ => {}
        }
        let response = self.route(request, ctx.now);
        if ctx.fault == Some(Fault::MalformedBody) && response.status == 200 {
            let cut = response.body.len() / 2;
            return FakeResponse {
                body: response.body[..cut].to_vec(),
                ..response
            };
        }
        with_rate_headers(response)
    }
}

impl ResendFake {
    /// The delivery webhooks of the emails sent through the fake since the last
    /// call, signed with [`SANDBOX_WEBHOOK_SECRET`] and dated `now`: `email.sent`,
    /// then `email.delivered`, `email.bounced` (for `bounced@resend.dev`) or
    /// `email.delivered` and `email.complained` (for `complained@resend.dev`).
    pub fn take_webhooks(&self, now: DateTime<Utc>) -> Vec<SignedWebhook> {
        let pending = match self.state.lock() {
            Ok(mut state) => std::mem::take(&mut state.webhooks),
            Err(_) => return Vec::new(),
        };
        pending
            .iter()
            .filter_map(|(event_type, email)| signed_email_event(event_type, email, now).ok())
            .collect()
    }

    /// The emails sent through the fake, oldest first, as `GET /emails/{id}` shows them.
    pub fn sent_emails(&self) -> Vec<Value> {
        self.state
            .lock()
            .map(|state| state.sent.clone())
            .unwrap_or_default()
    }

    fn route(&self, request: &FakeRequest, now: DateTime<Utc>) -> FakeResponse {
        let path = request.path.trim_end_matches('/');
        let method = &request.method;
        match path {
            "/emails" if method == http::Method::POST => self.send(request, now, false),
            "/emails" if method == http::Method::GET => self.list_emails(request, now),
            "/emails/batch" if method == http::Method::POST => self.send(request, now, true),
            "/emails/metrics" if method == http::Method::GET => self.metrics(request, now),
            "/domains" if method == http::Method::GET => list_domains(request),
            "/emails" | "/emails/batch" | "/emails/metrics" | "/domains" => {
                error(405, "method_not_allowed", "Method Not Allowed")
            }
            _ => match path.strip_prefix("/emails/") {
                Some(id) if !id.contains('/') && method == http::Method::GET => {
                    match self.find_email(id, now) {
                        Some(email) => FakeResponse::json(200, &email),
                        None => error(404, "not_found", "Email not found"),
                    }
                }
                Some(id) if !id.contains('/') => {
                    error(405, "method_not_allowed", "Method Not Allowed")
                }
                _ => error(404, "not_found", "The requested endpoint does not exist."),
            },
        }
    }

    /// Every email up to `now`, newest first.
    fn all_emails(&self, now: DateTime<Utc>) -> Vec<Value> {
        let mut emails: Vec<Value> = self
            .state
            .lock()
            .map(|state| state.sent.iter().rev().cloned().collect())
            .unwrap_or_default();
        emails.extend(data::seeded_emails(now));
        emails
    }

    fn find_email(&self, id: &str, now: DateTime<Utc>) -> Option<Value> {
        self.all_emails(now)
            .into_iter()
            .find(|email| email.get("id").and_then(Value::as_str) == Some(id))
    }

    fn list_emails(&self, request: &FakeRequest, now: DateTime<Utc>) -> FakeResponse {
        let items: Vec<Value> = self
            .all_emails(now)
            .into_iter()
            .map(|mut email| {
                if let Some(map) = email.as_object_mut() {
                    map.remove("html");
                    map.remove("text");
                }
                email
            })
            .collect();
        match page(request, &items, Some(20)) {
            Ok(page) => FakeResponse::json(200, &page),
            Err(refusal) => refusal,
        }
    }

    /// `POST /emails` (one object) or `POST /emails/batch` (an array).
    fn send(&self, request: &FakeRequest, now: DateTime<Utc>, batch: bool) -> FakeResponse {
        let key = request.header("idempotency-key").map(str::to_owned);
        if let Some(key) = &key
            && (key.is_empty() || key.chars().count() > MAX_IDEMPOTENCY_KEY_CHARS)
        {
            return error(
                400,
                "invalid_idempotency_key",
                "The key must be between 1-256 chars.",
            );
        }
        let Ok(mut state) = self.state.lock() else {
            return error(
                500,
                "internal_server_error",
                "An unexpected error occurred.",
            );
        };
        if let Some(key) = &key
            && let Some(remembered) = state.idempotency.get(key)
        {
            if remembered.path == request.path && remembered.body == request.body {
                return remembered.response.clone();
            }
            return error(
                409,
                "invalid_idempotent_request",
                "Same idempotency key used with a different request payload. Change your \
                 idempotency key or payload.",
            );
        }
        let Ok(body) = request.json::<Value>() else {
            return error(422, "validation_error", "Invalid JSON body.");
        };
        let emails: Vec<&Value> = if batch {
            let Some(items) = body.as_array() else {
                return error(
                    422,
                    "validation_error",
                    "The request body must be an array of emails.",
                );
            };
            if items.is_empty() || items.len() > MAX_BATCH {
                return error(
                    422,
                    "validation_error",
                    &format!("A batch must contain between 1 and {MAX_BATCH} emails."),
                );
            }
            items.iter().collect()
        } else {
            vec![&body]
        };
        for (i, email) in emails.iter().enumerate() {
            if let Err(refusal) = check_email(email, batch) {
                return if batch {
                    prefix_message(refusal, i)
                } else {
                    refusal
                };
            }
        }
        let mut ids = Vec::with_capacity(emails.len());
        for email in emails {
            let stored = store_email(email, state.sent.len(), now);
            let status = stored
                .get("last_event")
                .and_then(Value::as_str)
                .unwrap_or("delivered")
                .to_owned();
            ids.push(json!({"id": stored["id"].clone()}));
            for event in webhook_events(&status) {
                state.webhooks.push(((*event).to_owned(), stored.clone()));
            }
            state.sent.push(stored);
        }
        let answer = if batch {
            json!({"data": ids})
        } else {
            ids.into_iter().next().unwrap_or(Value::Null)
        };
        let response = FakeResponse::json(200, &answer);
        if let Some(key) = key {
            state.idempotency.insert(
                key,
                Remembered {
                    path: request.path.clone(),
                    body: request.body.clone(),
                    response: response.clone(),
                },
            );
        }
        response
    }

    /// `GET /emails/metrics`, computed from the emails the fake knows.
    fn metrics(&self, request: &FakeRequest, now: DateTime<Utc>) -> FakeResponse {
        let param = |name: &str| request.query_param(name).filter(|v| !v.is_empty());
        let end = match param("end_date") {
            None => now,
            Some(text) => match parse_bound(&text) {
                Some(end) => end.min(now),
                None => return error(422, "validation_error", "Invalid `end_date`."),
            },
        };
        let start = match param("start_date") {
            None => start_of_day(end.date_naive() - Duration::days(6)),
            Some(text) => match parse_bound(&text) {
                Some(start) => start,
                None => return error(422, "validation_error", "Invalid `start_date`."),
            },
        };
        if start > end {
            return error(
                422,
                "validation_error",
                "`start_date` must be on or before `end_date`.",
            );
        }
        if param("granularity").is_some_and(|g| g != "daily")
            || param("timezone").is_some_and(|tz| tz != "UTC")
        {
            return error(
                422,
                "validation_error",
                "The sandbox supports only `granularity=daily` and `timezone=UTC`.",
            );
        }
        let dimensions: Vec<String> = param("dimensions")
            .map(|d| d.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default();
        if dimensions.iter().any(|d| d != "period") {
            return error(
                422,
                "validation_error",
                "The sandbox supports only the `period` dimension.",
            );
        }
        let known: Vec<&str> = METRICS.iter().map(|(name, _)| *name).collect();
        let metrics: Vec<String> = match param("metrics") {
            None => known.iter().map(|m| (*m).to_owned()).collect(),
            Some(list) => list.split(',').map(|s| s.trim().to_owned()).collect(),
        };
        if let Some(unknown) = metrics.iter().find(|m| !known.contains(&m.as_str())) {
            return error(
                422,
                "validation_error",
                &format!("The sandbox does not compute the `{unknown}` metric."),
            );
        }

        let mut days: Vec<(NaiveDate, [u64; 6])> = Vec::new();
        let mut day = start.date_naive();
        while day <= end.date_naive() {
            days.push((day, [0; 6]));
            day += Duration::days(1);
        }
        for email in self.all_emails(now) {
            let Some(created) = email
                .get("created_at")
                .and_then(Value::as_str)
                .and_then(parse_timestamp)
            else {
                continue;
            };
            if created < start || created > end {
                continue;
            }
            let status = email
                .get("last_event")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if let Some((_, counts)) = days.iter_mut().find(|(d, _)| *d == created.date_naive()) {
                let flags = [
                    status != "scheduled" && status != "failed",
                    data::was_delivered(status),
                    status == "bounced",
                    status == "complained",
                    matches!(status, "opened" | "clicked"),
                    status == "clicked",
                ];
                for (count, flag) in counts.iter_mut().zip(flags) {
                    *count += u64::from(flag);
                }
            }
        }
        let selected = |counts: &[u64; 6]| -> Map<String, Value> {
            known
                .iter()
                .zip(counts)
                .filter(|(name, _)| metrics.iter().any(|m| m == *name))
                .map(|(name, count)| ((*name).to_owned(), json!(count)))
                .collect()
        };
        let mut totals = [0u64; 6];
        for (_, counts) in &days {
            for (total, count) in totals.iter_mut().zip(counts) {
                *total += count;
            }
        }
        let mut body = json!({
            "object": "metrics",
            "start_date": start.to_rfc3339_opts(SecondsFormat::Millis, true),
            "end_date": end.to_rfc3339_opts(SecondsFormat::Millis, true),
            "metrics": metrics,
            "dimensions": dimensions,
            "granularity": "daily",
            "totals": selected(&totals),
        });
        if !dimensions.is_empty() {
            body["data"] = days
                .iter()
                .map(|(day, counts)| {
                    let mut row = selected(counts);
                    row.insert(
                        "period".into(),
                        json!(start_of_day(*day).to_rfc3339_opts(SecondsFormat::Millis, true)),
                    );
                    Value::Object(row)
                })
                .collect();
        }
        FakeResponse::json(200, &body)
    }
}

/// Checks the key the way Resend does.
fn authorize(request: &FakeRequest, fault: Option<Fault>) -> Result<Access, FakeResponse> {
    let Some(key) = request.bearer().filter(|key| !key.is_empty()) else {
        return Err(error(
            401,
            "missing_api_key",
            "Missing API key in the authorization header. Include the following header in \
             the request: Authorization: Bearer YOUR_API_KEY",
        ));
    };
    if fault == Some(Fault::ExpiredToken) {
        return Err(error(403, "invalid_api_key", "API key is invalid"));
    }
    match key {
        SANDBOX_API_KEY => Ok(Access::Full),
        SANDBOX_SENDING_KEY => Ok(Access::SendingOnly),
        _ => Err(error(403, "invalid_api_key", "API key is invalid")),
    }
}

/// `GET /domains`: every domain without `limit`, else a page.
fn list_domains(request: &FakeRequest) -> FakeResponse {
    match page(request, &data::domains(), None) {
        Ok(page) => FakeResponse::json(200, &page),
        Err(refusal) => refusal,
    }
}

/// One page of `items` (newest first) per `limit`, `after` and `before`.
/// `default_limit` is the page size without `limit`; `None` returns everything.
fn page(
    request: &FakeRequest,
    items: &[Value],
    default_limit: Option<usize>,
) -> Result<Value, FakeResponse> {
    let limit = match request.query_param("limit") {
        None => default_limit,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=100).contains(&limit) => Some(limit),
            _ => {
                return Err(error(
                    422,
                    "validation_error",
                    "The `limit` parameter must be a number between 1 and 100.",
                ));
            }
        },
    };
    let after = request.query_param("after");
    let before = request.query_param("before");
    if after.is_some() && before.is_some() {
        return Err(error(
            422,
            "validation_error",
            "The `after` and `before` parameters cannot be used together.",
        ));
    }
    let position = |id: &str| {
        items
            .iter()
            .position(|item| item.get("id").and_then(Value::as_str) == Some(id))
    };
    let (from, to) = match (&after, &before) {
        (Some(id), _) => match position(id) {
            Some(at) => (at + 1, items.len()),
            None => return Err(error(422, "validation_error", "Invalid `after` cursor.")),
        },
        (_, Some(id)) => match position(id) {
            Some(at) => (0, at),
            None => return Err(error(422, "validation_error", "Invalid `before` cursor.")),
        },
        _ => (0, items.len()),
    };
    let window = &items[from..to];
    let (data, has_more) = match (limit, &before) {
        (Some(limit), Some(_)) => {
            let start = window.len().saturating_sub(limit);
            (&window[start..], start > 0)
        }
        (Some(limit), None) => (&window[..limit.min(window.len())], window.len() > limit),
        (None, _) => (window, false),
    };
    Ok(json!({"object": "list", "has_more": has_more, "data": data}))
}

/// Validates one email the way Resend does; `Err` is Resend's refusal.
fn check_email(email: &Value, in_batch: bool) -> Result<(), FakeResponse> {
    let Some(email) = email.as_object() else {
        return Err(error(
            422,
            "validation_error",
            "Each email must be an object.",
        ));
    };
    for field in ["from", "to", "subject"] {
        if email.get(field).is_none_or(Value::is_null) {
            return Err(error(
                422,
                "missing_required_field",
                &format!("Missing `{field}` field."),
            ));
        }
    }
    if !email.contains_key("html") && !email.contains_key("text") {
        return Err(error(
            422,
            "missing_required_field",
            "Missing `html` or `text` field.",
        ));
    }
    if in_batch {
        for unsupported in ["attachments", "scheduled_at"] {
            if email.contains_key(unsupported) {
                return Err(error(
                    422,
                    "validation_error",
                    &format!("The `{unsupported}` field is not supported in batch emails."),
                ));
            }
        }
    }
    let from = email
        .get("from")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !valid_mailbox(from) {
        return Err(error(
            422,
            "invalid_from_address",
            "Invalid `from` field. The email address needs to follow the `email@example.com` \
             or `Name <email@example.com>` format.",
        ));
    }
    let domain = address_domain(from);
    if !data::may_send_from(&domain) {
        return Err(error(
            403,
            "validation_error",
            &format!(
                "The {domain} domain is not verified. Please, add and verify your domain on \
                 https://resend.com/domains"
            ),
        ));
    }
    let recipients = addresses(email.get("to"));
    if recipients.is_empty() || recipients.iter().any(|to| !valid_mailbox(to)) {
        return Err(error(
            422,
            "validation_error",
            "Invalid `to` field. The email address needs to follow the `email@example.com` or \
             `Name <email@example.com>` format.",
        ));
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(error(
            422,
            "validation_error",
            &format!("The `to` field can have at most {MAX_RECIPIENTS} addresses."),
        ));
    }
    if email.get("subject").and_then(Value::as_str).is_none() {
        return Err(error(
            422,
            "validation_error",
            "The `subject` field must be a `string`.",
        ));
    }
    Ok(())
}

/// Stores an accepted email as `GET /emails/{id}` shows it. Its status follows
/// Resend's test addresses; scheduled emails stay `scheduled`.
fn store_email(email: &Value, seq: usize, now: DateTime<Utc>) -> Value {
    let recipients = addresses(email.get("to"));
    let status = if email.get("scheduled_at").is_some_and(|s| !s.is_null()) {
        "scheduled"
    } else if recipients.iter().any(|to| bare(to) == BOUNCED_ADDRESS) {
        "bounced"
    } else if recipients.iter().any(|to| bare(to) == COMPLAINED_ADDRESS) {
        "complained"
    } else {
        "delivered"
    };
    let list = |field: &str| -> Value {
        match email.get(field) {
            None | Some(Value::Null) => Value::Null,
            Some(value) => json!(addresses(Some(value))),
        }
    };
    json!({
        "object": "email",
        "id": data::uuid_from(&format!("resend-sandbox/sent/{seq}/{email}")),
        "to": recipients,
        "from": email.get("from").cloned().unwrap_or(Value::Null),
        "created_at": data::resend_time(now),
        "subject": email.get("subject").cloned().unwrap_or(Value::Null),
        "html": email.get("html").cloned().unwrap_or(Value::Null),
        "text": email.get("text").cloned().unwrap_or(Value::Null),
        "bcc": list("bcc"),
        "cc": list("cc"),
        "reply_to": list("reply_to"),
        "last_event": status,
        "scheduled_at": email.get("scheduled_at").cloned().unwrap_or(Value::Null),
    })
}

/// The webhook events Resend sends for an email that ends in `status`.
fn webhook_events(status: &str) -> &'static [&'static str] {
    match status {
        "scheduled" => &["email.scheduled"],
        "bounced" => &["email.sent", "email.bounced"],
        "complained" => &["email.sent", "email.delivered", "email.complained"],
        _ => &["email.sent", "email.delivered"],
    }
}

/// An address field as a list of strings.
fn addresses(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The bare, lowercased address of a mailbox.
fn bare(mailbox: &str) -> String {
    crate::webhooks::normalize_address(mailbox).unwrap_or_default()
}

/// The domain of a mailbox's address.
fn address_domain(mailbox: &str) -> String {
    bare(mailbox)
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_owned())
        .unwrap_or_default()
}

/// A `start_date`/`end_date` bound: an ISO date (midnight UTC) or datetime.
fn parse_bound(text: &str) -> Option<DateTime<Utc>> {
    parse_timestamp(text).or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(start_of_day)
    })
}

fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Resend's error body.
fn error(status: u16, name: &str, message: &str) -> FakeResponse {
    FakeResponse::json(
        status,
        &json!({"statusCode": status, "message": message, "name": name}),
    )
}

/// A batch refusal names the email it is about, as Resend's does.
fn prefix_message(refusal: FakeResponse, index: usize) -> FakeResponse {
    let Ok(mut body) = serde_json::from_slice::<Value>(&refusal.body) else {
        return refusal;
    };
    if let Some(message) = body.get("message").and_then(Value::as_str) {
        body["message"] = json!(format!("emails[{index}]: {message}"));
    }
    FakeResponse::json(refusal.status, &body)
}

/// Every answer carries Resend's rate-limit headers.
fn with_rate_headers(response: FakeResponse) -> FakeResponse {
    response
        .with_header("ratelimit-limit", &RATE_LIMIT.to_string())
        .with_header("ratelimit-remaining", &(RATE_LIMIT - 1).to_string())
        .with_header("ratelimit-reset", "1")
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
        body: &Value,
    ) -> FakeRequest {
        let mut headers = http::HeaderMap::new();
        headers.insert("user-agent", http::HeaderValue::from_static("test"));
        if let Some(key) = key {
            headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
        }
        FakeRequest {
            method,
            path: path.into(),
            query: query.into(),
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    fn call(fake: &ResendFake, request: &FakeRequest, fault: Option<Fault>) -> (u16, Value) {
        let ctx = FakeContext {
            tokens: &NoTokens,
            fault,
            now: now(),
        };
        let response = fake.handle(request, &ctx);
        (
            response.status,
            serde_json::from_slice(&response.body).unwrap_or(Value::Null),
        )
    }

    fn email(to: &str) -> Value {
        json!({"from": SANDBOX_SENDER, "to": to, "subject": "Hi", "text": "Hello"})
    }

    #[test]
    fn keys_are_checked() {
        let fake = ResendFake::default();
        let get = |key| request(http::Method::GET, "/domains", "", key, &Value::Null);
        assert_eq!(call(&fake, &get(None), None).1["name"], "missing_api_key");
        assert_eq!(call(&fake, &get(Some("re_other")), None).0, 403);
        assert_eq!(
            call(&fake, &get(Some(SANDBOX_SENDING_KEY)), None).1["name"],
            "restricted_api_key"
        );
        assert_eq!(call(&fake, &get(Some(SANDBOX_API_KEY)), None).0, 200);
        let send = request(
            http::Method::POST,
            "/emails",
            "",
            Some(SANDBOX_SENDING_KEY),
            &email("a@b.example"),
        );
        assert_eq!(call(&fake, &send, None).0, 200);
        let mut anonymous = get(Some(SANDBOX_API_KEY));
        anonymous.headers.remove("user-agent");
        let ctx = FakeContext {
            tokens: &NoTokens,
            fault: None,
            now: now(),
        };
        let response = fake.handle(&anonymous, &ctx);
        assert_eq!(
            (response.status, response.body.as_slice()),
            (403, &b"error code: 1010"[..])
        );
    }

    #[test]
    fn domains_list_whole_or_paged() {
        let fake = ResendFake::default();
        let (_, all) = call(
            &fake,
            &request(
                http::Method::GET,
                "/domains",
                "",
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert_eq!(all["data"].as_array().unwrap().len(), 3);
        assert_eq!(all["has_more"], false);
        let (_, first) = call(
            &fake,
            &request(
                http::Method::GET,
                "/domains",
                "limit=2",
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert_eq!(first["has_more"], true);
        let last = first["data"][1]["id"].as_str().unwrap();
        let (_, second) = call(
            &fake,
            &request(
                http::Method::GET,
                "/domains",
                &format!("limit=2&after={last}"),
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert_eq!(second["data"].as_array().unwrap().len(), 1);
        assert_eq!(second["has_more"], false);
        let (_, back) = call(
            &fake,
            &request(
                http::Method::GET,
                "/domains",
                &format!("limit=1&before={last}"),
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert_eq!(back["data"][0]["id"], first["data"][0]["id"]);
        assert_eq!(back["has_more"], false);
        let (status, _) = call(
            &fake,
            &request(
                http::Method::GET,
                "/domains",
                "limit=101",
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert_eq!(status, 422);
    }

    #[test]
    fn sending_validates_like_resend() {
        let fake = ResendFake::default();
        let send = |body: Value| {
            call(
                &fake,
                &request(
                    http::Method::POST,
                    "/emails",
                    "",
                    Some(SANDBOX_API_KEY),
                    &body,
                ),
                None,
            )
        };
        assert_eq!(
            send(json!({"from": SANDBOX_SENDER, "subject": "x", "text": "y"})).1["name"],
            "missing_required_field"
        );
        let (status, body) = send(
            json!({"from": "a@acme.example", "to": "b@c.example", "subject": "x", "text": "y"}),
        );
        assert_eq!(
            (status, body["name"].as_str()),
            (403, Some("validation_error"))
        );
        assert_eq!(
            send(json!({"from": "nope", "to": "b@c.example", "subject": "x", "text": "y"})).1["name"],
            "invalid_from_address"
        );
        let (status, body) = send(email(BOUNCED_ADDRESS));
        assert_eq!(status, 200);
        let id = body["id"].as_str().unwrap().to_owned();
        let (_, stored) = call(
            &fake,
            &request(
                http::Method::GET,
                &format!("/emails/{id}"),
                "",
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert_eq!(stored["last_event"], "bounced");
        assert_eq!(stored["to"], json!([BOUNCED_ADDRESS]));
        let hooks = fake.take_webhooks(now());
        assert_eq!(hooks.len(), 2);
        assert!(fake.take_webhooks(now()).is_empty());
    }

    #[test]
    fn batches_are_all_or_nothing() {
        let fake = ResendFake::default();
        let post = |body: Value| {
            call(
                &fake,
                &request(
                    http::Method::POST,
                    "/emails/batch",
                    "",
                    Some(SANDBOX_API_KEY),
                    &body,
                ),
                None,
            )
        };
        let (status, body) =
            post(json!([email("a@b.example"), {"from": SANDBOX_SENDER, "to": "x@y.example"}]));
        assert_eq!(status, 422);
        assert!(body["message"].as_str().unwrap().starts_with("emails[1]:"));
        assert!(fake.sent_emails().is_empty());
        let too_many: Vec<Value> = (0..101)
            .map(|i| email(&format!("u{i}@b.example")))
            .collect();
        assert_eq!(post(json!(too_many)).0, 422);
        let (status, body) = post(json!([email("a@b.example"), email("c@d.example")]));
        assert_eq!(status, 200);
        assert_eq!(body["data"].as_array().unwrap().len(), 2);
        assert_eq!(fake.sent_emails().len(), 2);
    }

    #[test]
    fn idempotency_keys_replay_or_conflict() {
        let fake = ResendFake::default();
        let mut first = request(
            http::Method::POST,
            "/emails",
            "",
            Some(SANDBOX_API_KEY),
            &email("a@b.example"),
        );
        first
            .headers
            .insert("idempotency-key", "k1".parse().unwrap());
        let (status, one) = call(&fake, &first, None);
        assert_eq!(status, 200);
        assert_eq!(call(&fake, &first, None), (200, one));
        assert_eq!(fake.sent_emails().len(), 1);
        let mut other = request(
            http::Method::POST,
            "/emails",
            "",
            Some(SANDBOX_API_KEY),
            &email("c@d.example"),
        );
        other
            .headers
            .insert("idempotency-key", "k1".parse().unwrap());
        assert_eq!(
            call(&fake, &other, None).1["name"],
            "invalid_idempotent_request"
        );
        other
            .headers
            .insert("idempotency-key", "k".repeat(257).parse().unwrap());
        assert_eq!(
            call(&fake, &other, None).1["name"],
            "invalid_idempotency_key"
        );
    }

    #[test]
    fn metrics_count_the_known_emails() {
        let fake = ResendFake::default();
        let query = "start_date=2026-03-01&granularity=daily&dimensions=period&timezone=UTC&metrics=sent,delivered,bounced,complained,opened,clicked";
        let (status, body) = call(
            &fake,
            &request(
                http::Method::GET,
                "/emails/metrics",
                query,
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert_eq!(status, 200);
        let rows = body["data"].as_array().unwrap();
        assert_eq!(rows.len(), 15);
        assert_eq!(rows[0]["period"], "2026-03-01T00:00:00.000Z");
        let sent: u64 = rows.iter().map(|r| r["sent"].as_u64().unwrap()).sum();
        assert_eq!(body["totals"]["sent"], json!(sent));
        let listed = data::seeded_emails(now())
            .iter()
            .filter(|e| e["created_at"].as_str().unwrap() >= "2026-03-01")
            .count() as u64;
        assert_eq!(sent, listed);
        let (status, _) = call(
            &fake,
            &request(
                http::Method::GET,
                "/emails/metrics",
                "dimensions=domain",
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert_eq!(status, 422);
        let (_, totals_only) = call(
            &fake,
            &request(
                http::Method::GET,
                "/emails/metrics",
                "",
                Some(SANDBOX_API_KEY),
                &Value::Null,
            ),
            None,
        );
        assert!(totals_only.get("data").is_none());
    }

    #[test]
    fn faults_render_like_resend() {
        let fake = ResendFake::default();
        let get = request(
            http::Method::GET,
            "/domains",
            "",
            Some(SANDBOX_API_KEY),
            &Value::Null,
        );
        assert_eq!(call(&fake, &get, Some(Fault::ServerError)).0, 500);
        assert_eq!(
            call(
                &fake,
                &get,
                Some(Fault::RateLimited {
                    retry_after_secs: 2
                })
            )
            .1["name"],
            "rate_limit_exceeded"
        );
        assert_eq!(
            call(&fake, &get, Some(Fault::QuotaExhausted)).1["name"],
            "daily_quota_exceeded"
        );
        assert_eq!(
            call(&fake, &get, Some(Fault::ExpiredToken)).1["name"],
            "invalid_api_key"
        );
        assert_eq!(
            call(&fake, &get, Some(Fault::MalformedBody)),
            (200, Value::Null)
        );
        let unknown = request(
            http::Method::GET,
            "/nothing",
            "",
            Some(SANDBOX_API_KEY),
            &Value::Null,
        );
        assert_eq!(call(&fake, &unknown, None).0, 404);
        let wrong = request(
            http::Method::DELETE,
            "/domains",
            "",
            Some(SANDBOX_API_KEY),
            &Value::Null,
        );
        assert_eq!(call(&fake, &wrong, None).0, 405);
    }
}

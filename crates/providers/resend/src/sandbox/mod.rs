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
//!
//! Routing, the key check, paging, idempotency and the faults are the toolkit's fake
//! scaffolding ([`junction_toolkit::fake`]) over the adapter's own description
//! ([`crate::api::API`], [`crate::streams::PAGING`], [`crate::api::IDEMPOTENCY`]).

mod credentials;
mod data;
mod webhook;

use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{
    Auth, Call, Data, ErrorShape, Idempotency, Key, PageError, Pager, Reuse, Route, Service,
};
use serde_json::{Map, Value, json};

use crate::{
    actions::valid_mailbox,
    api::{API, IDEMPOTENCY},
    spec::{MAX_BATCH, MAX_RECIPIENTS, METRICS, PROVIDER_ID},
    streams::PAGING,
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
    idempotency: Idempotency,
    /// Delivery webhooks not yet taken: (event type, email).
    webhooks: Vec<(String, Value)>,
}

/// Resend's error body (`{"statusCode", "message", "name"}`) and words.
const ERRORS: ErrorShape = ErrorShape::new(Some("/name"), "/message")
    .status_at("/statusCode")
    .catalogue(&WORDS, "");

static WORDS: Data = Data::new(include_str!("errors.json"));

/// A 422 `validation_error` saying `message`.
fn invalid(message: &str) -> FakeResponse {
    ERRORS.named("invalid", &[("prefix", ""), ("said", message)])
}

/// Lists: newest first, `limit` 1–100 (default 20), `after` or `before`.
const PAGER: Pager = Pager::new(PAGING).size(20, 100).backward("before");

const ROUTES: &[Route<State>] = &[
    Route::post("emails", |state, call| send(state, call, false)).needs(&["send"]),
    Route::get("emails", list_emails),
    Route::post("emails/batch", |state, call| send(state, call, true)).needs(&["send"]),
    Route::get("emails/metrics", metrics),
    // Every domain without `limit`.
    Route::get("domains", |_, call| {
        page(PAGER.everything_by_default(), call, data::domains())
    }),
    Route::get("emails/{id}", |state, call| {
        let id = call.param("id");
        match all_emails(state, call.now)
            .into_iter()
            .find(|e| e["id"] == id)
        {
            Some(email) => FakeResponse::json(200, &email),
            None => ERRORS.named("email_not_found", &[]),
        }
    }),
];

const SERVICE: Service<State> = Service::new(
    API.base.prefix,
    ROUTES,
    Auth::new(API.auth, PROVIDER_ID)
        .keys(&[
            Key::full(SANDBOX_API_KEY),
            Key::with(SANDBOX_SENDING_KEY, &["send"]),
        ])
        .needs(&["full"]),
    ERRORS,
)
// Every answer carries Resend's rate-limit headers.
.decorate(|response| {
    response
        .with_header("ratelimit-limit", &RATE_LIMIT.to_string())
        .with_header("ratelimit-remaining", &(RATE_LIMIT - 1).to_string())
        .with_header("ratelimit-reset", "1")
});

impl ProviderFake for ResendFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn catalog(&self) -> CatalogEntry {
        data::SEED.catalog(PROVIDER_ID)
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        if request
            .header("user-agent")
            .is_none_or(|agent| agent.trim().is_empty())
        {
            // Resend's edge (Cloudflare) refuses requests without a User-Agent.
            return ERRORS.named("no_user_agent", &[]);
        }
        SERVICE.serve(&mut self.state(), request, ctx)
    }
}

impl ResendFake {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every change is one push or one insert: the data stays whole after a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The delivery webhooks of the emails sent through the fake since the last
    /// call, signed with [`SANDBOX_WEBHOOK_SECRET`] and dated `now`: `email.sent`,
    /// then `email.delivered`, `email.bounced` (for `bounced@resend.dev`) or
    /// `email.delivered` and `email.complained` (for `complained@resend.dev`).
    pub fn take_webhooks(&self, now: DateTime<Utc>) -> Vec<SignedWebhook> {
        let pending = std::mem::take(&mut self.state().webhooks);
        pending
            .iter()
            .filter_map(|(event_type, email)| signed_email_event(event_type, email, now).ok())
            .collect()
    }

    /// The emails sent through the fake, oldest first, as `GET /emails/{id}` shows them.
    pub fn sent_emails(&self) -> Vec<Value> {
        self.state().sent.clone()
    }
}

/// Every email up to `now`, newest first.
fn all_emails(state: &State, now: DateTime<Utc>) -> Vec<Value> {
    let mut emails: Vec<Value> = state.sent.iter().rev().cloned().collect();
    emails.extend(data::seeded_emails(now));
    emails
}

/// One page of `items` as Resend pages it.
fn page(pager: Pager, call: &Call<'_>, items: Vec<Value>) -> FakeResponse {
    match pager.page(call.request, items) {
        Ok(page) => page.with("/object", json!("list")).reply(),
        Err(PageError::Cursor { param, .. }) => invalid(&format!("Invalid `{param}` cursor.")),
        Err(PageError::BothDirections) => {
            invalid("The `after` and `before` parameters cannot be used together.")
        }
        Err(_) => invalid("The `limit` parameter must be a number between 1 and 100."),
    }
}

fn list_emails(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let mut emails = all_emails(state, call.now);
    for email in emails.iter_mut().filter_map(Value::as_object_mut) {
        email.remove("html");
        email.remove("text");
    }
    page(PAGER, call, emails)
}

/// `POST /emails` (one object) or `POST /emails/batch` (an array), through the
/// idempotency store.
fn send(state: &mut State, call: &Call<'_>, batch: bool) -> FakeResponse {
    let request = call.request;
    let fingerprint = Idempotency::fingerprint(request);
    let State {
        sent,
        idempotency,
        webhooks,
    } = state;
    let answer = || {
        let Ok(body) = request.json::<Value>() else {
            return invalid("Invalid JSON body.");
        };
        let emails: Vec<&Value> = match (batch, body.as_array()) {
            (false, _) => vec![&body],
            (true, Some(items)) if (1..=MAX_BATCH).contains(&items.len()) => items.iter().collect(),
            (true, Some(_)) => {
                return invalid(&format!(
                    "A batch must contain between 1 and {MAX_BATCH} emails."
                ));
            }
            (true, None) => return invalid("The request body must be an array of emails."),
        };
        for (i, email) in emails.iter().enumerate() {
            if let Err((name, said)) = check_email(email, batch) {
                // A batch refusal names the email it is about, as Resend's does.
                let prefix = if batch {
                    format!("emails[{i}]: ")
                } else {
                    String::new()
                };
                return ERRORS.named(name, &[("prefix", &prefix), ("said", &said)]);
            }
        }
        let mut ids = Vec::with_capacity(emails.len());
        for email in emails {
            let stored = store_email(email, sent.len(), call.now);
            ids.push(json!({"id": stored["id"]}));
            let status = stored["last_event"].as_str().unwrap_or("delivered");
            for event in webhook_events(status) {
                webhooks.push(((*event).to_owned(), stored.clone()));
            }
            sent.push(stored);
        }
        let answer = if batch {
            json!({"data": ids})
        } else {
            ids.into_iter().next().unwrap_or(Value::Null)
        };
        FakeResponse::json(200, &answer)
    };
    match idempotency.run(&IDEMPOTENCY, "", request, fingerprint, answer) {
        Ok(response) => response,
        Err(Reuse::BadKey) => ERRORS.named("bad_idempotency_key", &[]),
        Err(Reuse::Conflict(_)) => ERRORS.named("idempotency_conflict", &[]),
    }
}

/// `GET /emails/metrics`, computed from the emails the fake knows.
fn metrics(state: &mut State, call: &Call<'_>) -> FakeResponse {
    let bound = |name: &str| call.query(name).map(|text| parse_bound(&text).ok_or(()));
    let end = match bound("end_date") {
        None => call.now,
        Some(Ok(end)) => end.min(call.now),
        Some(Err(())) => return invalid("Invalid `end_date`."),
    };
    let start = match bound("start_date") {
        None => start_of_day(end.date_naive() - Duration::days(6)),
        Some(Ok(start)) => start,
        Some(Err(())) => return invalid("Invalid `start_date`."),
    };
    if start > end {
        return invalid("`start_date` must be on or before `end_date`.");
    }
    if call.query("granularity").is_some_and(|g| g != "daily")
        || call.query("timezone").is_some_and(|tz| tz != "UTC")
    {
        return invalid("The sandbox supports only `granularity=daily` and `timezone=UTC`.");
    }
    let list = |name: &str| -> Option<Vec<String>> {
        let text = call.query(name)?;
        Some(text.split(',').map(|s| s.trim().to_owned()).collect())
    };
    let dimensions = list("dimensions").unwrap_or_default();
    if dimensions.iter().any(|d| d != "period") {
        return invalid("The sandbox supports only the `period` dimension.");
    }
    let known: Vec<&str> = METRICS.iter().map(|(name, _)| *name).collect();
    let metrics = list("metrics").unwrap_or_else(|| known.iter().map(|m| (*m).into()).collect());
    if let Some(unknown) = metrics.iter().find(|m| !known.contains(&m.as_str())) {
        return invalid(&format!(
            "The sandbox does not compute the `{unknown}` metric."
        ));
    }
    // The counts of every known metric, by day from `start`.
    let first = start.date_naive();
    let mut days =
        vec![[0u64; 6]; usize::try_from((end.date_naive() - first).num_days() + 1).unwrap_or(0)];
    for email in all_emails(state, call.now) {
        let created = email["created_at"].as_str().and_then(parse_timestamp);
        let Some(created) = created.filter(|at| *at >= start && *at <= end) else {
            continue;
        };
        let status = email["last_event"].as_str().unwrap_or_default();
        let flags = [
            status != "scheduled" && status != "failed",
            data::was_delivered(status),
            status == "bounced",
            status == "complained",
            matches!(status, "opened" | "clicked"),
            status == "clicked",
        ];
        let day = usize::try_from((created.date_naive() - first).num_days()).unwrap_or(0);
        if let Some(counts) = days.get_mut(day) {
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
    let totals = days.iter().fold([0u64; 6], |mut totals, counts| {
        totals.iter_mut().zip(counts).for_each(|(t, c)| *t += c);
        totals
    });
    let time = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut body = json!({
        "object": "metrics", "start_date": time(start), "end_date": time(end),
        "metrics": metrics, "dimensions": dimensions, "granularity": "daily",
        "totals": selected(&totals),
    });
    if !dimensions.is_empty() {
        body["data"] = (0..)
            .zip(&days)
            .map(|(offset, counts)| {
                let mut row = selected(counts);
                let day = start_of_day(first + Duration::days(offset));
                row.insert("period".into(), json!(time(day)));
                Value::Object(row)
            })
            .collect();
    }
    FakeResponse::json(200, &body)
}

/// Validates one email the way Resend does; `Err` names the catalogue's refusal,
/// with what it says (its message, or the unverified domain).
fn check_email(email: &Value, in_batch: bool) -> Result<(), (&'static str, String)> {
    let invalid = |message: String| Err(("invalid", message));
    let Some(email) = email.as_object() else {
        return invalid("Each email must be an object.".into());
    };
    if let Some(field) = ["from", "to", "subject"]
        .into_iter()
        .find(|field| email.get(*field).is_none_or(Value::is_null))
    {
        return Err(("missing_field", format!("Missing `{field}` field.")));
    }
    if !email.contains_key("html") && !email.contains_key("text") {
        return Err(("missing_field", "Missing `html` or `text` field.".into()));
    }
    if in_batch
        && let Some(field) = ["attachments", "scheduled_at"]
            .into_iter()
            .find(|field| email.contains_key(*field))
    {
        return invalid(format!(
            "The `{field}` field is not supported in batch emails."
        ));
    }
    let from = email
        .get("from")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !valid_mailbox(from) {
        return Err(("invalid_from", String::new()));
    }
    let domain = address_domain(from);
    if !data::may_send_from(&domain) {
        return Err(("unverified_domain", domain));
    }
    let recipients = addresses(email.get("to"));
    if recipients.is_empty() || recipients.iter().any(|to| !valid_mailbox(to)) {
        return Err(("invalid_to", String::new()));
    }
    if recipients.len() > MAX_RECIPIENTS {
        return invalid(format!(
            "The `to` field can have at most {MAX_RECIPIENTS} addresses."
        ));
    }
    if !email.get("subject").is_some_and(Value::is_string) {
        return invalid("The `subject` field must be a `string`.".into());
    }
    Ok(())
}

/// Stores an accepted email as `GET /emails/{id}` shows it. Its status follows
/// Resend's test addresses; scheduled emails stay `scheduled`.
fn store_email(email: &Value, seq: usize, now: DateTime<Utc>) -> Value {
    let recipients = addresses(email.get("to"));
    let to = |address: &str| recipients.iter().any(|to| bare(to) == address);
    let status = if email.get("scheduled_at").is_some_and(|s| !s.is_null()) {
        "scheduled"
    } else if to(BOUNCED_ADDRESS) {
        "bounced"
    } else if to(COMPLAINED_ADDRESS) {
        "complained"
    } else {
        "delivered"
    };
    let field = |name: &str| email.get(name).cloned().unwrap_or(Value::Null);
    let list = |name: &str| match email.get(name) {
        None | Some(Value::Null) => Value::Null,
        Some(value) => json!(addresses(Some(value))),
    };
    json!({
        "object": "email",
        "id": data::uuid_from(&format!("resend-sandbox/sent/{seq}/{email}")),
        "to": recipients, "from": field("from"), "created_at": data::resend_time(now),
        "subject": field("subject"), "html": field("html"), "text": field("text"),
        "bcc": list("bcc"), "cc": list("cc"), "reply_to": list("reply_to"),
        "last_event": status, "scheduled_at": field("scheduled_at"),
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
    let address = bare(mailbox);
    let domain = address.rsplit_once('@').map(|(_, domain)| domain);
    domain.unwrap_or_default().to_owned()
}

/// A `start_date`/`end_date` bound: an ISO date (midnight UTC) or datetime.
fn parse_bound(text: &str) -> Option<DateTime<Utc>> {
    let date = || NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    parse_timestamp(text).or_else(|| date().map(start_of_day))
}

fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use junction_core::fake::{Fault, NoTokens};

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
    fn the_catalog_names_the_fakes_values() {
        let entry = ResendFake::default().catalog();
        assert_eq!(entry.config["from"], SANDBOX_SENDER);
        assert_eq!(entry.credentials["api_key"], SANDBOX_API_KEY);
        assert_eq!(entry.credentials["webhook_secret"], SANDBOX_WEBHOOK_SECRET);
        assert_eq!(
            entry.webhook_secret.as_deref(),
            Some(SANDBOX_WEBHOOK_SECRET)
        );
        assert_eq!(entry.special_values[0].value, SANDBOX_SENDING_KEY);
        assert_eq!(entry.fixtures["bounced_address"], BOUNCED_ADDRESS);
        assert_eq!(entry.fixtures["complained_address"], COMPLAINED_ADDRESS);
        assert_eq!(entry.fixtures["delivered_address"], DELIVERED_ADDRESS);
    }

    #[test]
    fn the_faults_read_as_the_adapter_reads_them() {
        let policy = junction_core::http::ResponsePolicy::API_KEY;
        let checked = junction_toolkit::fake::faults::check(&ERRORS, &API, &policy);
        assert_eq!(checked, Ok(()));
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

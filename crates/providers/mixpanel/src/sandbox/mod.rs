//! A fake of Mixpanel's Query, Export and ingestion APIs, on the paths and in the
//! shapes of Mixpanel's OpenAPI files.
//!
//! For the sandbox (demo mode, end-to-end tests) and the conformance suite, built on
//! the toolkit's fake scaffolding from the adapter's own description. The three APIs
//! live on three hosts at Mixpanel; a base-URL override puts them on one, and their
//! paths do not overlap, so one service serves them all under the sandbox's
//! `/mixpanel/` mount:
//!
//! - `GET /api/query/funnels/list`, `/api/query/funnels`, `/api/query/segmentation`,
//!   `/api/query/retention`, `/api/query/insights` (bookmarks [`data::BOOKMARKS`]);
//! - `GET /api/2.0/export`: JSONL, one event per line (`time` in seconds unless
//!   `time_in_ms=true`), filtered by `from_date`, `to_date`, `event`, `limit`;
//! - `POST /import?strict=1&project_id`: a JSON array (or NDJSON) of at most 2,000
//!   events and 2 MiB; strict mode validates each event and answers its
//!   `failed_records`; valid events are stored, one per event name, time,
//!   `distinct_id` and `$insert_id` (the latest wins), as Mixpanel deduplicates.
//!
//! Every call names the project ([`SANDBOX_PROJECT_ID`]; another is a 403, as for a
//! service account that is not a member). Credentials: the service account
//! [`SANDBOX_USERNAME`] / [`SANDBOX_SECRET`] may do everything; the project token
//! [`SANDBOX_PROJECT_TOKEN`] (as the Basic user name) may only import; the service
//! account [`SANDBOX_CONSUMER`] (Consumer role) may only read.
//!
//! Faults render as Mixpanel renders them (`{"code", "error", "status"}`): a 500, a
//! 429 with `Retry-After`, a 429 for the hourly query limit, a 401, and a 200 body
//! cut off halfway *after* the request took effect (an import stored, its answer
//! lost).

pub mod data;

use std::sync::{Mutex, PoisonError};

use chrono::{Duration, NaiveDate};
use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{Auth, Call, Data, ErrorShape, Key, Route, Service};
use serde_json::{Map, Value, json};

use crate::{
    api::QUERY_API,
    import::{MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_EVENT_BYTES, is_insert_id},
    spec::{
        BOOKMARK_IDS, EVENT_NAMES, FUNNEL_IDS, LOOKBACK, PROJECT_ID, PROJECT_TOKEN, PROVIDER_ID,
        REGION, RETENTION_BORN_EVENT, SECRET_FIELD, USERNAME_FIELD,
    },
};
use data::{BOOKMARKS, FUNNELS, Project};

/// The service account's user name the fake accepts.
pub const SANDBOX_USERNAME: &str = "sandbox.3f2a1c.mp-service-account";

/// The service account's secret.
pub const SANDBOX_SECRET: &str = "mixpanel-sandbox-secret";

/// A service account with the Consumer role: it may read, not import.
pub const SANDBOX_CONSUMER: &str = "consumer.3f2a1c.mp-service-account";

/// The project the fake holds.
pub const SANDBOX_PROJECT_ID: &str = "2195193";

/// A project the service accounts are not members of.
pub const FOREIGN_PROJECT_ID: &str = "999999";

/// The project's token (imports).
pub const SANDBOX_PROJECT_TOKEN: &str = "4f9b2c81d0e34a7b9c6d5e4f3a2b1c0d";

/// The credentials as the fake compares them: `user:password`.
const LOGIN: &str = "sandbox.3f2a1c.mp-service-account:mixpanel-sandbox-secret";
const CONSUMER_LOGIN: &str = "consumer.3f2a1c.mp-service-account:mixpanel-sandbox-secret";
const TOKEN_LOGIN: &str = "4f9b2c81d0e34a7b9c6d5e4f3a2b1c0d:";

/// Mixpanel's error body: `{"code", "error", "status"}`; the adapter reads `/error`.
const ERRORS: ErrorShape = ErrorShape::new(None, "/error")
    .status_at("/code")
    .finish(status_text)
    .catalogue(&WORDS, "");

/// Mixpanel's words, by name (see `junction_toolkit::fake::names`).
static WORDS: Data = Data::new(
    r#"{
 "server_error": {"status": 500, "message": "Internal server error"},
 "rate_limited": {"status": 429, "message": "Project exceeded rate limits. Please retry the request with exponential backoff.", "headers": {"retry-after": "{secs}"}},
 "quota_exhausted": {"status": 429, "message": "Query rate limit exceeded: 60 queries per hour per project."},
 "missing": {"status": 401, "message": "Missing credentials: authenticate with a service account (Basic auth)"},
 "unknown": {"status": 401, "message": "Invalid credentials"},
 "expired": {"status": 401, "message": "Invalid credentials"},
 "insufficient": {"status": 403, "message": "Permission denied: this service account's role may not do this (imports need Owner or Admin)"},
 "not_found": {"status": 404, "message": "Not found: {method} {path}"}
}"#,
);

/// The `status` text beside the code, as Mixpanel's ingestion API writes it.
fn status_text(status: u16, body: &mut Value) {
    let text = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    body["status"] = json!(text);
}

/// The fake's routes, credentials, errors and faults.
const SERVICE: Service<Project> = Service::new(
    "",
    &[
        Route::get("api/query/funnels/list", funnels_list),
        Route::get("api/query/funnels", funnels),
        Route::get("api/query/segmentation", segmentation),
        Route::get("api/query/retention", retention),
        Route::get("api/query/insights", insights),
        Route::get("api/2.0/export", export),
        Route::post("import", import).needs(&["ingest"]),
    ],
    Auth::new(QUERY_API.auth, PROVIDER_ID)
        .keys(&[
            Key::full(LOGIN),
            Key::with(CONSUMER_LOGIN, &["read"]),
            Key::with(TOKEN_LOGIN, &["ingest"]),
        ])
        .needs(&["read"]),
    ERRORS,
)
.guard(project_guard);

/// The Mixpanel fake.
#[derive(Debug, Default)]
pub struct MixpanelFake {
    project: Mutex<Option<Project>>,
}

impl ProviderFake for MixpanelFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // Every change is one map insert per event: the data stays whole.
        let mut guard = self.project.lock().unwrap_or_else(PoisonError::into_inner);
        let project = guard.get_or_insert_with(|| Project::seed(ctx.now));
        SERVICE.serve(project, request, ctx)
    }

    /// What connects the entry here: the service account, the project and its
    /// token, and reports that exist in the seeded project.
    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .config(USERNAME_FIELD, SANDBOX_USERNAME)
            .credential(SECRET_FIELD, SANDBOX_SECRET)
            .config(PROJECT_ID.name, SANDBOX_PROJECT_ID)
            .config(REGION.name, "us")
            .credential(PROJECT_TOKEN.name, SANDBOX_PROJECT_TOKEN)
            .config(BOOKMARK_IDS.text.name, "12345, 23456")
            .config(EVENT_NAMES.text.name, "Viewed page, Signed up, Purchased")
            .config(FUNNEL_IDS.text.name, "7509, 9070")
            .config(RETENTION_BORN_EVENT.name, "Signed up")
            .config(LOOKBACK.name, 14)
            .special_value(
                PROJECT_ID.name,
                FOREIGN_PROJECT_ID,
                "a project the service account is not a member of: every call is a 403",
            )
            .special_value(
                USERNAME_FIELD,
                SANDBOX_CONSUMER,
                "a Consumer service account (same secret): reads work; imports without the \
                 project token are refused (403)",
            )
            .fixture("funnel_ids", json!([7509, 9070]))
            .fixture("bookmark_ids", json!([12345, 23456]))
            .fixture("users", data::USERS)
    }
}

/// A Query or Export API error: `{"request", "error"}`.
fn query_error(call: &Call<'_>, status: u16, message: &str) -> FakeResponse {
    let path = format!("{}?{}", call.request.path, call.request.query);
    FakeResponse::json(status, &json!({"request": path, "error": message}))
}

/// Every call names the fake's project; another is one the account cannot see.
fn project_guard(call: &Call<'_>) -> Option<FakeResponse> {
    match call.query("project_id").as_deref() {
        Some(SANDBOX_PROJECT_ID) => None,
        None | Some("") => Some(query_error(call, 400, "project_id is required")),
        Some(other) => Some(ERRORS.reply(
            403,
            None,
            &format!("Permission denied: the service account is not a member of project {other}"),
        )),
    }
}

/// A required `YYYY-MM-DD` query parameter.
fn day_param(call: &Call<'_>, name: &str) -> Result<NaiveDate, FakeResponse> {
    let text = call.query(name).unwrap_or_default();
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
        query_error(
            call,
            400,
            &format!("'{name}' is a required parameter in yyyy-mm-dd format"),
        )
    })
}

/// `from_date` and `to_date`, in order.
fn range(call: &Call<'_>) -> Result<(NaiveDate, NaiveDate), FakeResponse> {
    let (from, to) = (day_param(call, "from_date")?, day_param(call, "to_date")?);
    if from > to {
        return Err(query_error(
            call,
            400,
            "'from_date' must be on or before 'to_date'",
        ));
    }
    Ok((from, to))
}

/// `GET /api/query/funnels/list`.
fn funnels_list(_: &mut Project, _: &Call<'_>) -> FakeResponse {
    let list: Vec<Value> = FUNNELS
        .iter()
        .map(|(id, name, _)| json!({"funnel_id": id, "name": name}))
        .collect();
    FakeResponse::json(200, &Value::Array(list))
}

/// `GET /api/query/funnels?funnel_id&from_date&to_date`.
fn funnels(project: &mut Project, call: &Call<'_>) -> FakeResponse {
    let (from, to) = match range(call) {
        Ok(range) => range,
        Err(refused) => return refused,
    };
    let id = call.query("funnel_id").unwrap_or_default();
    let Some((_, _, steps)) = FUNNELS.iter().find(|(fid, ..)| fid.to_string() == id) else {
        return query_error(call, 400, &format!("Invalid funnel_id: {id}"));
    };
    let by_day = project.funnel(steps, from, to);
    let mut data = Map::new();
    for (day, reached) in &by_day {
        let start = reached.first().copied().unwrap_or(0);
        let ratio = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
        let steps_out: Vec<Value> = steps
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let count = reached[k];
                let previous = if k == 0 { count } else { reached[k - 1] };
                json!({
                    "count": count,
                    "avg_time": if k == 0 { Value::Null } else { json!(600 * k) },
                    "avg_time_from_start": if k == 0 { Value::Null } else { json!(600 * k) },
                    "step_conv_ratio": if k == 0 { 1.0 } else { ratio(count, previous) },
                    "overall_conv_ratio": if k == 0 { 1.0 } else { ratio(count, start) },
                    "goal": name,
                    "event": name,
                    "step_label": name,
                })
            })
            .collect();
        let worst = (1..reached.len())
            .max_by_key(|k| reached[k - 1].saturating_sub(reached[*k]))
            .unwrap_or(1);
        data.insert(
            day.to_string(),
            json!({
                "steps": steps_out,
                "analysis": {
                    "completion": reached.last().copied().unwrap_or(0),
                    "starting_amount": start,
                    "steps": steps.len(),
                    "worst": worst,
                },
            }),
        );
    }
    let dates: Vec<String> = by_day.keys().map(ToString::to_string).collect();
    FakeResponse::json(200, &json!({"meta": {"dates": dates}, "data": data}))
}

/// `GET /api/query/segmentation?event&from_date&to_date` (unit day, type general).
fn segmentation(project: &mut Project, call: &Call<'_>) -> FakeResponse {
    let (from, to) = match range(call) {
        Ok(range) => range,
        Err(refused) => return refused,
    };
    let Some(event) = call.query("event").filter(|e| !e.is_empty()) else {
        return query_error(call, 400, "'event' is a required parameter");
    };
    if call.query("unit").is_some_and(|unit| unit != "day") {
        return query_error(call, 400, "the sandbox answers unit=day only");
    }
    let counts = project.counts(&event, from, to);
    let values: Map<String, Value> = counts
        .iter()
        .map(|(day, n)| (day.to_string(), json!(n)))
        .collect();
    let series: Vec<String> = counts.keys().map(ToString::to_string).collect();
    FakeResponse::json(
        200,
        &json!({"data": {"series": series, "values": {event: values}}, "legend_size": 1}),
    )
}

/// `GET /api/query/retention?from_date&to_date&retention_type&born_event&event&interval_count`.
fn retention(project: &mut Project, call: &Call<'_>) -> FakeResponse {
    let (from, to) = match range(call) {
        Ok(range) => range,
        Err(refused) => return refused,
    };
    let kind = call
        .query("retention_type")
        .unwrap_or_else(|| "birth".into());
    let born = call.query("born_event").filter(|e| !e.is_empty());
    let born = match (kind.as_str(), born) {
        ("birth", Some(born)) => Some(born),
        ("birth", None) => {
            return query_error(call, 400, "'born_event' is required for birth retention");
        }
        ("compounded", _) => None,
        _ => return query_error(call, 400, "'retention_type' must be birth or compounded"),
    };
    let event = call.query("event").filter(|e| !e.is_empty());
    let intervals = call
        .query("interval_count")
        .map_or(Some(1), |n| n.parse::<i64>().ok())
        .filter(|n| (1..=90).contains(n));
    let Some(intervals) = intervals else {
        return query_error(call, 400, "'interval_count' must be a number from 1 to 90");
    };
    let cohorts = project.retention(
        born.as_deref(),
        event.as_deref(),
        from,
        to,
        intervals,
        call.now.date_naive(),
    );
    let body: Map<String, Value> = cohorts
        .into_iter()
        .map(|(day, (first, counts))| (day.to_string(), json!({"counts": counts, "first": first})))
        .collect();
    FakeResponse::json(200, &Value::Object(body))
}

/// `GET /api/query/insights?bookmark_id`: the saved report over its own range (the
/// last 14 days, daily).
fn insights(project: &mut Project, call: &Call<'_>) -> FakeResponse {
    let id = call.query("bookmark_id").unwrap_or_default();
    let Some((bookmark, _)) = BOOKMARKS.iter().find(|(b, _)| b.to_string() == id) else {
        return query_error(call, 400, &format!("Invalid bookmark_id: {id}"));
    };
    let to = call.now.date_naive();
    let from = to - Duration::days(13);
    let key = |day: NaiveDate| format!("{day}T00:00:00+00:00");
    let (headers, series) = if *bookmark == 12345 {
        let series: Map<String, Value> = ["Viewed page", "Signed up"]
            .iter()
            .map(|event| {
                let counts: Map<String, Value> = project
                    .counts(event, from, to)
                    .into_iter()
                    .map(|(day, n)| (key(day), json!(n)))
                    .collect();
                ((*event).to_owned(), Value::Object(counts))
            })
            .collect();
        (json!(["$event"]), series)
    } else {
        let mut by_os: Map<String, Value> = Map::new();
        for os in ["Android", "iOS"] {
            let mut counts: Map<String, Value> =
                data::days(from, to).map(|d| (key(d), json!(0))).collect();
            for e in project.between(from, to) {
                if e.name == "Purchased" && e.properties.get("$os") == Some(&json!(os)) {
                    let slot = counts.entry(key(e.day())).or_insert(json!(0));
                    *slot = json!(slot.as_u64().unwrap_or(0) + 1);
                }
            }
            by_os.insert(os.to_owned(), Value::Object(counts));
        }
        let series = Map::from_iter([("Purchased".to_owned(), Value::Object(by_os))]);
        (json!(["$event", "$os"]), series)
    };
    FakeResponse::json(
        200,
        &json!({
            "computed_at": project.changed_at.to_rfc3339(),
            "date_range": {"from_date": key(from), "to_date": format!("{to}T23:59:59.999000+00:00")},
            "headers": headers,
            "series": series,
        }),
    )
}

/// `GET /api/2.0/export?from_date&to_date[&event][&limit][&time_in_ms]`: JSONL.
fn export(project: &mut Project, call: &Call<'_>) -> FakeResponse {
    let (from, to) = match range(call) {
        Ok(range) => range,
        Err(refused) => return refused,
    };
    let names: Option<Vec<String>> = match call.query("event") {
        None => None,
        Some(text) => match serde_json::from_str(&text) {
            Ok(names) => Some(names),
            Err(_) => return query_error(call, 400, "'event' must be a JSON array of event names"),
        },
    };
    let limit = match call.query("limit").map(|l| l.parse::<usize>()) {
        None => usize::MAX,
        Some(Ok(limit)) if (1..=100_000).contains(&limit) => limit,
        Some(_) => return query_error(call, 400, "'limit' must be a number from 1 to 100000"),
    };
    let in_ms = call.query("time_in_ms").as_deref() == Some("true");
    let mut body = String::new();
    for event in project
        .between(from, to)
        .into_iter()
        .filter(|e| names.as_ref().is_none_or(|names| names.contains(&e.name)))
        .take(limit)
    {
        body.push_str(&event.exported(in_ms).to_string());
        body.push('\n');
    }
    FakeResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
        body: body.into_bytes(),
    }
}

/// `POST /import?strict=1&project_id`: a batch of events, validated per event in
/// strict mode.
fn import(project: &mut Project, call: &Call<'_>) -> FakeResponse {
    let body = &call.request.body;
    if body.len() > MAX_BATCH_BYTES {
        return ERRORS.reply(
            413,
            None,
            &format!("request exceeds max limit of {MAX_BATCH_BYTES} bytes"),
        );
    }
    let ndjson = call
        .request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-ndjson"));
    let parsed: Result<Vec<Value>, _> = if ndjson {
        String::from_utf8_lossy(body)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect()
    } else {
        serde_json::from_slice(body)
    };
    let Ok(events) = parsed else {
        return ERRORS.reply(
            400,
            None,
            "unable to parse request body: expected a JSON array of events",
        );
    };
    if events.is_empty() || events.len() > MAX_BATCH_EVENTS {
        return ERRORS.reply(
            400,
            None,
            &format!("a batch holds 1 to {MAX_BATCH_EVENTS} events"),
        );
    }
    let strict = call.query("strict").as_deref() == Some("1");
    let now_ms = call.now.timestamp_millis();
    let mut failed = Vec::new();
    let mut imported = 0u64;
    for (index, event) in events.iter().enumerate() {
        match valid(event, now_ms) {
            Ok((name, time_ms, distinct_id, properties)) => {
                project.insert(&name, time_ms, &distinct_id, properties, now_ms);
                imported += 1;
            }
            Err((field, message)) => failed.push(json!({
                "index": index,
                "insert_id": event.pointer("/properties/$insert_id").cloned().unwrap_or(Value::Null),
                "field": field,
                "message": message,
            })),
        }
    }
    if imported > 0 {
        project.changed_at = call.now;
    }
    if failed.is_empty() || !strict {
        return FakeResponse::json(
            200,
            &json!({"code": 200, "num_records_imported": imported, "status": "OK"}),
        );
    }
    let mut answer = ERRORS.body(
        400,
        None,
        "Some data points in the request failed validation.",
    );
    answer["num_records_imported"] = json!(imported);
    answer["failed_records"] = Value::Array(failed);
    ERRORS.respond(400, &answer)
}

/// A valid event: its name, time (ms), distinct_id and the other properties.
type Valid = (String, i64, String, Map<String, Value>);

/// A valid event's name, time (ms), distinct_id and properties, or the field that
/// fails and why, in strict mode's words.
fn valid(event: &Value, now_ms: i64) -> Result<Valid, (&'static str, String)> {
    if event.to_string().len() > MAX_EVENT_BYTES {
        return Err(("properties", "event exceeds the max size of 1MB".into()));
    }
    let name = event
        .get("event")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or(("event", "'event' must be a non-empty string".to_owned()))?;
    let properties = event
        .get("properties")
        .and_then(Value::as_object)
        .ok_or(("properties", "'properties' must be an object".to_owned()))?;
    if properties.len() > 255 {
        return Err((
            "properties",
            "events may have at most 255 properties".into(),
        ));
    }
    let time = properties.get("time").and_then(Value::as_i64).ok_or((
        "properties.time",
        "'properties.time' is invalid: must be specified as seconds since epoch".to_owned(),
    ))?;
    // Seconds or milliseconds, told apart by magnitude; before 1971 is refused.
    let time_ms = if time > 100_000_000_000 {
        time
    } else {
        time.saturating_mul(1000)
    };
    if time_ms < 31_536_000_000 {
        return Err((
            "properties.time",
            "'properties.time' is invalid: must be after 1971-01-01".into(),
        ));
    }
    // A time in the future is the time of ingestion.
    let time_ms = time_ms.min(now_ms);
    let distinct_id = match properties.get("distinct_id") {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err((
                "properties.distinct_id",
                "'properties.distinct_id' must be specified".into(),
            ));
        }
    };
    match properties.get("$insert_id") {
        Some(Value::String(id)) if is_insert_id(id) => {}
        _ => {
            return Err((
                "properties.$insert_id",
                "'properties.$insert_id' must be a string of at most 36 alphanumeric characters or '-'"
                    .into(),
            ));
        }
    }
    let mut kept = properties.clone();
    kept.remove("time");
    kept.remove("distinct_id");
    kept.remove("token");
    Ok((name.to_owned(), time_ms, distinct_id, kept))
}

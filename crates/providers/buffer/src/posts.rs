//! The `posts` stream: Buffer's `posts` connection, per organization, paged with
//! `first`/`after` to its end, filtered by the connection's channels and statuses.
//!
//! Incremental by creation time, with the status changes caught too: a pass reads,
//! per organization, two phases — the posts **created** since the pass's start
//! (`filter.createdAt.start`), then the posts **due** since then
//! (`filter.dueAt.start`: every post still in a queue, and each one sent or failed
//! since), leaving out of the second those the first read. The next pass starts
//! [`REREAD`] before this one began. A first sync starts the lookback period back.
//!
//! The stored [`Cursor`] keeps the pass: its start, the organizations, where the walk
//! stands (organization, phase, Buffer's `endCursor`) and the scheduled posts counted
//! per channel so far, which the pass's last page gives as `queue_size` points of the
//! day (a whole count, never a page's share).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as Span, SecondsFormat, Utc};
use http::HeaderMap;
use junction_core::{AdapterError, Connection, KpiPoint, Page, ReadRequest};
use junction_toolkit::{Client, PageToken, cursor, data, graphql};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    account::{self, record},
    api::{ENDPOINT, PAGING},
    ops,
    spec::{CHANNEL_FILTER, LOOKBACK, POSTS, QUEUE_SIZE, STATUS_FILTER},
};

/// How far before a pass's start the next one reads again.
pub(crate) const REREAD: Span = Span::days(1);

/// The phase of a pass over one organization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// Posts created since the pass's `since`.
    #[default]
    Created,
    /// Posts due since `since` and created before it.
    Due,
}

/// The stored cursor of `posts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// Posts created or due from here on are read.
    since: DateTime<Utc>,
    /// When the pass began (the next pass's `since`, less [`REREAD`]); absent between
    /// passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    started: Option<DateTime<Utc>>,
    /// The organizations of the pass; empty between passes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    organizations: Vec<String>,
    #[serde(default)]
    organization: usize,
    #[serde(default)]
    phase: Phase,
    /// Buffer's `endCursor` of the page read last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// Scheduled posts per channel counted so far in the pass.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    queued: BTreeMap<String, u64>,
}

/// Reads one page of `posts` from the request's cursor.
pub(crate) async fn read(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let now = client.context().now();
    let channels = CHANNEL_FILTER.read(conn)?;
    let statuses = STATUS_FILTER.read(conn)?;
    let mut at = match cursor::read::<Cursor>(request.cursor.as_ref(), POSTS)? {
        Some(at) => at,
        None => Cursor {
            since: now - Span::days(LOOKBACK.read(conn)?),
            ..Cursor::default()
        },
    };
    if at.started.is_none() {
        at.started = Some(now);
        at.organizations = account::ids(&account::organizations(client, conn).await?);
        (at.organization, at.phase, at.after) = (0, Phase::Created, None);
        at.queued.clear();
    }
    let Some(organization) = at.organizations.get(at.organization).cloned() else {
        // An account without organizations: nothing to read this pass.
        return finish(at, Vec::new(), now, &statuses);
    };
    let size = PAGING.size.pick(request.page_size);
    let token = PageToken::from_cursor(at.after.clone());
    let variables = variables(&organization, &at, &channels, &statuses, &token, size);
    let request = graphql_request(client, variables)?;
    let fetched = client.fetch(request).await?;
    let next = PAGING.next(&token, size, &HeaderMap::new(), &fetched.body)?;
    let connection = fetched
        .body
        .pointer("/data/posts")
        .filter(|c| c.is_object())
        .ok_or_else(|| AdapterError::unavailable("malformed response body: no `posts`"))?;
    let mut records = Vec::new();
    for post in graphql::nodes(connection) {
        let fields = data::Fields::new(post, "Buffer sent a post");
        let id = fields.text("id")?;
        let created = time(&fields, "createdAt")?;
        if at.phase == Phase::Due && created.is_some_and(|created| created >= at.since) {
            continue; // read in the `created` phase
        }
        let channel = fields.text("channelId")?;
        let queued = at.queued.entry(channel).or_default();
        if post.get("status").and_then(Value::as_str) == Some("scheduled") {
            *queued += 1;
        }
        records.push(record(id, post));
    }
    match next.and_then(PageToken::into_cursor) {
        Some(after) => at.after = Some(after),
        None if at.phase == Phase::Created => (at.phase, at.after) = (Phase::Due, None),
        None => {
            at.organization += 1;
            (at.phase, at.after) = (Phase::Created, None);
            if at.organization >= at.organizations.len() {
                return finish(at, records, now, &statuses);
            }
        }
    }
    cursor::page(records, Vec::new(), &at, true)
}

/// The pass's last page: the queue sizes counted, and the cursor of the next pass.
fn finish(
    at: Cursor,
    records: Vec<junction_core::Record>,
    now: DateTime<Utc>,
    statuses: &[String],
) -> Result<Page, AdapterError> {
    // A filter without `scheduled` reads no queue: no count is better than zeros.
    let counted = statuses.is_empty() || statuses.iter().any(|s| s == "scheduled");
    let today = now.date_naive();
    let kpis = if counted {
        at.queued
            .iter()
            .map(|(channel, count)| {
                KpiPoint::total(QUEUE_SIZE, today, *count as f64).with_dimension("channel", channel)
            })
            .collect()
    } else {
        Vec::new()
    };
    let started = at.started.unwrap_or(now);
    let next = Cursor {
        since: (started - REREAD).max(at.since),
        ..Cursor::default()
    };
    cursor::page(records, kpis, &next, false)
}

/// The variables of one page: the organization, the phase's filter and sort, the
/// paging.
fn variables(
    organization: &str,
    at: &Cursor,
    channels: &[String],
    statuses: &[String],
    token: &PageToken,
    size: u32,
) -> Value {
    let since = at.since.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut filter = Map::new();
    if !channels.is_empty() {
        filter.insert("channelIds".into(), json!(channels));
    }
    if !statuses.is_empty() {
        filter.insert("status".into(), json!(statuses));
    }
    let field = match at.phase {
        Phase::Created => "createdAt",
        Phase::Due => "dueAt",
    };
    filter.insert(field.into(), json!({ "start": since }));
    let mut variables = PAGING.variables(token, size);
    variables["input"] = json!({
        "organizationId": organization,
        "filter": filter,
        "sort": [{ "field": field, "direction": "asc" }],
    });
    variables
}

/// The `Posts` request with `variables`.
fn graphql_request(
    client: &Client<'_>,
    variables: Value,
) -> Result<reqwest::RequestBuilder, AdapterError> {
    Ok(client
        .request(http::Method::POST, ENDPOINT)?
        .json(&graphql::body(ops::POSTS, variables)))
}

/// An optional ISO time of a post; malformed is `Unavailable` naming the field.
pub(crate) fn time(
    fields: &data::Fields<'_>,
    field: &str,
) -> Result<Option<DateTime<Utc>>, AdapterError> {
    match fields.get(field).and_then(Value::as_str) {
        None => Ok(None),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map(|at| Some(at.to_utc()))
            .map_err(|_| fields.malformed(field, "is not an ISO time")),
    }
}

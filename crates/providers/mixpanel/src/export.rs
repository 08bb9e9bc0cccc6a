//! The `events` stream: Mixpanel's raw event export, `GET
//! https://data.mixpanel.com/api/2.0/export?project_id&from_date&to_date`, whose
//! answer is JSONL — one event (`{"event", "properties"}`) per line.
//!
//! The export has no paging, so a page is one day (`from_date` = `to_date`): the
//! first sync reads the lookback period day by day, later ones start
//! [`REREAD_DAYS`] before the last day read, as events still arrive late. Each day
//! is one query of the export's 60 an hour (its other limits: 3 a second, 100 at
//! once), all metered by the provider's shared budget.
//!
//! An event's record id is derived from what Mixpanel deduplicates by — event
//! name, `time`, `distinct_id` and `$insert_id` — so a duplicate the export still
//! carries becomes one record (the last one read, as Mixpanel keeps the latest).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use http::Method;
use junction_core::{AdapterError, Connection, Page, ReadRequest, Record};
use junction_toolkit::{
    Client, PageToken,
    cursor::{self, WindowCursor, WindowRead},
    webhook::derived_id,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::spec::{EVENTS, EXPORT_EVENTS, LOOKBACK, PROJECT_ID};

/// Days a pass re-reads before the last day the previous one read.
pub(crate) const REREAD_DAYS: i64 = 1;

/// The most bytes one day's export may take; beyond, the events to export must be
/// narrowed (`export_events`).
pub const MAX_DAY_BYTES: usize = 256 * 1024 * 1024;

/// The stored cursor of `events`: the window's first day, and while paging through
/// it, its last day and the day to read next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    start: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    day: Option<NaiveDate>,
}

impl WindowCursor for Cursor {
    fn window(&self) -> (NaiveDate, Option<NaiveDate>, PageToken) {
        let page = match self.day {
            Some(day) => PageToken::Cursor(day.to_string()),
            None => PageToken::First,
        };
        (self.start, self.end, page)
    }

    fn at(start: NaiveDate, end: Option<NaiveDate>, page: PageToken) -> Self {
        let day = match page {
            PageToken::Cursor(day) => day.parse().ok(),
            _ => None,
        };
        Self { start, end, day }
    }
}

/// Reads one day of the export.
pub(crate) async fn read(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let today = client.context().now().date_naive();
    let lookback = LOOKBACK.read_u32(conn)?;
    let plan = WindowRead::plan::<Cursor>(request.cursor.as_ref(), EVENTS, today, lookback)?;
    let day = match &plan.page {
        PageToken::Cursor(day) => day.parse::<NaiveDate>().map_err(|_| {
            AdapterError::invalid_field("cursor", "is not a cursor of the `events` stream")
        })?,
        _ => plan.days.start,
    };
    let project = PROJECT_ID.require(conn)?;
    let events = EXPORT_EVENTS.read(conn)?;
    let date = day.format("%Y-%m-%d").to_string();
    let mut http = client.request(Method::GET, "export")?.query(&[
        ("project_id", project.as_str()),
        ("from_date", date.as_str()),
        ("to_date", date.as_str()),
    ]);
    if !events.is_empty() {
        let list = serde_json::to_string(&events).map_err(|_| {
            AdapterError::invalid_field(EXPORT_EVENTS.text.name, "cannot be encoded")
        })?;
        http = http.query(&[("event", list)]);
    }
    let body = download(client, http).await?;
    let records = parse(&body)?;
    let following =
        (day < plan.days.end).then(|| PageToken::Cursor((day + chrono::Days::new(1)).to_string()));
    let next_start = (plan.days.end - chrono::Duration::days(REREAD_DAYS)).max(plan.days.start);
    let (next, more) = plan.advance::<Cursor>(following, next_start);
    cursor::page(records, Vec::new(), &next, more)
}

/// The export's answer, whole, at most [`MAX_DAY_BYTES`].
async fn download(
    client: &Client<'_>,
    request: reqwest::RequestBuilder,
) -> Result<Vec<u8>, AdapterError> {
    let mut response = client.send(request).await?;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| AdapterError::unavailable("Mixpanel's export was cut off"))?
    {
        if body.len() + chunk.len() > MAX_DAY_BYTES {
            return Err(AdapterError::invalid_field(
                EXPORT_EVENTS.text.name,
                format!(
                    "one day of the export is larger than {} MiB: list the events to export",
                    MAX_DAY_BYTES / (1024 * 1024)
                ),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The events of a JSONL body as records, one per identity (the last wins). A line
/// that is not an event makes the answer malformed (`Unavailable`: a transfer cut
/// short reads this way), quoting nothing of it.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<Record>, AdapterError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| AdapterError::unavailable("malformed export: not UTF-8"))?;
    let mut records: BTreeMap<String, (usize, Record)> = BTreeMap::new();
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let event: Value = serde_json::from_str(line).map_err(|_| {
            AdapterError::unavailable(format!(
                "malformed export: line {} is not JSON",
                line_no + 1
            ))
        })?;
        let record = record(event).ok_or_else(|| {
            AdapterError::unavailable(format!(
                "malformed export: line {} is not an event with a name and properties",
                line_no + 1
            ))
        })?;
        let order = records
            .get(&record.external_id)
            .map_or(line_no, |(order, _)| *order);
        records.insert(record.external_id.clone(), (order, record));
    }
    let mut records: Vec<(usize, Record)> = records.into_values().collect();
    records.sort_by_key(|(order, _)| *order);
    Ok(records.into_iter().map(|(_, record)| record).collect())
}

/// An exported event as its record.
fn record(event: Value) -> Option<Record> {
    let name = event.get("event")?.as_str()?;
    let properties = event.get("properties")?.as_object()?;
    let text = |key: &str| match properties.get(key) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let time = text("time");
    if time.is_empty() {
        return None;
    }
    let external_id = derived_id(
        "",
        &[name, &time, &text("distinct_id"), &text("$insert_id")],
    );
    let modified_at = properties
        .get("mp_processing_time_ms")
        .and_then(Value::as_i64)
        .and_then(DateTime::<Utc>::from_timestamp_millis);
    Some(Record {
        external_id,
        data: event,
        modified_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_sample_parses_and_duplicates_collapse() {
        let body = concat!(
            r#"{"event":"Signed up","properties":{"time":1602611311,"$insert_id":"hpuDqcvpltpCjBsebtxwadtEBDnFAdycabFb","mp_processing_time_ms":1602625711874}}"#,
            "\n",
            r#"{"event":"Signed up","properties":{"time":1602787121,"$insert_id":"jajcebutltmvhbbholfhxtCcycwnBjDtndha","mp_processing_time_ms":1602801521561}}"#,
            "\n",
            r#"{"event":"Signed up","properties":{"time":1602611311,"$insert_id":"hpuDqcvpltpCjBsebtxwadtEBDnFAdycabFb","mp_processing_time_ms":1602625799999}}"#,
            "\n"
        );
        let records = parse(body.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        // The later copy wins, in the first copy's place.
        assert_eq!(
            records[0].data["properties"]["mp_processing_time_ms"],
            1602625799999_i64
        );
        assert_eq!(records[0].external_id.len(), 64);
        assert!(parse(b"{\"event\":\"x\"}\n").is_err());
        assert!(parse(b"{\"event\":\"x\",\"prop").is_err());
        assert!(parse(b"").unwrap().is_empty());
    }
}

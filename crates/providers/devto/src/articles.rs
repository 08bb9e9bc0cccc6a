//! The `articles` stream: `GET /api/articles/me/all`, every article of the user
//! (unpublished first, newest created first, then published ones, newest first),
//! page by page to the end. Each article is a record (as Forem sent it, with a
//! `state` of `published`, `scheduled` or `unpublished`) and KPI gauges: its page
//! views, reactions and comments as of the sync, on the sync's day.
//!
//! Forem keeps running totals only, so the daily change is derived from successive
//! snapshots kept in the stored [`Cursor`]: `today` holds each article's counts as
//! the passes of the current day saw them, `before` each article's counts as last
//! seen on an earlier day. The change of an article on a day is its counts now
//! minus `before`: the change since the last snapshot of an earlier day, which is
//! the day's change when syncs run every day, and a few days' change after a gap
//! (days without a sync have no point; the sums over any period still add up to
//! the change over it). An article Junction has not seen on an earlier day has no
//! change point yet (not zero). Totals over every article are written on a pass's
//! last page, when the pass has read them all.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use junction_core::{AdapterError, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{Client, PageToken, cursor, data};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    api::{MY_ARTICLES, PAGING},
    spec::{
        ARTICLES, COMMENTS, COMMENTS_CHANGE, PAGE_VIEWS, PAGE_VIEWS_CHANGE, REACTIONS,
        REACTIONS_CHANGE,
    },
};

/// An article's counts at one snapshot: page views, reactions, comments (`None`
/// when Forem did not send the count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Counts(Option<u64>, Option<u64>, Option<u64>);

impl Counts {
    fn values(self) -> [Option<u64>; 3] {
        [self.0, self.1, self.2]
    }
}

/// The gauge and the change metric of each count, in [`Counts`] order.
const METRICS: [(&str, &str); 3] = [
    (PAGE_VIEWS, PAGE_VIEWS_CHANGE),
    (REACTIONS, REACTIONS_CHANGE),
    (COMMENTS, COMMENTS_CHANGE),
];

/// The stored cursor of `articles`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// The next page of the pass under way; absent between passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<u64>,
    /// The day of the latest pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    day: Option<NaiveDate>,
    /// Each article's counts as the latest pass (of `day`) saw them, by id.
    #[serde(default)]
    today: BTreeMap<String, Counts>,
    /// Each article's counts as last seen on a day before `day`, by id.
    #[serde(default)]
    before: BTreeMap<String, Counts>,
}

impl Cursor {
    /// The cursor at the start of a pass on `day`: the counts of an earlier day
    /// become the baseline, and this pass collects today's afresh.
    fn start(mut self, day: NaiveDate) -> Self {
        if self.day.is_some_and(|last| last < day) {
            let seen = std::mem::take(&mut self.today);
            self.before.extend(seen);
        }
        self.today.clear();
        Self {
            page: None,
            day: Some(day),
            ..self
        }
    }
}

/// Reads one page of `articles` from the request's cursor.
pub(crate) async fn read(client: &Client<'_>, request: &ReadRequest) -> Result<Page, AdapterError> {
    let now = client.context().now();
    let day = now.date_naive();
    let stored = cursor::read::<Cursor>(request.cursor.as_ref(), ARTICLES)?.unwrap_or_default();
    let mut cursor = match stored.page {
        Some(_) if stored.day == Some(day) => stored,
        // A pass left on an earlier day starts over: its counts are not today's.
        _ => stored.start(day),
    };
    let token = cursor.page.map_or(PageToken::First, PageToken::Page);
    let size = PAGING.size.pick(request.page_size);
    let page = client.list_page(MY_ARTICLES, &PAGING, &token, size).await?;
    let mut kpis = Vec::new();
    let mut records = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let (record, counts) = map_article(item, now)?;
        kpis.extend(points(
            day,
            Some(&record.external_id),
            counts,
            cursor.before.get(&record.external_id).copied(),
        ));
        cursor.today.insert(record.external_id.clone(), counts);
        records.push(record);
    }
    let has_more = match page.next {
        Some(PageToken::Page(next)) => {
            cursor.page = Some(next);
            true
        }
        _ => {
            cursor.page = None;
            kpis.extend(totals(day, &cursor));
            false
        }
    };
    cursor::page(records, kpis, &cursor, has_more)
}

/// An article as its record and counts. A malformed article is `Unavailable`,
/// naming the field without quoting its value.
fn map_article(item: &Value, now: DateTime<Utc>) -> Result<(Record, Counts), AdapterError> {
    let fields = data::Fields::new(item, "DEV sent an article");
    let id = data::text(fields.get("id")).ok_or_else(|| fields.malformed("id", "is missing"))?;
    let count = |name: &str| -> Result<Option<u64>, AdapterError> {
        fields
            .number(name)?
            .map(|n| {
                (n >= 0.0 && n.fract() == 0.0)
                    .then_some(n as u64)
                    .ok_or_else(|| fields.malformed(name, "is not a count"))
            })
            .transpose()
    };
    let counts = Counts(
        count("page_views_count")?,
        count("public_reactions_count")?,
        count("comments_count")?,
    );
    let mut data = item.clone();
    data["state"] = json!(state(&fields, now)?);
    let record = Record {
        external_id: id,
        data,
        modified_at: None,
    };
    Ok((record, counts))
}

/// `published`, `scheduled` (published with a publication time still to come) or
/// `unpublished` (a draft).
fn state(fields: &data::Fields<'_>, now: DateTime<Utc>) -> Result<&'static str, AdapterError> {
    let published = match fields.get("published") {
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(fields.malformed("published", "is not true or false")),
        // Forem's `me` lists always say; without it, a publication time says it.
        None => fields.get("published_at").is_some(),
    };
    if !published {
        return Ok("unpublished");
    }
    let at = match fields.get("published_at").and_then(Value::as_str) {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| fields.malformed("published_at", "is not an RFC 3339 time"))?,
        ),
        None => None,
    };
    Ok(match at {
        Some(at) if at > now => "scheduled",
        _ => "published",
    })
}

/// The gauges of `counts` on `day`, and their change since `before` when Junction
/// has a snapshot of an earlier day. `article` is the dimension (none for totals).
fn points(
    day: NaiveDate,
    article: Option<&str>,
    counts: Counts,
    before: Option<Counts>,
) -> Vec<KpiPoint> {
    let mut points = Vec::new();
    let before = before.map(Counts::values);
    for (i, ((gauge, change), value)) in METRICS.iter().zip(counts.values()).enumerate() {
        let Some(value) = value else { continue };
        let mut found = vec![KpiPoint::total(*gauge, day, value as f64)];
        if let Some(Some(earlier)) = before.map(|b| b[i]) {
            found.push(KpiPoint::total(*change, day, value as f64 - earlier as f64));
        }
        points.extend(found.into_iter().map(|point| match article {
            Some(id) => point.with_dimension("article", id),
            None => point,
        }));
    }
    points
}

/// The day's totals over every article the pass read: each gauge, and each change
/// over the articles with an earlier snapshot.
fn totals(day: NaiveDate, cursor: &Cursor) -> Vec<KpiPoint> {
    let mut points = Vec::new();
    for (i, (gauge, change)) in METRICS.iter().enumerate() {
        let known: Vec<(&String, u64)> = cursor
            .today
            .iter()
            .filter_map(|(id, counts)| counts.values()[i].map(|v| (id, v)))
            .collect();
        if known.is_empty() {
            continue;
        }
        let total: u64 = known.iter().map(|(_, v)| v).sum();
        points.push(KpiPoint::total(*gauge, day, total as f64));
        let changes: Vec<f64> = known
            .iter()
            .filter_map(|(id, value)| {
                let earlier = cursor.before.get(*id)?.values()[i]?;
                Some(*value as f64 - earlier as f64)
            })
            .collect();
        if !changes.is_empty() {
            points.push(KpiPoint::total(*change, day, changes.iter().sum()));
        }
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn a_new_day_makes_the_last_snapshot_the_baseline() {
        let mut cursor = Cursor::default().start(day(1));
        cursor
            .today
            .insert("1".into(), Counts(Some(10), Some(1), Some(0)));
        // A second pass the same day keeps the (empty) baseline.
        let same = cursor.clone().start(day(1));
        assert!(same.before.is_empty() && same.today.is_empty());
        let next = cursor.start(day(2));
        assert_eq!(next.before["1"], Counts(Some(10), Some(1), Some(0)));
        assert!(next.today.is_empty());
    }

    #[test]
    fn changes_need_an_earlier_snapshot() {
        let counts = Counts(Some(15), Some(3), None);
        let first = points(day(2), Some("1"), counts, None);
        assert_eq!(first.len(), 2);
        let later = points(
            day(2),
            Some("1"),
            counts,
            Some(Counts(Some(10), Some(1), Some(0))),
        );
        let change: Vec<(&str, f64)> = later
            .iter()
            .filter(|p| p.metric.ends_with("_change"))
            .map(|p| (p.metric.as_str(), p.value))
            .collect();
        assert_eq!(change, [(PAGE_VIEWS_CHANGE, 5.0), (REACTIONS_CHANGE, 2.0)]);
    }
}

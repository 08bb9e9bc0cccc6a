//! The fake's project: seeded events, imported ones, and the reports Mixpanel
//! computes from them (segmentation counts, funnels, retention, saved Insights
//! reports) — all from the same events, so the KPIs agree with the raw export.
//!
//! The seed is deterministic: [`USERS`] users over [`SEED_DAYS`] days back from the
//! day the fake first answers, each signing up on a day of their own, viewing pages
//! on a rhythm of their own and sometimes purchasing.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Map, Value, json};

/// Days of seeded events, back from the seeding day (inclusive).
pub const SEED_DAYS: i64 = 45;

/// Seeded users.
pub const USERS: usize = 24;

/// The seeded saved funnels: id, name, steps.
pub const FUNNELS: [(u64, &str, &[&str]); 2] = [
    (
        7509,
        "Signup funnel",
        &["Viewed page", "Signed up", "Purchased"],
    ),
    (9070, "Purchase funnel", &["Viewed page", "Purchased"]),
];

/// Days a funnel's users have to complete it.
const FUNNEL_WINDOW_DAYS: i64 = 7;

/// The seeded saved Insights reports: bookmark id and name.
pub const BOOKMARKS: [(u64, &str); 2] = [(12345, "Daily activity"), (23456, "Purchases by OS")];

/// Mixpanel's deduplication key: event, time (ms), distinct_id, `$insert_id`.
pub type Key = (String, i64, String, String);

/// One stored event: its time in milliseconds and its properties as sent.
#[derive(Debug, Clone)]
pub struct Event {
    pub name: String,
    pub time_ms: i64,
    pub distinct_id: String,
    pub properties: Map<String, Value>,
    /// When Mixpanel processed it (ms), as the export reports.
    pub processed_ms: i64,
}

impl Event {
    pub fn day(&self) -> NaiveDate {
        DateTime::<Utc>::from_timestamp_millis(self.time_ms)
            .unwrap_or_default()
            .date_naive()
    }

    /// The event as the export writes it: `time` in seconds (or ms on request).
    pub fn exported(&self, time_in_ms: bool) -> Value {
        let mut properties = self.properties.clone();
        let time = if time_in_ms {
            self.time_ms
        } else {
            self.time_ms / 1000
        };
        properties.insert("time".into(), json!(time));
        properties.insert("distinct_id".into(), json!(self.distinct_id));
        properties.insert("mp_processing_time_ms".into(), json!(self.processed_ms));
        json!({"event": self.name, "properties": properties})
    }
}

/// The project's events, one per deduplication key (the latest ingested wins).
#[derive(Debug, Default)]
pub struct Project {
    pub events: BTreeMap<Key, Event>,
    /// When the events last changed: what a report's `computed_at` says (Mixpanel
    /// serves a report from its cache until the data changes).
    pub changed_at: DateTime<Utc>,
}

impl Project {
    /// The seeded project as of `now`.
    pub fn seed(now: DateTime<Utc>) -> Self {
        let today = now.date_naive();
        let mut project = Self {
            changed_at: now,
            ..Self::default()
        };
        for user in 0..USERS {
            let distinct_id = format!("user-{:02}", user + 1);
            let os = if user % 2 == 0 { "iOS" } else { "Android" };
            let signup = today - Duration::days((user as i64 * 5) % (SEED_DAYS - 5) + 1);
            for back in 0..SEED_DAYS {
                let day = today - Duration::days(back);
                if day < signup {
                    continue;
                }
                let n = day.to_string().bytes().map(u64::from).sum::<u64>() as usize + user;
                let mut add = |name: &str, hour: i64| {
                    let start = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
                    let time =
                        start + Duration::hours(hour) + Duration::minutes((user * 7 % 60) as i64);
                    let insert_id = format!("seed-{user}-{day}-{hour}");
                    let mut properties = Map::new();
                    properties.insert("$insert_id".into(), json!(insert_id));
                    properties.insert("$os".into(), json!(os));
                    properties.insert("mp_lib".into(), json!("sandbox"));
                    project.insert(
                        name,
                        time.timestamp_millis(),
                        &distinct_id,
                        properties,
                        time.timestamp_millis() + 60_000,
                    );
                };
                if day == signup {
                    add("Viewed page", 8);
                    add("Signed up", 9);
                    if user % 2 == 0 {
                        add("Purchased", 10);
                    }
                } else if n.is_multiple_of(3) {
                    add("Viewed page", 11);
                    if n.is_multiple_of(2) {
                        add("Viewed page", 15);
                    }
                    if n.is_multiple_of(4) {
                        add("Purchased", 16);
                    }
                }
            }
        }
        project
    }

    /// Stores an event under its deduplication key: a duplicate replaces the older.
    pub fn insert(
        &mut self,
        name: &str,
        time_ms: i64,
        distinct_id: &str,
        properties: Map<String, Value>,
        processed_ms: i64,
    ) {
        let insert_id = properties
            .get("$insert_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let key = (name.to_owned(), time_ms, distinct_id.to_owned(), insert_id);
        self.events.insert(
            key,
            Event {
                name: name.to_owned(),
                time_ms,
                distinct_id: distinct_id.to_owned(),
                properties,
                processed_ms,
            },
        );
    }

    /// The events of the days `from..=to`, by time.
    pub fn between(&self, from: NaiveDate, to: NaiveDate) -> Vec<&Event> {
        let mut events: Vec<&Event> = self
            .events
            .values()
            .filter(|e| (from..=to).contains(&e.day()))
            .collect();
        events.sort_by(|a, b| (a.time_ms, &a.distinct_id).cmp(&(b.time_ms, &b.distinct_id)));
        events
    }

    /// Segmentation: `event`'s count per day of `from..=to` (zero included).
    pub fn counts(&self, event: &str, from: NaiveDate, to: NaiveDate) -> BTreeMap<NaiveDate, u64> {
        let mut counts: BTreeMap<NaiveDate, u64> = days(from, to).map(|d| (d, 0)).collect();
        for e in self
            .between(from, to)
            .into_iter()
            .filter(|e| e.name == event)
        {
            *counts.entry(e.day()).or_default() += 1;
        }
        counts
    }

    /// A funnel by entry day: for each day, each step's users (those who did the
    /// steps in order, starting that day, within the window).
    pub fn funnel(
        &self,
        steps: &[&str],
        from: NaiveDate,
        to: NaiveDate,
    ) -> BTreeMap<NaiveDate, Vec<u64>> {
        let mut out = BTreeMap::new();
        for day in days(from, to) {
            let mut reached = vec![0u64; steps.len()];
            let entrants: BTreeSet<&str> = self
                .between(day, day)
                .into_iter()
                .filter(|e| Some(&e.name.as_str()) == steps.first())
                .map(|e| e.distinct_id.as_str())
                .collect();
            for user in entrants {
                let mine: Vec<&Event> = self
                    .between(day, day + Duration::days(FUNNEL_WINDOW_DAYS))
                    .into_iter()
                    .filter(|e| e.distinct_id == user)
                    .collect();
                let mut at = i64::MIN;
                for (k, step) in steps.iter().enumerate() {
                    let next = mine
                        .iter()
                        .find(|e| e.name == *step && e.time_ms >= at && (k > 0 || e.day() == day));
                    match next {
                        Some(e) => {
                            reached[k] += 1;
                            at = e.time_ms;
                        }
                        None => break,
                    }
                }
            }
            out.insert(day, reached);
        }
        out
    }

    /// Retention by cohort day: `(cohort size, users back on each day after)`, the
    /// days after `today` left out. `born`: first-time (birth) retention of that
    /// event; none: recurring retention of any activity. `event`: what counts as
    /// coming back (any event when none).
    pub fn retention(
        &self,
        born: Option<&str>,
        event: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
        intervals: i64,
        today: NaiveDate,
    ) -> BTreeMap<NaiveDate, (u64, Vec<u64>)> {
        let returning = |e: &&Event| event.is_none_or(|name| e.name == name);
        // Each user's first day of the born event (birth), or every active day.
        let mut first: BTreeMap<&str, NaiveDate> = BTreeMap::new();
        if let Some(born) = born {
            for e in self.events.values().filter(|e| e.name == born) {
                let day = first.entry(e.distinct_id.as_str()).or_insert(e.day());
                *day = (*day).min(e.day());
            }
        }
        let active = |user: &str, day: NaiveDate| {
            self.between(day, day)
                .iter()
                .any(|e| e.distinct_id == user && returning(e))
        };
        let mut out = BTreeMap::new();
        for day in days(from, to) {
            let cohort: BTreeSet<&str> = match born {
                Some(_) => first
                    .iter()
                    .filter(|(_, d)| **d == day)
                    .map(|(u, _)| *u)
                    .collect(),
                None => self
                    .between(day, day)
                    .into_iter()
                    .filter(|e| returning(e))
                    .map(|e| e.distinct_id.as_str())
                    .collect(),
            };
            if cohort.is_empty() {
                continue;
            }
            let counts = (0..=intervals)
                .map(|p| day + Duration::days(p))
                .take_while(|d| *d <= today)
                .map(|d| cohort.iter().filter(|u| active(u, d)).count() as u64)
                .collect();
            out.insert(day, (cohort.len() as u64, counts));
        }
        out
    }
}

/// The days `from..=to`.
pub fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days().take_while(move |d| *d <= to)
}

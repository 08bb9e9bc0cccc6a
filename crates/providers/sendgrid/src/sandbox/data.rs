//! The fake's seeded data: [`ITEM_COUNT`] items of the Sendgrid sandbox
//! account, one created each day back from today, so a sync's lookback always finds
//! them. The same day gives the same items.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

/// How many items the fake holds.
pub const ITEM_COUNT: usize = 12;

/// The items as of `now`, newest first.
pub(super) fn items(now: DateTime<Utc>) -> Vec<Value> {
    let today = now.date_naive();
    (0..ITEM_COUNT)
        .map(|i| {
            let created = today - Duration::days(i as i64);
            json!({
                "id": format!("item_{:02}", ITEM_COUNT - i),
                "name": format!("Item {}", ITEM_COUNT - i),
                "created_at": format!("{created}T09:30:00Z"),
                "value": ((ITEM_COUNT - i) * 25) as f64 / 2.0,
            })
        })
        .collect()
}

/// Whether `text` is a day, `YYYY-MM-DD`.
pub(super) fn is_day(text: &str) -> bool {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

//! The fake's deterministic traffic: what a GA4 property "measured" on a day, per
//! country and channel, as a pure function of the property id, the date and those
//! dimension values. The same request therefore always gets the same numbers, and
//! totals are consistent: a day's sessions equal the sum of its per-country sessions.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, Weekday};
use junction_toolkit::fake::{Data, fill};
use serde_json::Value;

/// What the fake knows of GA4's schema, and the values of its dimensions with their
/// shares of traffic (`countries`, `channels`).
pub(crate) static SCHEMA: Data = Data::new(include_str!("schema.json"));

/// Google's words (`errors.json`).
pub(crate) static WORDS: Data = Data::new(include_str!("errors.json"));

/// A request the API refuses with 400 `INVALID_ARGUMENT`, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidArgument(pub String);

/// GA4's words for the refusal `name` (`errors.json`, `/arguments`), `vars` filled.
pub(crate) fn invalid(name: &str, vars: Value) -> InvalidArgument {
    let message = fill(WORDS.at(&format!("/arguments/{name}")), &vars);
    InvalidArgument(message.as_str().unwrap_or(name).to_owned())
}

/// Counts measured in one cell (a day, a country, a channel) or summed over cells,
/// by GA4 metric name; `revenueCents`, `purchaseRevenueCents`, `itemRevenueCents`
/// and `sessionSeconds` are what the revenues and the average session duration are
/// computed from.
pub(crate) type Totals = BTreeMap<&'static str, u64>;

/// One cell's counts.
pub(crate) fn cell(property: &str, date: NaiveDate, country: usize, channel: usize) -> Totals {
    cell_of_day(
        property,
        date,
        &date.format("%Y%m%d").to_string(),
        country,
        channel,
    )
}

/// [`cell`] with the date's `YYYYMMDD` text given (a report formats each day once,
/// not once per cell).
pub(crate) fn cell_of_day(
    property: &str,
    date: NaiveDate,
    day: &str,
    country: usize,
    channel: usize,
) -> Totals {
    let share = |table: &str, at: usize| {
        SCHEMA
            .list(table)
            .get(at)
            .map_or(0.0, |c| c[1].as_f64().unwrap_or(0.0))
    };
    let (country_key, channel_key) = (country.to_string(), channel.to_string());
    // Every number of the cell hashes the same four parts first: hashed once.
    let prefix = Fnv::new().parts(&[property, day, &country_key, &channel_key]);
    let of_cell = |aspect: &str| prefix.parts(&[aspect]).finish();
    // A uniform number in [0, 1) for one aspect of this cell.
    let unit = |aspect: &str| to_unit(of_cell(aspect));

    // Daily sessions of the whole property: between 300 and 5,000.
    let property_scale = 300.0 + (hash(&[property, "scale"]) % 4_700) as f64;
    let weekday = match date.weekday() {
        Weekday::Sat => 0.78,
        Weekday::Sun => 0.72,
        Weekday::Mon => 1.05,
        _ => 1.0,
    };
    let noise = 0.7 + 0.6 * unit("noise");
    let (country_share, channel_share) =
        (share("/countries", country), share("/channels", channel));
    let sessions = round(property_scale * country_share * channel_share * weekday * noise);
    let of_sessions = |low: f64, spread: f64, aspect: &str| {
        round(sessions as f64 * (low + spread * unit(aspect)))
    };
    let total_users = of_sessions(0.72, 0.18, "users");
    let key_events = of_sessions(0.01, 0.05, "key_events");
    let page_views = of_sessions(1.4, 2.6, "views");
    // Between $15 and $120 per key event.
    let order = 1_500 + of_cell("order") % 10_500;
    // Purchases are some of the key events; each has one to three items.
    let transactions = round(key_events as f64 * (0.3 + 0.4 * unit("transactions")));
    let items = transactions * (1 + of_cell("items") % 3);
    Totals::from([
        ("sessions", sessions),
        ("totalUsers", total_users),
        (
            "activeUsers",
            round(total_users as f64 * (0.93 + 0.07 * unit("active"))),
        ),
        (
            "newUsers",
            round(total_users as f64 * (0.25 + 0.35 * unit("new_users"))),
        ),
        ("engagedSessions", of_sessions(0.45, 0.30, "engaged")),
        ("keyEvents", key_events),
        ("revenueCents", key_events * order),
        ("transactions", transactions),
        ("purchaseRevenueCents", transactions * order),
        ("itemRevenueCents", transactions * order),
        ("itemsPurchased", items),
        ("screenPageViews", page_views),
        (
            "eventCount",
            round(page_views as f64 * (2.0 + 2.0 * unit("events"))),
        ),
        ("sessionSeconds", of_sessions(45.0, 200.0, "duration")),
    ])
}

fn round(value: f64) -> u64 {
    // Values are small non-negative numbers; the cast saturates anyway.
    value.round().max(0.0) as u64
}

/// A uniform number in [0, 1) derived from `parts`.
pub(crate) fn unit_interval(parts: &[&str]) -> f64 {
    to_unit(hash(parts))
}

fn to_unit(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// A stable 64-bit hash of `parts` (FNV-1a, then the SplitMix64 finalizer to spread
/// the bits). `std`'s hasher may change between Rust releases; the fake's numbers
/// must not.
fn hash(parts: &[&str]) -> u64 {
    Fnv::new().parts(parts).finish()
}

/// The FNV-1a state of [`hash`] part way: parts hashed so far, each followed by a
/// 0xff byte. A copy continues from a shared prefix.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn parts(self, parts: &[&str]) -> Self {
        let mut h = self.0;
        for part in parts {
            for byte in part.bytes().chain(std::iter::once(0xff)) {
                h ^= u64::from(byte);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        Self(h)
    }

    /// The SplitMix64 finalizer over the state.
    fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 30;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 27;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_deterministic_and_plausible() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        assert_eq!(cell("123", date, 0, 0), cell("123", date, 0, 0));
        assert_ne!(cell("123", date, 0, 0), cell("124", date, 0, 0));
        let mut day = Totals::new();
        for country in 0..SCHEMA.list("/countries").len() {
            for channel in 0..SCHEMA.list("/channels").len() {
                let c = cell("123", date, country, channel);
                assert!(c["totalUsers"] <= c["sessions"] && c["newUsers"] <= c["totalUsers"]);
                assert!(c["engagedSessions"] <= c["sessions"] && c["keyEvents"] <= c["sessions"]);
                for (name, count) in c {
                    *day.entry(name).or_default() += count;
                }
            }
        }
        assert!((150..=7_000).contains(&day["sessions"]), "{day:?}");
    }

    #[test]
    fn shares_add_up() {
        let sum = |table: &str| {
            let shares = SCHEMA.list(table).iter().map(|s| s[1].as_f64().unwrap());
            shares.sum::<f64>()
        };
        assert!((sum("/countries") - 1.0).abs() < 1e-9);
        assert!((sum("/channels") - 1.0).abs() < 1e-9);
    }
}

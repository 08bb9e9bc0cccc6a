//! The fake's deterministic traffic: what a GA4 property "measured" on a day, per
//! country and channel, as a pure function of the property id, the date and those
//! dimension values. The same request therefore always gets the same numbers, and
//! totals are consistent: a day's sessions equal the sum of its per-country sessions.

use chrono::{Datelike, NaiveDate, Weekday};

/// Values of the `country` dimension (GA4 reports country names), with their share
/// of traffic.
pub(crate) const COUNTRIES: [(&str, f64); 8] = [
    ("United States", 0.38),
    ("United Kingdom", 0.12),
    ("Germany", 0.10),
    ("India", 0.10),
    ("Canada", 0.08),
    ("France", 0.08),
    ("Brazil", 0.07),
    ("Japan", 0.07),
];

/// Values of `sessionDefaultChannelGroup`, with their share of traffic.
pub(crate) const CHANNELS: [(&str, f64); 7] = [
    ("Organic Search", 0.38),
    ("Direct", 0.24),
    ("Paid Search", 0.12),
    ("Organic Social", 0.10),
    ("Referral", 0.08),
    ("Email", 0.05),
    ("Paid Social", 0.03),
];

/// Counts measured in one cell (a day, a country, a channel) or summed over cells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Totals {
    pub sessions: u64,
    pub total_users: u64,
    pub active_users: u64,
    pub new_users: u64,
    pub engaged_sessions: u64,
    pub key_events: u64,
    pub revenue_cents: u64,
    pub page_views: u64,
    pub event_count: u64,
    pub session_seconds: u64,
}

impl Totals {
    pub(crate) fn add(&mut self, other: &Totals) {
        self.sessions += other.sessions;
        self.total_users += other.total_users;
        self.active_users += other.active_users;
        self.new_users += other.new_users;
        self.engaged_sessions += other.engaged_sessions;
        self.key_events += other.key_events;
        self.revenue_cents += other.revenue_cents;
        self.page_views += other.page_views;
        self.event_count += other.event_count;
        self.session_seconds += other.session_seconds;
    }
}

/// One cell's counts.
pub(crate) fn cell(property: &str, date: NaiveDate, country: usize, channel: usize) -> Totals {
    let day = date.format("%Y%m%d").to_string();
    let country_share = COUNTRIES.get(country).map_or(0.0, |c| c.1);
    let channel_share = CHANNELS.get(channel).map_or(0.0, |c| c.1);
    let (country_key, channel_key) = (country.to_string(), channel.to_string());
    // A uniform number in [0, 1) for one aspect of this cell.
    let unit = |aspect: &str| unit_interval(&[property, &day, &country_key, &channel_key, aspect]);

    // Daily sessions of the whole property: between 300 and 5,000.
    let property_scale = 300.0 + (hash(&[property, "scale"]) % 4_700) as f64;
    let weekday = match date.weekday() {
        Weekday::Sat => 0.78,
        Weekday::Sun => 0.72,
        Weekday::Mon => 1.05,
        _ => 1.0,
    };
    let noise = 0.7 + 0.6 * unit("noise");
    let sessions = round(property_scale * country_share * channel_share * weekday * noise);
    let total_users = round(sessions as f64 * (0.72 + 0.18 * unit("users")));
    let key_events = round(sessions as f64 * (0.01 + 0.05 * unit("key_events")));
    let page_views = round(sessions as f64 * (1.4 + 2.6 * unit("views")));
    Totals {
        sessions,
        total_users,
        active_users: round(total_users as f64 * (0.93 + 0.07 * unit("active"))),
        new_users: round(total_users as f64 * (0.25 + 0.35 * unit("new_users"))),
        engaged_sessions: round(sessions as f64 * (0.45 + 0.30 * unit("engaged"))),
        key_events,
        // Between $15 and $120 per key event.
        revenue_cents: key_events
            * (1_500 + hash(&[property, &day, &country_key, &channel_key, "order"]) % 10_500),
        page_views,
        event_count: round(page_views as f64 * (2.0 + 2.0 * unit("events"))),
        session_seconds: round(sessions as f64 * (45.0 + 200.0 * unit("duration"))),
    }
}

fn round(value: f64) -> u64 {
    // Values are small non-negative numbers; the cast saturates anyway.
    value.round().max(0.0) as u64
}

/// A uniform number in [0, 1) derived from `parts`.
fn unit_interval(parts: &[&str]) -> f64 {
    (hash(parts) >> 11) as f64 / (1u64 << 53) as f64
}

/// A stable 64-bit hash of `parts` (FNV-1a, then the SplitMix64 finalizer to spread
/// the bits). `std`'s hasher may change between Rust releases; the fake's numbers
/// must not.
fn hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_deterministic_and_plausible() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        assert_eq!(cell("123", date, 0, 0), cell("123", date, 0, 0));
        assert_ne!(cell("123", date, 0, 0), cell("124", date, 0, 0));
        let mut day = Totals::default();
        for country in 0..COUNTRIES.len() {
            for channel in 0..CHANNELS.len() {
                let c = cell("123", date, country, channel);
                assert!(c.total_users <= c.sessions && c.new_users <= c.total_users);
                assert!(c.engaged_sessions <= c.sessions && c.key_events <= c.sessions);
                day.add(&c);
            }
        }
        assert!((150..=7_000).contains(&day.sessions), "{day:?}");
    }

    #[test]
    fn shares_add_up() {
        let sum = |shares: &[(&str, f64)]| shares.iter().map(|s| s.1).sum::<f64>();
        assert!((sum(&COUNTRIES) - 1.0).abs() < 1e-9);
        assert!((sum(&CHANNELS) - 1.0).abs() < 1e-9);
    }
}

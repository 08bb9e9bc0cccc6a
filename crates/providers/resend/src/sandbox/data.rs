//! The fake's deterministic data: the team's domains, and the emails it "sent" on
//! each of the last [`SEED_DAYS`] days, as pure functions of the day. The same day
//! always has the same emails (same ids, recipients, statuses), so two reads agree
//! and demo data looks lived-in without any stored state. The tables they come
//! from are data (`seed.json`).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use junction_toolkit::fake::Data;
use ring::digest;
use serde_json::{Value, json};

/// How many days back the seeded emails go.
pub(crate) const SEED_DAYS: i64 = 45;

/// The sender of the seeded emails.
pub(crate) const SEED_SENDER: &str = "Junction Alerts <alerts@junction-demo.dev>";

/// Resend's test addresses: mail to them is accepted and then bounces, is marked as
/// spam, or is delivered, as their names say.
pub const BOUNCED_ADDRESS: &str = "bounced@resend.dev";
pub const COMPLAINED_ADDRESS: &str = "complained@resend.dev";
pub const DELIVERED_ADDRESS: &str = "delivered@resend.dev";

/// The seed's tables and the catalog.
pub(crate) static SEED: Data = Data::new(include_str!("seed.json"));

/// The `index`th text of a table, round the table.
fn pick(table: &str, index: usize) -> &'static str {
    SEED.text(&format!("/{table}"), index)
}

fn domain_list() -> &'static [Value] {
    SEED.list("/domains")
}

/// Domains that may send: the verified ones, and Resend's own onboarding domain.
pub(crate) fn may_send_from(domain: &str) -> bool {
    domain == "resend.dev"
        || domain_list()
            .iter()
            .any(|d| d["name"] == domain && d["status"] == "verified")
}

/// The domain list items, newest first as Resend lists them.
pub(crate) fn domains() -> Vec<Value> {
    let epoch = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let mut items: Vec<Value> = domain_list()
        .iter()
        .map(|domain| {
            let day = epoch + Duration::days(domain["days"].as_i64().unwrap_or(0));
            let created = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN)) + Duration::hours(9);
            let name = domain["name"].as_str().unwrap_or_default();
            json!({
                "id": uuid_from(&format!("resend-sandbox/domain/{name}")), "name": name,
                "status": domain["status"], "created_at": resend_time(created),
                "region": domain["region"], "open_tracking": true, "click_tracking": true,
                "capabilities": {"sending": "enabled", "receiving": "disabled"},
            })
        })
        .collect();
    items.reverse();
    items
}

/// The emails seeded on `day` (at most those created by `now`), newest first, as
/// `GET /emails/{id}` shows them.
pub(crate) fn seeded_emails_on(day: NaiveDate, now: DateTime<Utc>) -> Vec<Value> {
    let ordinal = day.num_days_from_ce();
    let count = 2 + ordinal.rem_euclid(3);
    let mut emails: Vec<Value> = (0..count)
        .filter_map(|i| {
            let minutes = i64::from(ordinal.rem_euclid(7) * 7);
            let created = Utc.from_utc_datetime(&day.and_time(NaiveTime::MIN))
                + Duration::hours(8 + 4 * i64::from(i))
                + Duration::minutes(minutes);
            if created > now {
                return None;
            }
            let at = usize::try_from((ordinal * 5 + i * 3).rem_euclid(20)).unwrap_or(0);
            let status = pick("statuses", at);
            let to = match status {
                "bounced" => BOUNCED_ADDRESS,
                "complained" => COMPLAINED_ADDRESS,
                _ => pick("recipients", at),
            };
            let subject = pick("subjects", at + usize::try_from(i).unwrap_or(0));
            Some(json!({
                "object": "email", "id": uuid_from(&format!("resend-sandbox/email/{day}/{i}")),
                "to": [to], "from": SEED_SENDER, "created_at": resend_time(created),
                "subject": subject, "html": format!("<p>{subject}</p>"), "text": subject,
                "bcc": null, "cc": null, "reply_to": null, "last_event": status,
                "scheduled_at": null,
            }))
        })
        .collect();
    emails.reverse();
    emails
}

/// Every seeded email up to `now`, newest first.
pub(crate) fn seeded_emails(now: DateTime<Utc>) -> Vec<Value> {
    let today = now.date_naive();
    (0..SEED_DAYS)
        .flat_map(|back| seeded_emails_on(today - Duration::days(back), now))
        .collect()
}

/// A timestamp the way Resend's REST API writes it: `2026-03-15 08:07:00.000000+00`.
pub(crate) fn resend_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// A UUID-shaped id (version 4 layout) derived from `seed`, so ids are stable.
pub(crate) fn uuid_from(seed: &str) -> String {
    let hash = digest::digest(&digest::SHA256, seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_ref()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Whether an email with this `last_event` reached the recipient's server.
pub(crate) fn was_delivered(status: &str) -> bool {
    matches!(status, "delivered" | "opened" | "clicked" | "complained")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_stable_and_bounded_by_now() {
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
        let first = seeded_emails(now);
        assert_eq!(first, seeded_emails(now));
        assert!(first.len() > 90, "{}", first.len());
        let times: Vec<&str> = first
            .iter()
            .map(|e| e["created_at"].as_str().unwrap())
            .collect();
        let mut sorted = times.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(times, sorted, "newest first");
        assert!(times[0] <= "2026-03-15 12:00:00.000000+00");
        let statuses: std::collections::BTreeSet<&str> = first
            .iter()
            .map(|e| e["last_event"].as_str().unwrap())
            .collect();
        for status in ["delivered", "bounced", "complained", "opened", "clicked"] {
            assert!(statuses.contains(status), "{status}");
        }
        for email in &first {
            if email["last_event"] == "bounced" {
                assert_eq!(email["to"][0], BOUNCED_ADDRESS);
            }
        }
    }

    #[test]
    fn ids_look_like_uuids() {
        let id = uuid_from("x");
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_eq!(id, uuid_from("x"));
        assert_ne!(id, uuid_from("y"));
    }

    #[test]
    fn only_verified_domains_send() {
        assert!(may_send_from("junction-demo.dev"));
        assert!(may_send_from("resend.dev"));
        assert!(!may_send_from("staging.junction-demo.dev"));
        assert!(!may_send_from("acme.example"));
    }
}

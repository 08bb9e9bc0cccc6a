//! The fake's seed: four audiences and their members, generated deterministically
//! from the day the fake first answers (so the demo's "new members" fall in the
//! last month) and kept for the fake's lifetime (so reads never change under a
//! sync that crosses midnight).

use chrono::{DateTime, Duration as Span, Utc};
use serde_json::{Map, Value, json};

use crate::md5_hex;

/// A seeded audience: id, display name, age in days, number of members.
pub(crate) const AUDIENCES: [(&str, &str, i64, usize); 4] = [
    ("b1f3a9c2d4", "Newsletter", 720, 64),
    ("c7e2d5f8a1", "Product updates", 400, 37),
    ("e4a6b8c0d2", "Beta testers", 30, 6),
    ("f0a2c4e6b8", "Webinar attendees", 12, 0),
];

const FIRST_NAMES: [&str; 16] = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Linus",
    "Margaret",
    "Dennis",
    "Radia",
    "Ken",
    "Hedy",
    "John",
    "Sophie",
];

const LAST_NAMES: [&str; 16] = [
    "Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen", "Torvalds",
    "Hamilton", "Ritchie", "Perlman", "Thompson", "Lamarr", "Backus", "Wilson",
];

const SOURCES: [&str; 3] = ["Hosted Signup Form", "API - Generic", "Admin Add"];

const COUNTRIES: [(&str, &str); 5] = [
    ("US", "America/New_York"),
    ("GB", "Europe/London"),
    ("DE", "Europe/Berlin"),
    ("FR", "Europe/Paris"),
    ("CA", "America/Toronto"),
];

/// An audience as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FakeList {
    pub id: String,
    pub web_id: u64,
    pub name: String,
    pub date_created: DateTime<Utc>,
}

/// A member as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct FakeMember {
    pub email: String,
    pub status: String,
    pub merge_fields: Map<String, Value>,
    pub tags: Vec<String>,
    pub timestamp_signup: DateTime<Utc>,
    pub timestamp_opt: Option<DateTime<Utc>>,
    pub last_changed: DateTime<Utc>,
    pub web_id: u64,
    pub source: String,
    pub rating: u8,
    pub country: usize,
    pub ip_opt: String,
}

/// Mailchimp's timestamp format.
pub(crate) fn mailchimp_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

fn optional_time(at: Option<DateTime<Utc>>) -> String {
    at.map(mailchimp_time).unwrap_or_default()
}

/// The seeded audiences, created relative to `anchor` (midnight of the first day).
pub(crate) fn lists(anchor: DateTime<Utc>) -> Vec<FakeList> {
    AUDIENCES
        .iter()
        .enumerate()
        .map(|(index, (id, name, age_days, _))| FakeList {
            id: (*id).to_owned(),
            web_id: 100_001 + index as u64,
            name: (*name).to_owned(),
            date_created: anchor - Span::days(*age_days) + Span::hours(9),
        })
        .collect()
}

/// The seeded members of the `audience`-th audience, in signup order (oldest first).
pub(crate) fn members(audience: usize, anchor: DateTime<Utc>) -> Vec<FakeMember> {
    let count = AUDIENCES.get(audience).map_or(0, |a| a.3);
    let mut members: Vec<FakeMember> = (0..count)
        .map(|i| {
            let first = FIRST_NAMES[i % 16];
            let last = LAST_NAMES[(i / 16 + audience * 5) % 16];
            let status = if i % 13 == 12 {
                "cleaned"
            } else if i % 9 == 8 {
                "unsubscribed"
            } else if i % 17 == 16 {
                "pending"
            } else {
                "subscribed"
            };
            let signup = anchor - Span::hours(i as i64 * 11 + audience as i64 * 5 + 3);
            let opt = (status != "pending").then(|| signup + Span::minutes(7));
            let last_changed = (signup + Span::days((i % 5) as i64)).min(anchor - Span::minutes(1));
            let mut merge_fields = Map::new();
            merge_fields.insert("FNAME".into(), json!(first));
            merge_fields.insert("LNAME".into(), json!(last));
            merge_fields.insert("PHONE".into(), json!(""));
            merge_fields.insert(
                "BIRTHDAY".into(),
                json!(format!("{:02}/{:02}", i % 12 + 1, i % 28 + 1)),
            );
            let mut tags = Vec::new();
            if i % 4 == 0 {
                tags.push("customer".to_owned());
            }
            if i % 6 == 0 {
                tags.push("vip".to_owned());
            }
            FakeMember {
                email: format!("{}.{}@example.com", first, last).to_lowercase(),
                status: status.to_owned(),
                merge_fields,
                tags,
                timestamp_signup: signup,
                timestamp_opt: opt,
                last_changed,
                web_id: (100_001 + audience as u64) * 1_000 + i as u64,
                source: SOURCES[i % SOURCES.len()].to_owned(),
                rating: 1 + (i % 5) as u8,
                country: i % COUNTRIES.len(),
                ip_opt: if opt.is_some() {
                    format!("198.51.100.{}", i % 250 + 1)
                } else {
                    String::new()
                },
            }
        })
        .collect();
    members.reverse();
    members
}

/// A member's JSON, in the shape of `GET /lists/{id}/members/{hash}`.
pub(crate) fn member_json(list: &FakeList, member: &FakeMember) -> Value {
    let hash = crate::subscriber_hash(&member.email);
    let fname = member
        .merge_fields
        .get("FNAME")
        .and_then(Value::as_str)
        .unwrap_or("");
    let lname = member
        .merge_fields
        .get("LNAME")
        .and_then(Value::as_str)
        .unwrap_or("");
    let seed = member.web_id as usize;
    let (country_code, timezone) = COUNTRIES[member.country % COUNTRIES.len()];
    json!({
        "id": hash,
        "email_address": member.email,
        "unique_email_id": &md5_hex(format!("{}:{}", list.id, member.email).as_bytes())[..10],
        "contact_id": md5_hex(format!("contact:{}", member.email).as_bytes()),
        "full_name": format!("{fname} {lname}").trim(),
        "web_id": member.web_id,
        "email_type": "html",
        "status": member.status,
        "consents_to_one_to_one_messaging": true,
        "merge_fields": member.merge_fields,
        "stats": {
            "avg_open_rate": (seed * 37 % 100) as f64 / 100.0,
            "avg_click_rate": (seed * 13 % 40) as f64 / 100.0
        },
        "ip_signup": "",
        "timestamp_signup": mailchimp_time(member.timestamp_signup),
        "ip_opt": member.ip_opt,
        "timestamp_opt": optional_time(member.timestamp_opt),
        "member_rating": member.rating,
        "last_changed": mailchimp_time(member.last_changed),
        "language": "en",
        "vip": member.tags.iter().any(|t| t == "vip"),
        "email_client": "",
        "location": {
            "latitude": 0,
            "longitude": 0,
            "gmtoff": 0,
            "dstoff": 0,
            "country_code": country_code,
            "timezone": timezone,
            "region": ""
        },
        "source": member.source,
        "tags_count": member.tags.len(),
        "tags": member
            .tags
            .iter()
            .map(|name| json!({"id": tag_id(name), "name": name}))
            .collect::<Vec<_>>(),
        "list_id": list.id,
        "_links": []
    })
}

/// A stable numeric id per tag name.
fn tag_id(name: &str) -> u64 {
    use md5::{Digest, Md5};
    let digest = Md5::digest(name.as_bytes());
    u64::from(u32::from_le_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ])) % 1_000_000
}

/// An audience's JSON, in the shape of `GET /lists/{id}`, with stats computed from
/// its members.
pub(crate) fn list_json(list: &FakeList, members: &[FakeMember]) -> Value {
    let count = |status: &str| members.iter().filter(|m| m.status == status).count();
    let last = |status: &str| {
        members
            .iter()
            .filter(|m| m.status == status)
            .map(|m| m.last_changed)
            .max()
            .map(mailchimp_time)
            .unwrap_or_default()
    };
    json!({
        "id": list.id,
        "web_id": list.web_id,
        "name": list.name,
        "contact": {
            "company": "Junction Sandbox Co.",
            "address1": "1 Example Street",
            "address2": "",
            "city": "Springfield",
            "state": "OR",
            "zip": "97477",
            "country": "US",
            "phone": ""
        },
        "permission_reminder": "You signed up on our website.",
        "use_archive_bar": true,
        "campaign_defaults": {
            "from_name": "Junction Sandbox",
            "from_email": "news@example.com",
            "subject": "",
            "language": "en"
        },
        "notify_on_subscribe": "",
        "notify_on_unsubscribe": "",
        "date_created": mailchimp_time(list.date_created),
        "list_rating": 3,
        "email_type_option": false,
        "subscribe_url_short": format!("https://eepurl.com/{}", &list.id[..6]),
        "subscribe_url_long": format!("https://example.us21.list-manage.com/subscribe?u=sandbox&id={}", list.id),
        "beamer_address": format!("us21-{}@inbound.mailchimp.com", list.id),
        "visibility": "pub",
        "double_optin": false,
        "has_welcome": false,
        "marketing_permissions": false,
        "modules": [],
        "stats": {
            "member_count": count("subscribed"),
            "unsubscribe_count": count("unsubscribed"),
            "cleaned_count": count("cleaned"),
            "member_count_since_send": count("subscribed"),
            "unsubscribe_count_since_send": count("unsubscribed"),
            "cleaned_count_since_send": count("cleaned"),
            "campaign_count": list.web_id % 7,
            "campaign_last_sent": "",
            "merge_field_count": 4,
            "avg_sub_rate": 0,
            "avg_unsub_rate": 0,
            "target_sub_rate": 0,
            "open_rate": 0,
            "click_rate": 0,
            "last_sub_date": last("subscribed"),
            "last_unsub_date": last("unsubscribed")
        },
        "_links": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn seeds_are_unique_and_in_the_past() {
        let anchor = Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap();
        for (index, audience) in AUDIENCES.iter().enumerate() {
            let members = members(index, anchor);
            assert_eq!(members.len(), audience.3);
            let mut emails: Vec<_> = members.iter().map(|m| m.email.clone()).collect();
            emails.sort();
            emails.dedup();
            assert_eq!(emails.len(), audience.3);
            for member in &members {
                assert!(member.timestamp_signup < anchor && member.last_changed < anchor);
                assert!(member.timestamp_opt.is_some() == (member.status != "pending"));
            }
            // Oldest first.
            assert!(
                members
                    .windows(2)
                    .all(|w| w[0].timestamp_signup <= w[1].timestamp_signup)
            );
        }
    }
}

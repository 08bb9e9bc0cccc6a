//! The fake's seed: four audiences and their members, generated deterministically
//! from the day the fake first answers (so the demo's "new members" fall in the
//! last month) and kept for the fake's lifetime (so reads never change under a
//! sync that crosses midnight). The tables they are drawn from, and what every
//! audience and member shows besides its own values, are data (`seed.json`).

use chrono::{DateTime, Duration as Span, Utc};
use junction_toolkit::fake::Data;
use serde_json::{Map, Value, json};

use crate::md5_hex;

/// The seed's tables, the constant parts of audiences and members, the catalog.
pub(crate) static SEED: Data = Data::new(include_str!("seed.json"));

/// The `index`th entry of a table, round the table.
fn pick(table: &str, index: usize) -> &'static Value {
    SEED.pick(&format!("/{table}"), index)
}

/// The seeded audiences: `id`, `name`, `age_days`, `members` (how many).
pub(crate) fn audiences() -> &'static [Value] {
    SEED.list("/audiences")
}

/// `more` over a copy of the seed's `template`.
fn over(template: &str, more: Value) -> Value {
    SEED.over(&format!("/{template}"), more)
}

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
    (0..)
        .zip(audiences())
        .map(|(index, audience)| FakeList {
            id: audience["id"].as_str().unwrap_or_default().to_owned(),
            web_id: 100_001 + index,
            name: audience["name"].as_str().unwrap_or_default().to_owned(),
            date_created: anchor - Span::days(audience["age_days"].as_i64().unwrap_or(0))
                + Span::hours(9),
        })
        .collect()
}

/// The seeded members of the `audience`-th audience, in signup order (oldest first).
pub(crate) fn members(audience: usize, anchor: DateTime<Utc>) -> Vec<FakeMember> {
    let count = audiences()
        .get(audience)
        .map_or(0, |a| a["members"].as_u64().unwrap_or(0));
    let text = |table: &str, index: usize| pick(table, index).as_str().unwrap_or_default();
    let mut members: Vec<FakeMember> = (0..count as usize)
        .map(|i| {
            let first = text("first_names", i);
            let last = text("last_names", i / 16 + audience * 5);
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
            let birthday = format!("{:02}/{:02}", i % 12 + 1, i % 28 + 1);
            let merge_fields =
                json!({"FNAME": first, "LNAME": last, "PHONE": "", "BIRTHDAY": birthday});
            let tags = [(i % 4 == 0, "customer"), (i % 6 == 0, "vip")];
            FakeMember {
                email: format!("{first}.{last}@example.com").to_lowercase(),
                status: status.to_owned(),
                merge_fields: merge_fields.as_object().cloned().unwrap_or_default(),
                tags: tags
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, t)| (*t).to_owned())
                    .collect(),
                timestamp_signup: signup,
                timestamp_opt: opt,
                last_changed,
                web_id: (100_001 + audience as u64) * 1_000 + i as u64,
                source: text("sources", i).to_owned(),
                rating: 1 + (i % 5) as u8,
                country: i,
                ip_opt: match opt {
                    Some(_) => format!("198.51.100.{}", i % 250 + 1),
                    None => String::new(),
                },
            }
        })
        .collect();
    members.reverse();
    members
}

/// A member's JSON, in the shape of `GET /lists/{id}/members/{hash}`.
pub(crate) fn member_json(list: &FakeList, member: &FakeMember) -> Value {
    let name = |field: &str| {
        member
            .merge_fields
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let seed = member.web_id as usize;
    let country = pick("countries", member.country);
    let location = json!({"country_code": country[0], "timezone": country[1]});
    let tags: Vec<Value> = member
        .tags
        .iter()
        .map(|n| json!({"id": tag_id(n), "name": n}))
        .collect();
    let unique = md5_hex(format!("{}:{}", list.id, member.email).as_bytes());
    over(
        "member",
        json!({
            "id": crate::subscriber_hash(&member.email), "email_address": member.email,
            "unique_email_id": &unique[..10], "web_id": member.web_id, "status": member.status,
            "contact_id": md5_hex(format!("contact:{}", member.email).as_bytes()),
            "full_name": format!("{} {}", name("FNAME"), name("LNAME")).trim(),
            "merge_fields": member.merge_fields, "ip_opt": member.ip_opt,
            "stats": {
                "avg_open_rate": (seed * 37 % 100) as f64 / 100.0,
                "avg_click_rate": (seed * 13 % 40) as f64 / 100.0
            },
            "timestamp_signup": mailchimp_time(member.timestamp_signup),
            "timestamp_opt": optional_time(member.timestamp_opt),
            "last_changed": mailchimp_time(member.last_changed), "member_rating": member.rating,
            "vip": member.tags.iter().any(|t| t == "vip"), "source": member.source,
            "location": over("location", location), "tags_count": tags.len(), "tags": tags,
            "list_id": list.id,
        }),
    )
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
        let changed = members
            .iter()
            .filter(|m| m.status == status)
            .map(|m| m.last_changed);
        changed.max().map(mailchimp_time).unwrap_or_default()
    };
    let stats = json!({
        "member_count": count("subscribed"), "member_count_since_send": count("subscribed"),
        "unsubscribe_count": count("unsubscribed"), "cleaned_count": count("cleaned"),
        "unsubscribe_count_since_send": count("unsubscribed"),
        "cleaned_count_since_send": count("cleaned"), "campaign_count": list.web_id % 7,
        "last_sub_date": last("subscribed"), "last_unsub_date": last("unsubscribed")
    });
    let vars = json!({
        "id": list.id, "short": &list.id[..6], "web_id": list.web_id, "name": list.name,
        "date_created": mailchimp_time(list.date_created), "stats": over("list_stats", stats),
    });
    SEED.fill("/list", &vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn seeds_are_unique_and_in_the_past() {
        let anchor = Utc.with_ymd_and_hms(2026, 3, 15, 0, 0, 0).unwrap();
        for (index, audience) in audiences().iter().enumerate() {
            let count = audience["members"].as_u64().unwrap() as usize;
            let members = members(index, anchor);
            assert_eq!(members.len(), count);
            let mut emails: Vec<_> = members.iter().map(|m| m.email.clone()).collect();
            emails.sort();
            emails.dedup();
            assert_eq!(emails.len(), count);
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

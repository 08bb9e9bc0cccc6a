//! The fake account's data: deterministic seed data (subscribers over the past year,
//! tags, sequences, forms, custom fields, sent, scheduled and draft broadcasts with
//! stats) and the changes actions make to it, rendered in Kit's JSON shapes.
//!
//! The seed is laid out backwards from the moment of the fake's first request, so
//! growth stats of recent days always have activity; the same moment always gives the
//! same data.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use serde_json::{Value, json};

/// Subscribers in the seed.
const SEED_SUBSCRIBERS: u64 = 240;

/// The first seeded subscriber id.
const FIRST_SUBSCRIBER_ID: u64 = 1001;

const FIRST_NAMES: [&str; 24] = [
    "Alice", "Benito", "Camille", "Dario", "Elliot", "Farah", "Gus", "Hana", "Ivo", "Jules",
    "Kemal", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma",
    "Viktor", "Wen", "Yara",
];

const LAST_NAMES: [&str; 16] = [
    "Lamarr", "Okafor", "Nguyen", "Schmidt", "Rossi", "Kowalski", "Haddad", "Silva", "Tanaka",
    "Moreau", "Jensen", "Novak", "Costa", "Ibrahim", "Walsh", "Berg",
];

const COMPANIES: [&str; 8] = [
    "Acme Inc",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Labs",
    "Wayne Co",
    "Soylent",
];

const PLANS: [&str; 3] = ["free", "pro", "team"];

/// The email templates the fake account has (id, name).
pub(crate) const EMAIL_TEMPLATES: [(u64, &str); 2] = [(2, "Classic"), (6, "Text Only")];

/// The account's default sending address.
pub(crate) const SENDING_ADDRESS: &str = "hello@sandbox-creator.example";

/// Kit's timestamp format (`2023-02-17T11:43:55Z`).
pub(crate) fn kit_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn opt_time(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| json!(kit_time(at)))
}

#[derive(Debug, Clone)]
pub(crate) struct Subscriber {
    pub id: u64,
    pub first_name: Option<String>,
    pub email: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub fields: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Tag {
    pub id: u64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct Sequence {
    pub id: u64,
    pub name: String,
    pub active: bool,
    pub hold: bool,
    pub repeat: bool,
    pub created_at: DateTime<Utc>,
    pub email_count: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Form {
    pub id: u64,
    pub name: String,
    /// `embed` (a form) or `hosted` (a landing page).
    pub kind: &'static str,
    pub uid: String,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stats {
    pub recipients: u64,
    pub emails_opened: u64,
    pub total_clicks: u64,
    pub unsubscribes: u64,
    pub status: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct Broadcast {
    pub id: u64,
    pub created_at: DateTime<Utc>,
    pub subject: String,
    pub preview_text: Option<String>,
    pub description: Option<String>,
    pub content: Option<String>,
    pub public: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub send_at: Option<DateTime<Utc>>,
    pub thumbnail_alt: Option<String>,
    pub thumbnail_url: Option<String>,
    pub email_address: String,
    pub email_template_id: u64,
    pub subscriber_filter: Value,
    pub stats: Stats,
}

/// The custom fields of the fake account: (id, key, label).
pub(crate) const CUSTOM_FIELDS: [(u64, &str, &str); 3] = [
    (1, "last_name", "Last name"),
    (2, "company", "Company"),
    (3, "plan", "Plan"),
];

/// Everything the fake account holds.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub subscribers: BTreeMap<u64, Subscriber>,
    pub tags: BTreeMap<u64, Tag>,
    /// (tag id, subscriber id) → tagged at.
    pub taggings: BTreeMap<(u64, u64), DateTime<Utc>>,
    pub sequences: BTreeMap<u64, Sequence>,
    /// (sequence id, subscriber id) → added at.
    pub enrollments: BTreeMap<(u64, u64), DateTime<Utc>>,
    pub forms: BTreeMap<u64, Form>,
    /// (form id, subscriber id) → (added at, referrer).
    pub form_subscriptions: BTreeMap<(u64, u64), (DateTime<Utc>, Option<String>)>,
    pub broadcasts: BTreeMap<u64, Broadcast>,
}

impl Store {
    /// The seed data, laid out backwards from `now`.
    pub(crate) fn seed(now: DateTime<Utc>) -> Self {
        let mut store = Store {
            subscribers: BTreeMap::new(),
            tags: BTreeMap::new(),
            taggings: BTreeMap::new(),
            sequences: BTreeMap::new(),
            enrollments: BTreeMap::new(),
            forms: BTreeMap::new(),
            form_subscriptions: BTreeMap::new(),
            broadcasts: BTreeMap::new(),
        };
        store.seed_subscribers(now);
        store.seed_lists(now);
        store.seed_broadcasts(now);
        store
    }

    fn seed_subscribers(&mut self, now: DateTime<Utc>) {
        let year_minutes = 365 * 24 * 60;
        for i in 0..SEED_SUBSCRIBERS {
            let id = FIRST_SUBSCRIBER_ID + i;
            // Older subscribers first; the newest joined about a day ago.
            let age = ((SEED_SUBSCRIBERS - i) * year_minutes / SEED_SUBSCRIBERS) as i64
                - (i * 37 % 600) as i64;
            let created_at = now - Days::minutes(age);
            let first = FIRST_NAMES[(i % 24) as usize];
            let last = LAST_NAMES[(i * 5 % 16) as usize];
            let (state, cancelled_at) = match i {
                _ if i % 11 == 3 => {
                    let after = created_at + Days::days((i % 40) as i64 + 1);
                    ("cancelled", Some(after.min(now - Days::hours(1))))
                }
                _ if i % 29 == 5 => ("bounced", None),
                _ if i % 31 == 7 => ("inactive", None),
                _ if i % 47 == 9 => ("complained", None),
                _ => ("active", None),
            };
            let fields = BTreeMap::from([
                ("last_name".to_owned(), Some(last.to_owned())),
                (
                    "company".to_owned(),
                    (i % 3 != 0).then(|| COMPANIES[(i % 8) as usize].to_owned()),
                ),
                ("plan".to_owned(), Some(PLANS[(i % 3) as usize].to_owned())),
            ]);
            self.subscribers.insert(
                id,
                Subscriber {
                    id,
                    first_name: (i % 13 != 0).then(|| first.to_owned()),
                    email: format!("{}.{}{}@example.com", first, last, i).to_lowercase(),
                    state: state.to_owned(),
                    created_at,
                    updated_at: cancelled_at.unwrap_or(created_at),
                    cancelled_at,
                    fields,
                },
            );
        }
    }

    fn seed_lists(&mut self, now: DateTime<Utc>) {
        let names = [
            "Customer",
            "Newsletter",
            "Webinar 2026",
            "Lead magnet: checklist",
            "VIP",
            "Re-engage",
        ];
        for (n, name) in (1u64..).zip(names) {
            self.tags.insert(
                n,
                Tag {
                    id: n,
                    name: name.to_owned(),
                    created_at: now - Days::days(400 - n as i64 * 20),
                },
            );
        }
        let sequences = [
            ("Welcome series", true, false, 5),
            ("Evergreen course", true, true, 12),
            ("Black Friday 2025", false, false, 3),
        ];
        for (n, (name, active, hold, emails)) in (1u64..).zip(sequences) {
            self.sequences.insert(
                n,
                Sequence {
                    id: n,
                    name: name.to_owned(),
                    active,
                    hold,
                    repeat: false,
                    created_at: now - Days::days(380 - n as i64 * 30),
                    email_count: emails,
                },
            );
        }
        let forms = [
            ("Newsletter sign-up", "embed", false),
            ("Checklist landing page", "hosted", false),
            ("Webinar registration", "embed", false),
            ("Old pop-up", "embed", true),
        ];
        for (n, (name, kind, archived)) in (1u64..).zip(forms) {
            self.forms.insert(
                n,
                Form {
                    id: n,
                    name: name.to_owned(),
                    kind,
                    uid: format!("{:010x}", 0x5a_7c00_0000u64 + n * 0x1_3579),
                    archived,
                    created_at: now - Days::days(390 - n as i64 * 10),
                },
            );
        }
        for (i, subscriber) in (0u64..).zip(self.subscribers.values()) {
            let joined = subscriber.created_at;
            for tag in 1..=6u64 {
                if (i + tag * 7) % (tag + 2) == 0 {
                    self.taggings
                        .insert((tag, subscriber.id), joined + Days::hours(tag as i64));
                }
            }
            for (sequence, every) in [(1u64, 2u64), (2, 5), (3, 9)] {
                if i % every == 0 {
                    self.enrollments
                        .insert((sequence, subscriber.id), joined + Days::minutes(5));
                }
            }
            if i % 10 != 0 {
                let form = i % 4 + 1;
                let referrer = (i % 2 == 0).then(|| {
                    format!(
                        "https://sandbox-creator.example/join?utm_source={}&utm_medium=social",
                        ["twitter", "instagram", "youtube"][(i % 3) as usize]
                    )
                });
                self.form_subscriptions
                    .insert((form, subscriber.id), (joined, referrer));
            }
        }
    }

    fn seed_broadcasts(&mut self, now: DateTime<Utc>) {
        let subjects = [
            "Welcome to the newsletter",
            "3 lessons from our first year",
            "The checklist is here",
            "Behind the scenes: how we plan a launch",
            "Your questions, answered",
            "Webinar replay inside",
            "What I'd do differently",
            "A small favour to ask",
            "The best of the quarter",
            "New course: early access",
            "Spring launch: save the date",
            "Draft: ideas for next month",
        ];
        for (k, subject) in (1u64..).zip(subjects) {
            let send_at = match k {
                1..=10 => Some(now - Days::days(((10 - k) * 9 + 2) as i64) - Days::hours(3)),
                11 => Some(now + Days::days(3)),
                _ => None,
            };
            let created_at = send_at.map_or(now - Days::hours(5), |at| at - Days::days(2));
            let sent = send_at.filter(|at| *at <= now);
            let stats = match sent {
                Some(at) => {
                    let recipients = self
                        .subscribers
                        .values()
                        .filter(|s| s.created_at <= at && s.cancelled_at.is_none_or(|c| c > at))
                        .count() as u64;
                    let emails_opened = recipients * (35 + k * 3 % 17) / 100;
                    Stats {
                        recipients,
                        emails_opened,
                        total_clicks: emails_opened * (8 + k % 5) / 100,
                        unsubscribes: k % 3,
                        status: "completed",
                    }
                }
                None => Stats {
                    recipients: 0,
                    emails_opened: 0,
                    total_clicks: 0,
                    unsubscribes: 0,
                    status: if send_at.is_some() {
                        "scheduled"
                    } else {
                        "draft"
                    },
                },
            };
            self.broadcasts.insert(
                k,
                Broadcast {
                    id: k,
                    created_at,
                    subject: subject.to_owned(),
                    preview_text: Some(format!("Issue #{k}")),
                    description: None,
                    content: Some(format!("<p>{subject}</p><p>Thanks for reading.</p>")),
                    public: k % 2 == 0,
                    published_at: if k % 2 == 0 { sent } else { None },
                    send_at,
                    thumbnail_alt: None,
                    thumbnail_url: None,
                    email_address: SENDING_ADDRESS.to_owned(),
                    email_template_id: EMAIL_TEMPLATES[(k % 2) as usize].0,
                    subscriber_filter: json!([{"all": [{"type": "all_subscribers"}]}]),
                    stats,
                },
            );
        }
    }

    /// Subscribers who count for a tag, sequence or form: the active ones.
    fn active(&self, subscriber: u64) -> bool {
        self.subscribers
            .get(&subscriber)
            .is_some_and(|s| s.state == "active")
    }

    pub(crate) fn subscriber_json(&self, subscriber: &Subscriber) -> Value {
        // Kit lists every custom field of the account, null where unset.
        let fields: serde_json::Map<String, Value> = CUSTOM_FIELDS
            .iter()
            .map(|(_, key, _)| {
                let value = subscriber
                    .fields
                    .get(*key)
                    .cloned()
                    .flatten()
                    .map_or(Value::Null, Value::String);
                ((*key).to_owned(), value)
            })
            .collect();
        json!({
            "id": subscriber.id,
            "first_name": subscriber.first_name,
            "email_address": subscriber.email,
            "state": subscriber.state,
            "created_at": kit_time(subscriber.created_at),
            "fields": fields,
        })
    }

    pub(crate) fn tag_json(&self, tag: &Tag) -> Value {
        let count = self
            .taggings
            .keys()
            .filter(|(t, s)| *t == tag.id && self.active(*s))
            .count();
        json!({
            "id": tag.id,
            "name": tag.name,
            "created_at": kit_time(tag.created_at),
            "subscriber_count": count,
        })
    }

    pub(crate) fn sequence_json(&self, sequence: &Sequence) -> Value {
        let count = self
            .enrollments
            .keys()
            .filter(|(q, s)| *q == sequence.id && self.active(*s))
            .count();
        json!({
            "id": sequence.id,
            "name": sequence.name,
            "hold": sequence.hold,
            "repeat": sequence.repeat,
            "created_at": kit_time(sequence.created_at),
            "updated_at": kit_time(sequence.created_at),
            "email_address": null,
            "email_template_id": null,
            "send_days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
            "send_hour": 9,
            "time_zone": "Etc/UTC",
            "active": sequence.active,
            "exclude_subscriber_sources": [],
            "email_count": sequence.email_count,
            "subscriber_count": count,
        })
    }

    pub(crate) fn form_json(&self, form: &Form) -> Value {
        let count = self
            .form_subscriptions
            .keys()
            .filter(|(f, s)| *f == form.id && self.active(*s))
            .count();
        json!({
            "id": form.id,
            "name": form.name,
            "created_at": kit_time(form.created_at),
            "type": form.kind,
            "format": if form.kind == "embed" { json!("inline") } else { Value::Null },
            "embed_js": format!("https://sandbox-creator.kit.com/{}/index.js", form.uid),
            "embed_url": format!("https://sandbox-creator.kit.com/{}", form.uid),
            "archived": form.archived,
            "uid": form.uid,
            "subscriber_count": count,
        })
    }

    pub(crate) fn broadcast_json(&self, broadcast: &Broadcast) -> Value {
        let template = EMAIL_TEMPLATES
            .iter()
            .find(|(id, _)| *id == broadcast.email_template_id)
            .map_or(json!(null), |(id, name)| json!({"id": id, "name": name}));
        json!({
            "id": broadcast.id,
            "publication_id": broadcast.id,
            "created_at": kit_time(broadcast.created_at),
            "subject": broadcast.subject,
            "preview_text": broadcast.preview_text,
            "description": broadcast.description,
            "content": broadcast.content,
            "public": broadcast.public,
            "published_at": opt_time(broadcast.published_at),
            "send_at": opt_time(broadcast.send_at),
            "thumbnail_alt": broadcast.thumbnail_alt,
            "thumbnail_url": broadcast.thumbnail_url,
            "public_url": if broadcast.public {
                json!(format!("https://sandbox-creator.kit.com/posts/broadcast-{}", broadcast.id))
            } else {
                Value::Null
            },
            "email_address": broadcast.email_address,
            "email_template": template,
            "subscriber_filter": broadcast.subscriber_filter,
            "status": broadcast.stats.status,
        })
    }

    pub(crate) fn stats_json(&self, broadcast: &Broadcast) -> Value {
        let stats = &broadcast.stats;
        let rate = |part: u64| {
            if stats.recipients == 0 {
                0.0
            } else {
                // Two decimals, as Kit's apps show percentages.
                (part as f64 * 10_000.0 / stats.recipients as f64).round() / 100.0
            }
        };
        json!({
            "broadcast": {
                "id": broadcast.id,
                "stats": {
                    "recipients": stats.recipients,
                    "open_rate": rate(stats.emails_opened),
                    "emails_opened": stats.emails_opened,
                    "click_rate": rate(stats.total_clicks),
                    "unsubscribe_rate": rate(stats.unsubscribes),
                    "unsubscribes": stats.unsubscribes,
                    "total_clicks": stats.total_clicks,
                    "show_total_clicks": true,
                    "status": stats.status,
                    "progress": if stats.status == "completed" { 100.0 } else { 0.0 },
                    "open_tracking_disabled": false,
                    "click_tracking_disabled": false,
                }
            }
        })
    }

    /// Kit's growth stats over whole UTC days `starting..=ending` (the fake account's
    /// sending time zone is UTC).
    pub(crate) fn growth_json(&self, starting: NaiveDate, ending: NaiveDate) -> Value {
        let start = starting.and_time(chrono::NaiveTime::MIN).and_utc();
        let end = (ending + Days::days(1))
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        let within = |at: DateTime<Utc>| at >= start && at < end;
        let new_subscribers = self
            .subscribers
            .values()
            .filter(|s| within(s.created_at))
            .count() as i64;
        let cancellations = self
            .subscribers
            .values()
            .filter(|s| s.cancelled_at.is_some_and(within))
            .count() as i64;
        let subscribers = self
            .subscribers
            .values()
            .filter(|s| s.created_at < end && s.cancelled_at.is_none_or(|c| c >= end))
            .count();
        json!({
            "stats": {
                "cancellations": cancellations,
                "net_new_subscribers": new_subscribers - cancellations,
                "new_subscribers": new_subscribers,
                "subscribers": subscribers,
                "starting": format!("{}T00:00:00+00:00", starting.format("%Y-%m-%d")),
                "ending": format!("{}T23:59:59+00:00", ending.format("%Y-%m-%d")),
            }
        })
    }

    pub(crate) fn subscriber_by_email(&self, email: &str) -> Option<&Subscriber> {
        self.subscribers
            .values()
            .find(|s| s.email.eq_ignore_ascii_case(email))
    }

    pub(crate) fn next_subscriber_id(&self) -> u64 {
        self.subscribers
            .keys()
            .next_back()
            .map_or(FIRST_SUBSCRIBER_ID, |id| id + 1)
    }

    pub(crate) fn next_broadcast_id(&self) -> u64 {
        self.broadcasts.keys().next_back().map_or(1, |id| id + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap()
    }

    #[test]
    fn the_seed_is_deterministic_and_in_the_past() {
        let a = Store::seed(now());
        let b = Store::seed(now());
        let render = |s: &Store| {
            s.subscribers
                .values()
                .map(|x| s.subscriber_json(x))
                .collect::<Vec<_>>()
        };
        assert_eq!(render(&a), render(&b));
        assert_eq!(a.subscribers.len(), SEED_SUBSCRIBERS as usize);
        assert!(a.subscribers.values().all(|s| s.created_at < now()));
        assert!(a.subscribers.values().all(|s| {
            s.cancelled_at
                .is_none_or(|c| c < now() && c >= s.created_at)
        }));
        let states: std::collections::BTreeSet<_> =
            a.subscribers.values().map(|s| s.state.as_str()).collect();
        assert_eq!(states.len(), 5, "{states:?}");
    }

    #[test]
    fn growth_adds_up() {
        let store = Store::seed(now());
        let today = now().date_naive();
        let year_ago = today - Days::days(400);
        let whole = store.growth_json(year_ago, today);
        assert_eq!(whole["stats"]["new_subscribers"], json!(SEED_SUBSCRIBERS));
        // Day by day, the daily numbers add up to the whole.
        let mut new = 0;
        let mut cancelled = 0;
        for day in year_ago.iter_days().take_while(|d| *d <= today) {
            let stats = &store.growth_json(day, day)["stats"];
            new += stats["new_subscribers"].as_i64().unwrap();
            cancelled += stats["cancellations"].as_i64().unwrap();
        }
        assert_eq!(json!(new), whole["stats"]["new_subscribers"]);
        assert_eq!(json!(cancelled), whole["stats"]["cancellations"]);
        assert_eq!(
            whole["stats"]["subscribers"].as_i64().unwrap(),
            new - cancelled
        );
    }

    #[test]
    fn broadcasts_cover_sent_scheduled_and_draft() {
        let store = Store::seed(now());
        let statuses: Vec<_> = store.broadcasts.values().map(|b| b.stats.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == "completed").count(), 10);
        assert!(statuses.contains(&"scheduled") && statuses.contains(&"draft"));
        let sent = &store.broadcasts[&10];
        let stats = store.stats_json(sent);
        assert!(stats["broadcast"]["stats"]["recipients"].as_u64().unwrap() > 100);
    }
}

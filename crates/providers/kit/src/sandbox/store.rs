//! The fake account's data: deterministic seed data (subscribers over the past year,
//! tags, sequences, forms, custom fields, sent, scheduled and draft broadcasts with
//! stats) and the changes actions make to it, rendered in Kit's JSON shapes.
//!
//! The seed is laid out backwards from the moment of the fake's first request, so
//! growth stats of recent days always have activity; the same moment always gives the
//! same data. Its tables (names, lists, subjects) are data (`seed.json`).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use junction_toolkit::fake::{Data, merged};
use serde_json::{Map, Value, json};

/// Subscribers in the seed.
const SEED_SUBSCRIBERS: u64 = 240;

/// The first seeded subscriber id.
const FIRST_SUBSCRIBER_ID: u64 = 1001;

/// The email templates the fake account has (id, name).
pub(crate) const EMAIL_TEMPLATES: [(u64, &str); 2] = [(2, "Classic"), (6, "Text Only")];

/// The account's default sending address.
pub(crate) const SENDING_ADDRESS: &str = "hello@sandbox-creator.example";

/// The custom fields of the fake account: (id, key, label).
pub(crate) const CUSTOM_FIELDS: [(u64, &str, &str); 3] = [
    (1, "last_name", "Last name"),
    (2, "company", "Company"),
    (3, "plan", "Plan"),
];

/// What a subscriber may join.
pub(crate) const COLLECTIONS: [&str; 3] = ["tags", "sequences", "forms"];

/// The seed's tables and the catalog.
pub(crate) static SEED: Data = Data::new(include_str!("seed.json"));

/// A table of the seed.
fn table(name: &str) -> &'static [Value] {
    SEED.list(&format!("/{name}"))
}

/// The `index`th text of a table, round the table.
fn pick(name: &str, index: u64) -> &'static str {
    SEED.text(&format!("/{name}"), usize::try_from(index).unwrap_or(0))
}

/// Kit's timestamp format (`2023-02-17T11:43:55Z`).
pub(crate) fn kit_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub(crate) fn opt_time(at: Option<DateTime<Utc>>) -> Value {
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

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stats {
    pub recipients: u64,
    pub emails_opened: u64,
    pub total_clicks: u64,
    pub unsubscribes: u64,
    pub status: &'static str,
}

impl Stats {
    /// A broadcast not sent yet.
    pub(crate) fn unsent(status: &'static str) -> Self {
        Self {
            recipients: 0,
            emails_opened: 0,
            total_clicks: 0,
            unsubscribes: 0,
            status,
        }
    }
}

/// A broadcast: Kit's JSON of it but its status, when it goes out, and its stats.
#[derive(Debug, Clone)]
pub(crate) struct Broadcast {
    pub json: Value,
    pub send_at: Option<DateTime<Utc>>,
    pub stats: Stats,
}

impl Broadcast {
    /// Broadcast `id` from its fields as Kit shows them (`subject`, `preview_text`,
    /// `description`, `content`, `public`, `published_at`, `thumbnail_alt`,
    /// `thumbnail_url`, `email_address`, `subscriber_filter`) and its template.
    pub(crate) fn new(
        id: u64,
        created_at: DateTime<Utc>,
        json: Value,
        template: u64,
        send_at: Option<DateTime<Utc>>,
        stats: Stats,
    ) -> Self {
        let template = EMAIL_TEMPLATES
            .iter()
            .find(|(t, _)| *t == template)
            .map_or(Value::Null, |(id, name)| json!({"id": id, "name": name}));
        let public_url = format!("https://sandbox-creator.kit.com/posts/broadcast-{id}");
        let more = json!({
            "id": id, "publication_id": id, "created_at": kit_time(created_at),
            "send_at": opt_time(send_at), "email_template": template,
            "public_url": if json["public"] == true { json!(public_url) } else { Value::Null },
        });
        Self {
            json: merged(json, more),
            send_at,
            stats,
        }
    }
}

/// A subscriber in a collection: (collection, its item's id, subscriber id).
pub(crate) type Membership = (&'static str, u64, u64);

/// Everything the fake account holds.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub subscribers: BTreeMap<u64, Subscriber>,
    /// Tags, sequences and forms by id, as Kit shows them but their counts.
    pub collections: BTreeMap<&'static str, BTreeMap<u64, Value>>,
    /// When each subscriber joined each collection, and the referrer of a form
    /// subscription.
    pub members: BTreeMap<Membership, (DateTime<Utc>, Option<String>)>,
    pub broadcasts: BTreeMap<u64, Broadcast>,
}

impl Store {
    /// The seed data, laid out backwards from `now`.
    pub(crate) fn seed(now: DateTime<Utc>) -> Self {
        let mut store = Store {
            subscribers: BTreeMap::new(),
            collections: BTreeMap::new(),
            members: BTreeMap::new(),
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
            let (first, last) = (pick("first_names", i), pick("last_names", i * 5));
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
            let company = (i % 3 != 0).then(|| pick("companies", i).to_owned());
            let fields = BTreeMap::from([
                ("last_name".to_owned(), Some(last.to_owned())),
                ("company".to_owned(), company),
                ("plan".to_owned(), Some(pick("plans", i).to_owned())),
            ]);
            self.subscribers.insert(
                id,
                Subscriber {
                    id,
                    first_name: (i % 13 != 0).then(|| first.to_owned()),
                    email: format!("{first}.{last}{i}@example.com").to_lowercase(),
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
        let ago = |days: i64| kit_time(now - Days::days(days));
        for (n, name) in (1u64..).zip(table("tags")) {
            let tag = json!({"id": n, "name": name, "created_at": ago(400 - n as i64 * 20)});
            self.collection("tags").insert(n, tag);
        }
        for (n, fields) in (1u64..).zip(table("sequences")) {
            let created = ago(380 - n as i64 * 30);
            let sequence = json!({"id": n, "created_at": created, "updated_at": created});
            let sequence = merged(
                merged(sequence, SEED.at("/sequence").clone()),
                fields.clone(),
            );
            self.collection("sequences").insert(n, sequence);
        }
        for (n, form) in (1u64..).zip(table("forms")) {
            let uid = format!("{:010x}", 0x5a_7c00_0000u64 + n * 0x1_3579);
            let embed = form["type"] == "embed";
            let form = json!({
                "id": n, "name": form["name"], "created_at": ago(390 - n as i64 * 10),
                "type": form["type"], "format": if embed { json!("inline") } else { Value::Null },
                "embed_js": format!("https://sandbox-creator.kit.com/{uid}/index.js"),
                "embed_url": format!("https://sandbox-creator.kit.com/{uid}"),
                "archived": form["archived"], "uid": uid,
            });
            self.collection("forms").insert(n, form);
        }
        for (i, subscriber) in (0u64..).zip(self.subscribers.values()) {
            let (joined, id) = (subscriber.created_at, subscriber.id);
            for tag in 1..=6u64 {
                if (i + tag * 7) % (tag + 2) == 0 {
                    let at = joined + Days::hours(tag as i64);
                    self.members.insert(("tags", tag, id), (at, None));
                }
            }
            for (sequence, every) in [(1u64, 2u64), (2, 5), (3, 9)] {
                if i % every == 0 {
                    let at = joined + Days::minutes(5);
                    self.members.insert(("sequences", sequence, id), (at, None));
                }
            }
            if i % 10 != 0 {
                let url = "https://sandbox-creator.example/join?utm_source={}&utm_medium=social";
                let referrer = (i % 2 == 0).then(|| url.replace("{}", pick("referrers", i % 3)));
                self.members
                    .insert(("forms", i % 4 + 1, id), (joined, referrer));
            }
        }
    }

    fn seed_broadcasts(&mut self, now: DateTime<Utc>) {
        for (k, subject) in (1u64..).zip(table("broadcasts")) {
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
                None => Stats::unsent(if send_at.is_some() {
                    "scheduled"
                } else {
                    "draft"
                }),
            };
            let subject = subject.as_str().unwrap_or_default();
            let public = k % 2 == 0;
            let fields = json!({
                "subject": subject, "preview_text": format!("Issue #{k}"), "description": null,
                "content": format!("<p>{subject}</p><p>Thanks for reading.</p>"),
                "public": public, "published_at": opt_time(sent.filter(|_| public)),
                "thumbnail_alt": null, "thumbnail_url": null, "email_address": SENDING_ADDRESS,
                "subscriber_filter": [{"all": [{"type": "all_subscribers"}]}],
            });
            let template = EMAIL_TEMPLATES[(k % 2) as usize].0;
            let broadcast = Broadcast::new(k, created_at, fields, template, send_at, stats);
            self.broadcasts.insert(k, broadcast);
        }
    }

    fn collection(&mut self, name: &'static str) -> &mut BTreeMap<u64, Value> {
        self.collections.entry(name).or_default()
    }

    /// Subscribers who count for a tag, sequence or form: the active ones.
    fn active(&self, subscriber: u64) -> bool {
        self.subscribers
            .get(&subscriber)
            .is_some_and(|s| s.state == "active")
    }

    /// A tag, sequence or form with its count of active subscribers.
    pub(crate) fn counted(&self, collection: &str, item: &Value) -> Value {
        let id = item["id"].as_u64().unwrap_or_default();
        let count = self
            .members
            .keys()
            .filter(|(c, i, s)| *c == collection && *i == id && self.active(*s))
            .count();
        let mut item = item.clone();
        item["subscriber_count"] = json!(count);
        item
    }

    pub(crate) fn subscriber_json(&self, subscriber: &Subscriber) -> Value {
        // Kit lists every custom field of the account, null where unset.
        let fields: Map<String, Value> = CUSTOM_FIELDS
            .iter()
            .map(|(_, key, _)| {
                let value = subscriber.fields.get(*key).cloned().flatten();
                ((*key).to_owned(), value.map_or(Value::Null, Value::String))
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

    pub(crate) fn broadcast_json(&self, broadcast: &Broadcast) -> Value {
        let mut json = broadcast.json.clone();
        json["status"] = json!(broadcast.stats.status);
        json
    }

    pub(crate) fn stats_json(&self, id: u64, stats: &Stats) -> Value {
        let rate = |part: u64| {
            if stats.recipients == 0 {
                0.0
            } else {
                // Two decimals, as Kit's apps show percentages.
                (part as f64 * 10_000.0 / stats.recipients as f64).round() / 100.0
            }
        };
        let vars = json!({
            "id": id, "recipients": stats.recipients, "open_rate": rate(stats.emails_opened),
            "emails_opened": stats.emails_opened, "click_rate": rate(stats.total_clicks),
            "unsubscribe_rate": rate(stats.unsubscribes), "unsubscribes": stats.unsubscribes,
            "total_clicks": stats.total_clicks, "status": stats.status,
            "progress": if stats.status == "completed" { 100.0 } else { 0.0 },
        });
        SEED.fill("/stats", &vars)
    }

    /// Kit's growth stats over whole UTC days `starting..=ending` (the fake account's
    /// sending time zone is UTC).
    pub(crate) fn growth_json(&self, starting: NaiveDate, ending: NaiveDate) -> Value {
        let start = starting.and_time(chrono::NaiveTime::MIN).and_utc();
        let end = (ending + Days::days(1))
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        let within = |at: DateTime<Utc>| at >= start && at < end;
        let count = |keep: &dyn Fn(&Subscriber) -> bool| {
            self.subscribers.values().filter(|s| keep(s)).count() as i64
        };
        let new_subscribers = count(&|s| within(s.created_at));
        let cancellations = count(&|s| s.cancelled_at.is_some_and(within));
        let subscribers = count(&|s| s.created_at < end && s.cancelled_at.is_none_or(|c| c >= end));
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
        let last = self.subscribers.keys().next_back();
        last.map_or(FIRST_SUBSCRIBER_ID, |id| id + 1)
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
        let stats = store.stats_json(10, &sent.stats);
        assert!(stats["broadcast"]["stats"]["recipients"].as_u64().unwrap() > 100);
    }
}

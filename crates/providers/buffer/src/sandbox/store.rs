//! The fake's data: the sandbox account with two organizations and four channels
//! (`seed.json`), posts dated from the day the fake starts (sent ones on past days,
//! a queue of scheduled ones, drafts, a failed one), ideas, and what the mutations
//! change. Daily posting figures are counted from the posts, as Buffer counts them.

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use junction_toolkit::fake::Data;
use serde_json::{Value, json};

/// The organizations and channels (with each network's daily cap).
pub(super) static SEED: Data = Data::new(include_str!("seed.json"));

/// Days back the seeded sent posts reach.
pub const SENT_DAYS: i64 = 20;

/// Scheduled posts in each seeded queue.
pub const QUEUED: i64 = 3;

/// The fake's state.
#[derive(Debug)]
pub(super) struct Store {
    pub posts: Vec<Value>,
    pub ideas: Vec<Value>,
    next_id: u64,
}

pub(super) fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?)
        .ok()
        .map(|at| at.to_utc())
}

/// The seeded organizations.
pub(super) fn organizations() -> &'static [Value] {
    SEED.at("/organizations")
        .as_array()
        .map_or(&[], Vec::as_slice)
}

/// The seeded channels.
pub(super) fn channels() -> &'static [Value] {
    SEED.at("/channels").as_array().map_or(&[], Vec::as_slice)
}

/// The channel `id`.
pub(super) fn channel(id: &str) -> Option<&'static Value> {
    channels().iter().find(|c| c["id"] == id)
}

impl Store {
    /// The seed as of `now` (whose day anchors every date).
    pub fn seed(now: DateTime<Utc>) -> Self {
        let midnight = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(now, |at| at.and_utc());
        let mut store = Self {
            posts: Vec::new(),
            ideas: Vec::new(),
            next_id: 1,
        };
        for (c, channel) in channels().iter().enumerate() {
            let id = channel["id"].as_str().unwrap_or_default();
            let service = channel["service"].as_str().unwrap_or_default();
            if channel["isLocked"] == true {
                continue;
            }
            // Sent: every other day back from yesterday, staggered per channel.
            for day in (1..=SENT_DAYS).filter(|d| (d + c as i64) % 2 == 0) {
                let due = midnight - Duration::days(day) + Duration::hours(10);
                store.add(
                    id,
                    service,
                    "sent",
                    Some(due),
                    due - Duration::days(2),
                    None,
                );
            }
            // The queue: one post each of the next days.
            for day in 1..=QUEUED {
                let due = midnight + Duration::days(day) + Duration::hours(9 + c as i64);
                store.add(
                    id,
                    service,
                    "scheduled",
                    Some(due),
                    midnight - Duration::days(1),
                    None,
                );
            }
            store.add(
                id,
                service,
                "draft",
                None,
                midnight - Duration::days(2),
                None,
            );
            if c == 0 {
                let due = midnight - Duration::days(3) + Duration::hours(15);
                let error = json!({"message": "The network refused the post: duplicate content.",
                    "supportUrl": "https://support.buffer.com/"});
                store.add(
                    id,
                    service,
                    "error",
                    Some(due),
                    due - Duration::days(1),
                    Some(error),
                );
            }
        }
        store.ideas.push(json!({
            "id": "idea_sandbox_1",
            "organizationId": "org_sandbox_main",
            "createdAt": (midnight - Duration::days(4)).timestamp(),
            "updatedAt": (midnight - Duration::days(4)).timestamp(),
            "content": {"title": "Spring launch", "text": "A thread about the spring launch."}
        }));
        store
    }

    /// A new post id.
    pub fn next(&mut self, prefix: &str) -> String {
        let id = format!("{prefix}_{:04}", self.next_id);
        self.next_id += 1;
        id
    }

    /// Adds a post; its id.
    pub fn add(
        &mut self,
        channel: &str,
        service: &str,
        status: &str,
        due: Option<DateTime<Utc>>,
        created: DateTime<Utc>,
        error: Option<Value>,
    ) -> String {
        let id = self.next("post");
        let sent = (status == "sent").then_some(due).flatten();
        self.posts.push(json!({
            "id": id,
            "text": format!("Sandbox post {id} on {channel}"),
            "status": status,
            "dueAt": due.map(iso),
            "sentAt": sent.map(iso),
            "createdAt": iso(created),
            "updatedAt": iso(sent.unwrap_or(created)),
            "channelId": channel,
            "channelService": service,
            "schedulingType": "automatic",
            "isCustomScheduled": false,
            "shareMode": "addToQueue",
            "sharedNow": false,
            "externalLink": sent.map(|_| format!("https://social.example/{channel}/{id}")),
            "error": error,
        }));
        id
    }

    /// Posts of `channel` sent, and scheduled, on `day`.
    pub fn figures(&self, channel: &str, day: NaiveDate) -> (u64, u64) {
        let on = |post: &&Value, status: &str, field: &str| {
            post["channelId"] == channel
                && post["status"] == status
                && time(post.get(field)).is_some_and(|at| at.date_naive() == day)
        };
        let sent = self
            .posts
            .iter()
            .filter(|p| on(p, "sent", "sentAt"))
            .count();
        let scheduled = self
            .posts
            .iter()
            .filter(|p| on(p, "scheduled", "dueAt"))
            .count();
        (sent as u64, scheduled as u64)
    }
}

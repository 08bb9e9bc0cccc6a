//! The fake's seeded account: daily statistics (global and for twelve categories —
//! more than one `categories/stats` request holds), three contact lists, sixty
//! contacts, and a few entries on each suppression list, all dated back from `now`
//! so a sync's lookback always finds them. The same day gives the same data.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::{Value, json};

/// Days of statistics the fake holds, up to today.
pub const STATS_DAYS: i64 = 45;

/// The account's categories.
pub const CATEGORIES: [&str; 12] = [
    "alerts",
    "billing",
    "digest",
    "invoices",
    "kpi_alert",
    "newsletter",
    "onboarding",
    "password",
    "promo",
    "receipts",
    "report",
    "welcome",
];

/// The seeded lists: `(id, name)`.
pub const LISTS: [(&str, &str); 3] = [
    ("0f1b7ec2-6f2c-4a8e-9d1e-3b2c1a000001", "Newsletter"),
    ("0f1b7ec2-6f2c-4a8e-9d1e-3b2c1a000002", "Customers"),
    ("0f1b7ec2-6f2c-4a8e-9d1e-3b2c1a000003", "Beta testers"),
];

/// How many contacts are seeded.
pub const SEEDED_CONTACTS: usize = 60;

/// The seeded suppressions, by list: `(type, count)`.
pub const SUPPRESSED: [(&str, usize); 4] = [
    ("bounces", 3),
    ("blocks", 2),
    ("spam_reports", 1),
    ("unsubscribes", 2),
];

/// A stable count for `(day, salt)`.
fn count(day: NaiveDate, salt: u64, base: u64) -> u64 {
    let seed = u64::try_from(day.num_days_from_ce()).unwrap_or(0);
    base + (seed.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503)) % (base / 2 + 1)
}

/// One day's metrics as SendGrid names them.
pub fn metrics(day: NaiveDate, salt: u64, scale: u64) -> Value {
    let requests = count(day, salt, 200 * scale);
    let delivered = requests - requests / 25;
    let opens = delivered / 2;
    let unique_opens = opens * 3 / 4;
    json!({
        "blocks": requests / 200, "bounce_drops": 0, "bounces": requests / 50,
        "clicks": unique_opens / 5, "deferred": requests / 100, "delivered": delivered,
        "invalid_emails": 0, "opens": opens, "processed": requests, "requests": requests,
        "spam_report_drops": 0, "spam_reports": requests / 400, "unique_clicks": unique_opens / 6,
        "unique_opens": unique_opens, "unsubscribe_drops": 0, "unsubscribes": requests / 300,
    })
}

/// The days of statistics the fake has, oldest first.
pub fn stat_days(now: DateTime<Utc>) -> Vec<NaiveDate> {
    let today = now.date_naive();
    (0..STATS_DAYS)
        .rev()
        .map(|back| today - Duration::days(back))
        .collect()
}

/// The seeded contacts, as `GET /v3/marketing/contacts/{id}` shows them.
pub fn contacts(now: DateTime<Utc>) -> Vec<Value> {
    (0..SEEDED_CONTACTS)
        .map(|i| {
            let created = (now - Duration::days(i as i64))
                .format("%Y-%m-%dT09:00:00Z")
                .to_string();
            let lists: Vec<&str> = LISTS
                .iter()
                .enumerate()
                .filter(|(l, _)| i % (l + 1) == 0)
                .map(|(_, (id, _))| *id)
                .collect();
            json!({
                "id": format!("5a9c8d3e-0000-4000-8000-{i:012}"),
                "email": format!("contact{i:02}@sandbox.sendgrid.example"),
                "first_name": format!("Contact {i}"), "last_name": "Sandbox",
                "list_ids": lists, "created_at": created, "updated_at": created,
            })
        })
        .collect()
}

/// The seeded entries of one suppression list, newest first.
pub fn suppressions(kind: &str, now: DateTime<Utc>) -> Vec<Value> {
    let many = SUPPRESSED
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or(0, |(_, n)| *n);
    (0..many)
        .map(|i| {
            // Whole hours of past days: two reads on the same day agree.
            let day = now.date_naive() - Duration::days(2 * i as i64 + 1);
            let created = day
                .and_hms_opt(8, 0, 0)
                .map_or(0, |at| at.and_utc().timestamp());
            let email = format!("{kind}{i}@sandbox.sendgrid.example");
            match kind {
                "bounces" => json!({"created": created, "email": email,
                    "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
                    "status": "5.1.1"}),
                "blocks" => json!({"created": created, "email": email,
                    "reason": "550 5.7.1 Message rejected due to local policy", "status": "5.7.1"}),
                "spam_reports" => json!({"created": created, "email": email, "ip": "198.51.100.7"}),
                _ => json!({"created": created, "email": email}),
            }
        })
        .collect()
}

//! The fake's seeded organization: two sites, four surveys and their responses,
//! dated back from the moment of the first request, so a sync always finds them.
//! Some responses belong to the data subject [`SUBJECT_EMAIL`] (by the email they
//! gave) or [`SUBJECT_USER_ID`] (by the user id site [`SITE_MAIN`] sent through the
//! Identify API), so a user lookup finds something and a deletion removes it.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

/// The organization the sandbox key belongs to.
pub const ORGANIZATION: &str = "1204567";
/// The sites of the organization.
pub const SITE_MAIN: &str = "3100001";
pub const SITE_DOCS: &str = "3100002";
/// The data subject with responses on both sites, by email.
pub const SUBJECT_EMAIL: &str = "jane.doe@example.com";
/// The data subject with responses on [`SITE_MAIN`], by Identify API user id.
pub const SUBJECT_USER_ID: &str = "user-4711";

/// The seeded surveys: site, id, name, type, enabled, days since creation, and how
/// many responses it has (spread over the last 30 days, newest first).
pub const SURVEYS: &[(&str, u64, &str, &str, bool, i64, usize)] = &[
    (SITE_MAIN, 8801, "Exit-intent NPS", "popover", true, 45, 230),
    (
        SITE_MAIN,
        8802,
        "Pricing page poll",
        "fullscreen",
        false,
        20,
        12,
    ),
    (
        SITE_MAIN,
        8803,
        "Beta feedback",
        "external_link",
        true,
        2,
        0,
    ),
    (
        SITE_DOCS,
        8901,
        "Was this page helpful?",
        "popover",
        true,
        35,
        25,
    ),
];

/// All responses of the seed.
pub fn response_count() -> usize {
    SURVEYS.iter().map(|survey| survey.6).sum()
}

/// A survey as Hotjar lists it (`questions` only when asked for).
#[derive(Debug, Clone)]
pub struct Survey {
    pub site: &'static str,
    pub body: Value,
    /// Newest first.
    pub responses: Vec<Value>,
}

/// The seeded surveys as of `now`, newest first within each site.
pub fn surveys(now: DateTime<Utc>) -> Vec<Survey> {
    let mut surveys: Vec<Survey> = SURVEYS
        .iter()
        .map(|&(site, id, name, kind, enabled, age, count)| Survey {
            site,
            body: json!({
                "id": id,
                "name": name,
                "type": kind,
                "is_enabled": enabled,
                "created_time": time(now - Duration::days(age)),
                "url": format!("/v1/sites/{site}/surveys/{id}"),
                "responses_url": format!("/v1/sites/{site}/surveys/{id}/responses"),
                "sentiment_analysis_enabled": kind == "popover",
                "questions": questions(id),
            }),
            responses: (0..count).map(|n| response(site, id, n, now)).collect(),
        })
        .collect();
    surveys.sort_by_key(|survey| std::cmp::Reverse(survey.body["id"].as_u64()));
    surveys
}

fn questions(survey: u64) -> Value {
    json!([
        {"id": survey * 10 + 1, "type": "rating-scale-10", "text": "How likely are you to recommend us to a friend?"},
        {"id": survey * 10 + 2, "type": "long-text", "text": "What could we do better?"}
    ])
}

/// The `n`th newest response of a survey: about eight a day over the last 30 days.
fn response(site: &str, survey: u64, n: usize, now: DateTime<Utc>) -> Value {
    let at = now - Duration::minutes(7 + (n as i64) * 187);
    let device = ["desktop", "mobile", "tablet"][n % 3];
    let country = ["DE", "US", "FR", "BR"][n % 4];
    let mut body = json!({
        "id": survey * 100_000 + n as u64 + 1,
        "created_time": time(at),
        "is_complete": n % 9 != 4,
        "device": device,
        "country": country,
        "response_origin_url": "https://www.example.com/pricing",
        "answers": [
            {"question_id": survey * 10 + 1, "answer": ((n * 7) % 11).to_string()},
            {"question_id": survey * 10 + 2, "answer": "Clearer pricing, please."}
        ],
        "user_id": null,
        "email": null,
    });
    // The data subject: a few responses by email (both sites), two by user id.
    if n % 50 == 3 {
        body["email"] = json!(SUBJECT_EMAIL);
    }
    if site == SITE_MAIN && n % 100 == 10 {
        body["user_id"] = json!(SUBJECT_USER_ID);
    }
    body
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A survey's id as it appears in paths.
pub fn text_id(survey: &Value) -> String {
    survey["id"]
        .as_u64()
        .map(|id| id.to_string())
        .unwrap_or_default()
}

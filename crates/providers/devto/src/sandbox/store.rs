//! The fake account: its user and articles, seeded backwards from the first
//! request, changed by the article writes.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use junction_core::fake::FakeResponse;
use serde_json::{Value, json};

use super::errors::ERRORS;

/// The account's username.
pub const SANDBOX_USERNAME: &str = "sandbox_writer";

/// How many articles the account starts with: four published, one draft, one
/// scheduled.
pub const SEEDED_ARTICLES: usize = 6;

/// One article.
#[derive(Debug, Clone)]
struct Article {
    id: u64,
    title: String,
    description: String,
    body_markdown: String,
    published: bool,
    published_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    tags: Vec<String>,
    canonical_url: Option<String>,
    cover_image: Option<String>,
    series: Option<String>,
    views: u64,
    reactions: u64,
    comments: u64,
}

/// The account.
#[derive(Debug)]
pub struct Store {
    pub seeded_at: DateTime<Utc>,
    articles: Vec<Article>,
    next_id: u64,
}

impl Store {
    /// The account as of `now`.
    pub fn seed(now: DateTime<Utc>) -> Self {
        let day = Duration::days(1);
        let seeds: [(&str, Option<i64>, u64, u64, u64); SEEDED_ARTICLES] = [
            (
                "Shipping a Rust service in a weekend",
                Some(-40),
                1840,
                73,
                12,
            ),
            ("What a sync cursor should remember", Some(-20), 960, 41, 6),
            (
                "Idempotency keys, explained with coffee",
                Some(-7),
                410,
                22,
                3,
            ),
            (
                "Five metrics that are gauges, not sums",
                Some(-2),
                120,
                9,
                1,
            ),
            ("Notes on paging to the end", None, 0, 0, 0),
            ("Cross-posting without duplicates", Some(3), 0, 0, 0),
        ];
        let articles = seeds
            .iter()
            .enumerate()
            .map(|(i, (title, days, views, reactions, comments))| {
                let published_at = days.map(|d| now + day * (d as i32));
                Article {
                    id: 1_900_001 + i as u64,
                    title: (*title).to_owned(),
                    description: format!("{title}: a sandbox article."),
                    body_markdown: format!(
                        "# {title}\n\nA sandbox article about {}.",
                        title.to_lowercase()
                    ),
                    published: published_at.is_some(),
                    published_at,
                    created_at: published_at.map_or(now - day, |at| at.min(now) - day),
                    edited_at: None,
                    tags: vec!["rust".into(), "programming".into()],
                    canonical_url: None,
                    cover_image: None,
                    series: None,
                    views: *views,
                    reactions: *reactions,
                    comments: *comments,
                }
            })
            .collect();
        Self {
            seeded_at: now,
            articles,
            next_id: 1_900_001 + SEEDED_ARTICLES as u64,
        }
    }

    /// `GET users/me`.
    pub fn user(&self) -> Value {
        json!({
            "type_of": "user",
            "id": 424242,
            "username": SANDBOX_USERNAME,
            "name": "Sandbox Writer",
            "twitter_username": null,
            "github_username": "sandbox-writer",
            "summary": "Writes the sandbox's articles.",
            "location": null,
            "website_url": null,
            "joined_at": "Jan 4, 2024",
            "profile_image": "https://dev.to/uploads/user/profile_image/424242/sandbox.png",
        })
    }

    /// Every article in `me` order: unpublished ones newest created first, then
    /// published ones newest first.
    pub fn listed(&self, now: DateTime<Utc>) -> Vec<Value> {
        let mut articles: Vec<&Article> = self.articles.iter().collect();
        articles.sort_by_key(|a| {
            (
                a.published,
                std::cmp::Reverse(a.published_at.unwrap_or(a.created_at)),
                std::cmp::Reverse(a.id),
            )
        });
        articles.iter().map(|a| self.me_json(a, now)).collect()
    }

    /// `POST articles`.
    pub fn create(&mut self, call: &junction_toolkit::fake::Call<'_>) -> FakeResponse {
        let Some(fields) = article_fields(call) else {
            return missing_article();
        };
        let title = text(&fields, "title").unwrap_or_default();
        if title.trim().is_empty() {
            return unprocessable("Title can't be blank");
        }
        let body = text(&fields, "body_markdown").unwrap_or_default();
        let tags = match tags(&fields) {
            Ok(tags) => tags,
            Err(refused) => return refused,
        };
        if self
            .articles
            .iter()
            .any(|a| a.title == title && a.body_markdown == body)
        {
            return unprocessable("Body markdown has already been taken");
        }
        let published = fields
            .get("published")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let article = Article {
            id: self.next_id,
            description: text(&fields, "description")
                .unwrap_or_else(|| body.chars().take(100).collect()),
            title,
            body_markdown: body,
            published,
            published_at: published.then_some(call.now),
            created_at: call.now,
            edited_at: None,
            tags: tags.unwrap_or_default(),
            canonical_url: text(&fields, "canonical_url"),
            cover_image: text(&fields, "main_image"),
            series: text(&fields, "series"),
            views: 0,
            reactions: 0,
            comments: 0,
        };
        self.next_id += 1;
        let answer = self.single_json(&article);
        self.articles.push(article);
        FakeResponse::json(201, &answer)
    }

    /// `PUT articles/{id}`.
    pub fn update(&mut self, call: &junction_toolkit::fake::Call<'_>) -> FakeResponse {
        let id = call.param("id").parse::<u64>().ok();
        let Some(at) = self.articles.iter().position(|a| Some(a.id) == id) else {
            return ERRORS.reply(404, None, "not found");
        };
        let Some(fields) = article_fields(call) else {
            return missing_article();
        };
        let tags = match tags(&fields) {
            Ok(tags) => tags,
            Err(refused) => return refused,
        };
        let article = &mut self.articles[at];
        if let Some(title) = text(&fields, "title") {
            if title.trim().is_empty() {
                return unprocessable("Title can't be blank");
            }
            article.title = title;
        }
        if let Some(body) = text(&fields, "body_markdown") {
            article.body_markdown = body;
        }
        if let Some(description) = text(&fields, "description") {
            article.description = description;
        }
        if let Some(url) = text(&fields, "canonical_url") {
            article.canonical_url = Some(url);
        }
        if let Some(image) = text(&fields, "main_image") {
            article.cover_image = Some(image);
        }
        if let Some(series) = text(&fields, "series") {
            article.series = Some(series);
        }
        if let Some(tags) = tags {
            article.tags = tags;
        }
        match fields.get("published").and_then(Value::as_bool) {
            Some(true) if !article.published => {
                article.published = true;
                article.published_at = Some(call.now);
            }
            Some(false) => {
                article.published = false;
                article.published_at = None;
            }
            _ => {}
        }
        article.edited_at = Some(call.now);
        let article = article.clone();
        FakeResponse::json(200, &self.single_json(&article))
    }

    fn slug(article: &Article) -> String {
        let words: String = article
            .title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let words: Vec<&str> = words.split('-').filter(|w| !w.is_empty()).collect();
        format!("{}-{:x}", words.join("-"), article.id % 0xffff)
    }

    /// What both shapes share.
    fn common(&self, a: &Article) -> Value {
        let slug = Self::slug(a);
        let path = format!("/{SANDBOX_USERNAME}/{slug}");
        let url = format!("https://dev.to{path}");
        let published_at = a.published_at.map(time);
        json!({
            "type_of": "article",
            "id": a.id,
            "title": a.title,
            "description": a.description,
            "cover_image": a.cover_image,
            "readable_publish_date": a.published_at.map(|at| at.format("%b %-d").to_string()),
            "social_image": a.cover_image.clone().unwrap_or_else(|| format!("https://dev.to/social_previews/article/{}.png", a.id)),
            "slug": slug,
            "path": path,
            "canonical_url": a.canonical_url.clone().unwrap_or_else(|| url.clone()),
            "url": url,
            "comments_count": a.comments,
            "public_reactions_count": a.reactions,
            "positive_reactions_count": a.reactions,
            "collection_id": a.series.as_ref().map(|_| 77),
            "created_at": time(a.created_at),
            "edited_at": a.edited_at.map(time),
            "crossposted_at": null,
            "published_at": published_at,
            "last_comment_at": published_at,
            "published_timestamp": published_at.clone().unwrap_or_default(),
            "reading_time_minutes": 1 + a.body_markdown.split_whitespace().count() / 200,
            "body_markdown": a.body_markdown,
            "user": {
                "name": "Sandbox Writer",
                "username": SANDBOX_USERNAME,
                "twitter_username": null,
                "github_username": "sandbox-writer",
                "user_id": 424242,
                "website_url": null,
                "profile_image": "https://dev.to/uploads/user/profile_image/424242/sandbox.png",
                "profile_image_90": "https://dev.to/uploads/user/profile_image/424242/sandbox_90.png",
            },
        })
    }

    /// An item of the `me` lists (`tag_list` an array, `tags` a string).
    fn me_json(&self, a: &Article, now: DateTime<Utc>) -> Value {
        let mut item = self.common(a);
        item["published"] = json!(a.published);
        item["tag_list"] = json!(a.tags);
        item["tags"] = json!(a.tags.join(", "));
        // Views grow by the hour while the article is out.
        let out = a.published && a.published_at.is_some_and(|at| at <= now);
        let hours = (now - self.seeded_at).num_hours().max(0) as u64;
        let views = if out {
            a.views + hours * (1 + a.id % 5)
        } else {
            0
        };
        item["page_views_count"] = json!(views);
        item
    }

    /// The single-article shape (`tag_list` a string, `tags` an array).
    fn single_json(&self, a: &Article) -> Value {
        let mut item = self.common(a);
        item["tag_list"] = json!(a.tags.join(", "));
        item["tags"] = json!(a.tags);
        item["body_html"] = json!(format!("<p>{}</p>\n\n", a.body_markdown.len()));
        item
    }
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The `article` object of the body, if the body has one.
fn article_fields(
    call: &junction_toolkit::fake::Call<'_>,
) -> Option<serde_json::Map<String, Value>> {
    let body: Value = call.json().ok()?;
    body.get("article")?.as_object().cloned()
}

fn text(fields: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// `tags` as Forem reads them: a comma-separated string, at most four.
fn tags(fields: &serde_json::Map<String, Value>) -> Result<Option<Vec<String>>, FakeResponse> {
    let Some(text) = text(fields, "tags") else {
        return Ok(None);
    };
    let tags: Vec<String> = text
        .split(',')
        .map(|tag| tag.trim().to_lowercase())
        .filter(|tag| !tag.is_empty())
        .collect();
    if tags.len() > 4 {
        return Err(unprocessable("Tag list exceed the maximum of 4 tags"));
    }
    Ok(Some(tags))
}

fn unprocessable(message: &str) -> FakeResponse {
    ERRORS.reply(422, None, message)
}

fn missing_article() -> FakeResponse {
    unprocessable("param is missing or the value is empty: article")
}

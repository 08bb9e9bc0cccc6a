//! The fake account: its user, two publications with their posts and drafts,
//! seeded backwards from the first request and changed by the mutations.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use junction_core::fake::FakeResponse;
use junction_toolkit::fake::{Call, PageError, Pager};
use serde_json::{Value, json};

use super::errors::error;
use crate::{
    api::{DRAFTS_PAGING, POSTS_PAGING, PUBLICATIONS_PAGING},
    operations::{
        CREATE_DRAFT, ME, MY_PUBLICATIONS, POST_BY_SLUG, PUBLICATION_DRAFTS, PUBLICATION_POSTS,
        PUBLISH_POST, UPDATE_POST,
    },
};

/// The user's username.
pub const SANDBOX_USERNAME: &str = "sandbox-writer";

/// The user's personal blog and a team blog they write for.
pub const SANDBOX_PUBLICATION: &str = "65f0a1b2c3d4e5f6a7b8c9d0";
pub const SANDBOX_TEAM_PUBLICATION: &str = "65f0a1b2c3d4e5f6a7b8c9d1";

/// Posts the two publications start with.
pub const SEEDED_POSTS: usize = 7;

const USER_ID: &str = "65f0a1b2c3d4e5f6a7b80001";
const OTHER_USER_ID: &str = "65f0a1b2c3d4e5f6a7b80002";

#[derive(Debug, Clone)]
struct Post {
    id: String,
    publication: String,
    author: String,
    slug: String,
    title: String,
    content: String,
    tags: Vec<Value>,
    canonical_url: Option<String>,
    cover_image: Option<String>,
    published_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    views: u64,
    reactions: u64,
    responses: u64,
}

#[derive(Debug, Clone)]
struct Draft {
    id: String,
    publication: String,
    slug: Option<String>,
    title: String,
}

/// The account.
#[derive(Debug)]
pub struct Store {
    seeded_at: DateTime<Utc>,
    posts: Vec<Post>,
    drafts: Vec<Draft>,
    next_id: u64,
}

const PUBLICATIONS: [(&str, &str, &str, bool); 2] = [
    (
        SANDBOX_PUBLICATION,
        "Sandbox Notes",
        "https://sandbox-writer.hashnode.dev",
        false,
    ),
    (
        SANDBOX_TEAM_PUBLICATION,
        "Sandbox Team Blog",
        "https://sandbox-team.hashnode.dev",
        true,
    ),
];

impl Store {
    pub fn seed(now: DateTime<Utc>) -> Self {
        let mut store = Self {
            seeded_at: now,
            posts: Vec::new(),
            drafts: Vec::new(),
            next_id: 0x1000,
        };
        let seeds = [
            (
                SANDBOX_PUBLICATION,
                "GraphQL errors arrive with HTTP 200",
                30,
                1520,
                48,
                9,
            ),
            (
                SANDBOX_PUBLICATION,
                "Cursor paging to the end",
                21,
                830,
                25,
                4,
            ),
            (
                SANDBOX_PUBLICATION,
                "Slugs as idempotency keys",
                12,
                410,
                19,
                2,
            ),
            (SANDBOX_PUBLICATION, "Gauges versus sums", 5, 150, 7, 1),
            (SANDBOX_PUBLICATION, "A week of cross-posting", 1, 40, 2, 0),
            (
                SANDBOX_TEAM_PUBLICATION,
                "How our team writes",
                40,
                2900,
                88,
                14,
            ),
            (
                SANDBOX_TEAM_PUBLICATION,
                "Release notes, March",
                3,
                260,
                11,
                3,
            ),
        ];
        for (publication, title, days, views, reactions, responses) in seeds {
            let id = store.new_id();
            store.posts.push(Post {
                slug: slugify(title),
                id,
                publication: publication.to_owned(),
                author: USER_ID.to_owned(),
                title: title.to_owned(),
                content: format!("# {title}\n\nA sandbox post."),
                tags: vec![json!({"slug": "webdev", "name": "Web Development"})],
                canonical_url: None,
                cover_image: None,
                published_at: now - Duration::days(days),
                updated_at: None,
                views,
                reactions,
                responses,
            });
        }
        // A post of another member of the team blog: not the user's to update.
        let id = store.new_id();
        store.posts.push(Post {
            id,
            publication: SANDBOX_TEAM_PUBLICATION.to_owned(),
            author: OTHER_USER_ID.to_owned(),
            slug: "a-colleagues-post".into(),
            title: "A colleague's post".into(),
            content: "Not yours.".into(),
            tags: Vec::new(),
            canonical_url: None,
            cover_image: None,
            published_at: now - Duration::days(2),
            updated_at: None,
            views: 90,
            reactions: 3,
            responses: 0,
        });
        let id = store.new_id();
        store.drafts.push(Draft {
            id,
            publication: SANDBOX_PUBLICATION.to_owned(),
            slug: None,
            title: "Half an idea".into(),
        });
        store
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("65f1{:020x}", self.next_id)
    }

    /// Every post as a `PublicationPosts` node (the views as of seeding).
    pub fn all_posts(&self) -> Vec<Value> {
        self.posts
            .iter()
            .map(|p| self.post_node(p, self.seeded_at))
            .collect()
    }

    pub fn all_drafts(&self) -> Vec<Value> {
        self.drafts.iter().map(draft_node).collect()
    }

    /// Answers the operation `name`.
    pub fn operation(&mut self, name: &str, variables: &Value, call: &Call<'_>) -> FakeResponse {
        let text = |name: &str| {
            variables
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let publication = text("publicationId");
        let known = publication
            .as_deref()
            .filter(|id| PUBLICATIONS.iter().any(|p| p.0 == *id));
        match name {
            n if n == ME.name => data(
                json!({"me": {"id": USER_ID, "username": SANDBOX_USERNAME, "name": "Sandbox Writer"}}),
            ),
            n if n == MY_PUBLICATIONS.name => {
                let nodes = PUBLICATIONS
                    .iter()
                    .map(|(id, title, url, team)| {
                        json!({"cursor": id, "node": {"id": id, "title": title, "displayTitle": title, "url": url, "isTeam": team, "followersCount": if *team { 310 } else { 120 }}})
                    })
                    .collect();
                page(&Pager::new(PUBLICATIONS_PAGING), call, nodes)
            }
            n if n == PUBLICATION_POSTS.name => match known {
                None => data(json!({"publication": null})),
                Some(id) => {
                    let mut posts: Vec<&Post> =
                        self.posts.iter().filter(|p| p.publication == id).collect();
                    posts.sort_by_key(|p| std::cmp::Reverse(p.published_at));
                    let edges = posts
                        .iter()
                        .map(|p| json!({"cursor": p.id, "node": self.post_node(p, call.now)}))
                        .collect();
                    let mut answer = page(&Pager::new(POSTS_PAGING), call, edges);
                    with_publication(&mut answer, id);
                    answer
                }
            },
            n if n == POST_BY_SLUG.name => match known {
                None => data(json!({"publication": null})),
                Some(id) => {
                    let slug = text("slug").unwrap_or_default();
                    let post = self
                        .posts
                        .iter()
                        .find(|p| p.publication == id && p.slug == slug)
                        .map(|p| json!({"id": p.id, "slug": p.slug, "url": url(p)}));
                    data(json!({"publication": {"id": id, "post": post}}))
                }
            },
            n if n == PUBLICATION_DRAFTS.name => match known {
                None => data(json!({"publication": null})),
                Some(id) => {
                    let edges = self
                        .drafts
                        .iter()
                        .rev()
                        .filter(|d| d.publication == id)
                        .map(|d| json!({"cursor": d.id, "node": draft_node(d)}))
                        .collect();
                    let mut answer = page(&Pager::new(DRAFTS_PAGING), call, edges);
                    with_publication(&mut answer, id);
                    answer
                }
            },
            n if n == PUBLISH_POST.name => self.publish(variables, call.now),
            n if n == UPDATE_POST.name => self.update(variables, call.now),
            n if n == CREATE_DRAFT.name => self.create_draft(variables),
            _ => error(400, "GRAPHQL_VALIDATION_FAILED", "Unknown operation."),
        }
    }

    fn publish(&mut self, variables: &Value, now: DateTime<Utc>) -> FakeResponse {
        let input = &variables["input"];
        let publication = match checked_publication(input) {
            Ok(id) => id,
            Err(refused) => return refused,
        };
        let (title, tags) = match title_and_tags(input, true) {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        let Some(content) = input["contentMarkdown"]
            .as_str()
            .filter(|c| !c.trim().is_empty())
        else {
            return error(200, "BAD_USER_INPUT", "contentMarkdown must not be empty");
        };
        let slug = input["slug"]
            .as_str()
            .map_or_else(|| slugify(&title), str::to_owned);
        if self
            .posts
            .iter()
            .any(|p| p.publication == publication && p.slug == slug)
        {
            return error(
                200,
                "BAD_USER_INPUT",
                "A post with this slug already exists in the publication",
            );
        }
        let id = self.new_id();
        let post = Post {
            id,
            publication,
            author: USER_ID.to_owned(),
            slug,
            title,
            content: content.to_owned(),
            tags: tags.unwrap_or_default(),
            canonical_url: input["originalArticleURL"].as_str().map(str::to_owned),
            cover_image: input["coverImage"].as_str().map(str::to_owned),
            published_at: now,
            updated_at: None,
            views: 0,
            reactions: 0,
            responses: 0,
        };
        let answer =
            json!({"publishPost": {"post": {"id": post.id, "slug": post.slug, "url": url(&post)}}});
        self.posts.push(post);
        data(answer)
    }

    fn update(&mut self, variables: &Value, now: DateTime<Utc>) -> FakeResponse {
        let input = &variables["input"];
        let id = input["id"].as_str().unwrap_or_default();
        let Some(post) = self.posts.iter_mut().find(|p| p.id == id) else {
            return error(200, "NOT_FOUND", "Post not found");
        };
        if post.author != USER_ID {
            return error(200, "FORBIDDEN", "You are not allowed to update this post");
        }
        let (title, tags) = match title_and_tags(input, false) {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        if !title.is_empty() {
            post.title = title;
        }
        if let Some(tags) = tags {
            post.tags = tags;
        }
        if let Some(content) = input["contentMarkdown"].as_str() {
            post.content = content.to_owned();
        }
        if let Some(url) = input["originalArticleURL"].as_str() {
            post.canonical_url = Some(url.to_owned());
        }
        if let Some(image) = input["coverImage"].as_str() {
            post.cover_image = Some(image.to_owned());
        }
        post.updated_at = Some(now);
        data(json!({"updatePost": {"post": {"id": post.id, "slug": post.slug, "url": url(post)}}}))
    }

    fn create_draft(&mut self, variables: &Value) -> FakeResponse {
        let input = &variables["input"];
        let publication = match checked_publication(input) {
            Ok(id) => id,
            Err(refused) => return refused,
        };
        let (title, _) = match title_and_tags(input, false) {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        let slug = input["slug"].as_str().map(str::to_owned);
        let id = self.new_id();
        let draft = Draft {
            id,
            publication,
            slug,
            title,
        };
        let answer = json!({"createDraft": {"draft": {"id": draft.id, "slug": draft.slug}}});
        self.drafts.push(draft);
        data(answer)
    }

    fn post_node(&self, p: &Post, now: DateTime<Utc>) -> Value {
        let hours = (now - self.seeded_at).num_hours().max(0) as u64;
        json!({
            "id": p.id, "slug": p.slug, "title": p.title,
            "brief": p.content.chars().take(140).collect::<String>(),
            "url": url(p), "canonicalUrl": p.canonical_url,
            "coverImage": p.cover_image.as_ref().map(|u| json!({"url": u})),
            "publishedAt": time(p.published_at), "updatedAt": p.updated_at.map(time),
            "readTimeInMinutes": 1 + p.content.split_whitespace().count() / 200,
            "views": p.views + hours * 3, "reactionCount": p.reactions,
            "responseCount": p.responses, "replyCount": 0, "tags": p.tags,
        })
    }
}

fn url(p: &Post) -> String {
    let host = PUBLICATIONS
        .iter()
        .find(|pub_| pub_.0 == p.publication)
        .map_or("https://hashnode.dev", |pub_| pub_.2);
    format!("{host}/{}", p.slug)
}

fn draft_node(d: &Draft) -> Value {
    json!({"id": d.id, "slug": d.slug, "title": d.title})
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn slugify(title: &str) -> String {
    let words: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    words.split_whitespace().collect::<Vec<_>>().join("-")
}

fn data(data: Value) -> FakeResponse {
    FakeResponse::json(200, &json!({ "data": data }))
}

/// A page of `items` as the connection of `pager` walks it, or GraphQL's refusal of
/// its arguments.
fn page(pager: &Pager, call: &Call<'_>, items: Vec<Value>) -> FakeResponse {
    match pager.page(call.request, items) {
        Ok(page) => page.reply(),
        Err(PageError::Size { .. }) => {
            error(200, "BAD_USER_INPUT", "first must be between 1 and 20")
        }
        Err(_) => error(
            200,
            "BAD_USER_INPUT",
            "after is not a cursor of this connection",
        ),
    }
}

/// The publication's id beside its connection, as the query asks for it.
fn with_publication(answer: &mut FakeResponse, id: &str) {
    if let Ok(mut body) = serde_json::from_slice::<Value>(&answer.body)
        && let Some(publication) = body
            .pointer_mut("/data/publication")
            .and_then(Value::as_object_mut)
    {
        publication.insert("id".into(), json!(id));
        answer.body = body.to_string().into_bytes();
    }
}

fn checked_publication(input: &Value) -> Result<String, FakeResponse> {
    match input["publicationId"].as_str() {
        Some(id) if PUBLICATIONS.iter().any(|p| p.0 == id) => Ok(id.to_owned()),
        _ => Err(error(200, "NOT_FOUND", "Publication not found")),
    }
}

/// The input's title (required when `required`) and tags (at most 15).
fn title_and_tags(
    input: &Value,
    required: bool,
) -> Result<(String, Option<Vec<Value>>), FakeResponse> {
    let title = input["title"]
        .as_str()
        .unwrap_or_default()
        .trim()
        .to_owned();
    if required && title.is_empty() {
        return Err(error(200, "BAD_USER_INPUT", "title must not be empty"));
    }
    let tags = input["tags"].as_array().cloned();
    if tags.as_ref().is_some_and(|t| t.len() > 15) {
        return Err(error(
            200,
            "BAD_USER_INPUT",
            "A post can have at most 15 tags",
        ));
    }
    Ok((title, tags))
}

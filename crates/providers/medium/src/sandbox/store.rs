//! The fake account: the user, the publications they are related to, and the posts
//! the adapter created.

use junction_core::fake::FakeResponse;
use junction_toolkit::fake::Call;
use serde_json::{Value, json};

use super::errors::ERRORS;

pub const SANDBOX_USER_ID: &str =
    "1f8a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5d6e7f8091a2b3c4d5e6f7a8";
pub const SANDBOX_USERNAME: &str = "sandboxwriter";

/// A publication the user edits (any status) and one they write for (drafts only).
pub const SANDBOX_EDITED_PUBLICATION: &str = "b969ac62a46b";
pub const SANDBOX_WRITER_PUBLICATION: &str = "b45573563f5a";
/// A publication the user only follows.
const FOLLOWED_PUBLICATION: &str = "29038a4b8e1c";

const LICENSES: [&str; 9] = [
    "all-rights-reserved",
    "cc-40-by",
    "cc-40-by-sa",
    "cc-40-by-nd",
    "cc-40-by-nc",
    "cc-40-by-nc-nd",
    "cc-40-by-nc-sa",
    "cc-40-zero",
    "public-domain",
];

/// The account: the posts created so far.
#[derive(Debug, Default)]
pub struct Store {
    posts: Vec<Value>,
}

fn data(status: u16, data: Value) -> FakeResponse {
    FakeResponse::json(status, &json!({ "data": data }))
}

fn refuse(status: u16, message: &str) -> FakeResponse {
    ERRORS.reply(status, None, message)
}

impl Store {
    pub fn posts(&self) -> Vec<Value> {
        self.posts.clone()
    }

    pub fn me(&self) -> FakeResponse {
        data(
            200,
            json!({
                "id": SANDBOX_USER_ID,
                "username": SANDBOX_USERNAME,
                "name": "Sandbox Writer",
                "url": format!("https://medium.com/@{SANDBOX_USERNAME}"),
                "imageUrl": "https://cdn-images-1.medium.com/fit/c/400/400/sandbox.png",
            }),
        )
    }

    pub fn publications(&self, user: &str) -> FakeResponse {
        if user != SANDBOX_USER_ID {
            return refuse(403, "You may only list your own publications.");
        }
        let publication = |id: &str, name: &str, slug: &str| {
            json!({
                "id": id, "name": name, "description": format!("{name}, a sandbox publication."),
                "url": format!("https://medium.com/{slug}"),
                "imageUrl": format!("https://cdn-images-1.medium.com/fit/c/200/200/{slug}.png"),
            })
        };
        data(
            200,
            json!([
                publication(
                    SANDBOX_EDITED_PUBLICATION,
                    "Sandbox Engineering",
                    "sandbox-engineering"
                ),
                publication(
                    SANDBOX_WRITER_PUBLICATION,
                    "Sandbox Guest Writers",
                    "sandbox-guests"
                ),
                publication(
                    FOLLOWED_PUBLICATION,
                    "Someone Else's Journal",
                    "someone-else"
                ),
            ]),
        )
    }

    pub fn contributors(&self, publication: &str) -> FakeResponse {
        let other = "14d4a581f21ff537d245461b8ff2ae9b271b57d9554e25d863e3df6ef03ddd480";
        let role = match publication {
            SANDBOX_EDITED_PUBLICATION => "editor",
            SANDBOX_WRITER_PUBLICATION => "writer",
            FOLLOWED_PUBLICATION => {
                return data(
                    200,
                    json!([{"publicationId": publication, "userId": other, "role": "editor"}]),
                );
            }
            _ => return refuse(404, "Publication not found."),
        };
        data(
            200,
            json!([
                {"publicationId": publication, "userId": SANDBOX_USER_ID, "role": role},
                {"publicationId": publication, "userId": other, "role": "editor"},
            ]),
        )
    }

    /// `POST users/{authorId}/posts` or, with `publication`, `POST
    /// publications/{publicationId}/posts`.
    pub fn create(&mut self, call: &Call<'_>, publication: Option<&str>) -> FakeResponse {
        if publication.is_none() && call.param("user") != SANDBOX_USER_ID {
            return refuse(403, "You may not publish as another user.");
        }
        let Ok(body) = call.json::<Value>() else {
            return refuse(400, "The request body must be JSON.");
        };
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|t| !t.is_empty())
        };
        let Some(title) = text("title") else {
            return refuse(400, "Missing required field: title.");
        };
        let Some(content) = text("content") else {
            return refuse(400, "Missing required field: content.");
        };
        if !matches!(text("contentFormat"), Some("html" | "markdown")) {
            return refuse(400, "contentFormat must be html or markdown.");
        }
        let status = text("publishStatus").unwrap_or("public");
        if !matches!(status, "public" | "draft" | "unlisted") {
            return refuse(400, "publishStatus must be public, draft or unlisted.");
        }
        let license = text("license").unwrap_or("all-rights-reserved");
        if !LICENSES.contains(&license) {
            return refuse(400, "Invalid license.");
        }
        match publication {
            None | Some(SANDBOX_EDITED_PUBLICATION) => {}
            Some(SANDBOX_WRITER_PUBLICATION) if status == "draft" => {}
            Some(SANDBOX_WRITER_PUBLICATION) => {
                return refuse(403, "Writers may only submit drafts to this publication.");
            }
            Some(_) => return refuse(403, "You cannot publish in this publication."),
        }
        // Medium uses the first three tags and ignores those over 25 characters.
        let tags: Vec<&str> = body
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|tag| tag.chars().count() <= 25)
            .take(3)
            .collect();
        let id = format!("{:012x}", 0xe6f3_6a00_0000_u64 + self.posts.len() as u64);
        let slug: String = title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let mut post = json!({
            "id": id,
            "title": if title.chars().count() > 100 { content.chars().take(60).collect::<String>() } else { title.to_owned() },
            "authorId": SANDBOX_USER_ID,
            "tags": tags,
            "url": format!("https://medium.com/@{SANDBOX_USERNAME}/{}-{id}", slug.trim_matches('-')),
            "publishStatus": status,
            "license": license,
            "licenseUrl": "https://medium.com/policy/9db0094a1e0f",
        });
        if let Some(url) = text("canonicalUrl") {
            post["canonicalUrl"] = json!(url);
        }
        if status != "draft" {
            post["publishedAt"] = json!(call.now.timestamp_millis());
        }
        if let Some(publication) = publication {
            post["publicationId"] = json!(publication);
        }
        post["content"] = json!(content);
        let answer = {
            let mut shown = post.clone();
            if let Some(map) = shown.as_object_mut() {
                map.remove("content");
            }
            shown
        };
        self.posts.push(post);
        data(201, answer)
    }
}

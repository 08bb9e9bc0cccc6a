//! Medium's one action: publishing a post, on the user's profile (`POST
//! /v1/users/{authorId}/posts`) or in a publication (`POST
//! /v1/publications/{publicationId}/posts`).
//!
//! Medium has no idempotency keys and no way to list a user's posts, so a publish
//! whose answer was lost cannot be detected: a retry would create a second post.
//! The crate is as safe as Medium allows: everything is checked before anything is
//! sent (Medium silently drops a title over 100 characters, tags past the third or
//! longer than 25 characters; Junction refuses them instead), the post is sent
//! exactly once per call, and an answer that leaves the outcome unknown — a
//! timeout or broken connection after the request left, a gateway's 502 or 504, a
//! 2xx whose body is cut off — is reported as a failure that the retry policy does
//! not retry ([`unknown_outcome`]), telling the user to look on Medium before
//! publishing again. Refusals that say nothing was created (400, 401, 403, 429, a
//! 500 or 503 from Medium itself, a connection that never opened) keep their class.

use http::Method;
use junction_core::{ActionOutcome, AdapterError, spec::ProviderSpec};
use junction_toolkit::{
    Client,
    input::{Input, checked},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    spec::{PROVIDER_ID, PUBLISH_ARTICLE},
    streams::{me, user_id},
};

/// `publish_article`'s input, checked against its schema.
#[derive(Debug, Deserialize)]
struct Article {
    #[serde(default)]
    body_markdown: Option<String>,
    #[serde(default)]
    body_html: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    published: Option<bool>,
    #[serde(default)]
    publish_status: Option<String>,
    #[serde(default)]
    license: Option<String>,
    #[serde(default)]
    notify_followers: Option<bool>,
    #[serde(default)]
    publication_id: Option<String>,
}

/// Runs `action` with `input`.
pub(crate) async fn run(
    spec: &ProviderSpec,
    client: &Client<'_>,
    action: &str,
    raw: &Value,
) -> Result<ActionOutcome, AdapterError> {
    if action != PUBLISH_ARTICLE {
        return Err(AdapterError::unknown_action(spec.name, action));
    }
    let article: Article = checked(spec, action, raw)?;
    let body = post_body(&article, raw)?;
    let path = match &article.publication_id {
        Some(publication) => format!("publications/{publication}/posts"),
        None => format!("users/{}/posts", user_id(&me(client).await?)?),
    };
    let request = client.request(Method::POST, &path)?.json(&body);
    let mut answered = false;
    let sent = client
        .send_with(request, |err, refusal| {
            answered = true;
            match refusal.status.as_u16() {
                502 | 504 => unknown_outcome(&format!(
                    "a gateway answered HTTP {}",
                    refusal.status.as_u16()
                )),
                403 if article.publication_id.is_some() => match err {
                    AdapterError::Invalid { message, .. } => {
                        AdapterError::invalid_field("publication_id", message)
                    }
                    other => other,
                },
                _ => err,
            }
        })
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(AdapterError::Unavailable { message })
            if !answered && !message.starts_with("could not connect") =>
        {
            return Err(unknown_outcome(&message));
        }
        Err(err) => return Err(err),
    };
    let status = response.status().as_u16();
    let post = match response
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
    {
        Some(mut body) => body
            .get_mut("data")
            .map(Value::take)
            .filter(|post| post.get("id").is_some_and(Value::is_string)),
        None => None,
    };
    let Some(post) = post else {
        return Err(AdapterError::Provider {
            status,
            code: Some("answer_unreadable".into()),
            message:
                "Medium accepted the post but its answer could not be read, so its id and URL are \
                      unknown; Junction does not publish it again. Find it on your Medium profile."
                    .into(),
        });
    };
    let id = post["id"].as_str().unwrap_or_default().to_owned();
    let url = post.get("url").and_then(Value::as_str).map(str::to_owned);
    let published = post.get("publishStatus").and_then(Value::as_str) != Some("draft");
    Ok(ActionOutcome {
        external_id: Some(id.clone()),
        output: json!({
            "id": id,
            "url": url,
            "published": published,
            "platform": PROVIDER_ID,
            "deduplicated": false,
            "publish_status": post.get("publishStatus"),
        }),
    })
}

/// A publish whose outcome is unknown: not retried by the retry policy (Medium
/// cannot be asked whether the post exists, and a retry could publish it twice).
pub(crate) fn unknown_outcome(what: &str) -> AdapterError {
    AdapterError::invalid(format!(
        "Medium's answer to the publish was lost ({what}): the post may or may not exist. Medium's API \
         cannot list posts, so Junction cannot check and does not publish again on its own; look on \
         your Medium profile and drafts, and publish again (with a new idempotency key) only if it is missing"
    ))
}

/// The body Medium documents: `title`, `contentFormat`, `content` (the title as a
/// heading first, the cover image after it), `tags`, `canonicalUrl`,
/// `publishStatus`, `license`, `notifyFollowers`.
fn post_body(article: &Article, raw: &Value) -> Result<Value, AdapterError> {
    let input = Input::new(raw)?;
    let title = input.required_string("title")?.trim();
    let canonical = input.url("canonical_url")?;
    let cover = input.url("cover_image")?;
    let (format, content) = match (&article.body_markdown, &article.body_html) {
        (Some(_), Some(_)) => {
            return Err(input.invalid(
                "body_html",
                "give either body_markdown or body_html, not both",
            ));
        }
        (Some(_), None) => {
            let body = input.required_string("body_markdown")?;
            let mut content = String::new();
            if !body.trim_start().starts_with("# ") {
                content.push_str(&format!("# {title}\n\n"));
            }
            if let Some(cover) = cover {
                content.push_str(&format!("![]({cover})\n\n"));
            }
            content.push_str(body);
            ("markdown", content)
        }
        (None, Some(_)) => {
            let body = input.required_string("body_html")?;
            let mut content = String::new();
            if !body.trim_start().to_ascii_lowercase().starts_with("<h1") {
                content.push_str(&format!("<h1>{}</h1>", escape(title)));
            }
            if let Some(cover) = cover {
                content.push_str(&format!("<img src=\"{}\">", escape(cover)));
            }
            content.push_str(body);
            ("html", content)
        }
        (None, None) => {
            return Err(input.invalid("body_markdown", "give body_markdown or body_html"));
        }
    };
    if let Some(tag) = article.tags.iter().position(|tag| tag.trim().is_empty()) {
        return Err(input.invalid(&format!("tags[{tag}]"), "must not be blank"));
    }
    let status = match (&article.publish_status, article.published) {
        (Some(status), _) => status.as_str(),
        (None, Some(false)) => "draft",
        (None, _) => "public",
    };
    let mut body = Map::new();
    body.insert("title".into(), json!(title));
    body.insert("contentFormat".into(), json!(format));
    body.insert("content".into(), json!(content));
    if !article.tags.is_empty() {
        let tags: Vec<&str> = article.tags.iter().map(|tag| tag.trim()).collect();
        body.insert("tags".into(), json!(tags));
    }
    if let Some(url) = canonical {
        body.insert("canonicalUrl".into(), json!(url));
    }
    body.insert("publishStatus".into(), json!(status));
    if let Some(license) = &article.license {
        body.insert("license".into(), json!(license));
    }
    if let Some(notify) = article.notify_followers {
        body.insert("notifyFollowers".into(), json!(notify));
    }
    Ok(Value::Object(body))
}

/// Text as HTML text or attribute value.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

//! DEV's article actions: publish (`POST /api/articles`), update (`PUT
//! /api/articles/{id}`) and unpublish (the same PUT with `published: false`: Forem's
//! `PUT /api/articles/{id}/unpublish` is for admins and moderators only).
//!
//! DEV has no idempotency keys, so a publish whose answer was lost must not simply
//! be sent again. Before creating, [`publish`] reads the user's articles (`GET
//! /api/articles/me/all`, newest first, a bounded number of pages) for one with the
//! same title and canonical URL — the same title and Markdown body when no canonical
//! URL is given — and returns it, marked `deduplicated`, instead of creating a
//! second. Forem itself refuses a second article with the same title and body
//! (`422 Body markdown has already been taken`); should that race past the lookup,
//! the article is looked up once more and returned.

use http::Method;
use junction_core::{ActionOutcome, AdapterError, spec::ProviderSpec};
use junction_toolkit::{
    Client, PageToken,
    article::{ArticleInput, outcome},
};
use serde_json::{Map, Value, json};

use crate::{
    api::{MY_ARTICLES, PAGING},
    spec::{PROVIDER_ID, PUBLISH_ARTICLE, UNPUBLISH_ARTICLE, UPDATE_ARTICLE},
};

/// Pages of [`LOOKUP_PAGE_SIZE`] articles read when looking for an earlier try: the
/// newest 5,000 of the user's articles, which holds any article created minutes ago.
const LOOKUP_PAGES: u64 = 5;
const LOOKUP_PAGE_SIZE: u32 = 1000;

/// Runs `action` with `input`.
pub(crate) async fn run(
    spec: &ProviderSpec,
    client: &Client<'_>,
    action: &str,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    match action {
        PUBLISH_ARTICLE => {
            let article = ArticleInput::read(spec, action, input)?;
            publish(client, &article, idempotency_key.is_some()).await
        }
        UPDATE_ARTICLE => {
            let article = ArticleInput::read(spec, action, input)?;
            update(client, &article).await
        }
        UNPUBLISH_ARTICLE => {
            let article = ArticleInput::read(spec, action, input)?;
            let draft = ArticleInput {
                published: Some(false),
                ..article
            };
            update(client, &draft).await
        }
        _ => Err(AdapterError::unknown_action(spec.name, action)),
    }
}

/// The body of `POST` and `PUT /api/articles`: `{"article": {...}}` with the fields
/// given (tags as DEV's comma-separated string, the cover as `main_image`).
fn body(article: &ArticleInput) -> Value {
    let mut fields = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(name.to_owned(), value);
        }
    };
    put("title", article.title.clone().map(Value::from));
    put(
        "body_markdown",
        article.body_markdown.clone().map(Value::from),
    );
    put("published", article.published.map(Value::from));
    put(
        "tags",
        article
            .tags
            .as_ref()
            .map(|tags| json!(dev_tags(tags).join(","))),
    );
    put(
        "canonical_url",
        article.canonical_url.clone().map(Value::from),
    );
    put("description", article.description.clone().map(Value::from));
    put("main_image", article.cover_image.clone().map(Value::from));
    put("series", article.series.clone().map(Value::from));
    json!({ "article": fields })
}

/// Tags as DEV keeps them: lower-case letters and digits (its editor turns
/// `Web-Dev` into `webdev`), each once.
fn dev_tags(tags: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for tag in tags {
        let tag: String = tag
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if !tag.is_empty() && !kept.contains(&tag) {
            kept.push(tag);
        }
    }
    kept
}

async fn publish(
    client: &Client<'_>,
    article: &ArticleInput,
    retry_safe: bool,
) -> Result<ActionOutcome, AdapterError> {
    if retry_safe && let Some(found) = find_earlier(client, article).await? {
        return article_outcome(&found, true);
    }
    let article = ArticleInput {
        published: Some(article.published.unwrap_or(true)),
        ..article.clone()
    };
    let request = client
        .request(Method::POST, "articles")?
        .json(&body(&article));
    match client.fetch(request).await {
        Ok(created) => article_outcome(&created.body, false),
        Err(AdapterError::Invalid { message, .. })
            if message.contains("has already been taken") =>
        {
            match find_earlier(client, &article).await? {
                Some(found) => article_outcome(&found, true),
                None => Err(AdapterError::invalid_field("body_markdown", message)),
            }
        }
        Err(err) => Err(err),
    }
}

async fn update(
    client: &Client<'_>,
    article: &ArticleInput,
) -> Result<ActionOutcome, AdapterError> {
    let id = article
        .id
        .as_deref()
        .ok_or_else(|| AdapterError::invalid_field("id", "is required"))?;
    let request = client
        .request(Method::PUT, &format!("articles/{id}"))?
        .json(&body(article));
    let updated = client
        .fetch_with(request, |err, refusal| match refusal.status.as_u16() {
            404 => {
                AdapterError::invalid_field("id", format!("DEV has no article {id} of this user"))
            }
            _ => err,
        })
        .await?;
    article_outcome(&updated.body, false)
}

/// An article of the user's that an earlier try of `article` created: the same
/// title and canonical URL, or the same title and body when no canonical URL is
/// given. Reads newest first, at most [`LOOKUP_PAGES`] pages.
async fn find_earlier(
    client: &Client<'_>,
    article: &ArticleInput,
) -> Result<Option<Value>, AdapterError> {
    let mut token = PageToken::First;
    for _ in 0..LOOKUP_PAGES {
        let page = client
            .list_page(MY_ARTICLES, &PAGING, &token, LOOKUP_PAGE_SIZE)
            .await?;
        if let Some(found) = page.items.into_iter().find(|item| same(item, article)) {
            return Ok(Some(found));
        }
        match page.next {
            Some(next) => token = next,
            None => return Ok(None),
        }
    }
    Ok(None)
}

fn same(item: &Value, article: &ArticleInput) -> bool {
    let text = |name: &str| item.get(name).and_then(Value::as_str).map(str::trim);
    if text("title") != article.title.as_deref().map(str::trim) {
        return false;
    }
    match &article.canonical_url {
        Some(url) => text("canonical_url") == Some(url.trim()),
        None => text("body_markdown") == article.body_markdown.as_deref().map(str::trim),
    }
}

/// The contract's output for a DEV article (a list item or the single-article
/// shape): its id, URL and whether it is published (the single shape has no
/// `published` flag: a publication time says it).
fn article_outcome(article: &Value, deduplicated: bool) -> Result<ActionOutcome, AdapterError> {
    let id = junction_toolkit::data::text(article.get("id")).ok_or_else(|| {
        AdapterError::unavailable("malformed response body: an article without `id`")
    })?;
    let url = article
        .get("url")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let published = match article.get("published") {
        Some(Value::Bool(flag)) => *flag,
        _ => article.get("published_at").is_some_and(|at| !at.is_null()),
    };
    Ok(outcome(PROVIDER_ID, id, url, published, deduplicated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_sent_as_devs_editor_makes_them() {
        let tags = ["Web-Dev", "rust", "RUST", "c++"].map(str::to_owned);
        assert_eq!(dev_tags(&tags), ["webdev", "rust", "c"]);
    }
}

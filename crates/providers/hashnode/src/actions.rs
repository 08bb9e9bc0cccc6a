//! Hashnode's article actions: publish (`publishPost`), update (`updatePost`) and
//! save a draft (`createDraft`), in a publication the input or the connection names.
//!
//! Hashnode has no idempotency keys, so a publish whose answer was lost must not
//! simply be sent again. With Junction's idempotency key (the same for every try of
//! one request) the post gets a slug of its own: the title's words and eight hex
//! digits of the key's SHA-256 ([`slug`]). Before creating, the publication is asked
//! for a post of that slug (`publication.post(slug)`) — for a draft, its drafts are
//! read for one — and what an earlier try created is returned, marked
//! `deduplicated`, instead of a second post.

use junction_core::{ActionOutcome, AdapterError, Connection, spec::ProviderSpec};
use junction_toolkit::{
    Client, PageToken,
    article::{ArticleInput, outcome},
};
use serde_json::{Map, Value, json};

use crate::{
    api::{self, DRAFTS_PAGING},
    operations::{CREATE_DRAFT, POST_BY_SLUG, PUBLICATION_DRAFTS, PUBLISH_POST, UPDATE_POST},
    spec::{PROVIDER_ID, PUBLICATION, PUBLISH_ARTICLE, SAVE_DRAFT, UPDATE_ARTICLE},
};

/// Pages of drafts read when looking for an earlier try of a draft (20 each).
const DRAFT_LOOKUP_PAGES: usize = 25;

/// The longest slug Junction derives from a title (before the key's digits).
const SLUG_WORDS_CHARS: usize = 60;

/// Runs `action` with `input`.
pub(crate) async fn run(
    spec: &ProviderSpec,
    client: &Client<'_>,
    conn: &Connection,
    action: &str,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let article = ArticleInput::read(spec, action, input)?;
    match action {
        PUBLISH_ARTICLE if article.published.unwrap_or(true) => {
            publish(client, conn, &article, idempotency_key).await
        }
        PUBLISH_ARTICLE | SAVE_DRAFT => draft(client, conn, &article, idempotency_key).await,
        UPDATE_ARTICLE => update(client, &article).await,
        _ => Err(AdapterError::unknown_action(spec.name, action)),
    }
}

/// The publication an action writes to: the input's, else the connection's.
fn publication(conn: &Connection, article: &ArticleInput) -> Result<String, AdapterError> {
    match &article.publication_id {
        Some(id) => Ok(id.clone()),
        None => PUBLICATION.read(conn)?.ok_or_else(|| {
            AdapterError::invalid_field(
                "publication_id",
                "name the Hashnode publication to write to (or set the connection's publication_id)",
            )
        }),
    }
}

/// The slug of a post made under `key`: the title's words (lowercase ASCII letters
/// and digits, dashes between) and the first eight hex digits of the key's SHA-256,
/// so every try of one request asks for the same slug and no two requests do.
pub(crate) fn slug(title: &str, key: &str) -> String {
    let words: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect();
    let mut base = String::new();
    for word in words.split_whitespace() {
        if base.len() + word.len() + 1 > SLUG_WORDS_CHARS {
            break;
        }
        if !base.is_empty() {
            base.push('-');
        }
        base.push_str(word);
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let tag = hex::encode(&digest.as_ref()[..4]);
    if base.is_empty() {
        format!("post-{tag}")
    } else {
        format!("{base}-{tag}")
    }
}

/// Tags as Hashnode takes them: each found or created by its slug, named as given.
fn tags(article: &ArticleInput) -> Option<Value> {
    let tags = article.tags.as_ref()?;
    let tags: Vec<Value> = tags
        .iter()
        .map(|name| {
            let slug: String = name
                .trim()
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            json!({"slug": slug.trim_matches('-'), "name": name.trim()})
        })
        .collect();
    Some(Value::Array(tags))
}

/// The fields of an article input every mutation takes alike.
fn common(article: &ArticleInput) -> Map<String, Value> {
    let mut input = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            input.insert(name.to_owned(), value);
        }
    };
    put("title", article.title.clone().map(Value::from));
    put(
        "contentMarkdown",
        article.body_markdown.clone().map(Value::from),
    );
    put("tags", tags(article));
    put(
        "originalArticleURL",
        article.canonical_url.clone().map(Value::from),
    );
    input
}

/// A refusal about the publication names it.
fn about_publication(code: Option<&str>, err: AdapterError) -> AdapterError {
    match (code, err) {
        (Some("NOT_FOUND" | "FORBIDDEN"), AdapterError::Invalid { message, .. }) => {
            AdapterError::invalid_field("publication_id", message)
        }
        (_, err) => err,
    }
}

async fn publish(
    client: &Client<'_>,
    conn: &Connection,
    article: &ArticleInput,
    key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let publication = publication(conn, article)?;
    let mut input = common(article);
    input.insert("publicationId".into(), json!(publication));
    if let Some(url) = &article.cover_image {
        input.insert("coverImage".into(), json!(url));
    }
    if let Some(description) = &article.description {
        input.insert("metaDescription".into(), json!(description));
    }
    if let Some(key) = key {
        let title = article.title.as_deref().unwrap_or_default();
        let slug = slug(title, key);
        if let Some(post) = post_by_slug(client, &publication, &slug).await? {
            return post_outcome(&post, true);
        }
        input.insert("slug".into(), json!(slug));
    }
    let data = api::call(
        client,
        &PUBLISH_POST,
        json!({ "input": input }),
        about_publication,
    )
    .await?;
    post_outcome(
        data.pointer("/publishPost/post").unwrap_or(&Value::Null),
        false,
    )
}

async fn draft(
    client: &Client<'_>,
    conn: &Connection,
    article: &ArticleInput,
    key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let publication = publication(conn, article)?;
    let mut input = common(article);
    input.insert("publicationId".into(), json!(publication));
    if let Some(url) = &article.cover_image {
        input.insert("coverImageOptions".into(), json!({ "coverImageURL": url }));
    }
    if let Some(description) = &article.description {
        input.insert("metaTags".into(), json!({ "description": description }));
    }
    if let Some(key) = key {
        let title = article.title.as_deref().unwrap_or_default();
        let slug = slug(title, key);
        if let Some(draft) = draft_by_slug(client, &publication, &slug).await? {
            return draft_outcome(&draft, true);
        }
        input.insert("slug".into(), json!(slug));
        input.insert("settings".into(), json!({ "slugOverridden": true }));
    }
    let data = api::call(
        client,
        &CREATE_DRAFT,
        json!({ "input": input }),
        about_publication,
    )
    .await?;
    draft_outcome(
        data.pointer("/createDraft/draft").unwrap_or(&Value::Null),
        false,
    )
}

async fn update(
    client: &Client<'_>,
    article: &ArticleInput,
) -> Result<ActionOutcome, AdapterError> {
    if article.published == Some(false) {
        return Err(AdapterError::invalid_field(
            "published",
            "Hashnode's API cannot take a published post back to draft; unpublish it in Hashnode's dashboard",
        ));
    }
    let id = article
        .id
        .clone()
        .ok_or_else(|| AdapterError::invalid_field("id", "is required"))?;
    let mut input = common(article);
    input.insert("id".into(), json!(id));
    if let Some(url) = &article.cover_image {
        input.insert("coverImage".into(), json!(url));
    }
    if let Some(description) = &article.description {
        input.insert("metaDescription".into(), json!(description));
    }
    let refine = |code: Option<&str>, err| match (code, err) {
        (Some("NOT_FOUND" | "FORBIDDEN"), AdapterError::Invalid { message, .. }) => {
            AdapterError::invalid_field("id", message)
        }
        (_, err) => err,
    };
    let data = api::call(client, &UPDATE_POST, json!({ "input": input }), refine).await?;
    post_outcome(
        data.pointer("/updatePost/post").unwrap_or(&Value::Null),
        false,
    )
}

/// The post of `slug` in `publication`, if one exists.
async fn post_by_slug(
    client: &Client<'_>,
    publication: &str,
    slug: &str,
) -> Result<Option<Value>, AdapterError> {
    let variables = json!({ "publicationId": publication, "slug": slug });
    let data = api::call(client, &POST_BY_SLUG, variables, about_publication).await?;
    known_publication(&data)?;
    Ok(data
        .pointer("/publication/post")
        .filter(|post| !post.is_null())
        .cloned())
}

/// The user's draft of `slug` in `publication`, if one exists (newest pages first,
/// bounded).
async fn draft_by_slug(
    client: &Client<'_>,
    publication: &str,
    slug: &str,
) -> Result<Option<Value>, AdapterError> {
    let mut token = PageToken::First;
    for _ in 0..DRAFT_LOOKUP_PAGES {
        let variables = json!({ "publicationId": publication });
        let size = DRAFTS_PAGING.size.max;
        let (body, edges, next) = api::page(
            client,
            &PUBLICATION_DRAFTS,
            &DRAFTS_PAGING,
            variables,
            &token,
            size,
        )
        .await?;
        known_publication(body.get("data").unwrap_or(&Value::Null))?;
        if let Some(node) = edges
            .iter()
            .filter_map(|edge| edge.get("node"))
            .find(|node| node["slug"] == slug)
        {
            return Ok(Some(node.clone()));
        }
        match next {
            Some(next) => token = next,
            None => break,
        }
    }
    Ok(None)
}

/// Hashnode answers `publication: null` for an id it does not know.
fn known_publication(data: &Value) -> Result<(), AdapterError> {
    match data.get("publication") {
        Some(publication) if !publication.is_null() => Ok(()),
        _ => Err(AdapterError::invalid_field(
            "publication_id",
            "Hashnode has no publication of that id",
        )),
    }
}

fn post_outcome(post: &Value, deduplicated: bool) -> Result<ActionOutcome, AdapterError> {
    let id = junction_toolkit::data::text(post.get("id"))
        .ok_or_else(|| AdapterError::unavailable("malformed response body: a post without `id`"))?;
    let url = post.get("url").and_then(Value::as_str).map(str::to_owned);
    Ok(outcome(PROVIDER_ID, id, url, true, deduplicated))
}

/// A draft has no public address: its `url` is null.
fn draft_outcome(draft: &Value, deduplicated: bool) -> Result<ActionOutcome, AdapterError> {
    let id = junction_toolkit::data::text(draft.get("id")).ok_or_else(|| {
        AdapterError::unavailable("malformed response body: a draft without `id`")
    })?;
    Ok(outcome(PROVIDER_ID, id, None, false, deduplicated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slug_is_the_titles_words_and_the_keys_digest() {
        let one = slug("Hello, World! Ünïcode & more", "jct-1");
        assert!(one.starts_with("hello-world-n-code-more-"), "{one}");
        assert_eq!(one, slug("Hello, World! Ünïcode & more", "jct-1"));
        assert_ne!(one, slug("Hello, World! Ünïcode & more", "jct-2"));
        assert!(slug("!!!", "k").starts_with("post-"));
        assert!(slug(&"word ".repeat(50), "k").len() <= SLUG_WORDS_CHARS + 9);
    }
}

//! The article contract of blog providers (DEV, Hashnode; Medium takes its own
//! subset), so one cross-post (`POST /v1/cross-posts`) can drive them all: the input
//! of `publish_article` and `update_article` and their output `{id, url, published,
//! platform, deduplicated}`.

use crate::input::{Input, checked};
use junction_core::{ActionOutcome, AdapterError, spec::ProviderSpec};
use serde::Deserialize;
use serde_json::{Value, json};

/// An article action's input, checked against the action's schema.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ArticleInput {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub body_markdown: Option<String>,
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub canonical_url: Option<String>,
    #[serde(default)]
    pub published: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub cover_image: Option<String>,
    #[serde(default)]
    pub series: Option<String>,
    /// Where the platform has publications (Hashnode, Medium).
    #[serde(default)]
    pub publication_id: Option<String>,
}

impl ArticleInput {
    /// `input` of `action`: the schema's check again (a queued input may predate a
    /// stricter schema), then what it cannot say: a title and body that are not
    /// blank where given, absolute http(s) URLs, trimmed.
    pub fn read(spec: &ProviderSpec, action: &str, raw: &Value) -> Result<Self, AdapterError> {
        let mut article: Self = checked(spec, action, raw)?;
        let input = Input::new(raw)?;
        for name in ["title", "body_markdown"] {
            if input.get(name).is_some() {
                input.required_string(name)?;
            }
        }
        article.canonical_url = input.url("canonical_url")?.map(str::to_owned);
        article.cover_image = input.url("cover_image")?.map(str::to_owned);
        article.title = article.title.map(|title| title.trim().to_owned());
        Ok(article)
    }
}

/// The outcome of an article action of `platform` (the provider id): the contract's
/// output, the article's id as the external id.
pub fn outcome(
    platform: &str,
    id: String,
    url: Option<String>,
    published: bool,
    deduplicated: bool,
) -> ActionOutcome {
    ActionOutcome {
        external_id: Some(id.clone()),
        output: json!({
            "id": id,
            "url": url,
            "published": published,
            "platform": platform,
            "deduplicated": deduplicated,
        }),
    }
}

//! The article contract Junction's blog providers share (DEV, Hashnode, Medium), so
//! one cross-posting action can drive all three: the input of `publish_article` and
//! `update_article` and the output `{id, url, published, platform, deduplicated}`.

use junction_core::{ActionOutcome, AdapterError, spec::ProviderSpec};
use junction_toolkit::input::{Input, checked};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::spec::PROVIDER_ID;

/// An article action's input, checked against the action's schema.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct ArticleInput {
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

/// The outcome of an article action: the contract's output, the article's id as the
/// external id.
pub(crate) fn outcome(
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
            "platform": PROVIDER_ID,
            "deduplicated": deduplicated,
        }),
    }
}

//! Dev.to's static description: how a connection authenticates (an API key), its
//! one setting-free stream of the user's own articles with their KPIs, the article
//! actions, and the request budget Junction shares across connections.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{AuthSpec, Category, ConfigField, ProviderSpec, RateBudget};
use junction_toolkit::described;

/// The provider id: the registry's key and the sandbox's mount point (`/devto/`).
pub const PROVIDER_ID: &str = "devto";

/// The API host (the Forem instance Dev.to runs); `ctx.base_url` replaces it in the
/// sandbox and in tests.
pub const DEFAULT_BASE: &str = "https://dev.to";

/// The prefix every API path is under (`/api/articles`).
pub const API_PREFIX: &str = "api";

/// The user's own articles (described in `streams.json`).
pub const ARTICLES: &str = "articles";

/// The KPIs of `articles`, per article and in total (declared in `streams.json`).
pub const PAGE_VIEWS: &str = "page_views";
pub const REACTIONS: &str = "reactions";
pub const COMMENTS: &str = "comments";
pub const PAGE_VIEWS_CHANGE: &str = "page_views_change";
pub const REACTIONS_CHANGE: &str = "reactions_change";
pub const COMMENTS_CHANGE: &str = "comments_change";

/// The actions (described in `actions.json`).
pub const PUBLISH_ARTICLE: &str = "publish_article";
pub const UPDATE_ARTICLE: &str = "update_article";
pub const UNPUBLISH_ARTICLE: &str = "unpublish_article";

/// The secret field holding the API key.
pub const API_KEY_FIELD: &str = "api_key";

/// Requests per minute of the shared budget. Forem throttles API keys per IP well
/// above this for reads and at a few requests per 30 s for article writes; the
/// worker backs off on its 429s.
const REQUESTS_PER_MINUTE: u32 = 60;

/// The provider's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "DEV (dev.to)",
        category: Category::Publishing,
        auth: AuthSpec::ApiKey {
            fields: vec![ConfigField::secret(
                API_KEY_FIELD,
                "API key",
                "A DEV API key: dev.to → Settings → Extensions → DEV Community API Keys → \
                 Generate API Key. It reads and writes the articles of the account that made it.",
            )],
        },
        config: Vec::new(),
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: None,
        rate_limit: RateBudget {
            requests: REQUESTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: Some(2),
        },
        docs_url: "https://developers.forem.com/api/v1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_consistent() {
        let spec = spec();
        assert_eq!(spec.metric_problems(), Vec::<String>::new());
        let stream = spec.stream(ARTICLES).unwrap();
        let names: Vec<&str> = stream.metrics.iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            [
                PAGE_VIEWS,
                REACTIONS,
                COMMENTS,
                PAGE_VIEWS_CHANGE,
                REACTIONS_CHANGE,
                COMMENTS_CHANGE
            ]
        );
        let actions: Vec<&str> = spec.actions.iter().map(|a| a.name).collect();
        assert_eq!(
            actions,
            [PUBLISH_ARTICLE, UPDATE_ARTICLE, UNPUBLISH_ARTICLE]
        );
    }
}

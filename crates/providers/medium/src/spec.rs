//! Medium's static description: a self-issued integration token, the `profile` and
//! `publications` streams (Medium's API has nothing else to read), the one action
//! it allows (publishing a post), and the request budget Junction shares across
//! connections.
//!
//! Medium no longer supports its API and issues no new integration tokens: only a
//! user who made one before can connect. The catalog entry says so.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{AuthSpec, Category, ConfigField, ProviderSpec, RateBudget};
use junction_toolkit::described;

/// The provider id: the registry's key and the sandbox's mount point (`/medium/`).
pub const PROVIDER_ID: &str = "medium";

/// The API host; `ctx.base_url` replaces it in the sandbox and in tests.
pub const DEFAULT_BASE: &str = "https://api.medium.com";

/// The version prefix every API path is under.
pub const API_VERSION: &str = "v1";

/// The streams (described in `streams.json`).
pub const PROFILE: &str = "profile";
pub const PUBLICATIONS: &str = "publications";

/// The action (described in `actions.json`). Medium cannot update or unpublish a
/// post through its API, so there is no `update_article`.
pub const PUBLISH_ARTICLE: &str = "publish_article";

/// The secret field holding the integration token.
pub const TOKEN_FIELD: &str = "integration_token";

/// Requests per minute of the shared budget: Medium publishes no limits beyond a
/// daily cap on new posts; a modest budget keeps clear of it.
const REQUESTS_PER_MINUTE: u32 = 30;

/// The provider's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Medium (legacy integration tokens)",
        category: Category::Publishing,
        auth: AuthSpec::ApiKey {
            fields: vec![ConfigField::secret(
                TOKEN_FIELD,
                "Integration token",
                "A self-issued integration token (medium.com → Settings → Security and apps → \
                 Integration tokens). Medium no longer supports its API and issues no new \
                 tokens: only a token made before that works. It publishes as its user.",
            )],
        },
        config: Vec::new(),
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: None,
        rate_limit: RateBudget {
            requests: REQUESTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: Some(1),
        },
        docs_url: "https://github.com/Medium/medium-api-docs",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_consistent() {
        let spec = spec();
        assert_eq!(spec.metric_problems(), Vec::<String>::new());
        let streams: Vec<&str> = spec.streams.iter().map(|s| s.name).collect();
        assert_eq!(streams, [PROFILE, PUBLICATIONS]);
        let actions: Vec<&str> = spec.actions.iter().map(|a| a.name).collect();
        assert_eq!(actions, [PUBLISH_ARTICLE]);
    }
}

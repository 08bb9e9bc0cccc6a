//! Hashnode's static description: a personal access token, the optional default
//! publication, the `publications` and `posts` streams with their KPIs, the article
//! actions, and the request budget Junction shares across connections.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{AuthSpec, Category, ConfigField, ProviderSpec, RateBudget};
use junction_toolkit::{StringSetting, described};

/// The provider id: the registry's key and the sandbox's mount point (`/hashnode/`).
pub const PROVIDER_ID: &str = "hashnode";

/// The GraphQL endpoint (`POST /`); `ctx.base_url` replaces it in the sandbox and in
/// tests.
pub const DEFAULT_BASE: &str = "https://gql.hashnode.com";

/// The streams (described in `streams.json`).
pub const PUBLICATIONS: &str = "publications";
pub const POSTS: &str = "posts";

/// The KPIs of `posts`, per post (declared in `streams.json`).
pub const VIEWS: &str = "views";
pub const REACTIONS: &str = "reactions";
pub const RESPONSES: &str = "responses";

/// The actions (described in `actions.json`).
pub const PUBLISH_ARTICLE: &str = "publish_article";
pub const UPDATE_ARTICLE: &str = "update_article";
pub const SAVE_DRAFT: &str = "save_draft";

/// The secret field holding the personal access token.
pub const TOKEN_FIELD: &str = "personal_access_token";

/// A Hashnode object id (a MongoDB ObjectId: 24 hex digits).
pub const OBJECT_ID: &str = "[0-9a-fA-F]{24}";

/// The publication actions write to when their input names none, and the only one
/// `posts` reads when set (every publication of the user otherwise).
pub const PUBLICATION: StringSetting = StringSetting::new(
    "publication_id",
    "Publication id",
    "The id of the Hashnode publication (blog) to publish to by default: Blog dashboard → \
     the id in the address (hashnode.com/<id>/dashboard). Leave empty to read every \
     publication of the user and to name one per action.",
)
.pattern(OBJECT_ID)
.mismatch("must be a Hashnode id: 24 hexadecimal digits")
.optional();

/// Requests per minute of the shared budget: well inside Hashnode's limits (20,000
/// queries and 500 mutations a minute per user).
const REQUESTS_PER_MINUTE: u32 = 300;

/// The provider's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Hashnode",
        category: Category::Publishing,
        auth: AuthSpec::ApiKey {
            fields: vec![ConfigField::secret(
                TOKEN_FIELD,
                "Personal access token",
                "hashnode.com → Account settings → Developer → Generate new token. It acts as \
                 the user on every publication they belong to.",
            )],
        },
        config: vec![PUBLICATION.field()],
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: None,
        rate_limit: RateBudget {
            requests: REQUESTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: Some(4),
        },
        docs_url: "https://apidocs.hashnode.com",
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
        assert_eq!(streams, [PUBLICATIONS, POSTS]);
        let metrics: Vec<&str> = spec
            .stream(POSTS)
            .unwrap()
            .metrics
            .iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(metrics, [VIEWS, REACTIONS, RESPONSES]);
        let actions: Vec<&str> = spec.actions.iter().map(|a| a.name).collect();
        assert_eq!(actions, [PUBLISH_ARTICLE, UPDATE_ARTICLE, SAVE_DRAFT]);
    }
}

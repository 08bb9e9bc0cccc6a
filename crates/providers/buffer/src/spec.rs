//! The provider's static description: how a connection authenticates (a personal API
//! key: Buffer's OAuth for third-party apps is announced, not open), its settings,
//! its streams and actions (data files), and the request budget Junction shares
//! across connections.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{AuthSpec, Category, ConfigField, ProviderSpec, RateBudget};
use junction_toolkit::{IntSetting, ListSetting, StringSetting, described};

/// The provider id: the registry's key and the sandbox's mount point (`/buffer/`).
pub const PROVIDER_ID: &str = "buffer";

/// Buffer's GraphQL endpoint: every operation is a `POST` to the root;
/// `ctx.base_url` replaces it in the sandbox and in tests.
pub const DEFAULT_BASE: &str = "https://api.buffer.com";

/// The streams (described in `streams.json`).
pub const ORGANIZATIONS: &str = "organizations";
pub const CHANNELS: &str = "channels";
pub const POSTS: &str = "posts";
pub const POSTING_LIMITS: &str = "daily_posting_limits";

/// The KPIs (declared in `streams.json`).
pub const CHANNEL_COUNT: &str = "channels_connected";
pub const QUEUE_SIZE: &str = "queue_size";
pub const POSTS_SENT: &str = "posts_sent";
pub const POSTS_SCHEDULED: &str = "posts_scheduled";
pub const DAILY_POSTING_LIMIT: &str = "daily_posting_limit";

/// The actions (described in `actions.json`).
pub const CREATE_POST: &str = "create_post";
pub const DELETE_POST: &str = "delete_post";
pub const CREATE_IDEA: &str = "create_idea";

/// The secret field holding the API key.
pub const API_KEY_FIELD: &str = "api_key";

/// What the key field tells a user: where keys come from, and why there is no OAuth
/// button (the catalog and the connect form show it).
const API_KEY_HELP: &str = "A personal API key, created at publish.buffer.com/settings/api; \
     it acts for the whole Buffer account (every organization), without scopes. Buffer has \
     announced OAuth 2.0 for third-party apps but not opened it yet, so Junction connects \
     with a key.";

/// The one organization to read; all of the account's when unset.
pub const ORGANIZATION: StringSetting = StringSetting::new(
    "organization_id",
    "Organization",
    "The id of the Buffer organization to sync (the `account` query lists them); every \
     organization of the account when empty.",
)
.pattern("[A-Za-z0-9_-]{1,64}")
.mismatch("must be a Buffer organization id (letters, digits, `_` and `-`)")
.optional();

/// Channels whose posts are read; all channels when empty.
pub const CHANNEL_FILTER: ListSetting = ListSetting::new(
    "channel_ids",
    "Channels",
    "Comma-separated channel ids whose posts are synced; every channel when empty.",
)
.pattern("[A-Za-z0-9_-]+( *, *[A-Za-z0-9_-]+)*")
.mismatch("must be channel ids separated by commas")
.at_most(100, "channels");

/// Post statuses read; every status when empty.
pub const STATUS_FILTER: ListSetting = ListSetting::new(
    "post_statuses",
    "Post statuses",
    "Comma-separated statuses of the posts synced (draft, needs_approval, scheduled, \
     sending, sent, error); every status when empty.",
)
.pattern(
    "(draft|needs_approval|scheduled|sending|sent|error)( *, *(draft|needs_approval|scheduled|sending|sent|error))*",
)
.mismatch("must be post statuses separated by commas: draft, needs_approval, scheduled, sending, sent, error");

/// How far back a first sync reads posts and daily posting figures.
pub const LOOKBACK: IntSetting = IntSetting::lookback_days(
    30,
    365,
    "How many days back the first sync reads posts and daily posting figures (default \
     30, at most 365).",
);

/// Requests per 15 minutes of the shared budget. Buffer allows 100 per 15 minutes per
/// key (and 250 to 500 a day, 3,000 to 15,000 per 30 days by plan); one installation
/// shares its budget across connections, so it stays well inside one key's window.
const REQUESTS_PER_WINDOW: u32 = 60;

/// The provider's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Buffer",
        category: Category::Social,
        auth: AuthSpec::ApiKey {
            fields: vec![ConfigField::secret(API_KEY_FIELD, "API key", API_KEY_HELP)],
        },
        config: vec![
            ORGANIZATION.field(),
            CHANNEL_FILTER.field(),
            STATUS_FILTER.field(),
            LOOKBACK.field(),
        ],
        // Each metric says how it aggregates (sum or gauge) and its unit; GET
        // /v1/metrics lists them.
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: None,
        rate_limit: RateBudget {
            requests: REQUESTS_PER_WINDOW,
            per: Duration::from_secs(15 * 60),
            concurrency: Some(2),
        },
        docs_url: "https://developers.buffer.com/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_parses_and_declares_its_metrics() {
        let spec = spec();
        assert_eq!(spec.streams.len(), 4);
        assert_eq!(spec.actions.len(), 3);
        assert!(
            spec.metric_problems().is_empty(),
            "{:?}",
            spec.metric_problems()
        );
        for action in &spec.actions {
            assert_eq!(action.input_schema["additionalProperties"], false);
        }
    }
}

//! The provider's static description: how a connection authenticates, its
//! settings, its stream, and the request budget Junction shares across connections.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{AuthSpec, Category, ConfigField, ProviderSpec, RateBudget};
use junction_toolkit::{IntSetting, described};

/// The provider id: the registry's key and the sandbox's mount point (`/sendgrid/`).
pub const PROVIDER_ID: &str = "sendgrid";

/// The API host; `ctx.base_url` replaces it in the sandbox and in tests. The scaffold
/// names a placeholder host: put the provider's production host here.
pub const DEFAULT_BASE: &str = "https://api.sendgrid.example.com";

/// The version prefix every API path is under.
pub const API_VERSION: &str = "v1";

/// The one stream (described in `streams.json`).
pub const ITEMS: &str = "items";

/// The KPI of `items` (declared in `streams.json`): each item's `value` on the day
/// it was created.
pub const ITEM_VALUE: &str = "item_value";

/// The secret field holding the API key.
pub const API_KEY_FIELD: &str = "api_key";

/// How far back a first sync reads: a typed setting, one definition for the spec's
/// field and the adapter's parser.
pub const LOOKBACK: IntSetting = IntSetting::lookback_days(
    30,
    365,
    "How many days back the first sync reads (default 30, at most 365).",
);

/// Requests per minute of the shared budget: what all connections of one Junction
/// installation may send together.
const REQUESTS_PER_MINUTE: u32 = 120;

/// The provider's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Sendgrid",
        category: Category::Crm,
        auth: AuthSpec::ApiKey {
            fields: vec![ConfigField::secret(
                API_KEY_FIELD,
                "API key",
                "A key with read access, created in the provider's settings.",
            )],
        },
        config: vec![LOOKBACK.field()],
        // The streams are data (`streams.json`, the shape GET /v1/providers/{id}
        // serves). Each metric says how it aggregates: a sum (adds over days and
        // dimensions), a gauge (a level: a week reads its last day) or a ratio of two
        // sum metrics; and its unit (money carries a `currency` dimension).
        // GET /v1/metrics lists them.
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: Vec::new(),
        webhook: None,
        rate_limit: RateBudget {
            requests: REQUESTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: None,
        },
        docs_url: "https://sendgrid.example.com/docs/api",
    }
}

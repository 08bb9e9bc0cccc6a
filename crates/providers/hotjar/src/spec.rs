//! Hotjar's static description: how a connection authenticates (the user's own API
//! key pair, by the OAuth client-credentials grant), its settings (the organization
//! and the sites), the streams and actions (data, in `streams.json` and
//! `actions.json`), and the request budget Junction shares across connections.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{
    AuthSpec, Category, ConfigField, ProviderSpec, RateBudget, TokenClientAuth,
};
use junction_toolkit::{ListSetting, StringSetting, described};

/// The provider id: the registry's key and the sandbox's mount point (`/hotjar/`).
pub const PROVIDER_ID: &str = "hotjar";

/// The API host; `ctx.base_url` replaces it in the sandbox and in tests.
pub const DEFAULT_BASE: &str = "https://api.hotjar.io";

/// The version prefix every API path is under.
pub const API_VERSION: &str = "v1";

/// Hotjar's token endpoint (`POST /v1/oauth/token`, form-encoded, the key pair in
/// the body).
pub const TOKEN_URL: &str = "https://api.hotjar.io/v1/oauth/token";

/// The configured sites, each with its survey counts.
pub const SITES: &str = "sites";
/// Every survey of the configured sites, with its questions.
pub const SURVEYS: &str = "surveys";
/// Every response to those surveys.
pub const SURVEY_RESPONSES: &str = "survey_responses";

/// KPI of `survey_responses`: responses submitted on the day, by survey and site.
pub const SURVEY_RESPONSES_METRIC: &str = "survey_responses";
/// KPI of `sites`: the surveys a site has (a gauge, by site).
pub const SURVEYS_METRIC: &str = "surveys";
/// KPI of `sites`: the surveys of a site currently collecting responses.
pub const SURVEYS_ENABLED: &str = "surveys_enabled";

/// Action: look a data subject up (`delete_all_hits: false`).
pub const LOOKUP_USER: &str = "lookup_user";
/// Action: ask Hotjar to delete everything it holds about a data subject
/// (`delete_all_hits: true`).
pub const DELETE_USER_DATA: &str = "delete_user_data";

/// The field the user types the client id of their API key into (sealed: Hotjar
/// issues a new id with every key, so a reconnect replaces the pair whole).
pub const CLIENT_ID_FIELD: &str = "client_id";

/// The secret field holding the client secret of the key.
pub const CLIENT_SECRET_FIELD: &str = "client_secret";

/// The organization the key belongs to (user lookup and deletion are per
/// organization).
pub const ORGANIZATION_ID: StringSetting = StringSetting::new(
    "organization_id",
    "Organization ID",
    "The numeric id of your Hotjar organization, shown under Sites & Organizations.",
)
.pattern("[0-9]{1,20}")
.mismatch("must be the numeric organization id shown under Sites & Organizations");

/// The most sites one connection reads.
pub const MAX_SITES: usize = 20;

/// The sites whose surveys are read: Hotjar's documented API has no endpoint that
/// lists an organization's sites, so the user names them.
pub const SITE_IDS: ListSetting = ListSetting {
    text: StringSetting::new(
        "site_ids",
        "Site IDs",
        "The numeric ids of the sites to read, comma-separated (Sites & Organizations).",
    )
    .pattern("[0-9]{1,20}( *, *[0-9]{1,20})*")
    .mismatch("must be numeric site ids separated by commas, as shown under Sites & Organizations"),
    reserved: &[],
    max: Some((MAX_SITES, "sites")),
};

/// Requests per minute of the shared budget: Hotjar allows 3000 per minute [check];
/// all connections of one installation stay well inside it.
const REQUESTS_PER_MINUTE: u32 = 2000;

/// The provider's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Hotjar",
        category: Category::ProductAnalytics,
        auth: AuthSpec::ClientCredentials {
            token_url: TOKEN_URL,
            // Hotjar's token request takes no scope: the key's own scope applies.
            scopes: Vec::new(),
            client_auth: TokenClientAuth::RequestBody,
            client_id: ConfigField::secret(
                CLIENT_ID_FIELD,
                "Client ID",
                "The client ID of an API key generated under Settings → API.",
            ),
            client_secret: ConfigField::secret(
                CLIENT_SECRET_FIELD,
                "Client secret",
                "The client secret shown with that client ID.",
            ),
        },
        config: vec![ORGANIZATION_ID.field(), required(SITE_IDS.field())],
        // The streams are data (`streams.json`, the shape GET /v1/providers/{id}
        // serves), each metric with how it aggregates.
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: None,
        rate_limit: RateBudget {
            requests: REQUESTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: Some(8),
        },
        docs_url: "https://help.hotjar.com/hc/en-us/articles/36820005914001-Hotjar-API-Reference",
    }
}

/// A list setting made required: without a site there is nothing to read.
fn required(mut field: ConfigField) -> ConfigField {
    field.required = true;
    field
}

/// The configured site ids: at least one.
pub(crate) fn site_ids(
    conn: &junction_core::Connection,
) -> Result<Vec<String>, junction_core::AdapterError> {
    let sites = SITE_IDS.read(conn)?;
    if sites.is_empty() {
        return Err(junction_core::AdapterError::invalid_field(
            SITE_IDS.text.name,
            "is not set: name at least one site",
        ));
    }
    Ok(sites)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_parses_and_is_consistent() {
        let spec = spec();
        assert_eq!(
            spec.streams.iter().map(|s| s.name).collect::<Vec<_>>(),
            [SITES, SURVEYS, SURVEY_RESPONSES]
        );
        assert_eq!(
            spec.actions.iter().map(|a| a.name).collect::<Vec<_>>(),
            [LOOKUP_USER, DELETE_USER_DATA]
        );
        assert!(
            spec.metric_problems().is_empty(),
            "{:?}",
            spec.metric_problems()
        );
    }
}

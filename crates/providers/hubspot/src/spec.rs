//! The static description of the HubSpot provider: its two entries (a private app's
//! access token, and OAuth 2.0 for a public app), the settings, the streams and their
//! metrics and the actions with their input schemas (as data: `streams.json` and
//! `actions.json`, in the shape the API serves them), the names the code uses of each,
//! the webhook scheme and the request budget.
//!
//! HubSpot is two provider entries because a spec has exactly one auth kind:
//! `hubspot` (a private app's static access token, sent as `Authorization: Bearer`)
//! and `hubspot-oauth` (a public app's authorization-code flow, access tokens of 30
//! minutes renewed with a long-lived refresh token), identical but for their id, name,
//! auth, webhook secret and budget.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{
    AuthSpec, Category, ConfigField, OAuth2Spec, ProviderSpec, RateBudget, RefreshBehaviour,
    TokenClientAuth, WebhookScheme, WebhookSecret, WebhookSpec,
};
use junction_toolkit::{IntSetting, described};

/// The private-app entry's id (also the sandbox mount point of its fake).
pub const PROVIDER_ID: &str = "hubspot";

/// The OAuth 2.0 entry's id (also the sandbox mount point of its fake).
pub const OAUTH_PROVIDER_ID: &str = "hubspot-oauth";

/// HubSpot's API host; `ctx.base_url` replaces it for the sandbox and tests. Paths
/// carry their API and version (`/crm/v3/objects/contacts`, `/crm/v4/...`,
/// `/account-info/v3/details`), so the description has no prefix.
pub const DEFAULT_BASE: &str = "https://api.hubapi.com";

/// Where HubSpot asks a user to install a public app into an account.
pub const OAUTH_AUTHORIZE_URL: &str = "https://app.hubspot.com/oauth/authorize";

/// HubSpot's token endpoint (code exchange and refresh; form bodies).
pub const OAUTH_TOKEN_URL: &str = "https://api.hubapi.com/oauth/v1/token";

/// HubSpot's RFC 7009 revocation endpoint.
pub const OAUTH_REVOKE_URL: &str = "https://api.hubapi.com/oauth/v3/token/revoke";

/// The scopes Junction asks for: reading contacts, companies, deals and owners;
/// writing what the actions write (contacts, companies for associations from a
/// company, deals, notes — which HubSpot files under the objects they are attached
/// to); and `oauth`, which every public app has and which reads the account's
/// details (`GET /account-info/v3/details`).
pub const OAUTH_SCOPES: [&str; 8] = [
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.owners.read",
];

/// The credential field holding a private app's access token.
pub const ACCESS_TOKEN_FIELD: &str = "access_token";

/// The credential field holding a private app's client secret, which signs the
/// webhooks the private app sends.
pub const WEBHOOK_SECRET_FIELD: &str = "webhook_secret";

/// The config field saying how many days back the first `daily_totals` sync reads.
pub const LOOKBACK_FIELD: &str = "lookback_days";

/// Stream: contacts.
pub const CONTACTS: &str = "contacts";
/// Stream: companies.
pub const COMPANIES: &str = "companies";
/// Stream: deals.
pub const DEALS: &str = "deals";
/// Stream: the account's users that own records.
pub const OWNERS: &str = "owners";
/// Stream: deal pipelines with their stages, and the open pipeline by stage.
pub const PIPELINES: &str = "pipelines";
/// Stream: per-day totals of new contacts, created deals and won deals.
pub const DAILY_TOTALS: &str = "daily_totals";

/// KPI: contacts created that day.
pub const KPI_NEW_CONTACTS: &str = "new_contacts";
/// KPI: deals created that day.
pub const KPI_DEALS_CREATED: &str = "deals_created";
/// KPI: deals closed won that day.
pub const KPI_DEALS_WON: &str = "deals_won";
/// KPI: the amount of the deals closed won that day, by currency.
pub const KPI_WON_AMOUNT: &str = "won_amount";
/// KPI: the amount of the open deals in a stage on the sync day, by currency.
pub const KPI_OPEN_PIPELINE_VALUE: &str = "open_pipeline_value";
/// KPI: how many open deals a stage holds on the sync day.
pub const KPI_OPEN_DEALS: &str = "open_deals";

/// Action: create or update a contact by email address.
pub const UPSERT_CONTACT: &str = "upsert_contact";
/// Action: create a deal, or update one by id.
pub const UPSERT_DEAL: &str = "upsert_deal";
/// Action: associate two records with HubSpot's default association.
pub const ASSOCIATE: &str = "associate";
/// Action: add a note to a record's timeline.
pub const ADD_NOTE: &str = "add_note";

/// The webhook events Junction handles: creations, property changes and deletions
/// (and restores, merges and association changes, which re-read the object) of
/// contacts, companies and deals, and the generic `object.*` subscriptions.
pub const WEBHOOK_EVENTS: [&str; 16] = [
    "contact.creation",
    "contact.propertyChange",
    "contact.deletion",
    "contact.restore",
    "contact.merge",
    "company.creation",
    "company.propertyChange",
    "company.deletion",
    "company.restore",
    "deal.creation",
    "deal.propertyChange",
    "deal.deletion",
    "deal.restore",
    "object.creation",
    "object.propertyChange",
    "object.deletion",
];

/// How far back the first `daily_totals` sync reads.
pub(crate) const LOOKBACK: IntSetting = IntSetting::lookback_days(
    30,
    730,
    "How many days of daily totals (new contacts, created and won deals) the first sync \
     reads (default 30, at most 730).",
);

/// HubSpot allows a private app 100 requests per 10 seconds (190 on Professional and
/// Enterprise) and a public app 110 per 10 seconds per installing account. The shared
/// budget holds every connection to the smaller figure, so one account is never
/// refused; the headers of each answer tell the limiter more.
const REQUESTS_PER_TEN_SECONDS: u32 = 100;

/// The public app's figure, per installing account.
const OAUTH_REQUESTS_PER_TEN_SECONDS: u32 = 110;

/// The private-app entry's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

/// The OAuth 2.0 entry's spec, built once.
pub fn oauth_spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build_oauth)
}

fn webhook(secret: WebhookSecret) -> WebhookSpec {
    WebhookSpec {
        scheme: WebhookScheme::HubSpotV3 {
            tolerance_secs: junction_core::webhook::hubspot::DEFAULT_TOLERANCE_SECS,
        },
        events: WEBHOOK_EVENTS.to_vec(),
        secret,
        verify_token_field: None,
    }
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "HubSpot",
        category: Category::Crm,
        auth: AuthSpec::ApiKey {
            fields: vec![
                ConfigField::secret(
                    ACCESS_TOKEN_FIELD,
                    "Private app access token",
                    "The access token of a HubSpot private app (Settings → Integrations → \
                     Private Apps → your app → Auth), starting with `pat-`. Give the app the \
                     scopes listed in Junction's HubSpot guide.",
                )
                .with_pattern(r"\S+"),
            ],
        },
        config: vec![
            LOOKBACK.field(),
            ConfigField::secret(
                WEBHOOK_SECRET_FIELD,
                "Webhook signing secret",
                "Optional. The private app's client secret (its Auth tab in HubSpot),                  which signs the webhooks the app sends. Without it Junction syncs on its                  schedule only.",
            )
            .optional()
            .with_pattern(r"\S+"),
        ],
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        // A private app signs its webhooks with its own client secret, which the user
        // pastes into the integration's webhook setup.
        webhook: Some(webhook(WebhookSecret::Field(WEBHOOK_SECRET_FIELD))),
        rate_limit: RateBudget {
            requests: REQUESTS_PER_TEN_SECONDS,
            per: Duration::from_secs(10),
            concurrency: None,
        },
        docs_url: "https://developers.hubspot.com/docs/api/overview",
    }
}

/// The `hubspot-oauth` entry: the private-app entry's settings, streams and actions,
/// with HubSpot's authorization-code flow instead of a token.
fn build_oauth() -> ProviderSpec {
    ProviderSpec {
        id: OAUTH_PROVIDER_ID,
        name: "HubSpot (OAuth)",
        auth: AuthSpec::OAuth2(OAuth2Spec {
            authorize_url: OAUTH_AUTHORIZE_URL,
            token_url: OAUTH_TOKEN_URL,
            revoke_url: Some(OAUTH_REVOKE_URL),
            scopes: OAUTH_SCOPES.to_vec(),
            scope_separator: " ",
            pkce: true,
            extra_authorize_params: Vec::new(),
            // Access tokens last 30 minutes; the refresh token stays the same for the
            // life of the installation.
            refresh: RefreshBehaviour::Stable,
            client_auth: TokenClientAuth::RequestBody,
            long_lived_exchange: None,
        }),
        config: vec![LOOKBACK.field()],
        // A public app signs every account's webhooks with the app's client secret.
        webhook: Some(webhook(WebhookSecret::AppClientSecret)),
        rate_limit: RateBudget {
            requests: OAUTH_REQUESTS_PER_TEN_SECONDS,
            per: Duration::from_secs(10),
            concurrency: None,
        },
        ..build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_entries_describe_everything() {
        for spec in [spec(), oauth_spec()] {
            assert_eq!(spec.streams.len(), 6, "{}", spec.id);
            assert_eq!(spec.actions.len(), 4, "{}", spec.id);
            assert!(
                spec.metric_problems().is_empty(),
                "{:?}",
                spec.metric_problems()
            );
        }
        assert!(matches!(oauth_spec().auth, AuthSpec::OAuth2(_)));
        assert!(matches!(spec().auth, AuthSpec::ApiKey { .. }));
    }
}

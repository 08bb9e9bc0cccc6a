//! The static description of the Meta Ads provider: Facebook Login OAuth 2.0 with the
//! long-lived token exchange (the toolkit's), config fields, the `insights` stream
//! (data: `streams.json`, its metrics' kinds and units), webhooks and the request
//! budget.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{
    AuthSpec, Category, ProviderSpec, RateBudget, WebhookScheme, WebhookSecret, WebhookSpec,
};
use junction_toolkit::{IntSetting, StringSetting, described, oauth};

/// The provider id (also the sandbox mount point of the fake).
pub const PROVIDER_ID: &str = "meta-ads";

/// The Graph API version every path is under (the one the official specs in
/// provider-specs/meta were generated for).
pub const GRAPH_VERSION: &str = "v25.0";

/// The Graph API host; `ctx.url` replaces it for the sandbox and tests.
pub const DEFAULT_BASE: &str = "https://graph.facebook.com";

/// The one stream: insights per campaign and day.
pub const INSIGHTS: &str = "insights";

/// The read permission of the Marketing API.
pub const ADS_READ_SCOPE: &str = "ads_read";

/// The read-write permission; it includes what `ads_read` allows.
pub const ADS_MANAGEMENT_SCOPE: &str = "ads_management";

/// How far back a first sync reads when `lookback_days` is not set.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 90;

/// The longest `lookback_days`: the Marketing API keeps 37 months of insights.
pub const MAX_LOOKBACK_DAYS: u32 = 1_110;

/// The ad account a connection reads (spec field and parser).
pub(crate) const AD_ACCOUNT: StringSetting = StringSetting::new(
    "ad_account_id",
    "Ad account ID",
    "The numeric ad account ID, with or without the `act_` prefix, e.g. \
     `act_1234567890`. In Meta Ads Manager it is shown in the account menu at \
     the top left and in the URL (`act=...`).",
)
.pattern("(act_)?[0-9]+")
.mismatch("must be the numeric ad account ID, with or without the `act_` prefix")
.with_options();

/// How far back the first sync reads.
pub(crate) const LOOKBACK: IntSetting = IntSetting::lookback_days(
    DEFAULT_LOOKBACK_DAYS,
    MAX_LOOKBACK_DAYS,
    "How many days back the first sync reads (default 90, at most 1110: \
     Meta keeps 37 months of insights).",
);

/// The verify token of the webhook handshake.
const VERIFY_TOKEN: StringSetting = StringSetting::new(
    VERIFY_TOKEN_FIELD,
    "Webhook verify token",
    "Optional. A random string you also type into the Meta app's Webhooks \
     settings; Meta sends it back when it verifies the callback URL.",
)
.secret()
.optional();

/// Days re-read at every sync: Meta restates conversions (attribution windows up to
/// 28 days after the click) and spend adjustments for about that long.
pub const RESTATEMENT_DAYS: i64 = 28;

/// The webhook fields of the `ad_account` object Junction acts on: ad objects whose
/// delivery state changed (in review, active again, paused, with issues).
pub const WEBHOOK_FIELDS: [&str; 2] = ["in_process_ad_objects", "with_issues_ad_objects"];

/// The integration field holding the verify token of the webhook handshake.
pub const VERIFY_TOKEN_FIELD: &str = "webhook_verify_token";

/// Requests per hour of the shared budget. Meta meters Marketing API calls per app
/// and per ad account (business use case "ads_insights": a score that grows with the
/// number of active ads) and says how much is used in `X-Business-Use-Case-Usage`,
/// which the limiter is fed with. 1,200 an hour keeps a few dozen ad accounts synced
/// every few hours far from the development tier's limits.
const REQUESTS_PER_HOUR: u32 = 1_200;

/// Concurrent insights queries: Meta throttles heavy concurrent reports of one
/// account (error 80000) before any hourly limit.
const CONCURRENT_REQUESTS: u32 = 4;

/// The provider's spec, built once.
pub(crate) fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Meta Ads",
        category: Category::Advertising,
        // Facebook Login (the toolkit's): no refresh token, the long-lived token
        // (about 60 days) renewed by exchanging it again a week before it expires.
        // Meta revokes with `DELETE /me/permissions`, which the adapter's `revoke`
        // calls; it has no RFC 7009 endpoint.
        auth: AuthSpec::OAuth2(oauth::facebook_login(
            "https://www.facebook.com/v25.0/dialog/oauth",
            "https://graph.facebook.com/v25.0/oauth/access_token",
            vec![ADS_READ_SCOPE],
        )),
        config: vec![AD_ACCOUNT.field(), LOOKBACK.field(), VERIFY_TOKEN.field()],
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: Vec::new(),
        webhook: Some(WebhookSpec {
            scheme: WebhookScheme::MetaHubSignature256,
            events: WEBHOOK_FIELDS.to_vec(),
            secret: WebhookSecret::AppClientSecret,
            verify_token_field: Some(VERIFY_TOKEN_FIELD),
        }),
        rate_limit: RateBudget {
            requests: REQUESTS_PER_HOUR,
            per: Duration::from_secs(60 * 60),
            concurrency: Some(CONCURRENT_REQUESTS),
        },
        docs_url: "https://developers.facebook.com/docs/marketing-api/insights",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use junction_core::spec::RefreshBehaviour;
    use serde_json::json;

    fn values(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn config_validation() {
        for good in [
            json!({"ad_account_id": "1234567890"}),
            json!({"ad_account_id": "act_1234567890", "lookback_days": 30}),
            json!({"ad_account_id": "1", "webhook_verify_token": "tok"}),
        ] {
            assert_eq!(
                spec().validate_fields(&values(good.clone())),
                Ok(()),
                "{good}"
            );
        }
        let errors = spec()
            .validate_fields(&values(
                json!({"ad_account_id": "acct-12", "lookback_days": "x"}),
            ))
            .err()
            .unwrap_or_default();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["ad_account_id", "lookback_days"]);
    }

    #[test]
    fn the_spec_declares_the_long_lived_exchange_and_the_app_secret() {
        let AuthSpec::OAuth2(oauth) = &spec().auth else {
            panic!("Meta Ads is OAuth 2.0");
        };
        assert_eq!(oauth.refresh, RefreshBehaviour::None);
        let exchange = oauth.long_lived_exchange.as_ref().map(|e| e.grant_type);
        assert_eq!(exchange, Some("fb_exchange_token"));
        assert!(oauth.token_url.contains(GRAPH_VERSION));
        let webhook = spec().webhook.as_ref().map(|w| w.secret);
        assert_eq!(webhook, Some(WebhookSecret::AppClientSecret));
    }
}

//! The static description of the Kit (ConvertKit) v4 provider: config fields, the
//! streams and the metrics they produce and the actions with their input schemas (as
//! data: `streams.json` and `actions.json`, in the shape the API serves them), the
//! names the code uses of each, and the request budget. Kit is two provider entries,
//! because a spec has exactly one auth kind: `kit` (a v4 API key) and `kit-oauth`
//! (OAuth 2.0 for Kit apps), identical but for their id, name, auth and budget.

use std::{sync::OnceLock, time::Duration};

use junction_core::spec::{
    AuthSpec, Category, ConfigField, OAuth2Spec, ProviderSpec, RateBudget, RefreshBehaviour,
    TokenClientAuth,
};
use junction_toolkit::{IntSetting, StringSetting, described};

/// The provider id (also the sandbox mount point of the fake).
pub const PROVIDER_ID: &str = "kit";

/// The id of the OAuth 2.0 entry (also the sandbox mount point of its fake).
pub const OAUTH_PROVIDER_ID: &str = "kit-oauth";

/// Where Kit asks the account owner to authorize an app.
pub const OAUTH_AUTHORIZE_URL: &str = "https://app.kit.com/oauth/authorize";

/// Kit's token endpoint (code exchange and refresh).
pub const OAUTH_TOKEN_URL: &str = "https://app.kit.com/oauth/token";

/// Kit's one OAuth scope: Kit has no granular scopes, a token reaches the whole
/// account as a v4 API key does.
pub const OAUTH_SCOPE: &str = "public";

/// Kit's API host; `ctx.url` replaces it for the sandbox and tests. Paths carry the
/// `v4/` version prefix, as the API documents them (`/v4/subscribers`).
pub const DEFAULT_BASE: &str = "https://api.kit.com";

/// The header a v4 API key travels in.
pub const API_KEY_HEADER: &str = "X-Kit-Api-Key";

/// The credential field holding the v4 API key.
pub const API_KEY_FIELD: &str = "api_key";

/// The config field mapping Junction field names to Kit custom-field keys.
pub const FIELD_MAP_FIELD: &str = "field_map";

/// The config field saying how many days back the first growth sync reads.
pub const LOOKBACK_FIELD: &str = "lookback_days";

/// Stream: every subscriber, whatever its state.
pub const SUBSCRIBERS: &str = "subscribers";
/// Stream: Kit's daily growth stats (total, new, unsubscribed) as records and KPIs.
pub const SUBSCRIBER_GROWTH: &str = "subscriber_growth";
/// Stream: tags, with a daily subscriber count per tag.
pub const TAGS: &str = "tags";
/// Stream: sequences, with a daily subscriber count per sequence.
pub const SEQUENCES: &str = "sequences";
/// Stream: forms and landing pages, with a daily subscriber count per form.
pub const FORMS: &str = "forms";
/// Stream: broadcasts (drafts, scheduled and sent).
pub const BROADCASTS: &str = "broadcasts";
/// Stream: the stats of each sent broadcast, as records and KPIs.
pub const BROADCAST_STATS: &str = "broadcast_stats";

/// Action: create or update a subscriber (Kit's create is an upsert by email).
pub const ADD_SUBSCRIBER: &str = "add_subscriber";
/// Action: tag an existing subscriber.
pub const TAG_SUBSCRIBER: &str = "tag_subscriber";
/// Action: enroll an existing subscriber in a sequence.
pub const ADD_TO_SEQUENCE: &str = "add_subscriber_to_sequence";
/// Action: subscribe an existing subscriber to a form (sends its incentive email when
/// the form is double opt-in).
pub const ADD_TO_FORM: &str = "add_subscriber_to_form";
/// Action: create a draft or scheduled broadcast.
pub const CREATE_BROADCAST: &str = "create_broadcast";
/// Action: create or update many subscribers, with a result per subscriber.
pub const BULK_UPSERT_SUBSCRIBERS: &str = "bulk_upsert_subscribers";
/// Action: tag many existing subscribers, with a result per tagging.
pub const BULK_TAG_SUBSCRIBERS: &str = "bulk_tag_subscribers";
/// Action: create a tag (or find the one of that name).
pub const CREATE_TAG: &str = "create_tag";
/// Action: remove a tag from a subscriber.
pub const REMOVE_TAG: &str = "remove_tag_from_subscriber";
/// Action: unsubscribe a subscriber.
pub const UNSUBSCRIBE: &str = "unsubscribe";

/// KPI: subscribers at the end of the day (Kit's growth stats `subscribers`).
pub const KPI_TOTAL_SUBSCRIBERS: &str = "total_subscribers";
/// KPI: subscribers who joined that day (`new_subscribers`).
pub const KPI_NEW_SUBSCRIBERS: &str = "new_subscribers";
/// KPI: subscribers who unsubscribed that day (Kit's `cancellations`).
pub const KPI_UNSUBSCRIBES: &str = "unsubscribes";
/// KPI: new subscribers less unsubscribes (`net_new_subscribers`).
pub const KPI_NET_NEW_SUBSCRIBERS: &str = "net_new_subscribers";
/// KPI: subscribers carrying a tag (dimension `tag_id`), as of the sync day.
pub const KPI_TAG_SUBSCRIBERS: &str = "tag_subscribers";
/// KPI: subscribers in a sequence (dimension `sequence_id`), as of the sync day.
pub const KPI_SEQUENCE_SUBSCRIBERS: &str = "sequence_subscribers";
/// KPI: subscribers who came through a form (dimension `form_id`), as of the sync day.
pub const KPI_FORM_SUBSCRIBERS: &str = "form_subscribers";
/// KPI: recipients of a sent broadcast (dimension `broadcast_id`, dated by send day).
pub const KPI_BROADCAST_RECIPIENTS: &str = "broadcast_recipients";
/// KPI: emails of a broadcast that were opened.
pub const KPI_BROADCAST_OPENS: &str = "broadcast_opens";
/// KPI: a broadcast's open rate, as Kit reports it.
pub const KPI_BROADCAST_OPEN_RATE: &str = "broadcast_open_rate";
/// KPI: a broadcast's click rate, as Kit reports it.
pub const KPI_BROADCAST_CLICK_RATE: &str = "broadcast_click_rate";
/// KPI: total link clicks in a broadcast.
pub const KPI_BROADCAST_CLICKS: &str = "broadcast_clicks";
/// KPI: unsubscribes caused by a broadcast.
pub const KPI_BROADCAST_UNSUBSCRIBES: &str = "broadcast_unsubscribes";
/// KPI: a broadcast's unsubscribe rate, as Kit reports it.
pub const KPI_BROADCAST_UNSUBSCRIBE_RATE: &str = "broadcast_unsubscribe_rate";

/// How far back the first `subscriber_growth` sync reads when `lookback_days` is not set.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 30;

/// The longest allowed `lookback_days`.
pub const MAX_LOOKBACK_DAYS: u32 = 3650;

/// The `field_map` value: `junction_name:kit_key` pairs separated by commas, or
/// nothing (blank). Kit keys are what Kit generates from a custom field's label:
/// lowercase ASCII, digits and underscores.
pub const FIELD_MAP_PATTERN: &str =
    r"\s*(\s*[A-Za-z0-9_]+\s*:\s*[a-z0-9_]+\s*(,\s*[A-Za-z0-9_]+\s*:\s*[a-z0-9_]+\s*)*)?";

/// The `field_map` setting: the spec's field and its reader (the pattern checks the
/// syntax; `settings` the rest).
pub(crate) const FIELD_MAP: StringSetting = StringSetting::new(
    FIELD_MAP_FIELD,
    "Custom field mapping",
    "Optional: how the `fields` of the add_subscriber and bulk_upsert_subscribers \
     actions map onto Kit custom fields, as `junction_name:kit_key` pairs separated by commas, e.g. \
     `last_name:last_name, company:company_name`. Kit keys are shown in Kit under \
     Subscribers → custom fields (the lowercase key, not the label). Names that \
     are not mapped are sent unchanged.",
)
.optional()
.pattern(FIELD_MAP_PATTERN)
.mismatch(
    "each entry must be `junction_name:kit_key` (letters, digits and underscores; the \
     Kit key in lowercase, as Kit shows the key, not the label), separated by commas",
);

/// How far back the first `subscriber_growth` sync reads.
pub(crate) const LOOKBACK: IntSetting = IntSetting::lookback_days(
    DEFAULT_LOOKBACK_DAYS,
    MAX_LOOKBACK_DAYS,
    "How many days of growth stats the first sync reads (default 30, at most 3650).",
);

/// Kit allows 120 requests in 60 seconds per API key (600 per OAuth token). The
/// shared budget holds every connection to one key's limit, which is conservative
/// when several keys are connected but never lets one key be refused.
const REQUESTS_PER_MINUTE: u32 = 120;

/// Kit allows 600 requests in 60 seconds per OAuth access token; the `kit-oauth`
/// budget holds all its connections to one token's limit, as above.
const OAUTH_REQUESTS_PER_MINUTE: u32 = 600;

/// The provider's spec, built once.
pub(crate) fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

/// The OAuth 2.0 entry's spec, built once.
pub(crate) fn oauth_spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build_oauth)
}

/// The `kit-oauth` entry: the API-key entry's config, streams and actions, with Kit's
/// authorization-code flow instead of a key.
fn build_oauth() -> ProviderSpec {
    ProviderSpec {
        id: OAUTH_PROVIDER_ID,
        name: "Kit (OAuth)",
        auth: AuthSpec::OAuth2(OAuth2Spec {
            authorize_url: OAUTH_AUTHORIZE_URL,
            token_url: OAUTH_TOKEN_URL,
            // Kit documents no revocation endpoint: the account owner removes the app
            // in Kit (Settings → Apps).
            revoke_url: None,
            scopes: vec![OAUTH_SCOPE],
            scope_separator: " ",
            pkce: true,
            extra_authorize_params: Vec::new(),
            // Kit's access tokens last about two hours; each refresh returns a new
            // refresh token and retires the one presented, so the new one must be kept.
            refresh: RefreshBehaviour::Rotating,
            client_auth: TokenClientAuth::RequestBody,
            long_lived_exchange: None,
        }),
        rate_limit: RateBudget {
            requests: OAUTH_REQUESTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: None,
        },
        ..build()
    }
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Kit (ConvertKit)",
        category: Category::Email,
        // API keys are what an account owner can create alone; Kit's OAuth 2.0 (for
        // Kit apps) is the `kit-oauth` entry.
        auth: AuthSpec::ApiKey {
            fields: vec![
                ConfigField::secret(
                    API_KEY_FIELD,
                    "API key (v4)",
                    "A Kit v4 API key. In Kit open Settings → Developer → API keys and choose \
                     “Add a new key”; the key is shown once. v3 keys and secrets do not work \
                     with the v4 API.",
                )
                .with_pattern(r"\S+"),
            ],
        },
        config: vec![FIELD_MAP.field(), LOOKBACK.field()],
        // The streams and actions as `GET /v1/providers/kit` serves them.
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        // Kit's webhooks carry no signature, so nothing could tell a real delivery
        // from a forged one: changes arrive through the syncs instead.
        webhook: None,
        rate_limit: RateBudget {
            requests: REQUESTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: None,
        },
        docs_url: "https://developers.kit.com/api-reference/overview",
    }
}

/// An action adding an existing subscriber to a tag, a sequence or a form: each is
/// `POST /v4/{collection}/{id}/subscribers`, the subscriber named by email address in
/// the body or by Kit id in the path.
pub(crate) struct Membership {
    pub action: &'static str,
    /// The collection below `v4/`, and the input field naming one of it (`tag_id`).
    pub collection: &'static str,
    pub id_field: &'static str,
    /// What the id names: "tag", "sequence", "form".
    pub what: &'static str,
    /// The output flag set when the subscriber already was there (Kit answers 200).
    pub already: &'static str,
}

pub(crate) const MEMBERSHIPS: [Membership; 3] = [
    Membership {
        action: TAG_SUBSCRIBER,
        collection: "tags",
        id_field: "tag_id",
        what: "tag",
        already: "already_tagged",
    },
    Membership {
        action: ADD_TO_SEQUENCE,
        collection: "sequences",
        id_field: "sequence_id",
        what: "sequence",
        already: "already_added",
    },
    Membership {
        action: ADD_TO_FORM,
        collection: "forms",
        id_field: "form_id",
        what: "form",
        already: "already_added",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn values(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn settings_validation_accepts_good_settings() {
        for settings in [
            json!({"api_key": "kit_4d1e0c9a"}),
            json!({"api_key": "kit_4d1e0c9a", "field_map": "last_name:last_name"}),
            json!({"api_key": "k", "field_map": " a:b , Company_Name : company_name ", "lookback_days": 90}),
            json!({"api_key": "k", "field_map": "", "lookback_days": "7"}),
        ] {
            assert_eq!(
                spec().validate_fields(&values(settings.clone())),
                Ok(()),
                "{settings}"
            );
        }
    }

    #[test]
    fn settings_validation_rejects_bad_settings_without_echoing_the_key() {
        let errors = spec()
            .validate_fields(&values(json!({
                "api_key": "kit_SECRET with space",
                "field_map": "last_name=LastName",
                "lookback_days": "a month"
            })))
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["api_key", "field_map", "lookback_days"]);
        assert!(errors.iter().all(|e| !e.to_string().contains("SECRET")));
        let errors = spec().validate_fields(&values(json!({}))).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "api_key");
    }

    #[test]
    fn the_oauth_entry_differs_only_in_id_name_auth_and_budget() {
        let (key, oauth) = (spec(), oauth_spec());
        assert_eq!(oauth.id, OAUTH_PROVIDER_ID);
        assert_eq!(oauth.name, "Kit (OAuth)");
        let AuthSpec::OAuth2(flow) = &oauth.auth else {
            panic!("kit-oauth must use OAuth 2.0: {:?}", oauth.auth);
        };
        assert_eq!(flow.authorize_url, "https://app.kit.com/oauth/authorize");
        assert_eq!(flow.token_url, "https://app.kit.com/oauth/token");
        assert!(flow.pkce);
        assert_eq!(flow.refresh, RefreshBehaviour::Rotating);
        assert_eq!(flow.client_auth, TokenClientAuth::RequestBody);
        assert!(flow.long_lived_exchange.is_none());
        assert_eq!(oauth.rate_limit.requests, 600);
        let names = |s: &ProviderSpec| {
            (
                s.streams.iter().map(|x| x.name).collect::<Vec<_>>(),
                s.actions.iter().map(|x| x.name).collect::<Vec<_>>(),
                s.config.iter().map(|x| x.name).collect::<Vec<_>>(),
            )
        };
        assert_eq!(names(key), names(oauth));
        // No credential to type in: the settings are the config alone.
        assert_eq!(
            oauth.validate_fields(&values(json!({"field_map": "a:b", "lookback_days": 5}))),
            Ok(())
        );
    }

    #[test]
    fn every_stream_metric_is_snake_case_unique_and_well_formed() {
        for metric in spec().metrics() {
            assert!(
                metric
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                metric.name
            );
        }
        assert_eq!(spec().metric_problems(), Vec::<String>::new());
    }

    #[test]
    fn every_action_of_actions_json_is_served() {
        let names: Vec<&str> = spec().actions.iter().map(|action| action.name).collect();
        let mut served = vec![
            ADD_SUBSCRIBER,
            CREATE_BROADCAST,
            BULK_UPSERT_SUBSCRIBERS,
            BULK_TAG_SUBSCRIBERS,
            CREATE_TAG,
            REMOVE_TAG,
            UNSUBSCRIBE,
        ];
        served.extend(MEMBERSHIPS.iter().map(|membership| membership.action));
        served.sort_unstable();
        let mut declared = names.clone();
        declared.sort_unstable();
        assert_eq!(declared, served);
        assert_eq!(names[0], ADD_SUBSCRIBER, "the order of the file is kept");
        // Only the bulk actions may take long (up to 1,000 items).
        for action in &spec().actions {
            assert_eq!(
                action.long_running,
                action.name.starts_with("bulk_"),
                "{}",
                action.name
            );
        }
    }

    #[test]
    fn stream_metrics_are_the_kpis_the_adapter_writes() {
        let metrics: std::collections::BTreeSet<&str> = spec()
            .streams
            .iter()
            .flat_map(|stream| stream.metrics.iter().map(|m| m.name))
            .collect();
        let written = std::collections::BTreeSet::from([
            KPI_TOTAL_SUBSCRIBERS,
            KPI_NEW_SUBSCRIBERS,
            KPI_UNSUBSCRIBES,
            KPI_NET_NEW_SUBSCRIBERS,
            KPI_TAG_SUBSCRIBERS,
            KPI_SEQUENCE_SUBSCRIBERS,
            KPI_FORM_SUBSCRIBERS,
            KPI_BROADCAST_RECIPIENTS,
            KPI_BROADCAST_OPENS,
            KPI_BROADCAST_OPEN_RATE,
            KPI_BROADCAST_CLICK_RATE,
            KPI_BROADCAST_CLICKS,
            KPI_BROADCAST_UNSUBSCRIBES,
            KPI_BROADCAST_UNSUBSCRIBE_RATE,
        ]);
        assert_eq!(metrics, written);
        assert_eq!(spec().streams.len(), 7, "streams.json parses");
    }

    #[test]
    fn action_schemas_forbid_unknown_properties() {
        for action in &spec().actions {
            assert_eq!(action.input_schema["type"], "object", "{}", action.name);
            assert_eq!(
                action.input_schema["additionalProperties"], false,
                "{}",
                action.name
            );
        }
    }
}

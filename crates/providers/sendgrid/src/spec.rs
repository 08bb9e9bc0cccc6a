//! The provider's static description: the API key, the region, the default sender,
//! the Event Webhook's public key, the streams (`streams.json`) and actions
//! (`actions.json`), and the request budget Junction shares across connections.

use std::{sync::OnceLock, time::Duration};

use junction_core::{
    spec::{
        AuthSpec, Category, ConfigField, ProviderSpec, RateBudget, WebhookScheme, WebhookSecret,
        WebhookSpec,
    },
    webhook::sendgrid,
};
use junction_toolkit::{EnumSetting, IntSetting, StringSetting, described};

/// The provider id: the registry's key and the sandbox's mount point (`/sendgrid/`).
pub const PROVIDER_ID: &str = "sendgrid";

/// The global API host; `ctx.base_url` replaces it in the sandbox and in tests.
pub const GLOBAL_HOST: &str = "api.sendgrid.com";

/// The EU host, for EU regional subusers.
pub const EU_HOST: &str = "api.eu.sendgrid.com";

/// The version prefix every API path is under.
pub const API_VERSION: &str = "v3";

/// Stream: account-wide statistics by day (`GET /v3/stats`).
pub const GLOBAL_STATS: &str = "global_stats";
/// Stream: statistics by category and day (`GET /v3/categories/stats`).
pub const CATEGORY_STATS: &str = "category_stats";
/// Stream: Marketing Campaigns contact lists (`GET /v3/marketing/lists`).
pub const LISTS: &str = "lists";
/// Stream: Marketing Campaigns contacts, through a contacts export job.
pub const CONTACTS: &str = "contacts";
/// Stream: the account's suppressions (bounces, blocks, spam reports,
/// unsubscribes; `GET /v3/suppression/*`).
pub const SUPPRESSIONS: &str = "suppressions";
/// Stream: the delivery status of each message, from the Event Webhook only.
pub const MESSAGES: &str = "messages";

/// Action: send an email (`POST /v3/mail/send`).
pub const SEND_MAIL: &str = "send_mail";
/// Action: add or update contacts (`PUT /v3/marketing/contacts`, an import job
/// polled to its end).
pub const UPSERT_CONTACTS: &str = "upsert_contacts";
/// Action: add contacts (by email) to a list: the same job with `list_ids`.
pub const ADD_TO_LIST: &str = "add_to_list";

/// The secret field holding the API key.
pub const API_KEY_FIELD: &str = "api_key";

/// The config field holding the Event Webhook's verification key.
pub const WEBHOOK_KEY_FIELD: &str = "webhook_public_key";

/// The SendGrid statistics each stats day carries, by API name, and the KPI each is
/// stored under (global stats; category stats prefix `category_`).
pub const STATS: [(&str, &str); 8] = [
    ("requests", "emails_requested"),
    ("delivered", "emails_delivered"),
    ("opens", "emails_opened"),
    ("unique_opens", "emails_unique_opened"),
    ("clicks", "emails_clicked"),
    ("bounces", "emails_bounced"),
    ("spam_reports", "emails_spam_reported"),
    ("unsubscribes", "emails_unsubscribed"),
];

/// The ratio KPIs of a stats day: `(name, numerator, denominator)` by API name.
pub const RATIOS: [(&str, &str, &str); 3] = [
    ("delivery_rate", "delivered", "requests"),
    ("open_rate", "unique_opens", "delivered"),
    ("click_rate", "clicks", "delivered"),
];

/// The Event Webhook events Junction acts on: every message event moves the
/// message's delivery status; the suppressing ones (see `webhooks`) also suppress
/// the address.
pub const WEBHOOK_EVENTS: [&str; 11] = [
    "processed",
    "deferred",
    "delivered",
    "bounce",
    "dropped",
    "open",
    "click",
    "spamreport",
    "unsubscribe",
    "group_unsubscribe",
    "group_resubscribe",
];

/// The API key format: `SG.` and two dot-separated parts.
pub const API_KEY_PATTERN: &str = r"SG\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+";

/// How far back a first sync reads statistics and suppressions. SendGrid keeps
/// category statistics for 13 months.
pub const LOOKBACK: IntSetting = IntSetting::lookback_days(
    30,
    395,
    "How many days back the first sync reads statistics and suppressions (default 30, at \
     most 395: SendGrid keeps category statistics for 13 months).",
);

/// Which SendGrid region hosts the account.
pub const REGION: EnumSetting = EnumSetting {
    name: "region",
    label: "Region",
    help: "`global` (api.sendgrid.com) for most accounts; `eu` (api.eu.sendgrid.com) for an \
           EU regional subuser, whose data stays in the EU.",
    choices: &["global", "eu"],
    default: Some("global"),
};

/// The sender of an email that names none.
pub const FROM: StringSetting = StringSetting::new(
    "from",
    "Default sender",
    "The sender used when an action (or a Junction notification) names none: \
     `alerts@example.com` or `Acme Alerts <alerts@example.com>`, a verified Sender Identity \
     or on an authenticated domain.",
)
.optional()
.pattern(SENDER_PATTERN)
.mismatch("the connection's default sender is not an email address");

/// A sender: `user@example.com` or `Name <user@example.com>`.
pub const SENDER_PATTERN: &str =
    r"[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+|[^<>@\r\n]*<[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>";

/// Base64 (DER SubjectPublicKeyInfo), optionally PEM-armoured.
const PUBLIC_KEY_PATTERN: &str =
    r"(-----BEGIN PUBLIC KEY-----\s*)?[A-Za-z0-9+/=\s]+(-----END PUBLIC KEY-----\s*)?";

/// SendGrid's documented default for most v3 endpoints is 600 requests a minute
/// (mail send is limited separately and far higher); Junction stays well inside it.
const REQUESTS_PER_MINUTE: u32 = 300;

/// The provider's spec, built once.
pub fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "SendGrid",
        category: Category::Email,
        auth: AuthSpec::ApiKey {
            fields: vec![
                ConfigField::secret(
                    API_KEY_FIELD,
                    "API key",
                    "A SendGrid API key (Settings → API Keys → Create API Key), starting with \
                     `SG.`. Full Access works; a Restricted Access key needs Mail Send, Stats \
                     (read), Suppressions (read) and Marketing (full) for every feature: the \
                     connection check names what is missing.",
                )
                .with_pattern(API_KEY_PATTERN),
            ],
        },
        config: vec![
            REGION.field(),
            FROM.field(),
            ConfigField::secret(
                WEBHOOK_KEY_FIELD,
                "Event Webhook verification key",
                "The public key of the Signed Event Webhook (Settings → Mail Settings → Event \
                 Webhooks → Signature verification), base64 as SendGrid shows it. Without it, \
                 delivery events and suppressions are not received.",
            )
            .optional()
            .with_pattern(PUBLIC_KEY_PATTERN),
            LOOKBACK.field(),
        ],
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: Some(WebhookSpec {
            scheme: WebhookScheme::SendgridEcdsa {
                tolerance_secs: sendgrid::DEFAULT_TOLERANCE_SECS,
            },
            events: WEBHOOK_EVENTS.to_vec(),
            secret: WebhookSecret::Field(WEBHOOK_KEY_FIELD),
            verify_token_field: None,
        }),
        rate_limit: RateBudget {
            requests: REQUESTS_PER_MINUTE,
            per: Duration::from_secs(60),
            concurrency: None,
        },
        docs_url: "https://www.twilio.com/docs/sendgrid/api-reference",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn values(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn settings_are_checked_without_echoing_values() {
        assert_eq!(
            spec().validate_fields(&values(json!({
                "api_key": "SG.abc_DEF-1.xyz", "region": "eu", "from": "Acme <a@acme.example>",
                "webhook_public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==",
                "lookback_days": 90
            }))),
            Ok(())
        );
        let errors = spec()
            .validate_fields(&values(json!({
                "api_key": "re_SECRETVALUE", "region": "mars", "from": "nobody",
                "lookback_days": "a month"
            })))
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["api_key", "region", "from", "lookback_days"]);
        assert!(
            errors
                .iter()
                .all(|e| !e.to_string().contains("SECRETVALUE"))
        );
    }

    #[test]
    fn metrics_and_actions_are_described() {
        assert_eq!(spec().metric_problems(), Vec::<String>::new());
        let global: Vec<&str> = spec()
            .stream(GLOBAL_STATS)
            .unwrap()
            .metrics
            .iter()
            .map(|m| m.name)
            .collect();
        let mut expected: Vec<String> = STATS.iter().map(|(_, kpi)| (*kpi).to_owned()).collect();
        expected.extend(RATIOS.iter().map(|(name, _, _)| (*name).to_owned()));
        assert_eq!(global, expected);
        let category: Vec<&str> = spec()
            .stream(CATEGORY_STATS)
            .unwrap()
            .metrics
            .iter()
            .map(|m| m.name)
            .collect();
        let prefixed: Vec<String> = expected.iter().map(|m| format!("category_{m}")).collect();
        assert_eq!(category, prefixed);
        for action in [SEND_MAIL, UPSERT_CONTACTS, ADD_TO_LIST] {
            let schema = &spec().action(action).unwrap().input_schema;
            assert_eq!(schema["additionalProperties"], false, "{action}");
        }
        let streams: Vec<_> = spec().streams.iter().map(|s| s.name).collect();
        assert_eq!(
            streams,
            [
                GLOBAL_STATS,
                CATEGORY_STATS,
                LISTS,
                CONTACTS,
                SUPPRESSIONS,
                MESSAGES
            ]
        );
    }
}

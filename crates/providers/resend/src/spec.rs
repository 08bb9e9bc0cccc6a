//! The static description of the Resend provider: the API key, config fields, the
//! Svix webhook scheme and the request budget; the `emails`, `domains` and
//! `email_metrics` streams (`streams.json`) and the send actions (`actions.json`) are
//! data files, in the shape `GET /v1/providers/resend` serves them.

use std::{sync::OnceLock, time::Duration};

use junction_core::{
    spec::{
        AuthSpec, Category, ConfigField, ProviderSpec, RateBudget, WebhookScheme, WebhookSecret,
        WebhookSpec,
    },
    webhook::svix,
};
use junction_toolkit::{IntSetting, StringSetting, described};

/// The provider id (also the sandbox mount point of the fake).
pub const PROVIDER_ID: &str = "resend";

/// The Resend API host; `ctx.url` replaces it for the sandbox and tests.
pub const DEFAULT_BASE: &str = "https://api.resend.com";

/// Stream: the emails the team sent, with their delivery status (`last_event`).
pub const EMAILS: &str = "emails";

/// Stream: the team's sending domains and their verification status.
pub const DOMAINS: &str = "domains";

/// Stream: Resend's account-level delivery counts per day, the source of the KPIs.
pub const EMAIL_METRICS: &str = "email_metrics";

/// Action: send one email (`POST /emails`).
pub const SEND_EMAIL: &str = "send_email";

/// Action: send up to [`MAX_BATCH`] emails in one request (`POST /emails/batch`).
pub const SEND_BATCH: &str = "send_batch";

/// Action: read one sent email's delivery status (`GET /emails/{id}`).
pub const GET_EMAIL: &str = "get_email";

/// The most emails `POST /emails/batch` accepts.
pub const MAX_BATCH: usize = 100;

/// The most `to` recipients one email may have.
pub const MAX_RECIPIENTS: usize = 50;

/// The longest `Idempotency-Key` Resend accepts, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 256;

/// The Resend metrics `email_metrics` requests, by API name, and the KPI each is
/// stored under.
pub const METRICS: [(&str, &str); 6] = [
    ("sent", "emails_sent"),
    ("delivered", "emails_delivered"),
    ("bounced", "emails_bounced"),
    ("complained", "emails_complained"),
    ("opened", "emails_opened"),
    ("clicked", "emails_clicked"),
];

/// A domain removed from the team: its record on `domains` is marked deleted.
pub const DOMAIN_DELETED: &str = "domain.deleted";

/// The webhook events Junction acts on: every outbound email event moves the
/// email's delivery status; bounces, complaints and Resend's own suppressions also
/// suppress the address; a deleted domain is marked deleted.
pub const WEBHOOK_EVENTS: [&str; 11] = [
    "email.sent",
    "email.scheduled",
    "email.delivered",
    "email.delivery_delayed",
    "email.bounced",
    "email.complained",
    "email.opened",
    "email.clicked",
    "email.failed",
    "email.suppressed",
    DOMAIN_DELETED,
];

/// How far back a first sync reads when `lookback_days` is not set.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 30;

/// The longest allowed `lookback_days`.
pub const MAX_LOOKBACK_DAYS: u32 = 3650;

/// How many days back a first sync reads emails and daily metrics.
pub(crate) const LOOKBACK: IntSetting = IntSetting::lookback_days(
    DEFAULT_LOOKBACK_DAYS,
    MAX_LOOKBACK_DAYS,
    "How many days back the first sync reads emails and daily metrics (default 30, at most \
     3650).",
);

/// The sender of an email that names none.
pub(crate) const FROM: StringSetting = StringSetting::new(
    "from",
    "Default sender",
    "The sender used when an action does not name one: `alerts@example.com` or `Acme Alerts \
     <alerts@example.com>`, on a domain verified in Resend.",
)
.optional()
.pattern(SENDER_PATTERN)
.mismatch("the connection's default sender is not an email address");

/// The API key format: `re_` and the key's characters.
pub const API_KEY_PATTERN: &str = "re_[A-Za-z0-9_]+";

/// A Svix signing secret: `whsec_` and base64.
pub const WEBHOOK_SECRET_PATTERN: &str = "whsec_[A-Za-z0-9+/]+={0,2}";

/// A sender: `user@example.com` or `Name <user@example.com>`.
pub const SENDER_PATTERN: &str =
    r"[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+|[^<>@\r\n]*<[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>";

/// Resend allows 2 requests per second per team by default (raised on request);
/// every API key of the team shares it, and so does every Junction connection to
/// the team.
const REQUESTS_PER_SECOND: u32 = 2;

/// The provider's spec, built once.
pub(crate) fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Resend",
        category: Category::Email,
        auth: AuthSpec::ApiKey {
            fields: vec![
                ConfigField::secret(
                    "api_key",
                    "API key",
                    "A Resend API key with Full access (Resend → API Keys → Create API key → \
                     Permission: Full access). Sending-access keys cannot read emails, \
                     domains or metrics. It starts with `re_`.",
                )
                .with_pattern(API_KEY_PATTERN),
            ],
        },
        config: vec![
            FROM.field(),
            ConfigField::secret(
                "webhook_secret",
                "Webhook signing secret",
                "The signing secret of the Resend webhook pointing at Junction (Resend → \
                 Webhooks → the endpoint → Signing secret), starting with `whsec_`. Without \
                 it, delivery events and suppressions are not received.",
            )
            .optional()
            .with_pattern(WEBHOOK_SECRET_PATTERN),
            LOOKBACK.field(),
        ],
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: described::actions(include_str!("actions.json"), PROVIDER_ID),
        webhook: Some(WebhookSpec {
            scheme: WebhookScheme::Svix {
                tolerance_secs: svix::DEFAULT_TOLERANCE_SECS,
            },
            events: WEBHOOK_EVENTS.to_vec(),
            secret: WebhookSecret::Field("webhook_secret"),
            verify_token_field: None,
        }),
        rate_limit: RateBudget {
            requests: REQUESTS_PER_SECOND,
            per: Duration::from_secs(1),
            concurrency: None,
        },
        docs_url: "https://resend.com/docs/api-reference/introduction",
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
    fn good_settings_pass() {
        for settings in [
            json!({"api_key": "re_123456789_abcdefghijklmnopqrstuvwx"}),
            json!({
                "api_key": "re_abc",
                "from": "Acme Alerts <alerts@acme.example>",
                "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "lookback_days": 90
            }),
            json!({"api_key": "re_abc", "from": "alerts@acme.example", "lookback_days": "7"}),
        ] {
            assert_eq!(
                spec().validate_fields(&values(settings.clone())),
                Ok(()),
                "{settings}"
            );
        }
    }

    #[test]
    fn bad_settings_are_named_without_their_values() {
        let errors = spec()
            .validate_fields(&values(json!({
                "api_key": "sk_live_SECRETVALUE",
                "from": "not an address",
                "webhook_secret": "SECRETHOOK",
                "lookback_days": "a month"
            })))
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["api_key", "from", "webhook_secret", "lookback_days"]
        );
        for error in &errors {
            let text = error.to_string();
            assert!(
                !text.contains("SECRETVALUE") && !text.contains("SECRETHOOK"),
                "{text}"
            );
        }
    }

    #[test]
    fn senders_need_an_address_on_a_domain() {
        for bad in [
            "alerts",
            "alerts@localhost",
            "Name <alerts>",
            "a@b.c\r\nBcc: x@y.z",
        ] {
            let errors = spec()
                .validate_fields(&values(json!({"api_key": "re_a", "from": bad})))
                .unwrap_err();
            assert_eq!(errors[0].field, "from", "{bad}");
        }
    }

    #[test]
    fn kpis_and_actions_are_described() {
        let metrics: Vec<&str> = spec()
            .stream(EMAIL_METRICS)
            .unwrap()
            .metrics
            .iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(
            metrics,
            [
                "emails_sent",
                "emails_delivered",
                "emails_bounced",
                "emails_complained",
                "emails_opened",
                "emails_clicked"
            ]
        );
        for action in [SEND_EMAIL, SEND_BATCH, GET_EMAIL] {
            let schema = &spec().action(action).unwrap().input_schema;
            assert_eq!(schema["type"], "object");
            assert_eq!(schema["additionalProperties"], false);
        }
        // The batch's emails are `send_email`'s, without `scheduled_at`, within the
        // limits the adapter and the fake enforce.
        let email = &spec().action(SEND_EMAIL).unwrap().input_schema;
        let batch = &spec().action(SEND_BATCH).unwrap().input_schema["properties"]["emails"];
        let mut unscheduled = email.clone();
        unscheduled["properties"]
            .as_object_mut()
            .unwrap()
            .remove("scheduled_at");
        assert_eq!(batch["items"], unscheduled);
        assert_eq!(batch["maxItems"], MAX_BATCH);
        assert_eq!(
            email["properties"]["to"]["oneOf"][1]["maxItems"],
            MAX_RECIPIENTS
        );
        assert_eq!(spec().actions.len(), 3);
        let streams: Vec<_> = spec().streams.iter().map(|s| s.name).collect();
        assert_eq!(streams, [EMAILS, DOMAINS, EMAIL_METRICS]);
        let kpis: Vec<_> = METRICS.iter().map(|(_, kpi)| *kpi).collect();
        assert_eq!(metrics, kpis);
        assert_eq!(spec().metric_problems(), Vec::<String>::new());
    }
}

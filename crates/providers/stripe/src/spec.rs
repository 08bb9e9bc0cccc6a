//! The static description of the Stripe provider: the secret-key credential, the
//! optional webhook signing secret, the six streams with the KPIs they produce
//! (data: `streams.json`), the actions (`actions.json`), the signed webhook events
//! and the request budget.

use std::{sync::OnceLock, time::Duration};

use junction_core::{
    spec::{
        ActionSpec, AuthSpec, Category, ConfigField, FieldKind, ProviderSpec, RateBudget,
        RecipientField, WebhookScheme, WebhookSecret, WebhookSpec,
    },
    webhook::stripe::DEFAULT_TOLERANCE_SECS,
};
use junction_toolkit::described;
use serde::Deserialize;
use serde_json::Value;

/// The provider id (also the sandbox mount point of the fake).
pub const PROVIDER_ID: &str = "stripe";

/// Stripe's API host; `ctx.url` replaces it for the sandbox and tests.
pub const DEFAULT_BASE: &str = "https://api.stripe.com";

/// The API version every request pins with the `Stripe-Version` header.
///
/// Without the header Stripe answers in the account's default version, which differs
/// between accounts and changes when someone upgrades it in the Dashboard, so the same
/// adapter would see different object shapes per tenant. `2025-03-31.basil` is the
/// first version of the current major release: it is the layout the official
/// fixtures (`stripe/openapi` fixtures3.json, which the sandbox fake serves) follow
/// (subscription items carry their billing periods, invoices point at their
/// subscription through `parent`). The fields the adapter reads (ids, `created`,
/// amounts, currencies, statuses, subscription items with their prices, invoice
/// `status_transitions`) are the same in every version since 2024-06-20, so a webhook
/// endpoint left on an older version still parses.
pub const API_VERSION: &str = "2025-03-31.basil";

/// Stream: charges (one record per charge; gross and net revenue per day).
pub const CHARGES: &str = "charges";
/// Stream: payment intents.
pub const PAYMENT_INTENTS: &str = "payment_intents";
/// Stream: customers.
pub const CUSTOMERS: &str = "customers";
/// Stream: subscriptions (a full sweep per sync; MRR, new and churned subscriptions).
pub const SUBSCRIPTIONS: &str = "subscriptions";
/// Stream: invoices.
pub const INVOICES: &str = "invoices";
/// Stream: refunds (refunded amounts per day).
pub const REFUNDS: &str = "refunds";

/// KPI: captured amounts of the day's succeeded charges, in major units.
pub const GROSS_REVENUE: &str = "gross_revenue";
/// KPI: the day's captured charges less what has been refunded of them.
pub const NET_REVENUE: &str = "net_revenue";
/// KPI: amounts of the refunds created that day (succeeded or pending).
pub const REFUNDED: &str = "refunds";
/// KPI: monthly recurring revenue of the active subscriptions, on each sync day.
pub const MRR: &str = "mrr";
/// KPI: subscriptions created that day.
pub const NEW_SUBSCRIPTIONS: &str = "new_subscriptions";
/// KPI: subscriptions that ended that day.
pub const CHURNED_SUBSCRIPTIONS: &str = "churned_subscriptions";

/// The dimension every KPI point carries: the ISO 4217 code, upper case.
pub use junction_core::spec::CURRENCY_DIMENSION;

/// The webhook events Junction handles.
pub const WEBHOOK_EVENTS: [&str; 9] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
    "customer.deleted",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.deleted",
];

/// The scheme Stripe signs webhooks with: `Stripe-Signature`, five minutes of
/// tolerance. The toolkit verifies deliveries with it before the adapter parses them.
pub const WEBHOOK_SCHEME: WebhookScheme = WebhookScheme::Stripe {
    tolerance_secs: DEFAULT_TOLERANCE_SECS,
};

/// The name of the credential field holding the API key.
pub const SECRET_KEY_FIELD: &str = "secret_key";

/// The config field holding the webhook signing secret.
pub const WEBHOOK_SECRET_FIELD: &str = "webhook_secret";

/// The config field saying who gets an email about each payment (`off`, the
/// default; `customer`; `address`; `customer_and_address`).
pub const PAYMENT_EMAILS_FIELD: &str = "payment_emails";

/// The choices of [`PAYMENT_EMAILS_FIELD`].
pub const PAYMENT_EMAILS_CHOICES: [&str; 4] =
    ["off", "customer", "address", "customer_and_address"];

/// The config field with the addresses that get a copy of each payment email.
pub const PAYMENT_EMAILS_TO_FIELD: &str = "payment_emails_to";

/// The whole value of `payment_emails_to`: one to ten addresses separated by commas.
pub const PAYMENT_EMAILS_TO_PATTERN: &str =
    r"\s*[^\s,@<>]+@[^\s,@<>]+\.[^\s,@<>]+\s*(,\s*[^\s,@<>]+@[^\s,@<>]+\.[^\s,@<>]+\s*){0,9}";

/// The whole value of `secret_key`: a secret key (`sk_test_`/`sk_live_`) or a
/// restricted key (`rk_test_`/`rk_live_`).
pub const SECRET_KEY_PATTERN: &str = "(sk|rk)_(test|live)_[0-9A-Za-z]+";

/// The whole value of `webhook_secret`: an endpoint signing secret.
pub const WEBHOOK_SECRET_PATTERN: &str = "whsec_[0-9A-Za-z+/=]+";

/// Requests per second of the shared budget. Stripe limits each account separately
/// (100 read and 100 write requests a second in live mode, 25 each in test mode);
/// this budget is what the whole Junction deployment allows itself across all
/// connected accounts, and 429s from a single busy account are backed off on top.
const REQUESTS_PER_SECOND: u32 = 100;

/// The provider's spec, built once.
pub(crate) fn spec() -> &'static ProviderSpec {
    static SPEC: OnceLock<ProviderSpec> = OnceLock::new();
    SPEC.get_or_init(build)
}

fn build() -> ProviderSpec {
    ProviderSpec {
        id: PROVIDER_ID,
        name: "Stripe",
        category: Category::Payments,
        auth: AuthSpec::ApiKey {
            fields: vec![
                ConfigField::secret(
                    SECRET_KEY_FIELD,
                    "Secret key",
                    "A Stripe secret key (sk_live_… or sk_test_…) or a restricted key \
                     (rk_live_… / rk_test_…) with read access to Charges, PaymentIntents, \
                     Customers, Subscriptions, Invoices, Refunds and the account, and write \
                     access to the objects you want Junction's actions to create. Dashboard \
                     → Developers → API keys.",
                )
                .with_pattern(SECRET_KEY_PATTERN),
            ],
        },
        config: vec![
            ConfigField::secret(
                WEBHOOK_SECRET_FIELD,
                "Webhook signing secret",
                "Optional. The signing secret (whsec_…) of the webhook endpoint you created \
                 for Junction in Dashboard → Developers → Webhooks. Without it Junction \
                 syncs on its schedule only.",
            )
            .optional()
            .with_pattern(WEBHOOK_SECRET_PATTERN),
            ConfigField {
                kind: FieldKind::Enum(PAYMENT_EMAILS_CHOICES.to_vec()),
                ..ConfigField::string(
                    PAYMENT_EMAILS_FIELD,
                    "Payment emails",
                    "Optional (default off). Email about each payment Stripe reports by \
                     webhook — succeeded, failed, refunded — through this workspace's \
                     email integration (Resend): `customer` to the paying customer, \
                     `address` to the addresses below only, `customer_and_address` both \
                     (each its own email). Needs the webhook signing secret and the \
                     events payment_intent.succeeded, payment_intent.payment_failed and \
                     charge.refunded on the endpoint.",
                )
                .optional()
            },
            ConfigField::string(
                PAYMENT_EMAILS_TO_FIELD,
                "Payment email copies to",
                "Optional. Addresses, separated by commas, that get a copy of each payment \
                 email (with payment emails `address` or `customer_and_address`), e.g. \
                 billing@acme.example.",
            )
            .optional()
            .with_pattern(PAYMENT_EMAILS_TO_PATTERN),
        ],
        streams: described::streams(include_str!("streams.json"), PROVIDER_ID),
        actions: action_defs()
            .iter()
            .map(|action| ActionSpec {
                name: action.name,
                description: action.description,
                input_schema: action.input_schema.clone(),
                long_running: false,
                email_recipients: action.email_recipients.clone(),
                provider_recipients: action.provider_recipients,
            })
            .collect(),
        webhook: Some(WebhookSpec {
            scheme: WEBHOOK_SCHEME,
            events: WEBHOOK_EVENTS.to_vec(),
            secret: WebhookSecret::Field(WEBHOOK_SECRET_FIELD),
            verify_token_field: None,
        }),
        rate_limit: RateBudget {
            requests: REQUESTS_PER_SECOND,
            per: Duration::from_secs(1),
            concurrency: None,
        },
        docs_url: "https://docs.stripe.com/api",
    }
}

/// One action of `actions.json`. Names and descriptions are borrowed from the
/// file, so they are written without JSON escapes.
#[derive(Debug, Deserialize)]
pub(crate) struct ActionDef {
    pub name: &'static str,
    pub description: &'static str,
    /// The endpoint, under `v1`; a `{name}` segment is the input field `name` (an
    /// object's id), taken out of the parameters.
    pub path: &'static str,
    /// `POST` (the default), `DELETE` or `GET` (parameters in the query).
    #[serde(default = "post")]
    pub method: &'static str,
    /// Parameters the action always sends, over the input (`mode=payment`,
    /// `cancel_at_period_end=true`, an empty `pause_collection`).
    #[serde(default)]
    pub fixed: serde_json::Map<String, Value>,
    /// Whether the answer is a list (a search result) rather than one object.
    #[serde(default)]
    pub list: bool,
    /// The response fields the outcome keeps.
    pub output: Vec<&'static str>,
    pub input_schema: Value,
    /// The input fields Stripe emails (a receipt to `receipt_email`).
    #[serde(default)]
    pub email_recipients: Vec<RecipientField>,
    /// Whom Stripe emails that the input does not name (an invoice's customer),
    /// in words; the addresses are read before each run (`crate::recipients`).
    #[serde(default)]
    pub provider_recipients: Option<&'static str>,
}

fn post() -> &'static str {
    "POST"
}

/// Every action, in the order the spec lists them.
pub(crate) fn action_defs() -> &'static [ActionDef] {
    static ACTIONS: OnceLock<Vec<ActionDef>> = OnceLock::new();
    ACTIONS.get_or_init(|| {
        serde_json::from_str(include_str!("actions.json")).unwrap_or_else(|err| {
            // The unit tests read the file, so a build that passed them never gets here.
            tracing::error!(provider = PROVIDER_ID, %err, "actions.json does not parse");
            Vec::new()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn keys_of_every_kind_are_accepted() {
        for key in [
            "sk_test_51PgafTB7WZ01zgkWabc",
            "sk_live_51PgafTB7WZ01zgkWabc",
            "rk_test_51PgafTB7WZ01zgkWabc",
            "rk_live_51PgafTB7WZ01zgkWabc",
        ] {
            assert_eq!(
                spec().validate_fields(&values(json!({"secret_key": key}))),
                Ok(()),
                "{key}"
            );
        }
        assert_eq!(
            spec().validate_fields(&values(json!({
                "secret_key": "sk_test_abc",
                "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            }))),
            Ok(())
        );
    }

    #[test]
    fn publishable_keys_and_bad_secrets_are_refused() {
        let errors = spec()
            .validate_fields(&values(json!({
                "secret_key": "pk_live_TOPSECRETVALUE",
                "webhook_secret": "not-a-secret"
            })))
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["secret_key", "webhook_secret"]);
        assert!(
            errors
                .iter()
                .all(|e| !e.to_string().contains("TOPSECRETVALUE"))
        );
        let errors = spec().validate_fields(&values(json!({}))).unwrap_err();
        assert_eq!(errors[0].field, "secret_key");
    }

    #[test]
    fn streams_and_actions_are_described() {
        let names: Vec<_> = spec().streams.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                CHARGES,
                PAYMENT_INTENTS,
                CUSTOMERS,
                SUBSCRIPTIONS,
                INVOICES,
                REFUNDS
            ]
        );
        // The KPIs the mapping emits are the ones streams.json declares.
        let metrics = |stream| {
            let stream = spec().stream(stream).map(|s| s.metrics.iter());
            stream
                .into_iter()
                .flatten()
                .map(|m| m.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(metrics(CHARGES), [GROSS_REVENUE, NET_REVENUE]);
        assert_eq!(
            metrics(SUBSCRIPTIONS),
            [MRR, NEW_SUBSCRIPTIONS, CHURNED_SUBSCRIPTIONS]
        );
        assert_eq!(metrics(REFUNDS), [REFUNDED]);
        assert_eq!(spec().metric_problems(), Vec::<String>::new());
        let actions: Vec<_> = spec().actions.iter().map(|a| a.name).collect();
        assert_eq!(actions, crate::actions::tests::NAMES);
        for action in &spec().actions {
            assert_eq!(action.input_schema["type"], "object", "{}", action.name);
            assert_eq!(action.input_schema["additionalProperties"], false);
        }
    }
}

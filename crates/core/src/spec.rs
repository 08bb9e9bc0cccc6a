//! [`ProviderSpec`]: everything static about a provider.
//!
//! The API's catalog, the connect flow, config validation, the scheduler's default
//! schedules, action input validation, webhook verification and the shared request
//! budget are all driven by this data, so a provider crate describes itself once.

use std::{sync::OnceLock, time::Duration};

use regex::Regex;
use serde::{Deserialize, Serialize};

/// What kind of software a provider is (for grouping in catalogs and dashboards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Analytics,
    Advertising,
    Payments,
    Email,
    Crm,
    Social,
    Publishing,
    ProductAnalytics,
}

/// Static description of a provider.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSpec {
    /// Stable id, e.g. `google-analytics` (a valid [`crate::ProviderId`]).
    pub id: &'static str,
    /// Display name, e.g. `Google Analytics 4`.
    pub name: &'static str,
    pub category: Category,
    pub auth: AuthSpec,
    /// Settings of a connection that are not credentials (a property id, an account id).
    /// Fields flagged `secret` are sealed like credentials.
    pub config: Vec<ConfigField>,
    pub streams: Vec<StreamSpec>,
    pub actions: Vec<ActionSpec>,
    pub webhook: Option<WebhookSpec>,
    pub rate_limit: RateBudget,
    /// Link to the provider's own API documentation.
    pub docs_url: &'static str,
}

/// How a connection authenticates.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuthSpec {
    /// OAuth 2.0 authorization-code flow.
    #[serde(rename = "oauth2")]
    OAuth2(OAuth2Spec),
    /// One or more API keys or tokens typed in by the user.
    ApiKey { fields: Vec<ConfigField> },
    /// HTTP Basic with a username and a password.
    Basic {
        username: ConfigField,
        password: ConfigField,
    },
    /// OAuth 2.0 client-credentials grant (RFC 6749 §4.4) with the user's own client
    /// id and secret, typed in like an API key: Junction fetches an access token with
    /// them on demand and renews it before it expires (`junction_oauth::client_credentials`).
    ClientCredentials {
        token_url: &'static str,
        /// Requested scopes, joined by spaces; empty: the `scope` parameter is left out.
        scopes: Vec<&'static str>,
        client_auth: TokenClientAuth,
        /// The field the client id is typed into. Sealed like the secret: a key pair
        /// is replaced whole on reconnect (Hotjar issues a new id with every key).
        client_id: ConfigField,
        /// The field the client secret is typed into (a secret field).
        client_secret: ConfigField,
    },
}

impl AuthSpec {
    /// A short stable name of the auth kind (`oauth2`, `api_key`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            AuthSpec::OAuth2(_) => "oauth2",
            AuthSpec::ApiKey { .. } => "api_key",
            AuthSpec::Basic { .. } => "basic",
            AuthSpec::ClientCredentials { .. } => "client_credentials",
        }
    }

    /// The credential fields a user types in (empty for OAuth 2.0 authorization code).
    pub fn credential_fields(&self) -> Vec<&ConfigField> {
        match self {
            AuthSpec::OAuth2(_) => Vec::new(),
            AuthSpec::ApiKey { fields } => fields.iter().collect(),
            AuthSpec::Basic { username, password } => vec![username, password],
            AuthSpec::ClientCredentials {
                client_id,
                client_secret,
                ..
            } => vec![client_id, client_secret],
        }
    }
}

/// The OAuth 2.0 authorization-code details of a provider.
#[derive(Debug, Clone, Serialize)]
pub struct OAuth2Spec {
    pub authorize_url: &'static str,
    pub token_url: &'static str,
    pub revoke_url: Option<&'static str>,
    pub scopes: Vec<&'static str>,
    /// How the provider joins scopes in the `scope` parameter (usually a space).
    pub scope_separator: &'static str,
    /// Whether to send a PKCE S256 challenge.
    pub pkce: bool,
    /// Extra query parameters on the authorize URL (`access_type=offline`, ...).
    pub extra_authorize_params: Vec<(&'static str, &'static str)>,
    pub refresh: RefreshBehaviour,
    pub client_auth: TokenClientAuth,
    /// A second step after the code exchange that trades the short-lived token for a
    /// long-lived one (Meta's `fb_exchange_token`), and renews it the same way before
    /// it expires. `None` for the usual providers.
    pub long_lived_exchange: Option<TokenExchangeSpec>,
}

/// A token-for-token exchange at the token endpoint (Meta: `GET /oauth/access_token?
/// grant_type=fb_exchange_token&client_id=..&client_secret=..&fb_exchange_token=..`).
///
/// Providers with such an exchange hand out no refresh token: the engine exchanges the
/// code's short-lived token right away, and "refreshing" means exchanging the current
/// long-lived token again while it is still valid, `renew_before` its expiry.
#[derive(Debug, Clone, Serialize)]
pub struct TokenExchangeSpec {
    /// The `grant_type` value, e.g. `fb_exchange_token`.
    pub grant_type: &'static str,
    /// The parameter that carries the current token, e.g. `fb_exchange_token`.
    pub token_param: &'static str,
    /// Whether the parameters go in a GET query (Meta) or a POST form.
    pub method: TokenExchangeMethod,
    /// How long before the token's expiry it is exchanged again.
    #[serde(with = "duration_secs")]
    pub renew_before: Duration,
    /// Provider error codes of the exchange that mean the presented token is dead
    /// (Meta's `190`): the grant is gone, as with `invalid_grant`.
    pub invalid_token_codes: Vec<&'static str>,
}

/// How a [`TokenExchangeSpec`] request is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenExchangeMethod {
    /// Parameters (client credentials included) in the query of a GET.
    Get,
    /// Parameters in an `application/x-www-form-urlencoded` POST body, with the
    /// spec's client authentication.
    Post,
}

/// What the provider does with refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefreshBehaviour {
    /// Each refresh may return a new refresh token that replaces the old one.
    Rotating,
    /// The refresh token stays the same.
    Stable,
    /// Tokens do not expire or cannot be refreshed (reconnect instead).
    None,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)`.
    BasicHeader,
    /// `client_id` and `client_secret` in the form body.
    RequestBody,
}

/// A typed setting or credential field.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigField {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    /// Secret fields are sealed in the vault and never returned by the API.
    pub secret: bool,
    /// A regular expression the whole value must match (string fields).
    pub pattern: Option<&'static str>,
    pub help: &'static str,
    /// The provider lists this field's choices once the integration has credentials
    /// ([`crate::Adapter::options`]; `GET /v1/integrations/{id}/options/{field}`), so
    /// a user picks a value instead of typing an id.
    pub options: bool,
}

/// The type of a [`ConfigField`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "values", rename_all = "snake_case")]
pub enum FieldKind {
    String,
    Integer,
    Boolean,
    Url,
    Enum(Vec<&'static str>),
}

/// A field that failed validation, with a message fit for an API response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl ConfigField {
    /// A required, non-secret string field.
    pub fn string(name: &'static str, label: &'static str, help: &'static str) -> Self {
        Self {
            name,
            label,
            kind: FieldKind::String,
            required: true,
            secret: false,
            pattern: None,
            help,
            options: false,
        }
    }

    /// A required secret string field (an API key, a token).
    pub fn secret(name: &'static str, label: &'static str, help: &'static str) -> Self {
        Self {
            secret: true,
            ..Self::string(name, label, help)
        }
    }

    /// The same field, made optional.
    pub fn optional(self) -> Self {
        Self {
            required: false,
            ..self
        }
    }

    /// The same field, its choices listed by the provider
    /// ([`crate::Adapter::options`]).
    pub fn with_options(self) -> Self {
        Self {
            options: true,
            ..self
        }
    }

    /// The same field, with a pattern the whole value must match.
    pub fn with_pattern(self, pattern: &'static str) -> Self {
        Self {
            pattern: Some(pattern),
            ..self
        }
    }

    /// Checks one value (absent values are checked against `required`).
    pub fn validate(&self, value: Option<&serde_json::Value>) -> Result<(), FieldError> {
        let value = match value {
            None | Some(serde_json::Value::Null) => {
                return if self.required {
                    Err(FieldError::new(self.name, "is required"))
                } else {
                    Ok(())
                };
            }
            Some(value) => value,
        };
        match &self.kind {
            FieldKind::String | FieldKind::Url | FieldKind::Enum(_) => {
                let Some(text) = value.as_str() else {
                    return Err(FieldError::new(self.name, "must be a string"));
                };
                if self.required && text.trim().is_empty() {
                    return Err(FieldError::new(self.name, "must not be empty"));
                }
                if self.kind == FieldKind::Url {
                    let parsed = url::Url::parse(text)
                        .map_err(|_| FieldError::new(self.name, "must be an absolute URL"))?;
                    if !matches!(parsed.scheme(), "http" | "https") {
                        return Err(FieldError::new(self.name, "must be an http(s) URL"));
                    }
                }
                if let FieldKind::Enum(allowed) = &self.kind
                    && !allowed.contains(&text)
                {
                    return Err(FieldError::new(
                        self.name,
                        format!("must be one of: {}", allowed.join(", ")),
                    ));
                }
                if let Some(pattern) = self.pattern
                    && !full_match(pattern, text)
                {
                    // The value itself is not echoed: the field may be secret.
                    return Err(FieldError::new(
                        self.name,
                        format!("does not have the expected format ({pattern})"),
                    ));
                }
                Ok(())
            }
            FieldKind::Integer => {
                let ok = value.as_i64().is_some()
                    || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok());
                if ok {
                    Ok(())
                } else {
                    Err(FieldError::new(self.name, "must be an integer"))
                }
            }
            FieldKind::Boolean => {
                if value.is_boolean() {
                    Ok(())
                } else {
                    Err(FieldError::new(self.name, "must be true or false"))
                }
            }
        }
    }
}

/// Whether `text` matches `pattern` as a whole. Patterns are static data of a provider
/// crate; a pattern that does not compile is a bug there and matches nothing.
fn full_match(pattern: &str, text: &str) -> bool {
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Option<Regex>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let Ok(mut cache) = cache.lock() else {
        return false;
    };
    let compiled = cache
        .entry(pattern.to_owned())
        .or_insert_with(|| Regex::new(&format!("^(?:{pattern})$")).ok());
    compiled.as_ref().is_some_and(|re| re.is_match(text))
}

/// One stream a provider can be read from.
#[derive(Debug, Clone, Serialize)]
pub struct StreamSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// The fields that identify a record (joined into [`crate::Record::external_id`]).
    pub primary_key: Vec<&'static str>,
    /// The field incremental reads resume from, if the stream is incremental.
    pub cursor_field: Option<&'static str>,
    /// Fed by the provider's webhooks only: a sync reads nothing here (SendGrid's
    /// `messages`, which SendGrid lists only with a paid add-on), so its records
    /// are never compared with a sync's read — an empty read is no deletion.
    pub webhook_only: bool,
    /// How often the scheduler syncs this stream by default.
    #[serde(with = "duration_secs")]
    pub default_schedule: Duration,
    /// The KPI metrics this stream produces.
    pub metrics: Vec<MetricSpec>,
}

impl StreamSpec {
    /// Whether a sync reads the stream whole and marks the records its read no
    /// longer lists deleted: a stream without a cursor that a sync does read. A
    /// stream fed by webhooks only is never compared (its sync reads nothing).
    pub fn full_refresh(&self) -> bool {
        self.cursor_field.is_none() && !self.webhook_only
    }
}

/// How a metric's daily values combine into a longer bucket (a week, a month) and
/// across dimensions (campaigns, audiences). Every aggregation Junction makes — KPI
/// buckets and totals, alert windows, the weekly report — reads this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricKind {
    /// Adds over time and over dimensions: sessions, spend, revenue.
    Sum,
    /// A level at a moment: MRR, total subscribers, list size. A bucket takes the
    /// value of its last day with a point; dimensions add.
    Gauge,
    /// The quotient of two metrics of the same provider, computed from their summed
    /// values over the same bucket and dimension set, never averaged: CTR = clicks /
    /// impressions. A [`Unit::Percent`] ratio is multiplied by 100.
    Ratio {
        numerator: &'static str,
        denominator: &'static str,
    },
}

/// What a metric's values measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    /// An amount in major units (dollars, not cents; yen as they are) of the currency
    /// named by the point's [`CURRENCY_DIMENSION`]. Never added across currencies.
    Money,
    /// 0–100.
    Percent,
    /// A plain quotient (0–1 for shares, any positive number for ROAS).
    Ratio,
    Seconds,
}

/// The dimension that names the ISO 4217 currency (upper case) of a money point.
pub const CURRENCY_DIMENSION: &str = "currency";

/// A canonical metric several providers map into, so a workspace can be asked for
/// its ad spend or revenue whatever it is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricFamily {
    Revenue,
    AdSpend,
    Sessions,
    NewSubscribers,
    EmailsSent,
    EmailsDelivered,
}

impl MetricFamily {
    /// Every family, in the order the API lists them.
    pub const ALL: [MetricFamily; 6] = [
        MetricFamily::Revenue,
        MetricFamily::AdSpend,
        MetricFamily::Sessions,
        MetricFamily::NewSubscribers,
        MetricFamily::EmailsSent,
        MetricFamily::EmailsDelivered,
    ];

    /// The family's name in the API (`ad_spend`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricFamily::Revenue => "revenue",
            MetricFamily::AdSpend => "ad_spend",
            MetricFamily::Sessions => "sessions",
            MetricFamily::NewSubscribers => "new_subscribers",
            MetricFamily::EmailsSent => "emails_sent",
            MetricFamily::EmailsDelivered => "emails_delivered",
        }
    }

    /// Parses an API name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// What the family means.
    pub fn description(self) -> &'static str {
        match self {
            MetricFamily::Revenue => "Money taken from sales, per currency.",
            MetricFamily::AdSpend => "Money spent on advertising, per currency.",
            MetricFamily::Sessions => "Visits to a website or app.",
            MetricFamily::NewSubscribers => "People who joined a mailing list.",
            MetricFamily::EmailsSent => "Emails handed to the email provider for sending.",
            MetricFamily::EmailsDelivered => "Emails the receiving server accepted.",
        }
    }

    /// The unit every member metric has.
    pub fn unit(self) -> Unit {
        match self {
            MetricFamily::Revenue | MetricFamily::AdSpend => Unit::Money,
            MetricFamily::Sessions
            | MetricFamily::NewSubscribers
            | MetricFamily::EmailsSent
            | MetricFamily::EmailsDelivered => Unit::Count,
        }
    }

    /// The kind every member metric has: families add up across providers, so each
    /// is a sum.
    pub fn kind(self) -> MetricKind {
        MetricKind::Sum
    }
}

/// One KPI metric a stream produces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricSpec {
    /// Its name in KPI points and the API (`ctr`, `gross_revenue`).
    pub name: &'static str,
    #[serde(flatten)]
    pub kind: MetricKind,
    pub unit: Unit,
    pub description: &'static str,
    /// The canonical family it maps into, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<MetricFamily>,
}

impl MetricSpec {
    /// A metric that adds over time and dimensions.
    pub const fn sum(name: &'static str, unit: Unit, description: &'static str) -> Self {
        Self {
            name,
            kind: MetricKind::Sum,
            unit,
            description,
            family: None,
        }
    }

    /// A level at a moment (a bucket takes its last day's value).
    pub const fn gauge(name: &'static str, unit: Unit, description: &'static str) -> Self {
        Self {
            kind: MetricKind::Gauge,
            ..Self::sum(name, unit, description)
        }
    }

    /// `numerator / denominator`, both metrics of the same provider.
    pub const fn ratio(
        name: &'static str,
        numerator: &'static str,
        denominator: &'static str,
        unit: Unit,
        description: &'static str,
    ) -> Self {
        Self {
            kind: MetricKind::Ratio {
                numerator,
                denominator,
            },
            ..Self::sum(name, unit, description)
        }
    }

    /// The same metric, mapped into a canonical family.
    pub const fn in_family(mut self, family: MetricFamily) -> Self {
        self.family = Some(family);
        self
    }

    /// The value of a ratio metric from its summed components (`None` when the
    /// denominator is 0); a percent ratio is scaled to 0–100.
    pub fn quotient(&self, numerator: f64, denominator: f64) -> Option<f64> {
        if denominator == 0.0 {
            return None;
        }
        let scale = if self.unit == Unit::Percent {
            100.0
        } else {
            1.0
        };
        Some(numerator / denominator * scale)
    }
}

/// One action a provider can run (send an email, create a customer).
#[derive(Debug, Clone, Serialize)]
pub struct ActionSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// JSON Schema of the action's input.
    pub input_schema: serde_json::Value,
    /// Whether the action may take long enough to run on the action queue.
    pub long_running: bool,
    /// The input fields holding the addresses the action emails (Resend's `to`,
    /// Stripe's `receipt_email`): Junction drops the workspace's suppressed addresses
    /// from them before the action runs. Empty for actions that send no email.
    pub email_recipients: Vec<RecipientField>,
    /// Whom the provider itself emails when the action runs, when the input does
    /// not name them, in words (Stripe's `send_invoice`: "the invoice's customer").
    /// The adapter reads their addresses from the provider before each run
    /// ([`crate::Adapter::provider_recipients`]) and a suppressed one refuses the
    /// run: the provider cannot be told to leave it out. `None`: the input names
    /// every recipient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_recipients: Option<&'static str>,
}

/// An input field of an action that names email recipients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RecipientField {
    /// Where the addresses are: field names joined by `.`, a name followed by `[]`
    /// stepping into each element of its list (`emails[].to`). The value there is an
    /// address or a list of addresses, each possibly with a display name
    /// (`Ops <ops@acme.example>`).
    pub path: &'static str,
    /// Whether the email needs an address left there (its `to`): an action whose
    /// required field holds only suppressed addresses is refused, not sent.
    #[serde(default)]
    pub required: bool,
    /// Only when this holds does the action email the field's addresses (Mailchimp's
    /// `upsert_contact` sends an opt-in confirmation only to a `pending` contact);
    /// `None`: always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<RecipientCondition>,
}

/// When a recipient field is mailed: a field of the same object (the input, or the
/// list element holding the recipient field) has this value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RecipientCondition {
    /// The field's name, beside the recipient field.
    pub field: &'static str,
    /// The string value that makes the action send its email.
    pub equals: &'static str,
}

impl RecipientField {
    /// A field the action always mails.
    pub const fn new(path: &'static str, required: bool) -> Self {
        Self {
            path,
            required,
            when: None,
        }
    }

    /// The field, mailed only when `field` (beside it) is `equals`.
    pub const fn when(mut self, field: &'static str, equals: &'static str) -> Self {
        self.when = Some(RecipientCondition { field, equals });
        self
    }

    /// Whether the action mails this field of `object` (the object holding it).
    pub fn mailed_in(&self, object: &serde_json::Map<String, serde_json::Value>) -> bool {
        self.when.as_ref().is_none_or(|condition| {
            object
                .get(condition.field)
                .and_then(serde_json::Value::as_str)
                == Some(condition.equals)
        })
    }
}

impl ActionSpec {
    /// Checks `input` against the action's JSON Schema and reports every problem at
    /// once, each under the path of the input field it concerns (`items[0].price`;
    /// `input` for the input as a whole). Messages never quote the submitted values,
    /// which may be personal data.
    pub fn validate_input(&self, input: &serde_json::Value) -> Result<(), Vec<FieldError>> {
        let validator = jsonschema::validator_for(&self.input_schema).map_err(|e| {
            // A provider crate's bug, caught by its tests; say so rather than blame the input.
            vec![FieldError::new(
                ROOT_FIELD,
                format!(
                    "the action `{}` has an invalid input schema: {e}",
                    self.name
                ),
            )]
        })?;
        let mut errors = Vec::new();
        for error in validator.iter_errors(input) {
            let at = field_path(error.instance_path());
            match error.kind() {
                jsonschema::error::ValidationErrorKind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    errors.push(FieldError::new(&join_field(&at, name), "is required"));
                }
                jsonschema::error::ValidationErrorKind::AdditionalProperties { unexpected } => {
                    for name in unexpected {
                        errors.push(FieldError::new(
                            &join_field(&at, name),
                            "is not an input of this action",
                        ));
                    }
                }
                jsonschema::error::ValidationErrorKind::OneOfNotValid { .. } => errors.push(
                    FieldError::new(&at, "matches none of the allowed alternatives"),
                ),
                jsonschema::error::ValidationErrorKind::OneOfMultipleValid { .. } => {
                    errors.push(FieldError::new(
                        &at,
                        "matches more than one of the alternatives, which exclude each other",
                    ))
                }
                _ => errors.push(FieldError::new(&at, error.masked().to_string())),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The field name of problems with the input as a whole.
pub const ROOT_FIELD: &str = "input";

/// `/items/0/price` → `items[0].price`; the root → [`ROOT_FIELD`].
fn field_path(location: &jsonschema::paths::Location) -> String {
    let mut path = String::new();
    for segment in location.iter() {
        match segment {
            jsonschema::paths::LocationSegment::Index(index) => {
                path.push_str(&format!("[{index}]"));
            }
            jsonschema::paths::LocationSegment::Property(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&name);
            }
        }
    }
    if path.is_empty() {
        ROOT_FIELD.to_owned()
    } else {
        path
    }
}

/// The path of property `name` under `parent` (as [`field_path`] writes it).
fn join_field(parent: &str, name: &str) -> String {
    if parent == ROOT_FIELD {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    }
}

/// How a provider signs its webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "scheme", rename_all = "snake_case")]
pub enum WebhookScheme {
    /// `Stripe-Signature: t=..,v1=..` over `{t}.{body}`.
    Stripe { tolerance_secs: u64 },
    /// Svix / Standard Webhooks: `svix-id`, `svix-timestamp`, `svix-signature`.
    Svix { tolerance_secs: u64 },
    /// Meta: `X-Hub-Signature-256: sha256=hex(HMAC(app_secret, body))`.
    MetaHubSignature256,
    /// HubSpot v3: `X-HubSpot-Signature-v3` = base64 HMAC(client secret, method, URL,
    /// body, `X-HubSpot-Request-Timestamp`).
    #[serde(rename = "hubspot_v3")]
    HubSpotV3 { tolerance_secs: u64 },
    /// SendGrid's Signed Event Webhook: ECDSA P-256 over `{timestamp}{body}`
    /// (`X-Twilio-Email-Event-Webhook-Signature` / `-Timestamp`), verified with the
    /// account's public key.
    SendgridEcdsa { tolerance_secs: u64 },
}

/// Where the secret that signs a provider's webhooks is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "source", content = "field", rename_all = "snake_case")]
pub enum WebhookSecret {
    /// A secret field of the integration (sealed in the vault), e.g. Stripe's
    /// endpoint signing secret `webhook_secret`.
    Field(&'static str),
    /// The provider app's OAuth client secret from Junction's configuration
    /// (`[providers.<id>] client_secret`): Meta signs with the app secret.
    AppClientSecret,
}

/// Inbound webhook support of a provider.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookSpec {
    pub scheme: WebhookScheme,
    /// The event types Junction handles.
    pub events: Vec<&'static str>,
    /// Which secret verifies the signatures.
    pub secret: WebhookSecret,
    /// The integration's secret field holding the verify token of a subscription
    /// handshake (Meta's `hub.verify_token`), for providers that send one.
    pub verify_token_field: Option<&'static str>,
}

/// The request budget of one provider app, shared by every tenant and worker pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateBudget {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window length.
    #[serde(with = "duration_secs")]
    pub per: Duration,
    /// Concurrent requests allowed, if the provider limits them.
    pub concurrency: Option<u32>,
}

mod duration_secs {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

impl ProviderSpec {
    /// Finds a stream by name.
    pub fn stream(&self, name: &str) -> Option<&StreamSpec> {
        self.streams.iter().find(|s| s.name == name)
    }

    /// Finds an action by name.
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Every metric of every stream, in stream order.
    pub fn metrics(&self) -> impl Iterator<Item = &MetricSpec> {
        self.streams.iter().flat_map(|s| s.metrics.iter())
    }

    /// Finds a metric by name.
    pub fn metric(&self, name: &str) -> Option<&MetricSpec> {
        self.metrics().find(|m| m.name == name)
    }

    /// What is wrong with the spec's metrics, one line each: a name given twice, a
    /// metric without a description, a ratio whose component is not a sum metric of
    /// this provider, a family member whose unit or kind differs from its family's.
    /// Each provider's tests and the registry's call it.
    pub fn metric_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for metric in self.metrics() {
            if !seen.insert(metric.name) {
                problems.push(format!("metric `{}` is declared twice", metric.name));
            }
            if metric.description.trim().is_empty() {
                problems.push(format!("metric `{}` has no description", metric.name));
            }
            if let MetricKind::Ratio {
                numerator,
                denominator,
            } = metric.kind
            {
                for component in [numerator, denominator] {
                    match self.metric(component) {
                        Some(m) if m.kind == MetricKind::Sum => {}
                        Some(_) => problems.push(format!(
                            "ratio `{}`: component `{component}` is not a sum metric",
                            metric.name
                        )),
                        None => problems.push(format!(
                            "ratio `{}`: component `{component}` is not a metric of {}",
                            metric.name, self.id
                        )),
                    }
                }
            }
            if let Some(family) = metric.family
                && (family.unit() != metric.unit || family.kind() != metric.kind)
            {
                problems.push(format!(
                    "metric `{}` is in family `{}` but its unit or kind differs from the family's",
                    metric.name,
                    family.as_str()
                ));
            }
        }
        problems
    }

    /// What is wrong with the spec's streams and actions, one line each: a stream or
    /// action without a description, a webhook-only stream with a cursor (a sync
    /// reads nothing to resume from) or on a provider without webhooks (nothing
    /// would ever feed it). The registry's tests call it.
    pub fn stream_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for stream in &self.streams {
            if stream.description.trim().is_empty() {
                problems.push(format!("stream `{}` has no description", stream.name));
            }
            if stream.webhook_only && stream.cursor_field.is_some() {
                problems.push(format!(
                    "webhook-only stream `{}` has a cursor field",
                    stream.name
                ));
            }
            if stream.webhook_only && self.webhook.is_none() {
                problems.push(format!(
                    "stream `{}` is fed by webhooks only, but {} receives none",
                    stream.name, self.id
                ));
            }
        }
        for action in &self.actions {
            if action.description.trim().is_empty() {
                problems.push(format!("action `{}` has no description", action.name));
            }
        }
        problems
    }

    /// What is wrong with a KPI point a read of this provider produced: a metric the
    /// spec does not declare (nothing would know how to aggregate it), or a money
    /// point without its ISO 4217 [`CURRENCY_DIMENSION`] (it would be added across
    /// currencies). The conformance suite checks every point it reads.
    pub fn point_problem(&self, point: &crate::KpiPoint) -> Option<String> {
        let Some(metric) = self.metric(&point.metric) else {
            return Some(format!(
                "KPI point `{}` names no metric {} declares",
                point.metric, self.id
            ));
        };
        let currency = point.dimensions.get(CURRENCY_DIMENSION);
        let iso = |code: &String| code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
        (metric.unit == Unit::Money && !currency.is_some_and(iso)).then(|| {
            format!(
                "money KPI point `{}` on {} has no ISO 4217 `{CURRENCY_DIMENSION}` dimension \
                 (it has {currency:?})",
                point.metric, point.date
            )
        })
    }

    /// Every field a connection can carry: credential fields, then config fields.
    pub fn all_fields(&self) -> impl Iterator<Item = &ConfigField> {
        self.auth
            .credential_fields()
            .into_iter()
            .chain(self.config.iter())
    }

    /// Validates a connection's settings (credentials and config together): every
    /// field valid, every required field present, no unknown field. Reports every
    /// problem at once, in field order.
    pub fn validate_fields(
        &self,
        values: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), Vec<FieldError>> {
        self.validate_fields_except(values, &[])
    }

    /// The required config fields a connection may be saved without, to be chosen
    /// in a setup step once its credentials can list their choices
    /// ([`ConfigField::options`]), that `values` leaves out (absent, null or
    /// blank), in field order.
    pub fn setup_missing(
        &self,
        values: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<&'static str> {
        self.config
            .iter()
            .filter(|field| field.required && field.options && !field.secret)
            .filter(|field| match values.get(field.name) {
                None | Some(serde_json::Value::Null) => true,
                Some(serde_json::Value::String(text)) => text.trim().is_empty(),
                Some(_) => false,
            })
            .map(|field| field.name)
            .collect()
    }

    /// [`ProviderSpec::validate_fields`] for a new connection, which may leave out
    /// the fields of its setup step ([`ProviderSpec::setup_missing`]): every other
    /// field is checked as always. Returns the fields left for the setup step.
    pub fn validate_connect_fields(
        &self,
        values: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<&'static str>, Vec<FieldError>> {
        let missing = self.setup_missing(values);
        self.validate_fields_except(values, &missing)?;
        Ok(missing)
    }

    /// Validates every field but those of `skipped`.
    fn validate_fields_except(
        &self,
        values: &serde_json::Map<String, serde_json::Value>,
        skipped: &[&str],
    ) -> Result<(), Vec<FieldError>> {
        let mut errors: Vec<FieldError> = self
            .all_fields()
            .filter(|field| !skipped.contains(&field.name))
            .filter_map(|field| field.validate(values.get(field.name)).err())
            .collect();
        for name in values.keys() {
            if !self.all_fields().any(|field| field.name == name) {
                errors.push(FieldError::new(name, "is not a field of this provider"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// What is wrong across providers, one line each: a metric name several providers
/// declare with another kind (components included) or unit. `/v1/kpis?metric=` and
/// alerts read one name across every integration with one kind and unit, so a
/// second provider's `open_rate` must mean what the first's does. The registry's
/// tests call it over every spec.
pub fn shared_metric_problems<'a>(
    specs: impl IntoIterator<Item = &'a ProviderSpec>,
) -> Vec<String> {
    let mut first: std::collections::BTreeMap<&str, (&str, &MetricSpec)> =
        std::collections::BTreeMap::new();
    let mut problems = Vec::new();
    for spec in specs {
        for metric in spec.metrics() {
            match first.get(metric.name) {
                None => {
                    first.insert(metric.name, (spec.id, metric));
                }
                Some((provider, earlier))
                    if earlier.kind != metric.kind || earlier.unit != metric.unit =>
                {
                    problems.push(format!(
                        "metric `{}` of {} differs in kind or unit from {provider}'s",
                        metric.name, spec.id
                    ));
                }
                Some(_) => {}
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> ProviderSpec {
        ProviderSpec {
            id: "example",
            name: "Example",
            category: Category::Analytics,
            auth: AuthSpec::ApiKey {
                fields: vec![
                    ConfigField::secret("api_key", "API key", "").with_pattern("ex_[a-z0-9]+"),
                ],
            },
            config: vec![
                ConfigField::string("account_id", "Account", "").with_pattern("[0-9]+"),
                ConfigField {
                    kind: FieldKind::Enum(vec!["eu", "us"]),
                    ..ConfigField::string("region", "Region", "").optional()
                },
                ConfigField {
                    kind: FieldKind::Url,
                    ..ConfigField::string("endpoint", "Endpoint", "").optional()
                },
            ],
            streams: vec![],
            actions: vec![],
            webhook: None,
            rate_limit: RateBudget {
                requests: 10,
                per: Duration::from_secs(1),
                concurrency: None,
            },
            docs_url: "https://example.invalid/docs",
        }
    }

    fn map(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn valid_fields_pass() {
        let values = map(json!({"api_key": "ex_abc123", "account_id": "42", "region": "eu"}));
        assert_eq!(spec().validate_fields(&values), Ok(()));
    }

    #[test]
    fn every_problem_is_reported_without_echoing_values() {
        let values = map(json!({
            "api_key": "sk_live_SECRETVALUE",
            "region": "mars",
            "endpoint": "ftp://x",
            "extra": 1
        }));
        let errors = spec().validate_fields(&values).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["api_key", "account_id", "region", "endpoint", "extra"]
        );
        for error in &errors {
            assert!(!error.to_string().contains("SECRETVALUE"), "{error}");
        }
    }

    #[test]
    fn a_new_connection_may_leave_its_listed_settings_for_the_setup_step() {
        let mut spec = spec();
        spec.config[0].options = true;
        // Left out, null or blank: waiting for the setup step; the rest checked.
        for absent in [
            json!({}),
            json!({"account_id": null}),
            json!({"account_id": " "}),
        ] {
            let mut values = map(json!({"api_key": "ex_abc123"}));
            values.extend(map(absent));
            assert_eq!(spec.setup_missing(&values), ["account_id"]);
            assert_eq!(
                spec.validate_connect_fields(&values),
                Ok(vec!["account_id"])
            );
            assert!(spec.validate_fields(&values).is_err());
        }
        let values = map(json!({"api_key": "ex_abc123", "region": "mars"}));
        let errors = spec.validate_connect_fields(&values).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "region");
        // Given, it is checked as always.
        let values = map(json!({"api_key": "ex_abc123", "account_id": "x"}));
        assert_eq!(
            spec.validate_connect_fields(&values).unwrap_err()[0].field,
            "account_id"
        );
        let values = map(json!({"api_key": "ex_abc123", "account_id": "42"}));
        assert_eq!(spec.validate_connect_fields(&values), Ok(vec![]));
        // A field without listed choices never waits.
        assert!(self::spec().setup_missing(&map(json!({}))).is_empty());
    }

    #[test]
    fn catalog_serialization_names_the_auth_kind() {
        let value = serde_json::to_value(spec()).unwrap();
        assert_eq!(value["auth"]["kind"], "api_key");
        assert_eq!(value["auth"]["fields"][0]["secret"], true);
        assert_eq!(
            value["config"][1]["kind"],
            json!({"type": "enum", "values": ["eu", "us"]})
        );
    }

    fn refund_action() -> ActionSpec {
        ActionSpec {
            name: "refund",
            description: "",
            input_schema: json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "charge": {"type": "string", "minLength": 1},
                    "payment_intent": {"type": "string", "minLength": 1},
                    "amount": {"type": "integer", "minimum": 1},
                    "items": {"type": "array", "items": {
                        "type": "object",
                        "required": ["price"],
                        "properties": {"price": {"type": "string"}}
                    }}
                },
                "oneOf": [{"required": ["charge"]}, {"required": ["payment_intent"]}]
            }),
            long_running: false,
            email_recipients: Vec::new(),
            provider_recipients: None,
        }
    }

    #[test]
    fn valid_action_input_passes() {
        let action = refund_action();
        assert_eq!(
            action.validate_input(&json!({"charge": "ch_1", "amount": 5})),
            Ok(())
        );
    }

    #[test]
    fn action_input_errors_name_every_field_without_quoting_values() {
        let action = refund_action();
        let errors = action
            .validate_input(&json!({
                "charge": "ch_1",
                "amount": "SECRET-ish 42",
                "surprise": true,
                "items": [{"price": "p"}, {}]
            }))
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"amount"), "{errors:?}");
        assert!(fields.contains(&"surprise"), "{errors:?}");
        assert!(fields.contains(&"items[1].price"), "{errors:?}");
        assert!(
            errors.iter().all(|e| !e.message.contains("SECRET")),
            "{errors:?}"
        );
        let missing = errors.iter().find(|e| e.field == "items[1].price").unwrap();
        assert_eq!(missing.message, "is required");
    }

    #[test]
    fn exclusive_alternatives_are_reported_on_the_input() {
        let action = refund_action();
        let neither = action.validate_input(&json!({"amount": 5})).unwrap_err();
        assert_eq!(neither[0].field, "input");
        assert!(
            neither[0]
                .message
                .contains("none of the allowed alternatives")
        );
        let both = action
            .validate_input(&json!({"charge": "ch_1", "payment_intent": "pi_1"}))
            .unwrap_err();
        assert!(both[0].message.contains("more than one"));
        let not_object = action.validate_input(&json!([1])).unwrap_err();
        assert_eq!(not_object[0].field, "input");
    }

    /// A spec with one stream holding `metrics`.
    fn with_metrics(id: &'static str, metrics: Vec<MetricSpec>) -> ProviderSpec {
        ProviderSpec {
            id,
            streams: vec![StreamSpec {
                name: "items",
                description: "Items.",
                primary_key: vec!["id"],
                cursor_field: Some("updated_at"),
                webhook_only: false,
                default_schedule: Duration::from_secs(3600),
                metrics,
            }],
            ..spec()
        }
    }

    #[test]
    fn a_sound_spec_has_no_problem() {
        let sound = with_metrics(
            "shop",
            vec![
                MetricSpec::sum("revenue", Unit::Money, "Sales.").in_family(MetricFamily::Revenue),
                MetricSpec::sum("orders", Unit::Count, "Orders."),
                MetricSpec::ratio("aov", "revenue", "orders", Unit::Money, "Per order."),
            ],
        );
        assert_eq!(sound.metric_problems(), Vec::<String>::new());
        assert_eq!(sound.stream_problems(), Vec::<String>::new());
        assert_eq!(
            shared_metric_problems([&sound, &sound]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_metric_without_a_description_is_a_problem() {
        let spec = with_metrics("shop", vec![MetricSpec::sum("orders", Unit::Count, " ")]);
        assert_eq!(
            spec.metric_problems(),
            ["metric `orders` has no description"]
        );
    }

    #[test]
    fn streams_and_actions_without_descriptions_and_unfed_webhook_streams_are_problems() {
        let mut spec = with_metrics("shop", vec![]);
        spec.streams[0].description = "";
        spec.streams[0].webhook_only = true;
        spec.actions.push(ActionSpec {
            description: "",
            ..refund_action()
        });
        assert_eq!(
            spec.stream_problems(),
            [
                "stream `items` has no description",
                "webhook-only stream `items` has a cursor field",
                "stream `items` is fed by webhooks only, but shop receives none",
                "action `refund` has no description",
            ]
        );
    }

    #[test]
    fn a_metric_name_means_one_thing_across_providers() {
        let first = with_metrics(
            "mail_a",
            vec![
                MetricSpec::sum("opens", Unit::Count, "Opens."),
                MetricSpec::sum("unique_opens", Unit::Count, "Unique opens."),
                MetricSpec::sum("delivered", Unit::Count, "Delivered."),
                MetricSpec::ratio(
                    "open_rate",
                    "unique_opens",
                    "delivered",
                    Unit::Percent,
                    "Rate.",
                ),
                MetricSpec::gauge("list_size", Unit::Count, "Size."),
            ],
        );
        let second = with_metrics(
            "mail_b",
            vec![
                MetricSpec::sum("opens", Unit::Count, "Opens."),
                MetricSpec::sum("delivered", Unit::Count, "Delivered."),
                // Another quotient under the same name, and a level read as a sum.
                MetricSpec::ratio("open_rate", "opens", "delivered", Unit::Percent, "Rate."),
                MetricSpec::sum("list_size", Unit::Count, "Size."),
            ],
        );
        let third = with_metrics(
            "mail_c",
            vec![MetricSpec::sum("delivered", Unit::Ratio, "Delivered.")],
        );
        assert_eq!(
            shared_metric_problems([&first, &second, &third]),
            [
                "metric `open_rate` of mail_b differs in kind or unit from mail_a's",
                "metric `list_size` of mail_b differs in kind or unit from mail_a's",
                "metric `delivered` of mail_c differs in kind or unit from mail_a's",
            ]
        );
    }

    #[test]
    fn kpi_points_must_name_a_declared_metric_and_money_its_currency() {
        let spec = with_metrics(
            "shop",
            vec![
                MetricSpec::sum("revenue", Unit::Money, "Sales."),
                MetricSpec::sum("orders", Unit::Count, "Orders."),
            ],
        );
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let revenue = crate::KpiPoint::total("revenue", day, 12.5);
        assert_eq!(
            spec.point_problem(&revenue.clone().with_dimension("currency", "USD")),
            None
        );
        assert_eq!(
            spec.point_problem(&crate::KpiPoint::total("orders", day, 3.0)),
            None
        );
        assert!(
            spec.point_problem(&revenue)
                .is_some_and(|p| p.contains("no ISO 4217 `currency`")),
            "without a currency"
        );
        assert!(
            spec.point_problem(&revenue.with_dimension("currency", "usd"))
                .is_some(),
            "a currency in lower case"
        );
        assert_eq!(
            spec.point_problem(&crate::KpiPoint::total("refunds", day, 1.0)),
            Some("KPI point `refunds` names no metric shop declares".to_owned())
        );
    }
}

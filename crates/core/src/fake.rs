//! Provider fakes: the framework-free contract between a provider crate's `sandbox`
//! feature and whatever serves it (the `junction-sandbox` server, wiremock in tests).
//!
//! A fake answers [`FakeRequest`]s with [`FakeResponse`]s in the provider's real wire
//! format. Bearer tokens are checked against the sandbox's OAuth server through
//! [`TokenAuthority`]; injected failures arrive as a [`Fault`] the fake renders the way
//! the real provider does (GA4's 429 `RESOURCE_EXHAUSTED`, Stripe's error object, ...).
//!
//! Each fake also describes how to connect its provider entry ([`CatalogEntry`]): the
//! values it accepts and the settings that point at its seeded data. The sandbox lists
//! them in its catalog (`GET /_sandbox/catalog`), so demos, tests and any client can
//! connect every provider without knowing each one by heart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A request to a fake, relative to the provider's mount point.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    pub method: http::Method,
    /// The path below the provider's mount, starting with `/` (e.g.
    /// `/v1beta/properties/123:runReport`).
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl FakeRequest {
    /// The decoded query parameters.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }

    /// One query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The decoded form-encoded body parameters.
    pub fn form_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of an `Authorization: Bearer ...` header.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    }

    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// A fake's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl FakeResponse {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, text: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: text.as_bytes().to_vec(),
        }
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// What the sandbox's OAuth server knows about an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    /// Issued for this provider and not expired; with its granted scopes.
    Valid { scopes: Vec<String> },
    /// Issued, but expired or revoked.
    Expired,
    /// Never issued (or issued for another provider).
    Unknown,
}

/// Checks access tokens issued by the sandbox's OAuth server.
pub trait TokenAuthority: Send + Sync {
    fn check(&self, provider: &str, access_token: &str) -> TokenStatus;
}

/// A token authority that knows no token (for fakes of API-key providers, and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTokens;

impl TokenAuthority for NoTokens {
    fn check(&self, _provider: &str, _access_token: &str) -> TokenStatus {
        TokenStatus::Unknown
    }
}

/// A failure injected into the next request(s) of a fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// A rate-limit refusal with the provider's Retry-After (when it sends one).
    RateLimited { retry_after_secs: u64 },
    /// A quota used up until its reset.
    QuotaExhausted,
    /// A 5xx.
    ServerError,
    /// The presented token is treated as expired.
    ExpiredToken,
    /// A 200 with a body that is not what the API documents.
    MalformedBody,
}

/// What a fake gets besides the request.
pub struct FakeContext<'a> {
    pub tokens: &'a dyn TokenAuthority,
    /// A failure to inject into this request, if one is armed.
    pub fault: Option<Fault>,
    pub now: DateTime<Utc>,
}

impl std::fmt::Debug for FakeContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeContext")
            .field("fault", &self.fault)
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

/// A provider's fake API.
pub trait ProviderFake: Send + Sync {
    /// The provider id it fakes (its mount point in the sandbox).
    fn provider_id(&self) -> &'static str;

    /// Answers one request.
    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse;

    /// How a client connects this provider entry against the fake (the sandbox's
    /// catalog lists it). The default says nothing, which suits fakes made for one
    /// test; every fake the sandbox serves by default overrides it (the sandbox's
    /// tests check that its entries connect).
    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
    }
}

/// What connecting a provider entry against its fake takes, as far as the fake knows:
/// the values it accepts and the settings that reach its seeded data. The sandbox adds
/// what only it knows (its URLs, the OAuth client) when it lists the entry.
///
/// The values are the fake's own published test values, never a real system's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// Settings to connect with, sent as `config`: every required one, pointing at the
    /// fake's seeded data, and those that make the first sync show that data.
    #[serde(default)]
    pub config: Map<String, Value>,
    /// Credentials the fake accepts, sent as `credentials`: an API-key entry's key and
    /// any secret settings (a webhook signing secret). Empty for OAuth 2.0 entries,
    /// whose tokens come from the sandbox's OAuth server.
    #[serde(default)]
    pub credentials: Map<String, Value>,
    /// The secret the fake signs its webhook deliveries with, where it signs them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
    /// Other values the fake treats specially (a key with less access, a disabled
    /// key, an id standing for something the account cannot see), for tests of
    /// those paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special_values: Vec<SpecialValue>,
    /// Ids and facts of the fake's seeded data a client may want (an audience id, the
    /// account id, the data center).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fixtures: Map<String, Value>,
}

/// A value a fake treats specially, and what it does with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecialValue {
    /// The config or credential field it goes in.
    pub field: String,
    pub value: String,
    /// What the fake does with it.
    pub effect: String,
}

impl CatalogEntry {
    /// The entry with one more setting.
    pub fn config(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.config.insert(name.to_owned(), value.into());
        self
    }

    /// The entry with one more credential.
    pub fn credential(mut self, name: &str, value: &str) -> Self {
        self.credentials
            .insert(name.to_owned(), Value::String(value.to_owned()));
        self
    }

    /// The entry with the secret its fake signs webhooks with.
    pub fn webhook_secret(mut self, secret: &str) -> Self {
        self.webhook_secret = Some(secret.to_owned());
        self
    }

    /// The entry with one more special value.
    pub fn special_value(mut self, field: &str, value: &str, effect: &str) -> Self {
        self.special_values.push(SpecialValue {
            field: field.to_owned(),
            value: value.to_owned(),
            effect: effect.to_owned(),
        });
        self
    }

    /// The entry with one more fixture.
    pub fn fixture(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fixtures.insert(name.to_owned(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_helpers_parse_what_fakes_need() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "authorization",
            http::HeaderValue::from_static("Bearer abc.def"),
        );
        let request = FakeRequest {
            method: http::Method::POST,
            path: "/v1/x".into(),
            query: "a=1&b=two%20words".into(),
            headers,
            body: b"grant_type=refresh_token&refresh_token=r1".to_vec(),
        };
        assert_eq!(request.bearer(), Some("abc.def"));
        assert_eq!(request.query_param("b").as_deref(), Some("two words"));
        assert_eq!(
            request.form_pairs()[0],
            ("grant_type".into(), "refresh_token".into())
        );
        let fault: Fault =
            serde_json::from_str(r#"{"kind":"rate_limited","retry_after_secs":3}"#).unwrap();
        assert_eq!(
            fault,
            Fault::RateLimited {
                retry_after_secs: 3
            }
        );
    }

    #[test]
    fn a_catalog_entry_serializes_what_it_holds_and_reads_back() {
        let entry = CatalogEntry::default()
            .config("account", "42")
            .config("lookback_days", 7)
            .credential("api_key", "k_test")
            .webhook_secret("whsec_x")
            .special_value("api_key", "k_disabled", "403")
            .fixture("list_id", "l1");
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["config"]["lookback_days"], 7);
        assert_eq!(json["credentials"]["api_key"], "k_test");
        assert_eq!(json["special_values"][0]["effect"], "403");
        let back: CatalogEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
        // Empty optional parts are left out, so OAuth entries stay short.
        let empty = serde_json::to_value(CatalogEntry::default()).unwrap();
        assert_eq!(empty, serde_json::json!({"config": {}, "credentials": {}}));
    }
}

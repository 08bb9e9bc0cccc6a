//! Provider fakes: the framework-free contract between a provider crate's `sandbox`
//! feature and whatever serves it (the `junction-sandbox` server, wiremock in tests).
//!
//! A fake answers [`FakeRequest`]s with [`FakeResponse`]s in the provider's real wire
//! format. Bearer tokens are checked against the sandbox's OAuth server through
//! [`TokenAuthority`]; injected failures arrive as a [`Fault`] the fake renders the way
//! the real provider does (GA4's 429 `RESOURCE_EXHAUSTED`, Stripe's error object, ...).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
}

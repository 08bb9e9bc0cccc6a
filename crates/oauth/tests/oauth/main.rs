//! Integration tests of junction-oauth: the engine against a wiremock authorization
//! server, and single-flight refresh against a real Postgres (one binary per crate:
//! every module below links into this one test executable).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorize;
mod client_credentials;
mod errors;
mod exchange;
mod long_lived;
mod refresh;
mod revoke;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use junction_core::{OAuth2Spec, RefreshBehaviour, TokenClientAuth};
use junction_oauth::{ClientConfig, EndpointOverrides, OAuthEngine};
use secrecy::SecretString;
use url::Url;
use wiremock::MockServer;

/// A client id and secret with characters RFC 6749 §2.3.1 makes us form-encode.
pub const CLIENT_ID: &str = "junction client:1";
pub const CLIENT_SECRET: &str = "s3cr%t:pass/+";

/// `Basic base64(form(CLIENT_ID) ":" form(CLIENT_SECRET))`, computed independently:
/// base64 of `junction+client%3A1:s3cr%25t%3Apass%2F%2B`.
pub const EXPECTED_BASIC: &str = "Basic anVuY3Rpb24rY2xpZW50JTNBMTpzM2NyJTI1dCUzQXBhc3MlMkYlMkI=";

pub const REDIRECT_URI: &str = "https://junction.example/v1/oauth/callback";

/// A provider spec; endpoints point nowhere and are overridden per test.
pub fn spec(client_auth: TokenClientAuth, pkce: bool, refresh: RefreshBehaviour) -> OAuth2Spec {
    OAuth2Spec {
        authorize_url: "https://accounts.provider.example/o/oauth2/auth",
        token_url: "https://provider.example/token",
        revoke_url: Some("https://provider.example/revoke"),
        scopes: vec![
            "openid",
            "https://www.googleapis.com/auth/analytics.readonly",
        ],
        scope_separator: " ",
        pkce,
        extra_authorize_params: vec![("access_type", "offline"), ("prompt", "consent")],
        refresh,
        client_auth,
        long_lived_exchange: None,
    }
}

/// The usual spec: Basic client auth, PKCE, rotating refresh tokens.
pub fn default_spec() -> OAuth2Spec {
    spec(
        TokenClientAuth::BasicHeader,
        true,
        RefreshBehaviour::Rotating,
    )
}

/// A client whose token and revoke endpoints are the mock server's `/token` and
/// `/revoke`.
pub fn client_for(server: &MockServer, spec: &OAuth2Spec) -> ClientConfig {
    let base = Url::parse(&server.uri()).unwrap();
    ClientConfig::from_spec(
        spec,
        CLIENT_ID.into(),
        SecretString::from(CLIENT_SECRET),
        Url::parse(REDIRECT_URI).unwrap(),
        &EndpointOverrides {
            authorize_url: None,
            token_url: Some(base.join("/token").unwrap()),
            revoke_url: Some(base.join("/revoke").unwrap()),
        },
    )
    .unwrap()
}

pub fn engine() -> OAuthEngine {
    OAuthEngine::new().unwrap()
}

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The decoded form body of a request the mock received.
pub fn form_of(request: &wiremock::Request) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

/// The one request the mock server received.
pub async fn only_request(server: &MockServer) -> wiremock::Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "expected exactly one request");
    requests.remove(0)
}

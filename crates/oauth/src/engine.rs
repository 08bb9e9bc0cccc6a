//! [`OAuthEngine`]: the authorization-code flow driven by an [`OAuth2Spec`].
//!
//! - [`OAuthEngine::authorize`] builds the consent URL with the `oauth2` crate
//!   (random `state`, PKCE S256 challenge).
//! - [`OAuthEngine::exchange_code`] and [`OAuthEngine::refresh`] call the token
//!   endpoint; [`OAuthEngine::revoke`] calls the RFC 7009 revocation endpoint.
//!
//! The endpoint calls use reqwest directly rather than `oauth2`'s typed
//! `exchange_code(..).request_async(..)`: `oauth2`'s token responses cannot express
//! the quirks real providers have (`expires_in` as a string, comma-separated or
//! array scopes, an OAuth error inside an HTTP 200), it lumps 5xx pages and
//! unparseable bodies into one error that carries the raw body (which may hold
//! tokens), and it cannot tell `invalid_grant` from a timeout the way the retry
//! policy needs. `junction_core::http::send` is not used either: it needs an
//! adapter `Context` and classifies into `AdapterError`, while the token endpoint
//! has OAuth error semantics of its own (see [`crate::token`]).

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use junction_core::{
    OAuth2Spec, RefreshBehaviour, TokenClientAuth,
    spec::{TokenExchangeMethod, TokenExchangeSpec},
};
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, basic::BasicClient};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::{
    ACCESS_TOKEN, REFRESH_TOKEN,
    client::ClientConfig,
    error::OAuthError,
    token::{TokenSet, parse_revoke_response, parse_token_response},
};

/// How long one token or revocation call may take, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Random bytes in a `state` value (base64url: 43 characters).
const STATE_BYTES: u32 = 32;

/// The most of a response body that is read. Token responses are small; a
/// misbehaving endpoint must not make us buffer megabytes.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Authorize-URL parameters the engine sets itself. A spec's extra parameters may
/// not replace them: a spec that set `state` or `redirect_uri` would defeat CSRF
/// protection or the redirect binding.
const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// A consent URL to send the user to, with what the callback must check.
#[derive(Debug)]
pub struct AuthorizeRequest {
    pub url: Url,
    /// The `state` in the URL: store it (single use, bound to workspace and
    /// provider) and compare it with the callback's.
    pub state: SecretString,
    /// The PKCE verifier to send with the code exchange, when the spec uses PKCE.
    pub pkce_verifier: Option<SecretString>,
}

/// Which kind of token a revocation is about (RFC 7009 §2.1 `token_type_hint`).
/// It is only a hint: servers search every kind when it is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    AccessToken,
    RefreshToken,
}

impl TokenTypeHint {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenTypeHint::AccessToken => "access_token",
            TokenTypeHint::RefreshToken => "refresh_token",
        }
    }
}

/// The OAuth 2.0 engine. Cheap to clone (the HTTP client is shared).
#[derive(Debug, Clone)]
pub struct OAuthEngine {
    http: reqwest::Client,
}

impl OAuthEngine {
    /// An engine with its own HTTP client: redirects disabled (a token endpoint that
    /// redirects is misconfigured, and following it would re-post credentials to
    /// wherever it points) and a 30-second timeout.
    pub fn new() -> Result<Self, OAuthError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("junction-oauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| {
                OAuthError::Config(format!("the HTTP client could not be built: {err}"))
            })?;
        Ok(Self { http })
    }

    /// An engine on a given client (it should have redirects disabled too).
    pub fn with_client(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// The consent URL: `response_type=code`, `client_id`, `redirect_uri`, `scope`
    /// (joined with the spec's separator), a fresh random `state` (32 bytes,
    /// base64url), a PKCE S256 challenge when the spec asks for PKCE, then the
    /// spec's extra parameters (`access_type=offline`, `prompt=consent`, ...).
    pub fn authorize(
        &self,
        spec: &OAuth2Spec,
        client: &ClientConfig,
    ) -> Result<AuthorizeRequest, OAuthError> {
        if let Some((name, _)) = spec
            .extra_authorize_params
            .iter()
            .find(|(name, _)| RESERVED_AUTHORIZE_PARAMS.contains(name))
        {
            return Err(OAuthError::Config(format!(
                "the provider's extra authorize parameter `{name}` would replace one the engine sets"
            )));
        }
        let oauth_client = BasicClient::new(ClientId::new(client.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(client.authorize_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(client.redirect_uri.clone()));
        let mut request = oauth_client.authorize_url(|| CsrfToken::new_random_len(STATE_BYTES));
        if !spec.scopes.is_empty() {
            // oauth2 joins scopes with a space; some providers want commas, so the
            // parameter is built here with the spec's separator.
            let separator = if spec.scope_separator.is_empty() {
                " "
            } else {
                spec.scope_separator
            };
            request = request.add_extra_param("scope", spec.scopes.join(separator));
        }
        let pkce_verifier = if spec.pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            Some(SecretString::from(verifier.secret().to_owned()))
        } else {
            None
        };
        for (name, value) in &spec.extra_authorize_params {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state) = request.url();
        Ok(AuthorizeRequest {
            url,
            state: SecretString::from(state.secret().to_owned()),
            pkce_verifier,
        })
    }

    /// Exchanges an authorization code for tokens (RFC 6749 §4.1.3). `now` is when
    /// the request is made; `expires_at` is computed from it.
    pub async fn exchange_code(
        &self,
        spec: &OAuth2Spec,
        client: &ClientConfig,
        code: &str,
        pkce_verifier: Option<&SecretString>,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, OAuthError> {
        if spec.pkce && pkce_verifier.is_none() {
            return Err(OAuthError::Config(
                "the provider uses PKCE but no code verifier was given for the exchange".into(),
            ));
        }
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", client.redirect_uri.as_str()),
        ];
        if let Some(verifier) = pkce_verifier {
            form.push(("code_verifier", verifier.expose_secret()));
        }
        let answer = self
            .post_form(spec, client, &client.token_url, form)
            .await?;
        let result = parse_token_response(
            answer.status,
            answer.content_type.as_deref(),
            &answer.body,
            now,
        );
        log_outcome("code exchange", &client.token_url, answer.status, &result);
        let short_lived = result?;
        if spec.long_lived_exchange.is_none() {
            return Ok(short_lived);
        }
        // The code's token lives an hour or two (Meta); the connection needs the
        // long-lived one. A failed exchange fails the connect: a connection that
        // silently dies within the hour is worse than a retry of the consent.
        let long_lived = self
            .exchange_token(spec, client, &short_lived.access_token, now)
            .await?;
        Ok(TokenSet {
            refresh_token: long_lived.refresh_token.or(short_lived.refresh_token),
            scopes: long_lived.scopes.or(short_lived.scopes),
            ..long_lived
        })
    }

    /// Exchanges a valid access token for a long-lived one with the spec's
    /// [`TokenExchangeSpec`] (Meta's `grant_type=fb_exchange_token`): right after the
    /// code exchange, and again to renew the long-lived token before it expires (such
    /// providers issue no refresh token). A provider error code the spec lists as
    /// "token invalid" is [`OAuthError::InvalidGrant`]: the grant is gone.
    pub async fn exchange_token(
        &self,
        spec: &OAuth2Spec,
        client: &ClientConfig,
        token: &SecretString,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, OAuthError> {
        let Some(exchange) = &spec.long_lived_exchange else {
            return Err(OAuthError::Config(
                "the provider has no long-lived token exchange".into(),
            ));
        };
        let form = vec![
            ("grant_type", exchange.grant_type),
            (exchange.token_param, token.expose_secret()),
        ];
        let answer = match exchange.method {
            TokenExchangeMethod::Post => {
                self.post_form(spec, client, &client.token_url, form)
                    .await?
            }
            TokenExchangeMethod::Get => self.get_query(client, &client.token_url, form).await?,
        };
        let result = parse_token_response(
            answer.status,
            answer.content_type.as_deref(),
            &answer.body,
            now,
        )
        .map_err(|err| token_invalid(exchange, err));
        log_outcome(
            "long-lived token exchange",
            &client.token_url,
            answer.status,
            &result,
        );
        result
    }

    /// Gets a new access token with a refresh token (RFC 6749 §6). A provider whose
    /// tokens cannot be refreshed (`RefreshBehaviour::None`) is a configuration
    /// error here: the caller should not have asked.
    pub async fn refresh(
        &self,
        spec: &OAuth2Spec,
        client: &ClientConfig,
        refresh_token: &SecretString,
        now: DateTime<Utc>,
    ) -> Result<TokenSet, OAuthError> {
        if spec.refresh == RefreshBehaviour::None {
            return Err(OAuthError::Config(
                "the provider's tokens cannot be refreshed".into(),
            ));
        }
        let form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ];
        let answer = self
            .post_form(spec, client, &client.token_url, form)
            .await?;
        let result = parse_token_response(
            answer.status,
            answer.content_type.as_deref(),
            &answer.body,
            now,
        );
        log_outcome("token refresh", &client.token_url, answer.status, &result);
        result
    }

    /// Revokes a token (RFC 7009) with `token_type_hint=refresh_token`: on
    /// disconnect the refresh token is the one that matters (revoking it ends the
    /// grant, RFC 7009 §2.1), and servers that find an access token instead still
    /// revoke it. `Ok(())` when the provider has no revocation endpoint, on any 2xx,
    /// and when the server says the token is already invalid.
    pub async fn revoke(
        &self,
        spec: &OAuth2Spec,
        client: &ClientConfig,
        token: &SecretString,
    ) -> Result<(), OAuthError> {
        self.revoke_with_hint(spec, client, token, TokenTypeHint::RefreshToken)
            .await
    }

    /// [`Self::revoke`] with an explicit `token_type_hint`.
    pub async fn revoke_with_hint(
        &self,
        spec: &OAuth2Spec,
        client: &ClientConfig,
        token: &SecretString,
        hint: TokenTypeHint,
    ) -> Result<(), OAuthError> {
        let Some(revoke_url) = &client.revoke_url else {
            return Ok(());
        };
        let form = vec![
            ("token", token.expose_secret()),
            ("token_type_hint", hint.as_str()),
        ];
        let answer = self.post_form(spec, client, revoke_url, form).await?;
        let result =
            parse_revoke_response(answer.status, answer.content_type.as_deref(), &answer.body);
        log_outcome("revocation", revoke_url, answer.status, &result);
        result
    }

    /// Revokes a connection's grant from its stored credential fields: the refresh
    /// token when there is one, else the access token, each with the right hint.
    /// `Ok(())` when there is nothing to revoke or nowhere to revoke it.
    pub async fn revoke_credentials(
        &self,
        spec: &OAuth2Spec,
        client: &ClientConfig,
        credentials: &BTreeMap<String, SecretString>,
    ) -> Result<(), OAuthError> {
        if let Some(refresh_token) = credentials.get(REFRESH_TOKEN) {
            self.revoke_with_hint(spec, client, refresh_token, TokenTypeHint::RefreshToken)
                .await
        } else if let Some(access_token) = credentials.get(ACCESS_TOKEN) {
            self.revoke_with_hint(spec, client, access_token, TokenTypeHint::AccessToken)
                .await
        } else {
            Ok(())
        }
    }

    /// GETs an endpoint with `params` and the client's id and secret in the query (the
    /// way Meta's Graph API takes them; the query never reaches a log or an error:
    /// transport errors drop the URL).
    async fn get_query(
        &self,
        client: &ClientConfig,
        url: &Url,
        mut params: Vec<(&str, &str)>,
    ) -> Result<Answer, OAuthError> {
        params.push(("client_id", client.client_id.as_str()));
        let secret = client.client_secret.expose_secret();
        if !secret.is_empty() {
            params.push(("client_secret", secret));
        }
        let response = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .query(&params)
            .send()
            .await
            .map_err(transport_error)?;
        read_answer(response).await
    }

    /// POSTs a form to an endpoint with the spec's client authentication and reads
    /// the answer (capped).
    async fn post_form(
        &self,
        spec: &OAuth2Spec,
        client: &ClientConfig,
        url: &Url,
        form: Vec<(&str, &str)>,
    ) -> Result<Answer, OAuthError> {
        self.post_form_as(
            spec.client_auth,
            &client.client_id,
            &client.client_secret,
            url,
            form,
        )
        .await
    }

    /// [`Self::post_form`] for any client: the client-credentials grant authenticates
    /// with the user's own id and secret rather than Junction's app registration.
    pub(crate) async fn post_form_as(
        &self,
        client_auth: TokenClientAuth,
        client_id: &str,
        client_secret: &SecretString,
        url: &Url,
        mut form: Vec<(&str, &str)>,
    ) -> Result<Answer, OAuthError> {
        let secret = client_secret.expose_secret();
        let mut request = self
            .http
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json");
        match client_auth {
            TokenClientAuth::BasicHeader => {
                // RFC 6749 §2.3.1: both parts are form-urlencoded before the Basic
                // encoding (ids and secrets with `:` or `%` otherwise break).
                // reqwest marks the header sensitive.
                request = request.basic_auth(form_encode(client_id), Some(form_encode(secret)));
            }
            TokenClientAuth::RequestBody => {
                form.push(("client_id", client_id));
                // Public clients (PKCE only) have no secret to send.
                if !secret.is_empty() {
                    form.push(("client_secret", secret));
                }
            }
        }
        let response = request.form(&form).send().await.map_err(transport_error)?;
        read_answer(response).await
    }
}

/// Reads an endpoint's answer: status, content type and the body (capped).
async fn read_answer(mut response: reqwest::Response) -> Result<Answer, OAuthError> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

/// An exchange refusal whose provider code says the presented token is dead, as
/// [`OAuthError::InvalidGrant`]; any other error as it is.
fn token_invalid(exchange: &TokenExchangeSpec, err: OAuthError) -> OAuthError {
    match err {
        OAuthError::Provider {
            error, description, ..
        } if exchange.invalid_token_codes.contains(&error.as_str()) => {
            OAuthError::InvalidGrant { description }
        }
        other => other,
    }
}

/// What an endpoint answered.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A transport failure as [`OAuthError::Unavailable`] (or `Config` when the request
/// could not even be built). The URL is dropped from reqwest's error; the form body
/// (which holds the code or refresh token) is never part of it.
fn transport_error(err: reqwest::Error) -> OAuthError {
    let kind = if err.is_timeout() {
        "the request timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the response body could not be read"
    } else if err.is_builder() {
        "the request could not be built"
    } else {
        "the request failed"
    };
    let is_builder = err.is_builder();
    let err = err.without_url();
    let mut message = kind.to_owned();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if is_builder {
        OAuthError::Config(message)
    } else {
        OAuthError::Unavailable(message)
    }
}

/// Traces an endpoint call's outcome (never a token: only the host, status and the
/// error's own redacted text).
pub(crate) fn log_outcome<T>(what: &str, url: &Url, status: u16, result: &Result<T, OAuthError>) {
    let host = url.host_str().unwrap_or_default();
    match result {
        Ok(_) => tracing::debug!(host, status, "OAuth {what} succeeded"),
        Err(err) => tracing::info!(host, status, error = %err, "OAuth {what} failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_what_basic_auth_would_break_on() {
        assert_eq!(form_encode("a:b%c d+e"), "a%3Ab%25c+d%2Be");
        assert_eq!(form_encode("plain-id_1.2~x"), "plain-id_1.2%7Ex");
    }
}

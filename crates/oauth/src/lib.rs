//! junction-oauth: the OAuth 2.0 engine — authorization code, refresh and client
//! credentials — driven by a provider's [`OAuth2Spec`](junction_core::OAuth2Spec) or
//! [`AuthSpec::ClientCredentials`](junction_core::AuthSpec::ClientCredentials).
//!
//! Used by the API (connect, callback, reconnect, disconnect) and the worker
//! (refresh ahead of expiry):
//!
//! - [`ClientConfig::from_spec`] resolves the endpoints (spec URLs, or
//!   [`EndpointOverrides`] for the sandbox and tests) for one OAuth client.
//! - [`OAuthEngine::authorize`] builds the consent URL with a random `state` and,
//!   when the spec asks, a PKCE S256 challenge.
//! - [`OAuthEngine::exchange_code`] turns the callback's code into a [`TokenSet`];
//!   [`OAuthEngine::refresh`] renews it; [`OAuthEngine::revoke`] /
//!   [`OAuthEngine::revoke_credentials`] revoke on disconnect (RFC 7009).
//! - [`refresh::fresh_access_token`] hands out a usable access token, refreshing it
//!   single-flight under the integration's row lock, and moves the integration to
//!   `needs_reauth` when the grant is gone.
//! - [`client_credentials::fresh_client_token`] does the same for providers whose
//!   users hold their own client id and secret (the client-credentials grant,
//!   RFC 6749 §4.4): a token fetched on demand, cached sealed, renewed ahead of
//!   its expiry, single-flight.
//!
//! Every failure is an [`OAuthError`] (or a [`RefreshError`]) with a stable
//! [`ErrorCode`](junction_core::ErrorCode); none of them, nor any log line, carries a
//! token, a client secret, a code or a PKCE verifier.
//!
//! # Connect and callback (API)
//!
//! ```no_run
//! # async fn example(
//! #     spec: &junction_core::OAuth2Spec,
//! #     client_secret: secrecy::SecretString,
//! #     store: &junction_store::Store,
//! #     vault: &junction_store::Vault,
//! #     workspace: junction_core::WorkspaceId,
//! #     integration_id: uuid::Uuid,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! use junction_oauth::{ClientConfig, EndpointOverrides, OAuthEngine};
//!
//! let engine = OAuthEngine::new()?;
//! let client = ClientConfig::from_spec(
//!     spec,
//!     "client-id".into(),
//!     client_secret,
//!     url::Url::parse("https://junction.example/v1/oauth/callback")?,
//!     &EndpointOverrides::default(),
//! )?;
//!
//! // Connect: redirect the user to `request.url`; keep `state` and the sealed
//! // `pkce_verifier` in oauth_states (single use, 10 minutes).
//! let request = engine.authorize(spec, &client)?;
//!
//! // Callback (after checking the returned state against the stored one):
//! let tokens = engine
//!     .exchange_code(spec, &client, "code-from-query", request.pkce_verifier.as_ref(), chrono::Utc::now())
//!     .await?;
//! let mut tx = store.begin(workspace).await?;
//! junction_store::repo::credentials::put(
//!     tx.conn(), vault, workspace, integration_id, &tokens.credential_fields(),
//! ).await?;
//! // ... set token_expires_at = tokens.expires_at and scopes (tokens.scopes, or the
//! // requested spec.scopes when None), then commit.
//! tx.commit().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Getting a token to call the provider with (API and worker)
//!
//! ```no_run
//! # async fn example(
//! #     store: &junction_store::Store,
//! #     vault: &junction_store::Vault,
//! #     engine: &junction_oauth::OAuthEngine,
//! #     spec: &junction_core::OAuth2Spec,
//! #     client: &junction_oauth::ClientConfig,
//! #     workspace_id: junction_core::WorkspaceId,
//! #     integration_id: uuid::Uuid,
//! # ) -> Result<(), junction_oauth::RefreshError> {
//! use junction_oauth::refresh::{RefreshRequest, fresh_access_token};
//!
//! let request = RefreshRequest {
//!     store, vault, engine, spec, client, workspace_id, integration_id,
//!     refresh_ahead: chrono::Duration::minutes(5),
//!     rejected_token: None,
//!     now: chrono::Utc::now(),
//! };
//! let token = fresh_access_token(request).await?;
//! // ... call the provider; on a 401, call again with
//! // `rejected_token: Some(&token.token)` to force one refresh.
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod client_credentials;
pub mod engine;
pub mod error;
pub mod refresh;
pub mod token;

pub use client::{ClientConfig, EndpointOverrides};
pub use client_credentials::{ClientCredentials, ClientTokenRequest, fresh_client_token};
pub use engine::{AuthorizeRequest, OAuthEngine, REQUEST_TIMEOUT, TokenTypeHint};
pub use error::OAuthError;
pub use refresh::{AccessToken, RefreshError, RefreshRequest, fresh_access_token};
pub use token::TokenSet;

/// The vault field holding an integration's access token.
pub const ACCESS_TOKEN: &str = "access_token";

/// The vault field holding an integration's refresh token.
pub const REFRESH_TOKEN: &str = "refresh_token";

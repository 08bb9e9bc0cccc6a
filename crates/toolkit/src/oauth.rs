//! The OAuth 2.0 of identity platforms several providers share, as specs: every
//! Google API (Analytics, Ads, Search Console, YouTube, Sheets) authorizes with
//! Google's, and Meta's Graph APIs (Marketing API, Pages, Instagram, WhatsApp) with
//! Facebook Login. A provider names its scopes; the platform's endpoints and quirks
//! are written once, here.

use std::time::Duration;

use junction_core::spec::{
    OAuth2Spec, RefreshBehaviour, TokenClientAuth, TokenExchangeMethod, TokenExchangeSpec,
};

/// Google's OAuth 2.0 with `scopes`: PKCE; a refresh token only for offline access,
/// and only on the first consent unless consent is asked for again (both are asked
/// for); the refresh token kept across refreshes (a refresh returns only an access
/// token); RFC 7009 revocation.
pub fn google(scopes: Vec<&'static str>) -> OAuth2Spec {
    OAuth2Spec {
        authorize_url: "https://accounts.google.com/o/oauth2/v2/auth",
        token_url: "https://oauth2.googleapis.com/token",
        revoke_url: Some("https://oauth2.googleapis.com/revoke"),
        scopes,
        scope_separator: " ",
        pkce: true,
        extra_authorize_params: vec![("access_type", "offline"), ("prompt", "consent")],
        refresh: RefreshBehaviour::Stable,
        client_auth: TokenClientAuth::RequestBody,
        long_lived_exchange: None,
    }
}

/// How long before a Facebook Login long-lived token (about 60 days) expires it is
/// exchanged again: with a week left, a connection synced daily or weekly never
/// lapses.
pub const FACEBOOK_RENEW_BEFORE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Facebook Login with `scopes` (comma-separated), at the Graph API version of its
/// `authorize_url` (`https://www.facebook.com/v25.0/dialog/oauth`) and `token_url`
/// (`https://graph.facebook.com/v25.0/oauth/access_token`). No PKCE and no refresh
/// token: the code's short-lived user token is exchanged for a long-lived one with
/// `fb_exchange_token` (a GET), and exchanged again [`FACEBOOK_RENEW_BEFORE`] it
/// expires; error 190 (OAuthException: invalid, expired or revoked) means the token
/// is dead. There is no RFC 7009 endpoint: an adapter revokes with
/// `DELETE /me/permissions`.
pub fn facebook_login(
    authorize_url: &'static str,
    token_url: &'static str,
    scopes: Vec<&'static str>,
) -> OAuth2Spec {
    OAuth2Spec {
        authorize_url,
        token_url,
        revoke_url: None,
        scopes,
        scope_separator: ",",
        pkce: false,
        extra_authorize_params: Vec::new(),
        refresh: RefreshBehaviour::None,
        client_auth: TokenClientAuth::RequestBody,
        long_lived_exchange: Some(TokenExchangeSpec {
            grant_type: "fb_exchange_token",
            token_param: "fb_exchange_token",
            method: TokenExchangeMethod::Get,
            renew_before: FACEBOOK_RENEW_BEFORE,
            invalid_token_codes: vec!["190"],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn google_asks_for_offline_access_and_keeps_its_refresh_token() {
        let spec = google(vec!["https://www.googleapis.com/auth/analytics.readonly"]);
        assert!(spec.pkce);
        assert_eq!(spec.refresh, RefreshBehaviour::Stable);
        assert_eq!(
            spec.extra_authorize_params,
            [("access_type", "offline"), ("prompt", "consent")]
        );
        assert_eq!(
            spec.revoke_url,
            Some("https://oauth2.googleapis.com/revoke")
        );
        assert_eq!(spec.scope_separator, " ");
        assert_eq!(spec.scopes.len(), 1);
    }

    #[test]
    fn facebook_login_exchanges_for_long_lived_tokens() {
        let spec = facebook_login(
            "https://www.facebook.com/v25.0/dialog/oauth",
            "https://graph.facebook.com/v25.0/oauth/access_token",
            vec!["ads_read"],
        );
        assert!(!spec.pkce);
        assert_eq!(spec.refresh, RefreshBehaviour::None);
        assert_eq!((spec.scope_separator, spec.revoke_url), (",", None));
        let exchange = spec.long_lived_exchange.unwrap();
        assert_eq!(
            (exchange.grant_type, exchange.token_param, exchange.method),
            (
                "fb_exchange_token",
                "fb_exchange_token",
                TokenExchangeMethod::Get
            )
        );
        assert_eq!(exchange.renew_before, Duration::from_secs(604_800));
        assert_eq!(exchange.invalid_token_codes, ["190"]);
    }
}

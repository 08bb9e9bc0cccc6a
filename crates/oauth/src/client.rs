//! [`ClientConfig`]: one OAuth client (Junction's app registration at a provider)
//! with the endpoints it talks to, resolved from the provider's spec and any
//! overrides (the sandbox and tests point them at fakes).

use junction_core::OAuth2Spec;
use secrecy::SecretString;
use url::Url;

use crate::error::OAuthError;

/// Endpoint URLs that replace the spec's (demo mode points every provider at the
/// sandbox's fake OAuth server; tests point them at a mock).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub authorize_url: Option<Url>,
    pub token_url: Option<Url>,
    pub revoke_url: Option<Url>,
}

/// Everything needed to talk to one provider's authorization server as one client.
///
/// `Debug` shows the client secret as `[REDACTED]` (it is a [`SecretString`]).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: Url,
    pub token_url: Url,
    pub revoke_url: Option<Url>,
    pub redirect_uri: Url,
}

impl ClientConfig {
    /// Resolves the endpoints of `spec` (an override wins over the spec's URL) and
    /// checks that they, and the redirect URI, are absolute http(s) URLs without a
    /// fragment (RFC 6749 §3.1, §3.1.2). Spec URLs are static provider data, so
    /// naming them in an error leaks nothing; override and redirect URLs are not
    /// quoted because a misconfigured one could carry credentials.
    pub fn from_spec(
        spec: &OAuth2Spec,
        client_id: String,
        client_secret: SecretString,
        redirect_uri: Url,
        overrides: &EndpointOverrides,
    ) -> Result<Self, OAuthError> {
        if client_id.trim().is_empty() {
            return Err(OAuthError::Config("the OAuth client id is empty".into()));
        }
        let authorize_url = resolve(
            "authorize_url",
            Some(spec.authorize_url),
            overrides.authorize_url.as_ref(),
        )?
        .ok_or_else(|| OAuthError::Config("the provider has no authorize_url".into()))?;
        let token_url = resolve(
            "token_url",
            Some(spec.token_url),
            overrides.token_url.as_ref(),
        )?
        .ok_or_else(|| OAuthError::Config("the provider has no token_url".into()))?;
        let revoke_url = resolve("revoke_url", spec.revoke_url, overrides.revoke_url.as_ref())?;
        check_endpoint("redirect_uri", &redirect_uri)?;
        Ok(Self {
            client_id,
            client_secret,
            authorize_url,
            token_url,
            revoke_url,
            redirect_uri,
        })
    }
}

/// The override when there is one, else the spec's URL parsed.
pub(crate) fn resolve(
    name: &str,
    from_spec: Option<&str>,
    overridden: Option<&Url>,
) -> Result<Option<Url>, OAuthError> {
    let url = match (overridden, from_spec) {
        (Some(url), _) => url.clone(),
        (None, Some(text)) => Url::parse(text).map_err(|err| {
            OAuthError::Config(format!(
                "the provider's {name} `{text}` is not a valid URL: {err}"
            ))
        })?,
        (None, None) => return Ok(None),
    };
    check_endpoint(name, &url)?;
    Ok(Some(url))
}

fn check_endpoint(name: &str, url: &Url) -> Result<(), OAuthError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OAuthError::Config(format!(
            "{name} must be an http(s) URL, not `{}:`",
            url.scheme()
        )));
    }
    if url.fragment().is_some() {
        return Err(OAuthError::Config(format!(
            "{name} must not have a fragment"
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(OAuthError::Config(format!("{name} has no host")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use junction_core::{RefreshBehaviour, TokenClientAuth};

    fn spec() -> OAuth2Spec {
        OAuth2Spec {
            authorize_url: "https://provider.example/oauth/authorize",
            token_url: "https://provider.example/oauth/token",
            revoke_url: None,
            scopes: vec!["read"],
            scope_separator: " ",
            pkce: true,
            extra_authorize_params: vec![],
            refresh: RefreshBehaviour::Rotating,
            client_auth: TokenClientAuth::BasicHeader,
            long_lived_exchange: None,
        }
    }

    fn redirect() -> Url {
        Url::parse("https://junction.example/oauth/callback").unwrap()
    }

    #[test]
    fn overrides_win_and_missing_revoke_stays_missing() {
        let overrides = EndpointOverrides {
            token_url: Some(Url::parse("http://127.0.0.1:9/token").unwrap()),
            ..EndpointOverrides::default()
        };
        let client = ClientConfig::from_spec(
            &spec(),
            "id".into(),
            SecretString::from("shh-very-secret"),
            redirect(),
            &overrides,
        )
        .unwrap();
        assert_eq!(client.token_url.as_str(), "http://127.0.0.1:9/token");
        assert_eq!(
            client.authorize_url.as_str(),
            "https://provider.example/oauth/authorize"
        );
        assert_eq!(client.revoke_url, None);
        let debug = format!("{client:?}");
        assert!(!debug.contains("shh-very-secret"), "{debug}");
    }

    #[test]
    fn bad_urls_are_configuration_errors() {
        let mut bad = spec();
        bad.token_url = "not a url";
        let err = ClientConfig::from_spec(
            &bad,
            "id".into(),
            SecretString::from("s"),
            redirect(),
            &EndpointOverrides::default(),
        )
        .unwrap_err();
        assert!(matches!(err, OAuthError::Config(_)), "{err:?}");

        let err = ClientConfig::from_spec(
            &spec(),
            "id".into(),
            SecretString::from("s"),
            Url::parse("https://junction.example/cb#frag").unwrap(),
            &EndpointOverrides::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            OAuthError::Config("redirect_uri must not have a fragment".into())
        );

        let err = ClientConfig::from_spec(
            &spec(),
            " ".into(),
            SecretString::from("s"),
            redirect(),
            &EndpointOverrides::default(),
        )
        .unwrap_err();
        assert!(matches!(err, OAuthError::Config(_)));

        let overrides = EndpointOverrides {
            revoke_url: Some(Url::parse("ftp://files.example/revoke").unwrap()),
            ..EndpointOverrides::default()
        };
        let err = ClientConfig::from_spec(
            &spec(),
            "id".into(),
            SecretString::from("s"),
            redirect(),
            &overrides,
        )
        .unwrap_err();
        assert!(matches!(err, OAuthError::Config(_)));
    }
}

//! Auth modes: how a connection's credential goes into a request.
//!
//! A provider entry lists every mode it accepts ([`crate::HttpApi::auth`]); the one
//! used for a connection is chosen from what the connection holds ([`select`]): an
//! access token picks the first token mode (OAuth 2.0, client credentials), else the
//! first key mode whose secret fields are all set. So one adapter serves a provider's
//! API-key entry and its OAuth entry alike (Kit, Mailchimp).
//!
//! Credentials become header values marked sensitive (kept out of `Debug` output) or
//! query parameters (which core's HTTP layer redacts from transport errors); no error
//! built here ever contains one.

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use junction_core::{
    AdapterError, Connection, ProxyTarget,
    http::ResponsePolicy,
    spec::{AuthSpec, ProviderSpec},
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// The placeholder of a key mode's header template (`Bearer {key}`).
pub const KEY_PLACEHOLDER: &str = "{key}";

/// The placeholder of a token mode's header template (`Bearer {token}`).
pub const TOKEN_PLACEHOLDER: &str = "{token}";

/// Where a credential goes in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In header `name`, as `template` with its placeholder replaced by the secret:
    /// `Authorization: Bearer {token}`, `X-Kit-Api-Key: {key}`.
    Header {
        name: &'static str,
        template: &'static str,
    },
    /// In the query string as `param=<secret>`. Such a credential cannot be handed
    /// to the authenticated proxy, which only sets headers.
    Query { param: &'static str },
}

impl Placement {
    /// `Authorization: Bearer {token}`, the OAuth 2.0 bearer usage (RFC 6750).
    pub const BEARER_TOKEN: Self = Self::Header {
        name: "authorization",
        template: "Bearer {token}",
    };

    /// `Authorization: Bearer {key}`, for API keys sent as bearer tokens (Stripe, Resend).
    pub const BEARER_KEY: Self = Self::Header {
        name: "authorization",
        template: "Bearer {key}",
    };
}

/// The user name of HTTP Basic auth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Username {
    /// A credential field of the connection (secret or not).
    Field(&'static str),
    /// Fixed text, for APIs that take any user with the key as password (Mailchimp).
    Fixed(&'static str),
}

/// One way a connection may authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// A typed-in key (secret field `field`), placed as `placement` says.
    ApiKey {
        field: &'static str,
        placement: Placement,
    },
    /// HTTP Basic: a user name and the password field (none: the key is the user
    /// name and the password is empty, as Stripe accepts).
    Basic {
        username: Username,
        password: Option<&'static str>,
    },
    /// The connection's OAuth 2.0 access token (authorization-code grant).
    OAuth2 { placement: Placement },
    /// The access token Junction obtained with the client-credentials grant.
    ClientCredentials { placement: Placement },
}

impl AuthMode {
    /// An OAuth 2.0 access token as `Authorization: Bearer`.
    pub const OAUTH_BEARER: Self = Self::OAuth2 {
        placement: Placement::BEARER_TOKEN,
    };

    /// An API key in header `name` through `template` (with [`KEY_PLACEHOLDER`]).
    pub const fn api_key_header(
        field: &'static str,
        name: &'static str,
        template: &'static str,
    ) -> Self {
        Self::ApiKey {
            field,
            placement: Placement::Header { name, template },
        }
    }

    /// An API key in the query parameter `param`.
    pub const fn api_key_query(field: &'static str, param: &'static str) -> Self {
        Self::ApiKey {
            field,
            placement: Placement::Query { param },
        }
    }

    /// HTTP Basic with a user-name field and a password field.
    pub const fn basic(username: &'static str, password: &'static str) -> Self {
        Self::Basic {
            username: Username::Field(username),
            password: Some(password),
        }
    }

    /// HTTP Basic with the key as the user name and an empty password.
    pub const fn basic_key_as_username(field: &'static str) -> Self {
        Self::Basic {
            username: Username::Field(field),
            password: None,
        }
    }

    /// HTTP Basic with a fixed user name and the key as the password.
    pub const fn basic_key_as_password(user: &'static str, field: &'static str) -> Self {
        Self::Basic {
            username: Username::Fixed(user),
            password: Some(field),
        }
    }

    /// Whether the mode sends the connection's access token (else typed-in fields).
    pub fn uses_access_token(&self) -> bool {
        matches!(self, Self::OAuth2 { .. } | Self::ClientCredentials { .. })
    }

    /// The credential fields the mode reads.
    pub fn fields(&self) -> Vec<&'static str> {
        match self {
            Self::ApiKey { field, .. } => vec![field],
            Self::Basic { username, password } => {
                let mut fields: Vec<&'static str> = password.iter().copied().collect();
                if let Username::Field(name) = username {
                    fields.insert(0, name);
                }
                fields
            }
            Self::OAuth2 { .. } | Self::ClientCredentials { .. } => Vec::new(),
        }
    }

    /// A problem with the mode's own description (a template without its
    /// placeholder), for [`crate::HttpApi::validate`].
    pub fn problem(&self) -> Option<String> {
        let (placement, placeholder) = match self {
            Self::ApiKey { placement, .. } => (placement, KEY_PLACEHOLDER),
            Self::OAuth2 { placement } | Self::ClientCredentials { placement } => {
                (placement, TOKEN_PLACEHOLDER)
            }
            Self::Basic { .. } => return None,
        };
        match placement {
            Placement::Header { name, template } => {
                if HeaderName::from_bytes(name.as_bytes()).is_err() {
                    Some(format!("`{name}` is not a header name"))
                } else if !template.contains(placeholder) {
                    Some(format!("the template of `{name}` lacks {placeholder}"))
                } else {
                    None
                }
            }
            Placement::Query { .. } => None,
        }
    }
}

/// Picks the mode for `conn` among `modes` (see the module docs). When none is
/// usable the error is the one the entry's own auth kind calls for: a missing token
/// a refresh may fix for OAuth entries, the missing field for key entries.
pub fn select<'m>(
    modes: &'m [AuthMode],
    spec: &ProviderSpec,
    conn: &Connection,
) -> Result<&'m AuthMode, AdapterError> {
    if conn.access_token.is_some()
        && let Some(mode) = modes.iter().find(|m| m.uses_access_token())
    {
        return Ok(mode);
    }
    let key_modes = || modes.iter().filter(|m| !m.uses_access_token());
    if let Some(mode) = key_modes().find(|m| {
        m.fields()
            .iter()
            .all(|field| conn.secrets.contains_key(*field) || conn.config.contains_key(*field))
    }) {
        return Ok(mode);
    }
    let has_token_mode = modes.iter().any(AuthMode::uses_access_token);
    let token_entry = matches!(
        spec.auth,
        AuthSpec::OAuth2(_) | AuthSpec::ClientCredentials { .. }
    );
    match key_modes().next() {
        Some(mode) if !(has_token_mode && token_entry) => {
            let missing = mode
                .fields()
                .into_iter()
                .find(|field| !conn.secrets.contains_key(*field))
                .unwrap_or("credentials");
            Err(AdapterError::invalid_field(missing, "is not set"))
        }
        _ if has_token_mode => Err(AdapterError::Unauthorized {
            refreshable: true,
            message: "no access token stored".into(),
        }),
        _ => Err(AdapterError::invalid(format!(
            "{} declares no auth mode",
            spec.name
        ))),
    }
}

/// How a 401 reads for a mode: a token mode of an entry whose tokens Junction can
/// renew may be refreshed; a rejected key stays rejected.
pub fn policy(mode: &AuthMode, spec: &ProviderSpec) -> ResponsePolicy {
    if !mode.uses_access_token() {
        return ResponsePolicy::API_KEY;
    }
    match &spec.auth {
        AuthSpec::OAuth2(_) | AuthSpec::ClientCredentials { .. } => {
            ResponsePolicy::for_auth(&spec.auth)
        }
        AuthSpec::ApiKey { .. } | AuthSpec::Basic { .. } => ResponsePolicy::OAUTH,
    }
}

/// What an adapter's `revoke` answers after asking the provider to revoke a grant
/// (Meta's `DELETE /me/permissions`): done, or refused as `Unauthorized` — the
/// credential is already dead, which is as good as revoked. Other failures stay.
pub fn revoked(outcome: Result<(), AdapterError>) -> Result<(), AdapterError> {
    match outcome {
        Ok(()) | Err(AdapterError::Unauthorized { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// A mode's credential, ready to go into requests.
#[derive(Clone)]
pub struct Credential {
    applied: Applied,
}

#[derive(Clone)]
enum Applied {
    Header(HeaderName, HeaderValue),
    Query(&'static str, SecretString),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match &self.applied {
            Applied::Header(name, _) => name.as_str(),
            Applied::Query(param, _) => param,
        };
        f.debug_struct("Credential")
            .field("in", &place)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Reads the mode's secret from `conn`.
    pub fn new(mode: &AuthMode, conn: &Connection) -> Result<Self, AdapterError> {
        let applied = match mode {
            AuthMode::ApiKey { field, placement } => {
                place(placement, conn.secret(field)?, KEY_PLACEHOLDER, |_| {
                    AdapterError::invalid_field(
                        *field,
                        "contains characters an HTTP header cannot carry",
                    )
                })?
            }
            AuthMode::OAuth2 { placement } | AuthMode::ClientCredentials { placement } => {
                place(placement, conn.bearer()?, TOKEN_PLACEHOLDER, |_| {
                    AdapterError::Unauthorized {
                        refreshable: true,
                        message: "the stored access token cannot be sent in a header".into(),
                    }
                })?
            }
            AuthMode::Basic { username, password } => {
                let user = match username {
                    Username::Fixed(text) => (*text).to_owned(),
                    Username::Field(field) => match conn.secrets.get(*field) {
                        Some(secret) => secret.expose_secret().trim().to_owned(),
                        None => conn.config_str(field)?.trim().to_owned(),
                    },
                };
                let password = match password {
                    Some(field) => conn.secret(field)?.expose_secret().trim().to_owned(),
                    None => String::new(),
                };
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| AdapterError::invalid("the credentials cannot be encoded"))?;
                value.set_sensitive(true);
                Applied::Header(http::header::AUTHORIZATION, value)
            }
        };
        Ok(Self { applied })
    }

    /// `request` carrying the credential.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.applied {
            Applied::Header(name, value) => request.header(name.clone(), value.clone()),
            Applied::Query(param, secret) => request.query(&[(param, secret.expose_secret())]),
        }
    }

    /// The authenticated proxy's target at `base_url` with this credential.
    pub fn proxy_target(&self, base_url: Url) -> Result<ProxyTarget, AdapterError> {
        match &self.applied {
            Applied::Header(name, value) => {
                let text = value
                    .to_str()
                    .map_err(|_| AdapterError::invalid("the credential is not text"))?;
                Ok(ProxyTarget {
                    base_url,
                    headers: vec![(name.clone(), SecretString::from(text.to_owned()))],
                })
            }
            Applied::Query(..) => Err(AdapterError::invalid(
                "this connection's credential goes in the query string, which the proxy \
                 cannot add",
            )),
        }
    }
}

/// The secret placed per `placement`; `unsendable` is the error for a secret that
/// cannot be a header value (it never quotes the secret).
fn place(
    placement: &Placement,
    secret: &SecretString,
    placeholder: &str,
    unsendable: impl FnOnce(()) -> AdapterError,
) -> Result<Applied, AdapterError> {
    let secret = secret.expose_secret().trim();
    match placement {
        Placement::Header { name, template } => {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| AdapterError::invalid(format!("`{name}` is not a header name")))?;
            let mut value = HeaderValue::from_str(&template.replace(placeholder, secret))
                .map_err(|_| unsendable(()))?;
            value.set_sensitive(true);
            Ok(Applied::Header(name, value))
        }
        Placement::Query { param } => Ok(Applied::Query(param, SecretString::from(secret))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestConnection as _, connection, spec_with};
    use junction_core::spec::{AuthSpec, ConfigField};

    #[test]
    fn a_dead_credential_is_as_good_as_revoked() {
        assert_eq!(revoked(Ok(())), Ok(()));
        let dead = AdapterError::Unauthorized {
            refreshable: false,
            message: "token expired".into(),
        };
        assert_eq!(revoked(Err(dead)), Ok(()));
        let down = AdapterError::unavailable("HTTP 503");
        assert_eq!(revoked(Err(down.clone())), Err(down));
        let limited = AdapterError::RateLimited { retry_after: None };
        assert_eq!(revoked(Err(limited.clone())), Err(limited));
    }

    fn sent(mode: &AuthMode, conn: &Connection) -> reqwest::Request {
        let credential = Credential::new(mode, conn).unwrap();
        credential
            .apply(reqwest::Client::new().get("https://api.example.test/v1/x?a=1"))
            .build()
            .unwrap()
    }

    fn header(request: &reqwest::Request, name: &str) -> String {
        request.headers()[name].to_str().unwrap().to_owned()
    }

    #[test]
    fn each_mode_is_sent_as_described() {
        let conn = connection(&[("api_key", "k-123"), ("user", "ann"), ("password", "pw")])
            .with_token("tok-9");
        let bearer_key = AuthMode::ApiKey {
            field: "api_key",
            placement: Placement::BEARER_KEY,
        };
        assert_eq!(
            header(&sent(&bearer_key, &conn), "authorization"),
            "Bearer k-123"
        );
        let kit = AuthMode::api_key_header("api_key", "X-Kit-Api-Key", "{key}");
        let request = sent(&kit, &conn);
        assert_eq!(header(&request, "x-kit-api-key"), "k-123");
        assert!(request.headers()["x-kit-api-key"].is_sensitive());
        let query = AuthMode::api_key_query("api_key", "api_key");
        assert_eq!(sent(&query, &conn).url().query(), Some("a=1&api_key=k-123"));
        let basic = AuthMode::basic("user", "password");
        assert_eq!(
            header(&sent(&basic, &conn), "authorization"),
            "Basic YW5uOnB3"
        );
        let key_user = AuthMode::basic_key_as_username("api_key");
        assert_eq!(
            header(&sent(&key_user, &conn), "authorization"),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("k-123:")
            )
        );
        let key_password = AuthMode::basic_key_as_password("junction", "api_key");
        assert_eq!(
            header(&sent(&key_password, &conn), "authorization"),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("junction:k-123")
            )
        );
        for token in [
            AuthMode::OAUTH_BEARER,
            AuthMode::ClientCredentials {
                placement: Placement::BEARER_TOKEN,
            },
        ] {
            assert_eq!(
                header(&sent(&token, &conn), "authorization"),
                "Bearer tok-9"
            );
        }
        let oauth_scheme = AuthMode::OAuth2 {
            placement: Placement::Header {
                name: "authorization",
                template: "OAuth {token}",
            },
        };
        assert_eq!(
            header(&sent(&oauth_scheme, &conn), "authorization"),
            "OAuth tok-9"
        );
        let debug = format!("{:?}", Credential::new(&kit, &conn).unwrap());
        assert!(!debug.contains("k-123"), "{debug}");
    }

    #[test]
    fn the_mode_follows_the_connection() {
        let modes = [
            AuthMode::api_key_header("api_key", "X-Kit-Api-Key", "{key}"),
            AuthMode::OAUTH_BEARER,
        ];
        let key_spec = spec_with(AuthSpec::ApiKey {
            fields: vec![ConfigField::secret("api_key", "Key", "")],
        });
        let with_key = connection(&[("api_key", "k")]);
        assert_eq!(select(&modes, &key_spec, &with_key).unwrap(), &modes[0]);
        let with_token = connection(&[]).with_token("t");
        assert_eq!(select(&modes, &key_spec, &with_token).unwrap(), &modes[1]);
        // Nothing usable: a key entry names the missing field...
        let empty = connection(&[]);
        assert_eq!(
            select(&modes, &key_spec, &empty).unwrap_err(),
            AdapterError::invalid_field("api_key", "is not set")
        );
        // ...an OAuth entry asks for a token a refresh may bring.
        let oauth_spec = crate::testing::oauth_spec();
        assert!(matches!(
            select(&modes, &oauth_spec, &empty).unwrap_err(),
            AdapterError::Unauthorized {
                refreshable: true,
                ..
            }
        ));
        assert!(matches!(
            select(&[AuthMode::OAUTH_BEARER], &oauth_spec, &empty).unwrap_err(),
            AdapterError::Unauthorized {
                refreshable: true,
                ..
            }
        ));
    }

    #[test]
    fn policies_follow_the_mode() {
        let oauth = crate::testing::oauth_spec();
        assert_eq!(
            policy(&AuthMode::OAUTH_BEARER, &oauth),
            ResponsePolicy::OAUTH
        );
        assert_eq!(
            policy(&AuthMode::api_key_query("k", "k"), &oauth),
            ResponsePolicy::API_KEY
        );
    }

    #[test]
    fn unsendable_secrets_are_named_not_quoted() {
        let conn = connection(&[("api_key", "bad\nkey")]);
        let mode = AuthMode::api_key_header("api_key", "X-Key", "{key}");
        let err = Credential::new(&mode, &conn).unwrap_err();
        assert_eq!(
            err,
            AdapterError::invalid_field(
                "api_key",
                "contains characters an HTTP header cannot carry"
            )
        );
        assert!(
            AuthMode::api_key_header("k", "X-Key", "Bearer")
                .problem()
                .is_some()
        );
        assert!(AuthMode::OAUTH_BEARER.problem().is_none());
    }

    #[test]
    fn proxy_targets_carry_the_header() {
        let conn = connection(&[]).with_token("t");
        let target = Credential::new(&AuthMode::OAUTH_BEARER, &conn)
            .unwrap()
            .proxy_target("https://api.example.test/".parse().unwrap())
            .unwrap();
        assert_eq!(target.headers[0].0, "authorization");
        assert_eq!(target.headers[0].1.expose_secret(), "Bearer t");
        let conn = connection(&[("k", "v")]);
        assert!(
            Credential::new(&AuthMode::api_key_query("k", "key"), &conn)
                .unwrap()
                .proxy_target("https://api.example.test/".parse().unwrap())
                .is_err()
        );
    }
}

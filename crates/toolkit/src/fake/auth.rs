//! Who is calling: the credential a request presents, read with the same
//! [`AuthMode`]s the adapter sends it with, checked against the keys the fake accepts
//! or the sandbox's token authority ([`junction_core::fake::TokenAuthority`]).
//!
//! A check ends in a [`Principal`] (the credential and what it may do) or a
//! [`Refusal`] the fake renders in its provider's own words: no credential, an
//! unknown one, an expired one (also every credential while the `ExpiredToken` fault
//! is armed), a disabled key, or one without the grant a route needs.

use base64::Engine as _;
use junction_core::fake::{FakeRequest, Fault, TokenAuthority, TokenStatus};

use crate::auth::{AuthMode, Placement, Username};

/// A key the fake accepts, with what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub secret: &'static str,
    /// What the key may do, checked against a route's needs; `*` is everything.
    pub grants: &'static [&'static str],
    /// A key the provider knows but refuses (a disabled user).
    pub disabled: bool,
}

impl Key {
    /// A key that may do everything.
    pub const fn full(secret: &'static str) -> Self {
        Self {
            secret,
            grants: &["*"],
            disabled: false,
        }
    }

    /// A key that may do what `grants` name (a restricted or sending-only key).
    pub const fn with(secret: &'static str, grants: &'static [&'static str]) -> Self {
        Self {
            secret,
            grants,
            disabled: false,
        }
    }

    /// A key the provider refuses as disabled.
    pub const fn disabled(secret: &'static str) -> Self {
        Self {
            secret,
            grants: &[],
            disabled: true,
        }
    }
}

/// What the fake accepts.
#[derive(Debug, Clone, Copy)]
pub struct Auth {
    /// The adapter's modes ([`crate::HttpApi::auth`]): how credentials are read.
    pub modes: &'static [AuthMode],
    /// Which of them this fake serves: key modes, token modes, or both.
    pub serves: Serves,
    /// Further ways the provider takes a credential that the adapter does not use
    /// (Stripe's key as a Basic user name, Meta's `access_token` query parameter).
    pub also: &'static [AuthMode],
    pub keys: &'static [Key],
    /// The provider entry whose tokens the token authority is asked about.
    pub provider: &'static str,
    /// Grants every route needs (any one of them) unless it says otherwise: OAuth
    /// scopes, or what keys grant. Empty: none.
    pub needs: &'static [&'static str],
}

/// Which of the adapter's modes a fake serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    Keys,
    Tokens,
    All,
}

/// Who called.
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    /// The presented key or token.
    pub credential: String,
    /// What it may do: a key's grants, or a token's scopes.
    pub grants: Vec<String>,
    /// Whether it is an access token (else a key).
    pub token: bool,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the credential itself.
        f.debug_struct("Principal")
            .field("grants", &self.grants)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Principal {
    /// Whether it holds any of `needs` (everything when `needs` is empty).
    pub fn may(&self, needs: &[&str]) -> bool {
        needs.is_empty()
            || self
                .grants
                .iter()
                .any(|g| g == "*" || needs.contains(&g.as_str()))
    }
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No credential in any accepted place.
    Missing,
    /// A key or token the fake does not know.
    Unknown,
    /// Expired or revoked (or the `ExpiredToken` fault is armed).
    Expired,
    /// A key the provider refuses as disabled.
    Disabled,
    /// A valid credential without the grant the route needs.
    Insufficient,
}

/// A refusal, for the fake to render in its provider's words.
#[derive(Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: Refused,
    /// The credential presented, if any (render it masked, as providers do).
    pub credential: Option<String>,
    /// Whether the credential was sent in a token mode.
    pub token: bool,
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refusal")
            .field("why", &self.why)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Every mode of `modes` (filtered by [`Auth::serves`]), keys checked against
    /// `keys`, tokens against `provider`'s.
    pub const fn new(modes: &'static [AuthMode], provider: &'static str) -> Self {
        Self {
            modes,
            serves: Serves::All,
            also: &[],
            keys: &[],
            provider,
            needs: &[],
        }
    }

    pub const fn serves(self, serves: Serves) -> Self {
        Self { serves, ..self }
    }

    pub const fn also(self, also: &'static [AuthMode]) -> Self {
        Self { also, ..self }
    }

    pub const fn keys(self, keys: &'static [Key]) -> Self {
        Self { keys, ..self }
    }

    pub const fn needs(self, needs: &'static [&'static str]) -> Self {
        Self { needs, ..self }
    }

    /// The credential of `request` in the first mode that finds one, and whether it
    /// was sent as a token.
    pub fn presented(&self, request: &FakeRequest) -> Option<(String, bool)> {
        let serves = |mode: &&AuthMode| match self.serves {
            Serves::All => true,
            Serves::Keys => !mode.uses_access_token(),
            Serves::Tokens => mode.uses_access_token(),
        };
        self.modes
            .iter()
            .filter(serves)
            .chain(self.also)
            .find_map(|mode| read(mode, request).map(|found| (found, mode.uses_access_token())))
    }

    /// Checks `request`'s credential.
    pub fn check(
        &self,
        request: &FakeRequest,
        tokens: &dyn TokenAuthority,
        fault: Option<Fault>,
    ) -> Result<Principal, Refusal> {
        let Some((credential, token)) = self.presented(request) else {
            return Err(Refusal {
                why: Refused::Missing,
                credential: None,
                token: false,
            });
        };
        let refuse = |why| {
            Err(Refusal {
                why,
                credential: Some(credential.clone()),
                token,
            })
        };
        if fault == Some(Fault::ExpiredToken) {
            return refuse(Refused::Expired);
        }
        let grants = if token {
            match tokens.check(self.provider, &credential) {
                TokenStatus::Valid { scopes } => scopes,
                TokenStatus::Expired => return refuse(Refused::Expired),
                TokenStatus::Unknown => return refuse(Refused::Unknown),
            }
        } else {
            match self.keys.iter().find(|key| key.secret == credential) {
                None => return refuse(Refused::Unknown),
                Some(key) if key.disabled => return refuse(Refused::Disabled),
                Some(key) => key.grants.iter().map(|g| (*g).to_owned()).collect(),
            }
        };
        Ok(Principal {
            credential,
            grants,
            token,
        })
    }
}

/// The credential `mode` reads from `request`, unless absent or empty.
fn read(mode: &AuthMode, request: &FakeRequest) -> Option<String> {
    let placement = match mode {
        AuthMode::ApiKey { placement, .. }
        | AuthMode::OAuth2 { placement }
        | AuthMode::ClientCredentials { placement } => placement,
        AuthMode::Basic { username, password } => {
            let (user, pass) = basic(request)?;
            return match (username, password) {
                // The key is the user name (Stripe) or the password with any user.
                (_, None) => Some(user),
                (Username::Fixed(_), Some(_)) => Some(pass),
                (Username::Field(_), Some(_)) => Some(format!("{user}:{pass}")),
            }
            .filter(|c| !c.is_empty() && c != ":");
        }
    };
    let value = match placement {
        Placement::Query { param } => request.query_param(param)?,
        Placement::Header { name, template } => {
            let value = request.header(name)?.trim();
            let (before, after) = template
                .split_once(crate::auth::KEY_PLACEHOLDER)
                .or_else(|| template.split_once(crate::auth::TOKEN_PLACEHOLDER))
                .unwrap_or(("", ""));
            // Schemes (`Bearer `) compare without regard to case, as HTTP says.
            let head = value.get(..before.len())?;
            if !head.eq_ignore_ascii_case(before) {
                return None;
            }
            value[before.len()..].strip_suffix(after)?.trim().to_owned()
        }
    };
    Some(value).filter(|v| !v.is_empty())
}

/// The user name and password of `Authorization: Basic`.
fn basic(request: &FakeRequest) -> Option<(String, String)> {
    let (scheme, encoded) = request.header("authorization")?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':').unwrap_or((&text, ""));
    Some((user.to_owned(), pass.to_owned()))
}

#[cfg(test)]
mod tests {
    use junction_core::fake::NoTokens;

    use super::*;

    pub(crate) fn request(headers: &[(&'static str, &str)], query: &str) -> FakeRequest {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        FakeRequest {
            method: http::Method::GET,
            path: "/".into(),
            query: query.into(),
            headers: map,
            body: Vec::new(),
        }
    }

    struct Tokens;

    impl TokenAuthority for Tokens {
        fn check(&self, provider: &str, token: &str) -> TokenStatus {
            match (provider, token) {
                ("p", "good") => TokenStatus::Valid {
                    scopes: vec!["read".into()],
                },
                ("p", "old") => TokenStatus::Expired,
                _ => TokenStatus::Unknown,
            }
        }
    }

    const MODES: &[AuthMode] = &[
        AuthMode::api_key_header("api_key", "X-Api-Key", "{key}"),
        AuthMode::OAUTH_BEARER,
    ];
    const AUTH: Auth = Auth::new(MODES, "p")
        .keys(&[
            Key::full("k_full"),
            Key::with("k_send", &["send"]),
            Key::disabled("k_off"),
        ])
        .also(&[AuthMode::basic_key_as_username("api_key")]);

    fn why(auth: &Auth, request: &FakeRequest, fault: Option<Fault>) -> Result<Principal, Refused> {
        auth.check(request, &Tokens, fault)
            .map_err(|refusal| refusal.why)
    }

    #[test]
    fn keys_and_tokens_are_read_as_the_adapter_sends_them() {
        let key = request(&[("x-api-key", "k_full")], "");
        assert_eq!(why(&AUTH, &key, None).unwrap().credential, "k_full");
        let basic = request(&[("authorization", "Basic a19mdWxsOg==")], "");
        assert_eq!(why(&AUTH, &basic, None).unwrap().credential, "k_full");
        let token = request(&[("authorization", "bearer good")], "");
        let principal = why(&AUTH, &token, None).unwrap();
        assert!(principal.token && principal.may(&["read"]) && !principal.may(&["write"]));
        let send = why(&AUTH, &request(&[("x-api-key", "k_send")], ""), None).unwrap();
        assert!(send.may(&["send"]) && !send.may(&["full"]) && send.may(&[]));
        assert!(why(&AUTH, &key, None).unwrap().may(&["anything"]));
        // The key entry's fake takes no token, the token entry's no key.
        let keys = AUTH.serves(Serves::Keys);
        assert_eq!(why(&keys, &token, None), Err(Refused::Missing));
        let tokens = AUTH.serves(Serves::Tokens).also(&[]);
        assert_eq!(why(&tokens, &key, None), Err(Refused::Missing));
        let query = Auth::new(MODES, "p").also(&[AuthMode::OAuth2 {
            placement: Placement::Query {
                param: "access_token",
            },
        }]);
        assert!(why(&query, &request(&[], "access_token=good"), None).is_ok());
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            (request(&[], ""), None, Refused::Missing),
            (request(&[("x-api-key", "")], ""), None, Refused::Missing),
            (
                request(&[("x-api-key", "k_other")], ""),
                None,
                Refused::Unknown,
            ),
            (
                request(&[("x-api-key", "k_off")], ""),
                None,
                Refused::Disabled,
            ),
            (
                request(&[("x-api-key", "k_full")], ""),
                Some(Fault::ExpiredToken),
                Refused::Expired,
            ),
            (
                request(&[("x-api-key", "k_off")], ""),
                Some(Fault::ExpiredToken),
                Refused::Expired,
            ),
            (
                request(&[("authorization", "Bearer old")], ""),
                None,
                Refused::Expired,
            ),
            (
                request(&[("authorization", "Bearer who")], ""),
                None,
                Refused::Unknown,
            ),
        ];
        for (request, fault, expected) in cases {
            assert_eq!(why(&AUTH, &request, fault), Err(expected), "{request:?}");
        }
        let refused = AUTH.check(&request(&[("x-api-key", "k_other")], ""), &NoTokens, None);
        assert_eq!(
            refused.unwrap_err(),
            Refusal {
                why: Refused::Unknown,
                credential: Some("k_other".into()),
                token: false
            }
        );
    }
}

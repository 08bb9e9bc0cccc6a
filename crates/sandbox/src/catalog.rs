//! The sandbox's catalog (`GET /_sandbox/catalog`): every provider entry it serves,
//! with what a client needs to connect it here.
//!
//! The connection values come from each fake ([`ProviderFake::catalog`]), so they are
//! the ones the fake checks; this module adds only what the sandbox itself knows: the
//! URL each fake is mounted at, the OAuth client its authorization server accepts and
//! that server's URLs, the auth kind and required fields from the provider's spec, and
//! the app secret for providers that sign webhooks with it (Meta).

use std::collections::BTreeMap;

use junction_core::{
    AuthSpec,
    fake::{CatalogEntry, ProviderFake},
    spec::{ProviderSpec, WebhookSecret},
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{CLIENT_ID, CLIENT_SECRET, Sandbox};

/// Every provider entry the sandbox serves, ordered by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub providers: Vec<CatalogProvider>,
}

impl Catalog {
    /// The entry of one provider.
    pub fn provider(&self, id: &str) -> Option<&CatalogProvider> {
        self.providers.iter().find(|entry| entry.provider == id)
    }
}

/// One provider entry and how to connect it against this sandbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogProvider {
    /// The registry id (`stripe`, `kit-oauth`, ...): the `provider` of
    /// `POST /v1/integrations`, the `{provider}` of `POST /v1/connect/{provider}`.
    pub provider: String,
    /// The provider's display name (absent for a fake mounted without a spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How it authenticates: `api_key`, `oauth2`, `basic`, `client_credentials`
    /// (absent without a spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// Where its fake API is mounted, ending in `/` (absent without a fake): the
    /// `api_base_url` to point a client at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The fields a connection must have (settings and credentials alike).
    #[serde(default)]
    pub required_fields: Vec<String>,
    /// The sandbox's OAuth 2.0 server for this entry (OAuth 2.0 entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<CatalogOAuth>,
    /// The fake's connection values: `config`, `credentials`, `webhook_secret`,
    /// `special_values`, `fixtures`.
    #[serde(flatten)]
    pub connect: CatalogEntry,
}

/// The sandbox's OAuth 2.0 server as one provider entry sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogOAuth {
    /// The only client the server accepts ([`CLIENT_ID`], [`CLIENT_SECRET`]).
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    /// The scopes the spec asks for.
    pub scopes: Vec<String>,
    /// How the `scope` parameter joins them.
    pub scope_separator: String,
    /// Whether the authorize request must carry a PKCE S256 challenge.
    pub pkce: bool,
    /// Parameters the authorize request must also carry (Google's `access_type`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_authorize_params: BTreeMap<String, String>,
}

impl Sandbox {
    /// The catalog, with URLs under `base` (the sandbox's URL as the client reaches
    /// it, ending in `/`).
    pub fn catalog(&self, base: &Url) -> Catalog {
        let at = |path: String| {
            base.join(&path)
                .map_or_else(|_| format!("{base}{path}"), String::from)
        };
        let providers = self
            .provider_ids()
            .into_iter()
            .map(|id| {
                let spec = self.inner.specs.get(id);
                let fake = self.inner.fakes.get(id);
                entry(id, spec, fake.map(AsRef::as_ref), &at)
            })
            .collect();
        Catalog { providers }
    }
}

/// One provider's entry from its spec and fake (either may be missing).
fn entry(
    id: &str,
    spec: Option<&ProviderSpec>,
    fake: Option<&dyn ProviderFake>,
    at: &dyn Fn(String) -> String,
) -> CatalogProvider {
    let mut connect = fake.map(ProviderFake::catalog).unwrap_or_default();
    // Meta signs with the app's client secret, which in the sandbox is the one OAuth
    // client's: the fake cannot know it, the sandbox does.
    if connect.webhook_secret.is_none()
        && spec
            .and_then(|spec| spec.webhook.as_ref())
            .is_some_and(|webhook| webhook.secret == WebhookSecret::AppClientSecret)
    {
        connect.webhook_secret = Some(CLIENT_SECRET.to_owned());
    }
    let oauth = spec.and_then(|spec| match &spec.auth {
        AuthSpec::OAuth2(oauth) => Some(CatalogOAuth {
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            authorize_url: at(format!("oauth/{id}/authorize")),
            token_url: at(format!("oauth/{id}/token")),
            revoke_url: at(format!("oauth/{id}/revoke")),
            scopes: oauth.scopes.iter().map(|s| (*s).to_owned()).collect(),
            scope_separator: oauth.scope_separator.to_owned(),
            pkce: oauth.pkce,
            extra_authorize_params: oauth
                .extra_authorize_params
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        }),
        _ => None,
    });
    CatalogProvider {
        provider: id.to_owned(),
        name: spec.map(|spec| spec.name.to_owned()),
        auth: spec.map(|spec| spec.auth.kind_name().to_owned()),
        base_url: fake.map(|_| at(format!("{id}/"))),
        required_fields: spec
            .map(|spec| {
                spec.all_fields()
                    .filter(|field| field.required)
                    .map(|field| field.name.to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        oauth,
        connect,
    }
}

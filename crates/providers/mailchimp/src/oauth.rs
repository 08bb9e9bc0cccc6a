//! Where an OAuth connection's account lives: Mailchimp's access tokens carry no data
//! center, so `GET https://login.mailchimp.com/oauth2/metadata` (with
//! `Authorization: OAuth <token>`) names it, and the Marketing API is then called at
//! `https://{dc}.api.mailchimp.com`.
//!
//! The answer never changes for a token (tokens do not expire and an account does not
//! move), so [`MetadataCache`] keeps it in memory, keyed by the SHA-256 of the token
//! (never the token itself), and a sync looks it up once rather than per page. Under a
//! base-URL override (the sandbox, tests) the lookup goes to `{base}/oauth2/metadata`.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use junction_core::{
    AdapterError, Context,
    http::{ResponsePolicy, send_refined},
    spec::ProviderSpec,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{
    client::{is_data_center, truncate},
    spec::{API_HOST_TEMPLATE, METADATA_BASE, METADATA_PATH},
};

/// Most tokens remembered at once; past it the cache starts over (a lookup is one
/// cheap request, so forgetting costs little, and the memory stays bounded).
const MAX_ENTRIES: usize = 10_000;

/// What the metadata endpoint says about a token's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountMetadata {
    /// The data center (`us21`), checked to be a plain data-center name.
    pub data_center: String,
    /// The account's name.
    pub account_name: Option<String>,
    /// The login (e-mail) of the user who authorized the app.
    pub login_email: Option<String>,
}

/// The metadata document, as Mailchimp sends it (fields Junction reads).
#[derive(Debug, Deserialize)]
struct MetadataDoc {
    #[serde(default)]
    dc: String,
    #[serde(default)]
    accountname: Option<String>,
    #[serde(default)]
    api_endpoint: Option<String>,
    #[serde(default)]
    login: Option<MetadataLogin>,
}

#[derive(Debug, Deserialize)]
struct MetadataLogin {
    #[serde(default)]
    login_email: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// Looked-up metadata per token hash.
#[derive(Default)]
pub struct MetadataCache {
    entries: Mutex<HashMap<[u8; 32], AccountMetadata>>,
}

impl std::fmt::Debug for MetadataCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataCache")
            .field("entries", &self.len())
            .finish()
    }
}

fn token_key(token: &SecretString) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.expose_secret().as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    key
}

impl MetadataCache {
    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], AccountMetadata>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The metadata of a token: remembered, or looked up (and then remembered; a
    /// failed lookup is not).
    pub(crate) async fn get(
        &self,
        ctx: &Context,
        spec: &ProviderSpec,
        token: &SecretString,
    ) -> Result<AccountMetadata, AdapterError> {
        let key = token_key(token);
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        let metadata = lookup(ctx, spec, token).await?;
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, metadata.clone());
        Ok(metadata)
    }

    /// Forgets a token (its account refused it).
    pub(crate) fn forget(&self, token: &SecretString) {
        self.lock().remove(&token_key(token));
    }
}

/// `GET /oauth2/metadata` with `Authorization: OAuth <token>`.
async fn lookup(
    ctx: &Context,
    spec: &ProviderSpec,
    token: &SecretString,
) -> Result<AccountMetadata, AdapterError> {
    let url = ctx.url(METADATA_BASE, METADATA_PATH)?;
    let request = ctx
        .http
        .get(url)
        .header(
            reqwest::header::AUTHORIZATION,
            format!("OAuth {}", token.expose_secret()),
        )
        .header(reqwest::header::ACCEPT, "application/json");
    // Mailchimp's tokens never expire, so a 401 here means the grant is gone: the
    // generic classification (not refreshable under this spec's policy) is right;
    // the message says which step failed.
    let response = send_refined(
        ctx,
        spec,
        request,
        &ResponsePolicy::for_auth(&spec.auth),
        |classified, _| match classified {
            AdapterError::Unauthorized {
                refreshable,
                message,
            } => AdapterError::Unauthorized {
                refreshable,
                message: format!(
                    "Mailchimp refused the access token while looking up its data center \
                     (reconnect the integration): {message}"
                ),
            },
            AdapterError::Provider {
                status,
                code,
                message,
            } => AdapterError::Provider {
                status,
                code,
                message: format!("Mailchimp's OAuth metadata lookup failed: {message}"),
            },
            other => other,
        },
    )
    .await?;
    let doc: MetadataDoc = junction_core::http::json(response).await?;
    metadata_of(doc, ctx.base_url.is_some())
}

/// Checks the document: the data center must be a plain name (it becomes part of a
/// host name the token is sent to) and, against the real service, `api_endpoint`
/// must be that data center's API host, so the token never goes elsewhere.
fn metadata_of(doc: MetadataDoc, overridden: bool) -> Result<AccountMetadata, AdapterError> {
    let malformed = |why: &str| AdapterError::Provider {
        status: 200,
        code: None,
        message: format!("Mailchimp's OAuth metadata is unusable: {why}"),
    };
    if !is_data_center(&doc.dc) {
        return Err(malformed(&format!(
            "`dc` is not a data center name: {}",
            truncate(&doc.dc)
        )));
    }
    let expected = API_HOST_TEMPLATE.replace("{dc}", &doc.dc);
    if !overridden
        && let Some(endpoint) = &doc.api_endpoint
        && endpoint.trim_end_matches('/') != expected
    {
        return Err(malformed(&format!(
            "`api_endpoint` {} is not the API host of data center {}",
            truncate(endpoint),
            doc.dc
        )));
    }
    let login_email = doc
        .login
        .and_then(|login| login.login_email.or(login.email));
    Ok(AccountMetadata {
        data_center: doc.dc,
        account_name: doc.accountname.filter(|name| !name.is_empty()),
        login_email: login_email.filter(|email| !email.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: serde_json::Value) -> MetadataDoc {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_data_center_and_account_come_from_the_document() {
        let metadata = metadata_of(
            doc(json!({
                "dc": "us21", "role": "owner", "accountname": "Example Co", "user_id": 42,
                "login": {"email": "owner@example.com", "login_email": "owner@example.com", "login_id": 42, "login_name": "owner", "avatar": null},
                "login_url": "https://login.mailchimp.com",
                "api_endpoint": "https://us21.api.mailchimp.com"
            })),
            false,
        )
        .unwrap();
        assert_eq!(
            metadata,
            AccountMetadata {
                data_center: "us21".into(),
                account_name: Some("Example Co".into()),
                login_email: Some("owner@example.com".into()),
            }
        );
    }

    #[test]
    fn foreign_hosts_are_refused() {
        for bad in [
            json!({"dc": "us21.evil.example", "api_endpoint": "https://us21.api.mailchimp.com"}),
            json!({"dc": "", "api_endpoint": "https://us21.api.mailchimp.com"}),
            json!({"dc": "us21", "api_endpoint": "https://evil.example"}),
            json!({"dc": "us21", "api_endpoint": "https://us22.api.mailchimp.com"}),
        ] {
            let err = metadata_of(doc(bad.clone()), false).unwrap_err();
            assert!(
                matches!(err, AdapterError::Provider { status: 200, .. }),
                "{bad}: {err:?}"
            );
        }
        // Under an override (sandbox) the endpoint points at the fake.
        assert!(
            metadata_of(
                doc(json!({"dc": "us21", "api_endpoint": "http://127.0.0.1:9/mailchimp-oauth"})),
                true
            )
            .is_ok()
        );
    }
}

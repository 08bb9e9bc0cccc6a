//! Where an OAuth connection's account lives: Mailchimp's access tokens carry no data
//! center, so `GET https://login.mailchimp.com/oauth2/metadata` (with
//! `Authorization: OAuth <token>`) names it, and the Marketing API is then called at
//! `https://{dc}.api.mailchimp.com`.
//!
//! The answer never changes for a token (tokens do not expire and an account does not
//! move), so [`MetadataCache`] (the toolkit's [`TokenMemo`]) keeps it in memory, keyed
//! by the SHA-256 of the token (never the token itself), and a sync looks it up once
//! rather than per page. The lookup runs through the toolkit
//! ([`crate::api::METADATA_API`]: its own host and auth scheme); under a base-URL
//! override (the sandbox, tests) it goes to `{base}/oauth2/metadata`.

use http::Method;
use junction_core::{AdapterError, Connection, Context, http::Refusal, spec::ProviderSpec};
use junction_toolkit::{Client, TokenMemo, data, errors::map_message};
use serde::Deserialize;

use crate::{
    api::{MAX_MESSAGE_CHARS, METADATA_API, is_data_center},
    spec::{API_HOST_TEMPLATE, METADATA_PATH},
};

/// The accounts of OAuth connections, looked up once per token.
pub type MetadataCache = TokenMemo<AccountMetadata>;

/// What the metadata endpoint says about a token's account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountMetadata {
    /// The data center (`us21`), checked to be a plain data-center name.
    pub data_center: String,
    /// The account's name.
    pub account_name: Option<String>,
    /// The login (e-mail) of the user who authorized the app.
    pub login_email: Option<String>,
}

/// The metadata document, as Mailchimp sends it (fields Junction reads).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MetadataDoc {
    dc: String,
    accountname: Option<String>,
    api_endpoint: Option<String>,
    login: Option<MetadataLogin>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MetadataLogin {
    login_email: Option<String>,
    email: Option<String>,
}

/// `GET /oauth2/metadata` with `Authorization: OAuth <token>`.
pub(crate) async fn lookup(
    ctx: &Context,
    spec: &ProviderSpec,
    conn: &Connection,
) -> Result<AccountMetadata, AdapterError> {
    let client = Client::new(ctx, spec, &METADATA_API, conn)?;
    let request = client.request(Method::GET, METADATA_PATH)?;
    // Mailchimp's tokens never expire, so a 401 here means the grant is gone: the
    // generic classification (not refreshable under this spec's policy) is right;
    // the message says which step failed.
    let refine = |classified: AdapterError, _: &Refusal<'_>| {
        let step = match classified {
            AdapterError::Unauthorized { .. } => {
                "Mailchimp refused the access token while looking up its data center \
                 (reconnect the integration)"
            }
            AdapterError::Provider { .. } => "Mailchimp's OAuth metadata lookup failed",
            _ => return classified,
        };
        map_message(classified, |message| format!("{step}: {message}"))
    };
    let doc: MetadataDoc = client.fetch_with(request, refine).await?.decode()?;
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
    let quoted = |text: &str| data::one_line(text, MAX_MESSAGE_CHARS);
    if !is_data_center(&doc.dc) {
        return Err(malformed(&format!(
            "`dc` is not a data center name: {}",
            quoted(&doc.dc)
        )));
    }
    let expected = API_HOST_TEMPLATE.replace("{dc}", &doc.dc);
    if !overridden
        && let Some(endpoint) = &doc.api_endpoint
        && endpoint.trim_end_matches('/') != expected
    {
        return Err(malformed(&format!(
            "`api_endpoint` {} is not the API host of data center {}",
            quoted(endpoint),
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

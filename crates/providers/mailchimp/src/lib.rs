//! junction-mailchimp: the Mailchimp Marketing provider.
//!
//! One adapter, [`Mailchimp`], serves the provider's two entries with the same
//! streams and actions; the provider toolkit picks the auth mode from the connection
//! (see [`api`] for the API's description, and [`AUDIENCE_PAGING`] and
//! [`MEMBER_PAGING`] for its lists' paging):
//!
//! - `mailchimp` ([`Mailchimp::api_key`], the default): an API key sent as the
//!   password of HTTP Basic auth; the key's suffix after its last `-` is the
//!   account's data center, which names the API host
//!   (`https://us21.api.mailchimp.com/3.0`);
//! - `mailchimp-oauth` ([`Mailchimp::oauth`]): an OAuth 2.0 access token (never
//!   expiring, no refresh token) sent as `Authorization: Bearer`; the data center
//!   comes from `GET https://login.mailchimp.com/oauth2/metadata`, looked up once
//!   per token and remembered in memory ([`MetadataCache`]).
//!
//! Both check a connection with `GET /ping` and sync two streams:
//!
//! - `audiences` (`GET /lists`, `count`/`offset`): every audience, with KPI points
//!   per audience for the sync day: `member_count`, `unsubscribe_count`,
//!   `cleaned_count`;
//! - `members` (`GET /lists/{id}/members`, `count`/`offset`, then
//!   `since_last_changed`): every member of every audience, with `new_members` per
//!   audience per day (members whose opt-in falls on that day).
//!
//! Actions: `upsert_contact` (PUT on the subscriber hash, then tags),
//! `bulk_sync_contacts` (one `POST /batches`, polled until finished, failures
//! reported per contact) and `get_batch`. Mailchimp's audience webhooks are unsigned
//! form posts, which Junction's webhook ingress does not accept, so there are none.
//!
//! With the `sandbox` feature, [`sandbox::MailchimpFake`] serves a stateful fake of
//! the same endpoints for demo mode and tests (`MailchimpFake::default()` for API
//! keys, `MailchimpFake::oauth()` for OAuth tokens and the metadata endpoint).

mod actions;
pub mod api;
pub mod archive;
mod oauth;
mod spec;
mod streams;
pub mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget,
    ReadRequest, spec::ProviderSpec,
};
use junction_toolkit::{Client, data};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub use actions::{MAX_POLL_WAIT, decode_results};
pub use oauth::{AccountMetadata, MetadataCache};
pub use spec::{
    API_HOST_TEMPLATE, API_KEY_FIELD, API_KEY_PATTERN, API_PREFIX, AUDIENCE_DIMENSION,
    AUDIENCE_KPIS, AUDIENCES, BULK_SYNC_CONTACTS, GET_BATCH, MAX_BULK_CONTACTS, MEMBERS,
    METADATA_BASE, METADATA_PATH, NEW_MEMBERS, OAUTH_AUTHORIZE_URL, OAUTH_PROVIDER_ID,
    OAUTH_TOKEN_URL, PROVIDER_ID, UPSERT_CONTACT,
};
pub use streams::{AUDIENCE_PAGING, MEMBER_PAGING, NEW_MEMBERS_LOOKBACK_DAYS};

use crate::api::API;

/// Mailchimp's subscriber hash of an address: the MD5 hex digest of the address
/// lower-cased (and trimmed). It is the member's id in every audience.
pub fn subscriber_hash(email_address: &str) -> String {
    md5_hex(email_address.trim().to_lowercase().as_bytes())
}

/// The MD5 digest of `data` as 32 lower-case hex digits. MD5 is long broken as a
/// cryptographic hash; here it is only the identifier format Mailchimp chose.
pub(crate) fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex::encode(Md5::digest(data))
}

/// Which registry entry an adapter serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Entry {
    /// `mailchimp`: API keys.
    #[default]
    ApiKey,
    /// `mailchimp-oauth`: OAuth 2.0 access tokens.
    OAuth,
}

/// The Mailchimp Marketing adapter, of either entry (see the crate docs).
#[derive(Debug, Default)]
pub struct Mailchimp {
    entry: Entry,
    /// OAuth connections' accounts, looked up once per token.
    metadata: MetadataCache,
}

impl Mailchimp {
    /// The adapter of the `mailchimp` entry (API keys); also `Mailchimp::default()`.
    pub fn api_key() -> Self {
        Self::default()
    }

    /// The adapter of the `mailchimp-oauth` entry (OAuth 2.0).
    pub fn oauth() -> Self {
        Self {
            entry: Entry::OAuth,
            ..Self::default()
        }
    }

    /// The tokens whose data center is remembered.
    pub fn metadata_cache(&self) -> &MetadataCache {
        &self.metadata
    }

    /// The connection's client and what is known of its account. An OAuth
    /// connection's data center comes from the metadata lookup, given to the
    /// toolkit; a key's is derived from the key by the API's description.
    async fn connect<'a>(
        &'a self,
        ctx: &'a Context,
        conn: &'a Connection,
    ) -> Result<(Client<'a>, AccountMetadata), AdapterError> {
        let spec = self.spec();
        if self.entry == Entry::ApiKey {
            let client = Client::new(ctx, spec, &API, conn)?;
            let key = conn.secret(API_KEY_FIELD)?.expose_secret().trim();
            let data_center = api::key_data_center(key).unwrap_or_default();
            let account = AccountMetadata {
                data_center,
                ..AccountMetadata::default()
            };
            return Ok((client, account));
        }
        let lookup = || oauth::lookup(ctx, spec, conn);
        let account = self.metadata.get_or_lookup(conn.bearer()?, lookup).await?;
        let given = [("dc", account.data_center.clone())];
        Ok((Client::build(ctx, spec, &API, conn, &given)?, account))
    }

    /// `result`, after forgetting the token of an OAuth connection Mailchimp refused,
    /// so a reconnect (a new token) or a changed account is looked up afresh.
    fn settle<T>(
        &self,
        conn: &Connection,
        result: Result<T, AdapterError>,
    ) -> Result<T, AdapterError> {
        if let (Err(AdapterError::Unauthorized { .. }), Ok(token)) = (&result, conn.bearer()) {
            self.metadata.forget(token);
        }
        result
    }
}

/// What `act` was asked to do, its input checked: the audience and the contact(s),
/// or the batch.
enum Action {
    Upsert((String, actions::Contact)),
    Bulk((String, Vec<actions::Contact>)),
    GetBatch(String),
}

impl Action {
    fn parse(action: &str, input: &Value) -> Result<Self, AdapterError> {
        Ok(match action {
            UPSERT_CONTACT => Self::Upsert(actions::parse_upsert(input)?),
            BULK_SYNC_CONTACTS => Self::Bulk(actions::parse_bulk(input)?),
            GET_BATCH => Self::GetBatch(actions::parse_get_batch(input)?),
            other => return Err(AdapterError::unknown_action("Mailchimp", other)),
        })
    }

    async fn run(&self, client: &Client<'_>) -> Result<ActionOutcome, AdapterError> {
        match self {
            Self::Upsert((audience, contact)) => {
                actions::upsert_contact(client, audience, contact).await
            }
            Self::Bulk((audience, contacts)) => {
                actions::bulk_sync_contacts(client, audience, contacts).await
            }
            Self::GetBatch(batch_id) => actions::get_batch(client, batch_id).await,
        }
    }
}

#[async_trait]
impl Adapter for Mailchimp {
    fn spec(&self) -> &ProviderSpec {
        match self.entry {
            Entry::ApiKey => &spec::SPEC,
            Entry::OAuth => &spec::OAUTH_SPEC,
        }
    }

    /// `GET /ping` (the API's verification request) at the data center: proves the
    /// credential and its data center. An OAuth account is labelled with its name
    /// and login from the metadata.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let result = async {
            let (client, account) = self.connect(ctx, conn).await?;
            let ping: wire::Ping = client.verify().await?;
            let name = account
                .account_name
                .unwrap_or_else(|| "Mailchimp account".into());
            let label = match &account.login_email {
                Some(login) => format!("{name} ({login})"),
                None if self.entry == Entry::OAuth => name,
                None => format!("{name} (data center {})", account.data_center),
            };
            Ok(Health {
                account: Some(label),
                details: json!({
                    "health_status": ping.health_status,
                    "data_center": account.data_center,
                }),
            })
        }
        .await;
        self.settle(conn, result)
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let stream = data::stream(self.spec(), request)?.name;
        let result = async {
            let (client, _) = self.connect(ctx, conn).await?;
            if stream == AUDIENCES {
                streams::read_audiences(&client, request).await
            } else {
                streams::read_members(&client, request).await
            }
        }
        .await;
        self.settle(conn, result)
    }

    /// Runs a contact action. Mailchimp has no idempotency keys; the calls each
    /// action makes are idempotent by themselves (PUT on the subscriber hash, adding
    /// active tags), so `idempotency_key` is not needed and not sent.
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        _idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        // Input first: a bad input is reported even when the credentials are bad too.
        let action = Action::parse(action, input)?;
        let result = async {
            let (client, _) = self.connect(ctx, conn).await?;
            action.run(&client).await
        }
        .await;
        self.settle(conn, result)
    }

    /// The data center's API host root (the client names the version: `3.0/lists`),
    /// or the context's override, with the credential every call sends: the key as
    /// the Basic password, or the token as `Authorization: Bearer`.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        self.connect(ctx, conn).await?.0.proxy_target()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriber_hash_lower_cases_the_address() {
        // Mailchimp's documented example.
        assert_eq!(
            subscriber_hash("Urist.McVankab@freddiesjokes.com"),
            "62eeb292278cc15f5817cb78f7790b08"
        );
        assert_eq!(
            subscriber_hash(" URIST.MCVANKAB@FREDDIESJOKES.COM "),
            subscriber_hash("urist.mcvankab@freddiesjokes.com")
        );
    }

    #[test]
    fn md5_known_vectors() {
        // RFC 1321's test suite, and lengths around the padding's block boundary.
        let cases = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(md5_hex(input.as_bytes()), expected, "{input:?}");
        }
        assert_eq!(md5_hex(&[b'a'; 55]), "ef1772b6dff9a122358552954ad0df65");
        assert_eq!(md5_hex(&[b'a'; 56]), "3b0c8ac703f828b04c6c197006d17218");
    }
}

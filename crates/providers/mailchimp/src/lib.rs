//! junction-mailchimp: the Mailchimp Marketing provider.
//!
//! The crate serves two provider entries with the same streams and actions:
//!
//! - `mailchimp` ([`Mailchimp`]): an API key sent as the password of HTTP Basic
//!   auth; the key's suffix after its last `-` is the account's data center, which
//!   names the API host (`https://us21.api.mailchimp.com/3.0`);
//! - `mailchimp-oauth` ([`MailchimpOAuth`]): an OAuth 2.0 access token (never
//!   expiring, no refresh token) sent as `Authorization: Bearer`; the data center
//!   comes from `GET https://login.mailchimp.com/oauth2/metadata`, looked up once
//!   per token and remembered in memory.
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
pub mod archive;
mod client;
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
use serde_json::{Value, json};

pub use actions::{MAX_POLL_WAIT, decode_results};
pub use oauth::{AccountMetadata, MetadataCache};
pub use spec::{
    API_HOST_TEMPLATE, API_KEY_FIELD, API_KEY_PATTERN, API_PREFIX, AUDIENCE_DIMENSION,
    AUDIENCE_KPIS, AUDIENCES, BULK_SYNC_CONTACTS, GET_BATCH, MAX_BULK_CONTACTS, MEMBERS,
    METADATA_BASE, METADATA_PATH, NEW_MEMBERS, OAUTH_AUTHORIZE_URL, OAUTH_PROVIDER_ID,
    OAUTH_TOKEN_URL, PROVIDER_ID, UPSERT_CONTACT,
};
pub use streams::NEW_MEMBERS_LOOKBACK_DAYS;

use crate::client::{Api, Purpose};

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

/// The Mailchimp Marketing adapter of API-key connections (`mailchimp`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Mailchimp;

/// The Mailchimp Marketing adapter of OAuth 2.0 connections (`mailchimp-oauth`): the
/// same streams and actions, called with the connection's access token as
/// `Authorization: Bearer` at the data center the OAuth metadata names (looked up
/// once per token, see [`MetadataCache`]).
#[derive(Debug, Default)]
pub struct MailchimpOAuth {
    metadata: MetadataCache,
}

impl MailchimpOAuth {
    /// The tokens whose data center is remembered.
    pub fn metadata_cache(&self) -> &MetadataCache {
        &self.metadata
    }

    /// The API of an OAuth connection, and what the metadata says of its account.
    async fn api<'a>(
        &self,
        ctx: &'a Context,
        conn: &'a Connection,
    ) -> Result<(Api<'a>, AccountMetadata), AdapterError> {
        let spec = spec::oauth_spec();
        let token = conn.bearer()?;
        let metadata = self.metadata.get(ctx, spec, token).await?;
        let api = Api::with_bearer(ctx, spec, token, metadata.data_center.clone());
        Ok((api, metadata))
    }

    /// A refused token is forgotten, so a reconnect (a new token) or a changed
    /// account is looked up afresh.
    fn forget_refused<T>(
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

/// What `act` was asked to do, its input checked.
enum Action {
    Upsert(String, actions::Contact),
    Bulk(String, Vec<actions::Contact>),
    GetBatch(String),
}

impl Action {
    fn parse(action: &str, input: &Value) -> Result<Self, AdapterError> {
        match action {
            UPSERT_CONTACT => {
                let (audience, contact) = actions::parse_upsert(input)?;
                Ok(Self::Upsert(audience, contact))
            }
            BULK_SYNC_CONTACTS => {
                let (audience, contacts) = actions::parse_bulk(input)?;
                Ok(Self::Bulk(audience, contacts))
            }
            GET_BATCH => Ok(Self::GetBatch(actions::parse_get_batch(input)?)),
            other => Err(AdapterError::invalid_field(
                "action",
                format!("Mailchimp has no action `{other}`"),
            )),
        }
    }

    async fn run(&self, api: &Api<'_>) -> Result<ActionOutcome, AdapterError> {
        match self {
            Self::Upsert(audience, contact) => {
                actions::upsert_contact(api, audience, contact).await
            }
            Self::Bulk(audience, contacts) => {
                actions::bulk_sync_contacts(api, audience, contacts).await
            }
            Self::GetBatch(batch_id) => actions::get_batch(api, batch_id).await,
        }
    }
}

/// Reads a stream, whatever the connection's auth.
async fn read_stream(api: &Api<'_>, request: &ReadRequest) -> Result<Page, AdapterError> {
    match request.stream.as_str() {
        AUDIENCES => streams::read_audiences(api, request).await,
        MEMBERS => streams::read_members(api, request).await,
        other => Err(AdapterError::invalid_field(
            "stream",
            format!("Mailchimp has no stream `{other}`"),
        )),
    }
}

/// `GET /ping`: proves the credential and its data center.
async fn ping(api: &Api<'_>) -> Result<wire::Ping, AdapterError> {
    api.get("ping", &[], Purpose::Read).await
}

#[async_trait]
impl Adapter for Mailchimp {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// `GET /ping`: proves the key and its data center.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let api = Api::new(ctx, self.spec(), conn)?;
        let ping = ping(&api).await?;
        Ok(Health {
            account: Some(format!(
                "Mailchimp account (data center {})",
                api.data_center()
            )),
            details: json!({
                "health_status": ping.health_status,
                "data_center": api.data_center(),
            }),
        })
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let api = Api::new(ctx, self.spec(), conn)?;
        read_stream(&api, request).await
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
        let api = Api::new(ctx, self.spec(), conn)?;
        action.run(&api).await
    }

    /// `https://{dc}.api.mailchimp.com/` with the key's data center (or the context's
    /// override), the key as the Basic password, as every call sends it.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        Api::new(ctx, self.spec(), conn)?.proxy_target()
    }
}

#[async_trait]
impl Adapter for MailchimpOAuth {
    fn spec(&self) -> &ProviderSpec {
        spec::oauth_spec()
    }

    /// The metadata lookup, then `GET /ping` at the data center it names.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let result = async {
            let (api, metadata) = self.api(ctx, conn).await?;
            let ping = ping(&api).await?;
            let name = metadata
                .account_name
                .clone()
                .unwrap_or_else(|| "Mailchimp account".to_owned());
            Ok(Health {
                account: Some(match &metadata.login_email {
                    Some(login) => format!("{name} ({login})"),
                    None => name,
                }),
                details: json!({
                    "health_status": ping.health_status,
                    "data_center": metadata.data_center,
                }),
            })
        }
        .await;
        self.forget_refused(conn, result)
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let result = async {
            let (api, _) = self.api(ctx, conn).await?;
            read_stream(&api, request).await
        }
        .await;
        self.forget_refused(conn, result)
    }

    /// Runs a contact action, as [`Mailchimp`] does.
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        _idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        let action = Action::parse(action, input)?;
        let result = async {
            let (api, _) = self.api(ctx, conn).await?;
            action.run(&api).await
        }
        .await;
        self.forget_refused(conn, result)
    }

    /// The data center's API host the (remembered) metadata lookup names, or the
    /// context's override, with the token as `Authorization: Bearer`, as every call
    /// sends it.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        let (api, _) = self.api(ctx, conn).await?;
        api.proxy_target()
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

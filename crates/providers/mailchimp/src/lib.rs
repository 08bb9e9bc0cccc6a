//! junction-mailchimp: the Mailchimp Marketing provider.
//!
//! Connections authenticate with an API key sent as the password of HTTP Basic
//! auth; the key's suffix after its last `-` is the account's data center, which
//! names the API host (`https://us21.api.mailchimp.com/3.0`). [`Mailchimp`] checks a
//! connection with `GET /ping` and syncs two streams:
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
//! Mailchimp's OAuth 2.0 (tokens that never expire, the data center from
//! `https://login.mailchimp.com/oauth2/metadata`) is not offered yet: a provider has
//! one auth kind, and API keys are what most accounts use.
//!
//! With the `sandbox` feature, [`sandbox::MailchimpFake`] serves a stateful fake of
//! the same endpoints for demo mode and tests.

mod actions;
pub mod archive;
mod client;
mod md5;
mod spec;
mod streams;
pub mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ReadRequest,
    spec::ProviderSpec,
};
use serde_json::{Value, json};

pub use actions::{MAX_POLL_WAIT, decode_results};
pub use spec::{
    API_HOST_TEMPLATE, API_KEY_FIELD, API_KEY_PATTERN, API_PREFIX, AUDIENCE_DIMENSION,
    AUDIENCE_KPIS, AUDIENCES, BULK_SYNC_CONTACTS, GET_BATCH, MAX_BULK_CONTACTS, MEMBERS,
    NEW_MEMBERS, PROVIDER_ID, UPSERT_CONTACT,
};
pub use streams::NEW_MEMBERS_LOOKBACK_DAYS;

use crate::client::{Api, Purpose};

/// Mailchimp's subscriber hash of an address: the MD5 hex digest of the address
/// lower-cased (and trimmed). It is the member's id in every audience.
pub fn subscriber_hash(email_address: &str) -> String {
    md5::hex_digest(email_address.trim().to_lowercase().as_bytes())
}

/// The Mailchimp Marketing adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mailchimp;

#[async_trait]
impl Adapter for Mailchimp {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// `GET /ping`: proves the key and its data center.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let api = Api::new(ctx, self.spec(), conn)?;
        let ping: wire::Ping = api.get("ping", &[], Purpose::Read).await?;
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
        match request.stream.as_str() {
            AUDIENCES => streams::read_audiences(&api, request).await,
            MEMBERS => streams::read_members(&api, request).await,
            other => Err(AdapterError::invalid_field(
                "stream",
                format!("Mailchimp has no stream `{other}`"),
            )),
        }
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
        match action {
            UPSERT_CONTACT => {
                let (audience, contact) = actions::parse_upsert(input)?;
                let api = Api::new(ctx, self.spec(), conn)?;
                actions::upsert_contact(&api, &audience, &contact).await
            }
            BULK_SYNC_CONTACTS => {
                let (audience, contacts) = actions::parse_bulk(input)?;
                let api = Api::new(ctx, self.spec(), conn)?;
                actions::bulk_sync_contacts(&api, &audience, &contacts).await
            }
            GET_BATCH => {
                let batch_id = actions::parse_get_batch(input)?;
                let api = Api::new(ctx, self.spec(), conn)?;
                actions::get_batch(&api, &batch_id).await
            }
            other => Err(AdapterError::invalid_field(
                "action",
                format!("Mailchimp has no action `{other}`"),
            )),
        }
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
}

//! junction_hotjar: the Hotjar provider (surveys and their responses, and the
//! privacy requests Hotjar's API serves).
//!
//! A connection holds the client ID and secret of a Hotjar API key (Settings →
//! API), the organization id and the ids of the sites to read. Junction obtains an
//! access token with the key pair by the OAuth client-credentials grant
//! (`POST /v1/oauth/token`, `junction_oauth::client_credentials`), caches it sealed,
//! renews it ahead of its expiry and after a 401; the adapter only ever sees the
//! token.
//!
//! | module | what it holds |
//! |---|---|
//! | [`spec`] | the [`ProviderSpec`]: auth, settings, streams and actions (data files), the request budget |
//! | [`api`] | the HTTP API as data: host, Bearer token, paging, error table |
//! | `streams` | `sites`, `surveys` and `survey_responses`, and the responses-per-day KPI |
//! | `actions` | `lookup_user` and `delete_user_data` |
//! | `sandbox` | (feature `sandbox`) the fake the sandbox serves and the conformance suite runs against |
//!
//! Hotjar publishes no OpenAPI; where its help centre's reference could not be read
//! (response fields, error bodies, the page-size maximum) the crate follows the
//! third-party reconstructions, marked [check] in the docs.

mod actions;
pub mod api;
pub mod spec;
mod streams;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;
use http::Method;
use junction_core::{
    ActionOutcome, Adapter, AdapterError, Connection, Context, Health, Page, ProxyTarget,
    ReadRequest, spec::ProviderSpec,
};
use junction_toolkit::data;
use serde_json::{Value, json};

pub use api::{API, PAGING};
pub use spec::{
    DELETE_USER_DATA, LOOKUP_USER, PROVIDER_ID, SITES, SURVEY_RESPONSES, SURVEY_RESPONSES_METRIC,
    SURVEYS, SURVEYS_ENABLED, SURVEYS_METRIC,
};
pub use streams::ZERO_FILL_DAYS;

/// The Hotjar adapter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hotjar;

#[async_trait]
impl Adapter for Hotjar {
    fn spec(&self) -> &ProviderSpec {
        spec::spec()
    }

    /// The key pair is proven by the token Junction just obtained with it; the
    /// check proves the settings: one survey of each configured site is read
    /// (`GET /v1/sites/{site_id}/surveys?limit=1`). A site Hotjar does not know for
    /// the key is `Invalid` naming `site_ids`. A key whose scope leaves surveys out
    /// (a 403: Observe Scale keys serve user lookup and deletion only) still
    /// connects, and the health says so.
    async fn check(&self, ctx: &Context, conn: &Connection) -> Result<Health, AdapterError> {
        let client = api::client(ctx, conn)?;
        let organization = spec::ORGANIZATION_ID.require(conn)?;
        let sites = spec::site_ids(conn)?;
        let mut checked = Vec::new();
        for site in &sites {
            let request = client
                .request(Method::GET, &format!("sites/{site}/surveys"))?
                .query(&[("limit", "1"), ("with_questions", "false")]);
            let answer = client
                .fetch_with(request, |err, refusal| {
                    if refusal.status.as_u16() == 404 {
                        AdapterError::invalid_field(
                            spec::SITE_IDS.text.name,
                            format!(
                                "Hotjar knows no site {site} for this API key: check the site ids \
                                 under Sites & Organizations"
                            ),
                        )
                    } else {
                        err
                    }
                })
                .await;
            let survey_access = match answer {
                Ok(_) => true,
                Err(err) if api::out_of_scope(&err) => false,
                Err(err) => return Err(err),
            };
            checked.push(json!({"id": site, "survey_access": survey_access}));
        }
        let readable = checked
            .iter()
            .filter(|site| site["survey_access"] == true)
            .count();
        let scope = if readable == 0 {
            ", user lookup and deletion only"
        } else {
            ""
        };
        let label = match sites.len() {
            1 => format!(
                "Hotjar organization {organization} (site {}{scope})",
                sites[0]
            ),
            n => format!("Hotjar organization {organization} ({n} sites{scope})"),
        };
        Ok(Health {
            account: Some(label),
            details: json!({
                "organization_id": organization,
                "sites": checked,
                "survey_access": readable > 0,
            }),
        })
    }

    async fn read(
        &self,
        ctx: &Context,
        conn: &Connection,
        request: &ReadRequest,
    ) -> Result<Page, AdapterError> {
        let stream = data::stream(self.spec(), request)?;
        let client = api::client(ctx, conn)?;
        match stream.name {
            SITES => streams::read_sites(&client, conn, request).await,
            SURVEYS => streams::read_surveys(&client, conn, request).await,
            SURVEY_RESPONSES => streams::read_responses(&client, conn, request).await,
            // `data::stream` refuses streams the spec does not list; a listed stream
            // without a reader is a mistake of this crate.
            other => Err(AdapterError::invalid_field(
                "stream",
                format!("no reader for `{other}`"),
            )),
        }
    }

    /// Hotjar takes no idempotency key (see `actions`): the key is not used.
    async fn act(
        &self,
        ctx: &Context,
        conn: &Connection,
        action: &str,
        input: &Value,
        _idempotency_key: Option<&str>,
    ) -> Result<ActionOutcome, AdapterError> {
        match action {
            LOOKUP_USER | DELETE_USER_DATA => actions::user_lookup(ctx, conn, action, input).await,
            other => Err(AdapterError::unknown_action(self.spec().name, other)),
        }
    }

    /// The API root (or the context's override) with the connection's access token.
    async fn proxy_target(
        &self,
        ctx: &Context,
        conn: &Connection,
    ) -> Result<ProxyTarget, AdapterError> {
        api::client(ctx, conn)?.proxy_target()
    }
}

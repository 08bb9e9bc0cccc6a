//! The choices of `ad_account_id`: the ad accounts the connected Meta user can
//! reach, from `GET /me/adaccounts?fields=id,name,currency,account_status`, so a
//! user picks an account by name once connected instead of copying its id out of
//! Ads Manager.
//!
//! The edge pages like every Graph edge: `limit`, the `after` cursor at
//! `paging.cursors.after`, and `paging.next` present while more follow (the same
//! walk as the insights'). The `ads_read` grant is enough.

use junction_core::{AdapterError, Connection, Context, FieldOption};
use junction_toolkit::{
    Client,
    paging::{self, PageSize, Paging},
};
use serde::Deserialize;

use crate::{ACCOUNT_STATUSES, graph, insights, spec};

/// The ad account fields the choices show.
pub const AD_ACCOUNT_FIELDS: &str = "id,name,currency,account_status";

/// How `/me/adaccounts` pages: the Graph's cursors, 100 accounts a page.
pub const AD_ACCOUNTS: Paging = Paging {
    size: PageSize {
        default: 100,
        max: 100,
    },
    ..insights::PAGING
};

/// Pages read at most (100 accounts each): beyond any agency's list.
const MAX_PAGES: usize = 50;

#[derive(Debug, Deserialize)]
struct AdAccount {
    /// `act_{id}`.
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    account_status: Option<i64>,
}

/// The choices of `field` (only `ad_account_id` has any).
pub(crate) async fn of(
    ctx: &Context,
    conn: &Connection,
    field: &str,
) -> Result<Option<Vec<FieldOption>>, AdapterError> {
    if field != spec::AD_ACCOUNT.name {
        return Ok(None);
    }
    let client = Client::new(ctx, spec::spec(), &graph::API, conn)?;
    let size = AD_ACCOUNTS.size.max;
    let pages = paging::walk(MAX_PAGES, |token| {
        let client = &client;
        async move {
            let request = client
                .page_request(
                    http::Method::GET,
                    "me/adaccounts",
                    &AD_ACCOUNTS,
                    &token,
                    size,
                )?
                .query(&[("fields", AD_ACCOUNT_FIELDS)]);
            let fetched = client.fetch(request).await?;
            let next = AD_ACCOUNTS.next(&token, size, &fetched.headers, &fetched.body)?;
            let accounts: Vec<AdAccount> = fetched
                .body
                .get("data")
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| {
                    AdapterError::unavailable(format!("malformed ad account list from Meta: {e}"))
                })?
                .ok_or_else(|| {
                    AdapterError::unavailable("malformed ad account list from Meta: no `data`")
                })?;
            Ok((accounts, next))
        }
    })
    .await?;
    Ok(Some(
        pages
            .into_iter()
            .flatten()
            .map(|account| {
                let status = account.account_status.map(|code| {
                    ACCOUNT_STATUSES
                        .iter()
                        .find(|(c, _)| *c == code)
                        .map_or("UNKNOWN", |(_, name)| *name)
                });
                let description = [account.currency.as_deref(), status]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · ");
                FieldOption {
                    label: account.name.unwrap_or_else(|| account.id.clone()),
                    value: account.id,
                    description: (!description.is_empty()).then_some(description),
                }
            })
            .collect(),
    ))
}

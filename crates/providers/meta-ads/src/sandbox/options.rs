//! The fake's `GET /me/adaccounts`: the ad accounts the sandbox's Meta user
//! reaches, with the fields asked for, paged with the Graph's cursors (`limit`, 25
//! by default; `after`; `paging.next` while more follow).

use junction_core::fake::FakeResponse;
use junction_toolkit::fake::{Call, PageError, Pager};
use serde_json::{Value, json};

use super::data;
use crate::{options::AD_ACCOUNTS, spec::GRAPH_VERSION};

/// Edges page by 25 unless asked; the fake takes at most 100 a page.
const PAGER: Pager = Pager::new(AD_ACCOUNTS).size(25, 100);

/// The sandbox user's ad accounts: the catalog's (`first`) first, then another
/// active one and a disabled one.
fn accounts(first: &str) -> Vec<Value> {
    [
        (first, "USD", 1),
        ("2345678901", "EUR", 1),
        ("3456789012", "GBP", 2),
    ]
    .into_iter()
    .map(|(id, currency, status)| {
        json!({
            "id": format!("act_{id}"),
            "account_id": id,
            "name": data::account_name(id),
            "currency": currency,
            "account_status": status,
        })
    })
    .collect()
}

/// `GET /me/adaccounts?fields=..` with the `fields` asked for, the catalog's
/// account (`first`) first (the caller words a paging parameter it refuses).
pub(super) fn ad_accounts(
    call: &Call<'_>,
    first: &str,
    fields: &[String],
) -> Result<FakeResponse, PageError> {
    let rows: Vec<Value> = accounts(first)
        .into_iter()
        .map(|account| {
            let mut kept = json!({"id": account["id"]});
            for field in fields {
                if let Some(value) = account.get(field) {
                    kept[field] = value.clone();
                }
            }
            kept
        })
        .collect();
    let page = PAGER.page(call.request, rows)?;
    let (first, more, after) = (page.first.clone(), page.more, page.last.clone());
    let mut page = page;
    if let Some(first) = first {
        page = page.with("/paging/cursors/before", json!(first));
    }
    if more {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in call.request.query_pairs() {
            if key != "after" && key != "access_token" {
                query.append_pair(&key, &value);
            }
        }
        query.append_pair("after", &after.unwrap_or_default());
        let next = format!(
            "https://graph.facebook.com/{GRAPH_VERSION}/me/adaccounts?{}",
            query.finish()
        );
        page = page.with("/paging/next", json!(next));
    }
    Ok(page.reply())
}

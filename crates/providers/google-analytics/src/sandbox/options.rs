//! The fake's Admin API `GET /v1beta/accountSummaries`: the accounts and properties
//! the sandbox's Google user can read, paged as Google pages them (`pageSize`, at
//! most 200 and 50 by default; `pageToken`, the next at `nextPageToken`).

use junction_core::fake::FakeResponse;
use junction_toolkit::fake::{Call, PageError, Pager, Sizes};
use serde_json::{Value, json};

use crate::options::ACCOUNT_SUMMARIES;

/// Google's page sizes for the list: 50 unless asked, larger asks coerced to 200.
const PAGER: Pager = Pager::new(ACCOUNT_SUMMARIES)
    .size(50, 200)
    .sizes(Sizes::Cap);

/// The sandbox user's accounts: the catalog's property (`first`) first.
fn accounts(first: &str) -> Vec<Value> {
    let account = |id: &str, name: &str, properties: &[(&str, &str)]| {
        json!({
            "name": format!("accountSummaries/{id}"),
            "account": format!("accounts/{id}"),
            "displayName": name,
            "propertySummaries": properties.iter().map(|(property, label)| json!({
                "property": format!("properties/{property}"),
                "displayName": label,
                "propertyType": "PROPERTY_TYPE_ORDINARY",
                "parent": format!("accounts/{id}"),
            })).collect::<Vec<_>>(),
        })
    };
    vec![
        account(
            "1000",
            "Sandbox Shop",
            &[
                (first, "Sandbox Shop – web"),
                ("987654321", "Sandbox Shop – app"),
            ],
        ),
        account("2000", "Sandbox Agency", &[("555000111", "Client site")]),
    ]
}

/// `GET /v1beta/accountSummaries`, the catalog's property first (the caller words
/// a paging parameter it refuses).
pub(super) fn account_summaries(call: &Call<'_>, first: &str) -> Result<FakeResponse, PageError> {
    Ok(PAGER.page(call.request, accounts(first))?.reply())
}

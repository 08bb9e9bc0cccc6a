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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use junction_core::fake::{FakeContext, FakeRequest, NoTokens};

    fn page(query: &str) -> Value {
        let request = FakeRequest {
            method: http::Method::GET,
            path: "/v1beta/accountSummaries".into(),
            query: query.into(),
            headers: http::HeaderMap::new(),
            body: Vec::new(),
        };
        let ctx = FakeContext {
            tokens: &NoTokens,
            fault: None,
            now: Utc::now(),
        };
        let response = account_summaries(&Call::new(&request, &ctx), "42").unwrap();
        assert_eq!(response.status, 200);
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn pages_follow_next_page_token_to_the_end() {
        let first = page("pageSize=1");
        assert_eq!(first["accountSummaries"].as_array().unwrap().len(), 1);
        assert_eq!(
            first["accountSummaries"][0]["propertySummaries"][0]["property"],
            "properties/42"
        );
        let token = first["nextPageToken"].as_str().unwrap();
        let last = page(&format!("pageSize=1&pageToken={token}"));
        assert_eq!(last["accountSummaries"][0]["account"], "accounts/2000");
        assert!(last.get("nextPageToken").is_none(), "{last}");
        // Without a size, Google's 50: everything at once.
        assert_eq!(page("")["accountSummaries"].as_array().unwrap().len(), 2);
    }
}

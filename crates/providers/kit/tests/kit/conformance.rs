//! The shared conformance suite against the Kit fake.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use junction_kit::{
    API, CUSTOM_FIELDS, Kit, LIST_SIZE, paging,
    sandbox::{KitFake, SANDBOX_API_KEY},
};
use serde_json::json;

use crate::support::connection_with_key;

/// The table checks from the description (both entries): 422 as bad input, Kit's
/// cursor paging (the streams' lists and the custom fields a check reads), the key
/// header and the OAuth bearer token.
pub fn description() -> Description {
    Description::new(&API)
        .paging_on(
            &paging("/subscribers", LIST_SIZE),
            FakeList::get("subscribers").query("status", "all").size(10),
        )
        .paging_on(&CUSTOM_FIELDS, FakeList::get("custom_fields").size(1))
}

#[tokio::test]
async fn kit_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(KitFake::default()), TokenTable::default()).await;
    Suite::new(
        Arc::new(Kit::api_key()) as Arc<dyn Adapter>,
        connection_with_key(
            SANDBOX_API_KEY,
            json!({"field_map": "surname:last_name", "lookback_days": 45}),
        ),
        connection_with_key("kit_revoked_0000", json!({})),
        // API keys cannot be refreshed: a rejected key needs the user.
        false,
    )
    .with_description(description())
    .run(&server)
    .await;
}

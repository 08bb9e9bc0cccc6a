//! The shared conformance suite against the Resend fake.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable, vectors};
use junction_core::Adapter;
use junction_resend::{
    API, PAGING, Resend,
    sandbox::{ResendFake, SANDBOX_API_KEY},
};
use serde_json::json;

use crate::support::connection_with_key;

#[tokio::test]
async fn resend_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(ResendFake::default()), TokenTable::default()).await;
    Suite::new(
        Arc::new(Resend) as Arc<dyn Adapter>,
        connection_with_key(SANDBOX_API_KEY, json!({"lookback_days": 30})),
        connection_with_key("re_revoked_or_mistyped", json!({})),
        false,
    )
    // The table checks from the description: Resend's error names, `after` the last
    // id over the fake's emails, the bearer key, Svix's signatures.
    .with_description(
        Description::new(&API)
            .paging_on(&PAGING, FakeList::get("emails").size(100))
            .webhook_vector(vectors::SVIX),
    )
    .run(&server)
    .await;
}

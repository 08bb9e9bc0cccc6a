//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from the adapter's description.

use std::sync::Arc;

use junction_buffer::{
    API, Buffer, PAGING,
    ops::POSTS,
    sandbox::{BufferFake, MAIN_ORGANIZATION, SANDBOX_API_KEY},
};
use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use serde_json::json;

use crate::support::connection;

pub async fn server() -> FakeServer {
    // The fake checks keys of its own: no token authority to ask.
    FakeServer::start(Arc::new(BufferFake::default()), TokenTable::default()).await
}

#[tokio::test]
async fn buffer_passes_the_conformance_suite() {
    let server = server().await;
    let adapter: Arc<dyn Adapter> = Arc::new(Buffer);
    let (good, rejected) = (connection(SANDBOX_API_KEY), connection("revoked_key"));
    // A refused key stays refused: no refresh can help.
    let refreshable = false;
    // The table checks: each error rule replayed in Buffer's `errors[]` envelope (at
    // an HTTP status and in a 200 body), the fake's own refusals read by it, the
    // GraphQL connection walked over a synthetic list and over the fake's posts, the
    // Bearer key sent as described and accepted.
    let posts = FakeList::post(
        "",
        json!({"query": POSTS, "variables": {"input": {"organizationId": MAIN_ORGANIZATION}}}),
    )
    .id(Some("/node/id"));
    let description = Description::new(&API).paging_on(&PAGING, posts);
    let report = Suite::new(adapter, good, rejected, refreshable)
        .with_description(description)
        .run(&server)
        .await;
    assert_eq!(report.error_rules, API.errors.rules.len());
    assert_eq!((report.fake_lists, report.auth_modes_accepted), (1, 1));
}

//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from the adapter's description.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use junction_sendgrid::{
    API, PAGING, Sendgrid,
    sandbox::{SANDBOX_API_KEY, SendgridFake},
};

use crate::support::connection;

async fn server() -> FakeServer {
    // The fake checks credentials of its own: no token authority to ask.
    FakeServer::start(Arc::new(SendgridFake), TokenTable::default()).await
}

#[tokio::test]
async fn sendgrid_passes_the_conformance_suite() {
    let server = server().await;
    let adapter: Arc<dyn Adapter> = Arc::new(Sendgrid);
    let (good, rejected) = (connection(SANDBOX_API_KEY), connection("revoked_key"));
    // A refused key stays refused: no refresh can help.
    let refreshable = false;
    // The table checks: each error rule replayed in the provider's envelope, the
    // fake's own refusals read by it, the cursor paging walked over a synthetic list
    // and over the fake's items, the auth mode sent as described and accepted.
    let description = Description::new(&API).paging_on(&PAGING, FakeList::get("items"));
    let report = Suite::new(adapter, good, rejected, refreshable)
        .with_description(description)
        .run(&server)
        .await;
    assert_eq!(report.error_rules, API.errors.rules.len());
    assert_eq!((report.fake_lists, report.auth_modes_accepted), (1, 1));
}

//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from the adapter's description.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use junction_devto::{
    API, Devto, PAGING,
    sandbox::{DevtoFake, SANDBOX_API_KEY},
};

use crate::support::connection;

#[tokio::test]
async fn devto_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(DevtoFake::default()), TokenTable::default()).await;
    let adapter: Arc<dyn Adapter> = Arc::new(Devto);
    let (good, rejected) = (connection(SANDBOX_API_KEY), connection("revoked_key"));
    // A refused key stays refused: no refresh can help.
    let description = Description::new(&API).paging_on(&PAGING, FakeList::get("articles/me/all"));
    let report = Suite::new(adapter, good, rejected, false)
        .with_description(description)
        .run(&server)
        .await;
    assert_eq!(report.error_rules, API.errors.rules.len());
    assert_eq!((report.fake_lists, report.auth_modes_accepted), (1, 1));
}

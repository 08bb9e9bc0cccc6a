//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from the adapter's description and SendGrid's webhook vectors.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable, vectors};
use junction_core::Adapter;
use junction_sendgrid::{
    API, OFFSET_PAGING, Sendgrid,
    sandbox::{SANDBOX_API_KEY, SendgridFake},
};

use crate::support::connection;

#[tokio::test]
async fn sendgrid_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(SendgridFake::default()), TokenTable::default()).await;
    let adapter: Arc<dyn Adapter> = Arc::new(Sendgrid);
    let (good, rejected) = (connection(SANDBOX_API_KEY), connection("SG.revoked.key"));
    // A refused key stays refused: no refresh can help.
    let refreshable = false;
    let description = Description::new(&API)
        .paging_on(
            &OFFSET_PAGING,
            FakeList::get("suppression/bounces").id(Some("/email")),
        )
        .webhook_vector(vectors::SENDGRID)
        .webhook_vector(vectors::SENDGRID_MULTIPLE);
    let report = Suite::new(adapter, good, rejected, refreshable)
        .with_description(description)
        .run(&server)
        .await;
    assert_eq!(report.error_rules, API.errors.rules.len());
    assert_eq!(report.webhook_vectors, 2);
}

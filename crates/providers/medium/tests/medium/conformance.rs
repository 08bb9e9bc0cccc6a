//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from the adapter's description (Medium pages nothing).

use std::sync::Arc;

use junction_conformance::{Description, FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use junction_medium::{
    API, Medium,
    sandbox::{MediumFake, SANDBOX_TOKEN},
};

use crate::support::connection;

#[tokio::test]
async fn medium_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(MediumFake::default()), TokenTable::default()).await;
    let adapter: Arc<dyn Adapter> = Arc::new(Medium);
    let (good, rejected) = (connection(SANDBOX_TOKEN), connection("revoked"));
    let report = Suite::new(adapter, good, rejected, false)
        .with_description(Description::new(&API))
        .run(&server)
        .await;
    assert_eq!(report.error_rules, API.errors.rules.len());
}

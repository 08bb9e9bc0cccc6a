//! The shared conformance suite against the Mailchimp fake.

use std::sync::Arc;

use junction_conformance::{FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use junction_mailchimp::{
    Mailchimp,
    sandbox::{MailchimpFake, SANDBOX_API_KEY},
};

use crate::support::connection_with;

#[tokio::test]
async fn mailchimp_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(MailchimpFake::default()), TokenTable::default()).await;
    Suite::new(
        Arc::new(Mailchimp) as Arc<dyn Adapter>,
        connection_with(SANDBOX_API_KEY),
        // A well-formed key the fake does not know: rejected like a revoked key.
        connection_with("ffffffffffffffffffffffffffffffff-us21"),
        false,
    )
    .run(&server)
    .await;
}

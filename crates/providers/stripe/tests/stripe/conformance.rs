//! The shared conformance suite against the Stripe fake.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable, vectors};
use junction_core::Adapter;
use junction_stripe::{
    API, PAGING, Stripe,
    sandbox::{SECRET_KEY, StripeFake},
};

use crate::support::connection_with;

#[tokio::test]
async fn stripe_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(StripeFake::default()), TokenTable::default()).await;
    Suite::new(
        Arc::new(Stripe) as Arc<dyn Adapter>,
        connection_with(SECRET_KEY),
        // A key Stripe does not know (revoked, rolled): not fixable by a refresh.
        connection_with("sk_test_revokedkey0000"),
        false,
    )
    // The table checks from the description: the error table, `starting_after`
    // paging over the fake's 40 customers, the bearer key, Stripe-Signature.
    .with_description(
        Description::new(&API)
            .paging_on(&PAGING, FakeList::get("customers").size(10))
            .webhook_vector(vectors::STRIPE),
    )
    .run(&server)
    .await;
}

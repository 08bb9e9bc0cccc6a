//! The shared conformance suite against the Mailchimp fakes (API key and OAuth).

use std::sync::Arc;

use junction_conformance::{FakeServer, Suite, TokenTable};
use junction_core::{Adapter, fake::TokenStatus};
use junction_mailchimp::{
    Mailchimp,
    sandbox::{MailchimpFake, SANDBOX_API_KEY},
};

use crate::{oauth::oauth_connection, support::connection_with};

#[tokio::test]
async fn mailchimp_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(MailchimpFake::default()), TokenTable::default()).await;
    Suite::new(
        Arc::new(Mailchimp::default()) as Arc<dyn Adapter>,
        connection_with(SANDBOX_API_KEY),
        // A well-formed key the fake does not know: rejected like a revoked key.
        connection_with("ffffffffffffffffffffffffffffffff-us21"),
        false,
    )
    .run(&server)
    .await;
}

/// The `mailchimp-oauth` entry against the OAuth fake: tokens from the sandbox's
/// OAuth server, the metadata lookup under the mount. Mailchimp's tokens never
/// expire, so a rejected one cannot be fixed by a refresh.
#[tokio::test]
async fn mailchimp_oauth_passes_the_conformance_suite() {
    let tokens = TokenTable::default()
        .with("sandbox-token", TokenStatus::Valid { scopes: Vec::new() })
        .with("revoked-token", TokenStatus::Expired);
    let server = FakeServer::start(Arc::new(MailchimpFake::oauth()), tokens).await;
    Suite::new(
        Arc::new(Mailchimp::oauth()) as Arc<dyn Adapter>,
        oauth_connection("sandbox-token"),
        oauth_connection("revoked-token"),
        false,
    )
    .run(&server)
    .await;
}

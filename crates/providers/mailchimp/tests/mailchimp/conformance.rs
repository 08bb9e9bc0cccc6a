//! The shared conformance suite against the Mailchimp fakes (API key and OAuth).

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::{Adapter, fake::TokenStatus};
use junction_mailchimp::{
    AUDIENCE_PAGING, MEMBER_PAGING, Mailchimp,
    api::API,
    sandbox::{MailchimpFake, NEWSLETTER_AUDIENCE, SANDBOX_API_KEY},
};

use crate::{oauth::oauth_connection, support::connection_with};

/// The table checks from the description: Mailchimp's problem documents, `count` and
/// `offset` paging over the fake's audiences and the newsletter's members, the OAuth
/// bearer token and the key as Basic password.
fn description() -> Description {
    Description::new(&API)
        .paging_on(&AUDIENCE_PAGING, FakeList::get("lists").size(1))
        .paging_on(
            &MEMBER_PAGING,
            FakeList::get(format!("lists/{NEWSLETTER_AUDIENCE}/members")).size(50),
        )
}

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
    .with_description(description())
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
    .with_description(description())
    .run(&server)
    .await;
}

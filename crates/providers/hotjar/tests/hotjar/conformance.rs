//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from the adapter's description.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::{Adapter, AdapterError, fake::TokenStatus};
use junction_hotjar::{API, Hotjar, PAGING, sandbox::HotjarFake, spec::READ_SCOPE};

use crate::support::connection;

/// Tokens as the sandbox's token authority would hold them.
fn tokens() -> TokenTable {
    let scoped = |scopes: &[&str]| TokenStatus::Valid {
        scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
    };
    TokenTable::default()
        .with("good", scoped(&[READ_SCOPE]))
        .with("unscoped", scoped(&[]))
        .with("expired", TokenStatus::Expired)
}

async fn server() -> FakeServer {
    FakeServer::start(Arc::new(HotjarFake), tokens()).await
}

#[tokio::test]
async fn hotjar_passes_the_conformance_suite() {
    let server = server().await;
    let adapter: Arc<dyn Adapter> = Arc::new(Hotjar);
    let (good, rejected) = (connection("good"), connection("expired"));
    // An expired access token is what a refresh fixes.
    let refreshable = true;
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

#[tokio::test]
async fn a_token_without_the_read_scope_must_be_granted_again() {
    let server = server().await;
    let error = Hotjar
        .check(&server.context(), &connection("unscoped"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{error:?}"
    );
}

//! The shared conformance suite against the HubSpot fake, for both entries, with the
//! table checks from the description and HubSpot's official v3 signature vector.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable, vectors};
use junction_core::{Adapter, AdapterError, fake::TokenStatus};
use junction_hubspot::{
    API, Hubspot, OAUTH_SCOPES, PAGING,
    sandbox::{HubspotFake, SANDBOX_READ_ONLY_TOKEN, SANDBOX_TOKEN},
};
use serde_json::json;

use crate::support::{oauth, private_app};

/// The table checks: every error rule in HubSpot's envelope, the fake's refusals read
/// by it, HubSpot's cursor paging over the contacts list, both auth modes, and the
/// v3 vector verified (tampered, stale and wrong-key copies refused).
fn description() -> Description {
    Description::new(&API)
        .paging_on(&PAGING, FakeList::get("crm/v3/objects/contacts").size(5))
        .webhook_vector(vectors::HUBSPOT_V3)
}

#[tokio::test]
async fn the_private_app_entry_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(HubspotFake::default()), TokenTable::default()).await;
    let report = Suite::new(
        Arc::new(Hubspot::private_app()) as Arc<dyn Adapter>,
        private_app(SANDBOX_TOKEN, json!({"lookback_days": 3})),
        private_app("pat-na1-revoked-0000", json!({})),
        // A private app's token is not refreshed: a refused one needs the user.
        false,
    )
    .with_description(description())
    .run(&server)
    .await;
    assert_eq!(report.error_rules, API.errors.rules.len());
    assert_eq!(report.webhook_vectors, 1);
}

fn tokens() -> TokenTable {
    TokenTable::default()
        .with(
            "good",
            TokenStatus::Valid {
                scopes: OAUTH_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            },
        )
        .with(
            "contacts-only",
            TokenStatus::Valid {
                scopes: vec!["oauth".into(), "crm.objects.contacts.read".into()],
            },
        )
        .with("expired", TokenStatus::Expired)
}

#[tokio::test]
async fn the_oauth_entry_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(HubspotFake::oauth()), tokens()).await;
    let report = Suite::new(
        Arc::new(Hubspot::oauth()) as Arc<dyn Adapter>,
        oauth("good", json!({"lookback_days": 3})),
        oauth("expired", json!({})),
        // A 30-minute access token expires: a refresh fixes it.
        true,
    )
    .with_description(description())
    .run(&server)
    .await;
    assert_eq!(report.webhook_vectors, 1);
}

#[tokio::test]
async fn a_missing_scope_is_for_the_user_to_grant() {
    let server = FakeServer::start(Arc::new(HubspotFake::oauth()), tokens()).await;
    let error = Hubspot::oauth()
        .read(
            &server.context(),
            &oauth("contacts-only", json!({})),
            &junction_core::ReadRequest {
                stream: "deals".into(),
                cursor: None,
                page_size: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Unauthorized { refreshable: false, message } if message.contains("lacks a scope")),
        "{error:?}"
    );
    let server = FakeServer::start(Arc::new(HubspotFake::default()), TokenTable::default()).await;
    let error = Hubspot::private_app()
        .act(
            &server.context(),
            &private_app(SANDBOX_READ_ONLY_TOKEN, json!({})),
            "upsert_contact",
            &json!({"email": "ro@sandbox.example"}),
            Some("k1"),
        )
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

//! The shared conformance suite against the crate's fake, with the table-driven
//! checks generated from each of the three API descriptions.

use std::sync::Arc;

use junction_conformance::{Description, FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use junction_mixpanel::{
    EXPORT_API, INGESTION_API, Mixpanel, QUERY_API,
    sandbox::{MixpanelFake, SANDBOX_PROJECT_TOKEN, SANDBOX_SECRET, SANDBOX_USERNAME},
    spec::{ingestion_spec, spec},
};
use serde_json::json;

use crate::support::connection_with;

fn good() -> junction_core::Connection {
    connection_with(
        SANDBOX_USERNAME,
        SANDBOX_SECRET,
        json!({
            "bookmark_ids": "12345, 23456",
            "events": "Viewed page, Signed up, Purchased",
            "funnel_ids": "7509, 9070",
            "retention_born_event": "Signed up",
        }),
        &[("project_token", SANDBOX_PROJECT_TOKEN)],
    )
}

#[tokio::test]
async fn mixpanel_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(MixpanelFake::default()), TokenTable::default()).await;
    let adapter: Arc<dyn Adapter> = Arc::new(Mixpanel);
    let rejected = connection_with(SANDBOX_USERNAME, "wrong-secret", json!({}), &[]);
    // A refused secret stays refused: no refresh can help.
    let report = Suite::new(adapter, good(), rejected, false)
        .with_description(Description::new(&QUERY_API))
        .run(&server)
        .await;
    assert_eq!(report.error_rules, QUERY_API.errors.rules.len());
    assert_eq!(report.auth_modes, 1);
    // The export's and the ingestion API's descriptions: each rule replayed in
    // Mixpanel's envelope, each auth mode sent as described.
    for (api, spec) in [(&EXPORT_API, spec()), (&INGESTION_API, ingestion_spec())] {
        let report = Description::new(api)
            .check(spec, &good(), &server, None)
            .await
            .unwrap();
        assert!(report.error_cases >= api.errors.rules.len(), "{report}");
        assert_eq!(report.auth_modes, api.auth.len());
    }
}

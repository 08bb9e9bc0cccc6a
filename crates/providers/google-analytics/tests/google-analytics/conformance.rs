//! The shared conformance suite against the GA4 fake.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable};
use junction_core::{Adapter, Connection, IntegrationId, WorkspaceId, fake::TokenStatus};
use junction_google_analytics::{API, GoogleAnalytics, PAGING, READONLY_SCOPE, sandbox::Ga4Fake};
use secrecy::SecretString;
use serde_json::json;

fn connection(token: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: json!({"property_id": "123456", "dimensions": "country", "lookback_days": 20})
            .as_object()
            .cloned()
            .unwrap(),
        secrets: Default::default(),
        access_token: Some(SecretString::from(token.to_owned())),
        token_expires_at: None,
    }
}

#[tokio::test]
async fn ga4_passes_the_conformance_suite() {
    let tokens = TokenTable::default()
        .with(
            "good",
            TokenStatus::Valid {
                scopes: vec![READONLY_SCOPE.into()],
            },
        )
        .with("expired", TokenStatus::Expired);
    let server = FakeServer::start(Arc::new(Ga4Fake), tokens).await;
    Suite::new(
        Arc::new(GoogleAnalytics) as Arc<dyn Adapter>,
        connection("good"),
        connection("expired"),
        true,
    )
    // The table checks from the description: Google's canonical codes, offset paging
    // in the runReport body over a week of daily rows, the bearer token.
    .with_description(
        Description::new(&API).paging_on(
            &PAGING,
            FakeList::post(
                "properties/123456:runReport",
                json!({
                    "dateRanges": [{"startDate": "6daysAgo", "endDate": "today"}],
                    "dimensions": [{"name": "date"}],
                    "metrics": [{"name": "activeUsers"}],
                }),
            )
            .size(3),
        ),
    )
    .run(&server)
    .await;
}

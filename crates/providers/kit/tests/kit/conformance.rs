//! The shared conformance suite against the Kit fake.

use std::sync::Arc;

use junction_conformance::{FakeServer, Suite, TokenTable};
use junction_core::Adapter;
use junction_kit::{
    Kit,
    sandbox::{KitFake, SANDBOX_API_KEY},
};
use serde_json::json;

use crate::support::connection_with_key;

#[tokio::test]
async fn kit_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(KitFake::default()), TokenTable::default()).await;
    Suite::new(
        Arc::new(Kit) as Arc<dyn Adapter>,
        connection_with_key(
            SANDBOX_API_KEY,
            json!({"field_map": "surname:last_name", "lookback_days": 45}),
        ),
        connection_with_key("kit_revoked_0000", json!({})),
        // API keys cannot be refreshed: a rejected key needs the user.
        false,
    )
    .run(&server)
    .await;
}

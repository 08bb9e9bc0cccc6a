//! The shared conformance suite against the Meta Ads fake, and the fake's own shapes.

use std::sync::Arc;

use junction_conformance::{Description, FakeList, FakeServer, Suite, TokenTable, vectors};
use junction_core::{Adapter, Connection, IntegrationId, WorkspaceId, fake::TokenStatus};
use junction_meta_ads::{
    ADS_READ_SCOPE, MetaAds, graph::API, insights::PAGING, sandbox::MetaAdsFake,
};
use secrecy::SecretString;
use serde_json::json;

fn connection(token: &str, account: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: json!({"ad_account_id": account, "lookback_days": 20})
            .as_object()
            .cloned()
            .unwrap(),
        secrets: Default::default(),
        access_token: Some(SecretString::from(token.to_owned())),
        token_expires_at: None,
    }
}

fn tokens() -> TokenTable {
    TokenTable::default()
        .with(
            "good",
            TokenStatus::Valid {
                scopes: vec![ADS_READ_SCOPE.into()],
            },
        )
        .with(
            "no-ads",
            TokenStatus::Valid {
                scopes: vec!["public_profile".into()],
            },
        )
        .with("expired", TokenStatus::Expired)
}

/// A week of campaign-day insight rows of the fake's account.
fn insights() -> FakeList {
    let today = chrono::Utc::now().date_naive();
    let since = today - chrono::Days::new(6);
    FakeList::get("act_424242/insights")
        .query("level", "campaign")
        .query("time_increment", "1")
        .query("fields", "campaign_id,spend")
        .query(
            "time_range",
            json!({"since": since.to_string(), "until": today.to_string()}).to_string(),
        )
        .id(None)
        .size(10)
}

#[tokio::test]
async fn meta_ads_passes_the_conformance_suite() {
    let server = FakeServer::start(Arc::new(MetaAdsFake), tokens()).await;
    Suite::new(
        Arc::new(MetaAds) as Arc<dyn Adapter>,
        connection("good", "act_424242"),
        connection("expired", "act_424242"),
        false,
    )
    // The table checks from the description: the Graph error codes (throttling
    // under HTTP 400), `paging.cursors.after` over the fake's insights, the bearer
    // token, X-Hub-Signature-256.
    .with_description(
        Description::new(&API)
            .paging_on(&PAGING, insights())
            .webhook_vector(vectors::META),
    )
    .run(&server)
    .await;
}

#[tokio::test]
async fn the_fake_serves_an_account_and_refuses_what_meta_refuses() {
    let server = FakeServer::start(Arc::new(MetaAdsFake), tokens()).await;
    let ctx = server.context();
    let health = MetaAds
        .check(&ctx, &connection("good", "424242"))
        .await
        .unwrap();
    assert!(health.account.unwrap().ends_with("(act_424242)"));
    assert_eq!(health.details["account_status"], "ACTIVE");
    let err = MetaAds
        .check(&ctx, &connection("good", "act_0"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, junction_core::AdapterError::Invalid { field: Some(f), .. } if f == "ad_account_id"),
        "{err:?}"
    );
    let err = MetaAds
        .check(&ctx, &connection("no-ads", "424242"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            junction_core::AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_fakes_rate_limit_carries_the_regain_time() {
    let server = FakeServer::start(Arc::new(MetaAdsFake), tokens()).await;
    server.arm(junction_core::fake::Fault::RateLimited {
        retry_after_secs: 90,
    });
    let err = MetaAds
        .check(&server.context(), &connection("good", "424242"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        junction_core::AdapterError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(120))
        }
    );
    server.arm(junction_core::fake::Fault::QuotaExhausted);
    let err = MetaAds
        .check(&server.context(), &connection("good", "424242"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, junction_core::AdapterError::QuotaExhausted { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_full_sync_of_the_fake_has_every_campaign_day_once_with_kpis() {
    let server = FakeServer::start(Arc::new(MetaAdsFake), tokens()).await;
    let ctx = server.context();
    let conn = connection("good", "424242");
    let mut cursor: Option<serde_json::Value> = None;
    let mut first_window_start = None;
    let mut ids = std::collections::BTreeSet::new();
    let mut kpis = 0;
    loop {
        let page = MetaAds
            .read(
                &ctx,
                &conn,
                &junction_core::ReadRequest {
                    stream: "insights".into(),
                    cursor: cursor.clone(),
                    page_size: Some(40),
                },
            )
            .await
            .unwrap();
        for record in &page.records {
            assert!(
                ids.insert(record.external_id.clone()),
                "{}",
                record.external_id
            );
        }
        kpis += page.kpis.len();
        cursor = page.next_cursor;
        if first_window_start.is_none() {
            first_window_start = cursor.as_ref().map(|c| c["since"].clone());
        }
        if !page.has_more {
            break;
        }
    }
    // 21 days of up to six campaigns, minus days without delivery.
    assert!(ids.len() > 60 && ids.len() <= 21 * 6, "{}", ids.len());
    assert!(kpis >= ids.len() * 6, "{kpis}");
    // The next sync starts 28 days back from the window's end, which is before
    // the 20-day window began: it re-reads the whole window.
    assert_eq!(cursor.unwrap()["since"], first_window_start.unwrap());
}

//! The sandbox's catalog is enough to connect every provider: each entry connects
//! with its values alone (API-key entries through `POST /v1/integrations`, OAuth 2.0
//! entries through the sandbox's consent page) and its first sync succeeds.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{support::TestApp, webhooks::Worker};

#[tokio::test]
async fn every_catalog_entry_connects_and_syncs_with_the_catalogs_values_alone() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let ids: Vec<&str> = catalog
        .providers
        .iter()
        .map(|entry| entry.provider.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "buffer",
            "devto",
            "google-analytics",
            "hashnode",
            "hotjar",
            "hubspot",
            "hubspot-oauth",
            "kit",
            "kit-oauth",
            "mailchimp",
            "mailchimp-oauth",
            "medium",
            "meta-ads",
            "mixpanel",
            "resend",
            "sendgrid",
            "stripe"
        ]
    );

    let mut connected = Vec::new();
    for entry in &catalog.providers {
        let id = app.connect_from_catalog(entry).await;
        let integration: Value = app
            .get(&format!("/v1/integrations/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let provider = entry.provider.as_str();
        assert_eq!(integration["provider"], provider);
        assert_eq!(integration["status"], "active", "{provider}: {integration}");
        assert_eq!(
            integration["auth_kind"],
            json!(entry.auth),
            "{provider}: {integration}"
        );
        assert_eq!(
            integration["health"]["status"], "healthy",
            "{provider}: {integration}"
        );
        assert_eq!(
            integration["config"],
            Value::Object(entry.connect.config.clone()),
            "{provider}"
        );
        connected.push((provider, id));
    }

    // Only the runs this test asks for: the scheduler would start the same ones.
    app.db
        .execute("UPDATE integrations SET next_sync_at = NULL")
        .await;
    let worker = Worker::start(&app).await;
    let mut runs = Vec::new();
    for (provider, id) in connected {
        let accepted = app
            .post(&format!("/v1/integrations/{id}/sync"))
            .send()
            .await
            .unwrap();
        assert_eq!(accepted.status(), 202, "{provider}");
        let accepted: Value = accepted.json().await.unwrap();
        runs.push((provider, accepted["run_id"].as_str().unwrap().to_owned()));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (provider, run_id) in runs {
        loop {
            let run: Value = app
                .get(&format!("/v1/runs/{run_id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            match run["status"].as_str() {
                Some("succeeded") => {
                    assert!(
                        run["records_written"].as_i64().unwrap() > 0,
                        "{provider}: {run}"
                    );
                    // Every provider that declares metrics writes some on its first
                    // sync (Medium's API has nothing to count: it declares none).
                    let spec: Value = app
                        .get(&format!("/v1/providers/{provider}"))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    let declares_metrics = spec["streams"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|s| s["metrics"].as_array().is_some_and(|m| !m.is_empty()));
                    assert_eq!(
                        run["kpi_points_written"].as_i64().unwrap() > 0,
                        declares_metrics,
                        "{provider}: {run}"
                    );
                    break;
                }
                Some("failed" | "dead") => panic!("{provider}: the first sync failed: {run}"),
                _ => {
                    assert!(
                        Instant::now() < deadline,
                        "{provider}: the first sync did not finish: {run}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
    worker.stop().await;
}

//! Authentication, tenancy, the catalog, pagination, PATCH, idempotency, limits,
//! operational endpoints and the committed OpenAPI document.

use junction_testkit::create_workspace;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::support::{TestApp, assert_problem, first_refusal};

#[tokio::test]
async fn requests_need_a_valid_unrevoked_key_and_see_one_workspace() {
    let app = TestApp::spawn().await;
    let anonymous = app
        .client
        .get(format!("{}/v1/integrations", app.url))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401, "unauthenticated").await;
    let wrong = app
        .client
        .get(format!("{}/v1/integrations", app.url))
        .bearer_auth("jct_not_a_key")
        .send()
        .await
        .unwrap();
    assert_problem(wrong, 401, "unauthenticated").await;

    let id = app.connect_ga4("1").await;
    // Another workspace's key sees nothing of it: 404, not 403.
    let (_, other_key) = create_workspace(app.db.store(), "Other").await;
    let foreign = app
        .client
        .get(format!("{}/v1/integrations/{id}", app.url))
        .bearer_auth(other_key.expose_secret())
        .send()
        .await
        .unwrap();
    assert_problem(foreign, 404, "integration_not_found").await;
    let listed: Value = app
        .client
        .get(format!("{}/v1/integrations", app.url))
        .bearer_auth(other_key.expose_secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"], json!([]));
    let every_integration_route = [
        ("GET", format!("/v1/integrations/{id}")),
        ("PATCH", format!("/v1/integrations/{id}")),
        ("DELETE", format!("/v1/integrations/{id}")),
        ("POST", format!("/v1/integrations/{id}/test")),
        ("POST", format!("/v1/integrations/{id}/reconnect")),
        ("GET", format!("/v1/integrations/{id}/logs")),
        ("POST", format!("/v1/integrations/{id}/sync")),
        ("GET", format!("/v1/integrations/{id}/runs")),
        (
            "GET",
            format!("/v1/records?integration_id={id}&stream=daily_report"),
        ),
        (
            "GET",
            format!("/v1/kpis?metric=sessions&integration_id={id}"),
        ),
    ];
    for (method, path) in every_integration_route {
        let request = app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.url))
            .bearer_auth(other_key.expose_secret())
            .json(&json!({}));
        assert_problem(request.send().await.unwrap(), 404, "integration_not_found").await;
    }

    // A revoked key is refused with its own code.
    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    let keys = junction_store::repo::api_keys::list(tx.conn())
        .await
        .unwrap();
    junction_store::repo::api_keys::revoke(tx.conn(), keys[0].id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_problem(
        first_refusal(&app, &app.api_key, std::time::Duration::from_secs(5)).await,
        401,
        "api_key_revoked",
    )
    .await;
}

#[tokio::test]
async fn the_catalog_lists_providers_from_their_specs() {
    let app = TestApp::spawn().await;
    let catalog: Value = app
        .get("/v1/providers")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ga = catalog["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "google-analytics")
        .unwrap();
    assert_eq!(ga["auth_kind"], "oauth2");
    assert_eq!(ga["auth"]["pkce"], true);
    assert!(
        ga["config_fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "property_id")
    );
    assert!(
        ga["streams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "daily_report")
    );
    let one: Value = app
        .get("/v1/providers/google-analytics")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], ga["name"]);
    assert_problem(
        app.get("/v1/providers/nope").send().await.unwrap(),
        404,
        "unknown_provider",
    )
    .await;
}

#[tokio::test]
async fn lists_paginate_with_cursors_and_patch_validates() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for property in ["11", "12", "13"] {
        ids.push(app.connect_ga4(property).await.to_string());
    }
    let first: Value = app
        .get("/v1/integrations?limit=2")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(&format!("/v1/integrations?limit=2&cursor={cursor}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());
    let seen: Vec<String> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["data"].as_array().unwrap())
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ids);
    assert_problem(
        app.get("/v1/integrations?cursor=garbage")
            .send()
            .await
            .unwrap(),
        400,
        "invalid_cursor",
    )
    .await;
    assert_problem(
        app.get("/v1/integrations?limit=0").send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;

    let id = &ids[0];
    let patched: Value = app
        .patch(&format!("/v1/integrations/{id}"))
        .json(&json!({"display_name": "Renamed", "schedule_seconds": 900, "config": {"property_id": "14", "lookback_days": 7}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            patched["display_name"].as_str(),
            patched["schedule_seconds"].as_i64()
        ),
        (Some("Renamed"), Some(900))
    );
    assert_eq!(patched["config"]["property_id"], "14");
    let bad = app
        .patch(&format!("/v1/integrations/{id}"))
        .json(&json!({"config": {"property_id": "x"}}))
        .send()
        .await
        .unwrap();
    assert_problem(bad, 422, "validation_failed").await;
    let short = app
        .patch(&format!("/v1/integrations/{id}"))
        .json(&json!({"schedule_seconds": 5}))
        .send()
        .await
        .unwrap();
    assert_problem(short, 422, "validation_failed").await;
    let unknown = app
        .patch(&format!("/v1/integrations/{id}"))
        .json(&json!({"colour": "red"}))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 422, "validation_failed").await;
    let logs: Value = app
        .get(&format!("/v1/integrations/{id}/logs?operation=update"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        logs["data"][0]["details"]["changed"],
        json!(["display_name", "config", "schedule_seconds"])
    );
}

#[tokio::test]
async fn idempotency_keys_replay_and_conflict() {
    let app = TestApp::spawn().await;
    let body = json!({"config": {"property_id": "5"}});
    let send = |key: &'static str, body: Value| {
        app.post("/v1/connect/google-analytics")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = send("key-1", body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = send("key-1", body.clone()).await.unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        first,
        "the same response, not a second flow"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM oauth_states").await, 1);
    let other = send("key-1", json!({"config": {"property_id": "6"}}))
        .await
        .unwrap();
    assert_problem(other, 409, "idempotency_key_reused").await;
    // Errors the client must fix are remembered too (same answer on retry).
    let invalid = send("key-2", json!({"config": {"property_id": "x"}}))
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let again = send("key-2", json!({"config": {"property_id": "x"}}))
        .await
        .unwrap();
    assert_eq!(again.status(), 422);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_problem_json() {
    let app = TestApp::spawn().await;
    let malformed = app
        .post("/v1/connect/google-analytics")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, 400, "invalid_json").await;
    let huge = json!({"config": {"property_id": "1"}, "display_name": "x".repeat(100 * 1024)});
    let oversized = app
        .post("/v1/connect/google-analytics")
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_problem(oversized, 413, "payload_too_large").await;
    let wrong_field = app
        .post("/v1/connect/google-analytics")
        .json(&json!({"confg": {}}))
        .send()
        .await
        .unwrap();
    assert_problem(wrong_field, 422, "validation_failed").await;
    let bad_id = app.get("/v1/integrations/not-a-uuid").send().await.unwrap();
    assert_problem(bad_id, 404, "not_found").await;
    let no_route = app.get("/v1/nothing-here").send().await.unwrap();
    assert_problem(no_route, 404, "not_found").await;
}

#[tokio::test]
async fn operational_endpoints_answer() {
    let app = TestApp::spawn().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let traced = app
        .client
        .get(format!("{}/healthz", app.url))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(traced.headers()["x-request-id"], "req-123");
    let ready: Value = app
        .client
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ready,
        json!({"postgres": {"ok": true}, "redis": {"ok": true}})
    );
    let _ = app.get("/v1/providers").send().await.unwrap();
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("junction_http_requests_total"),
        "{metrics}"
    );
    let docs = app
        .client
        .get(format!("{}/docs/", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let served: Value = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(served["openapi"], "3.1.0");
}

#[test]
fn the_committed_openapi_document_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let generated = junction_api::openapi::document();
    if std::env::var_os("JUNCTION_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: run `cargo xtask openapi`"
    );
}

/// Every `$ref` of the document names a component it defines: a dangling one makes
/// clients and schemathesis guess (a query enum once pointed at a schema the
/// document never listed).
#[test]
fn every_reference_in_the_openapi_document_resolves() {
    fn refs<'a>(value: &'a serde_json::Value, found: &mut Vec<&'a str>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    match (key.as_str(), item.as_str()) {
                        ("$ref", Some(target)) => found.push(target),
                        _ => refs(item, found),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }
    let document: serde_json::Value =
        serde_json::from_str(&junction_api::openapi::document()).unwrap();
    let mut found = Vec::new();
    refs(&document, &mut found);
    assert!(!found.is_empty());
    let dangling: Vec<&str> = found
        .into_iter()
        .filter(|target| {
            let pointer = target.strip_prefix('#').unwrap_or(target);
            document.pointer(pointer).is_none()
        })
        .collect();
    assert!(dangling.is_empty(), "unresolved references: {dangling:?}");
}

#[test]
fn demo_mode_uses_the_sandboxs_published_oauth_app() {
    assert_eq!(
        junction_app::config::SANDBOX_CLIENT_ID,
        junction_sandbox::CLIENT_ID
    );
    assert_eq!(
        junction_app::config::SANDBOX_CLIENT_SECRET,
        junction_sandbox::CLIENT_SECRET
    );
}

//! KPI alert rules: creation with field-by-field validation, listing with pages,
//! lookup, deletion, tenancy, and the notification list.

use junction_core::WorkspaceId;
use junction_store::{
    models::{NotificationKind, NotificationStatus},
    repo::{self, notifications::NewNotification},
};
use junction_testkit::{create_integration, create_workspace};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem};

fn rule(integration_id: Uuid) -> Value {
    json!({
        "name": "Traffic drop",
        "integration_id": integration_id,
        "metric": "sessions",
        "condition": "change_pct_below",
        "threshold": -20.0,
        "window_days": 7,
        "recipients": ["Ops@Acme.example", "growth@acme.example", "ops@acme.example"],
    })
}

async fn ga4(app: &TestApp, workspace: WorkspaceId) -> Uuid {
    create_integration(app.db.store(), workspace, "google-analytics")
        .await
        .id
}

#[tokio::test]
async fn a_rule_is_created_listed_read_and_deleted() {
    let app = TestApp::spawn().await;
    let integration = ga4(&app, app.workspace).await;

    let response = app
        .post("/v1/alerts")
        .json(&rule(integration))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/alerts/{id}"));
    assert_eq!(created["name"], "Traffic drop");
    assert_eq!(created["integration_id"], integration.to_string());
    assert_eq!(created["condition"], "change_pct_below");
    assert_eq!(created["threshold"], -20.0);
    assert_eq!(created["window_days"], 7);
    // Lower-cased, without repeats.
    assert_eq!(
        created["recipients"],
        json!(["ops@acme.example", "growth@acme.example"])
    );
    assert_eq!(created["enabled"], true);
    assert_eq!(created["state"], "pending");
    assert_eq!(created["last_triggered_at"], Value::Null);

    let fetched: Value = app
        .get(&location)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);

    // A second rule; pages of one.
    let mut second = rule(integration);
    second["name"] = json!("Traffic spike");
    second["condition"] = json!("above");
    second["threshold"] = json!(10000);
    second.as_object_mut().unwrap().remove("window_days");
    let second: Value = app
        .post("/v1/alerts")
        .json(&second)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["window_days"], 1, "the default window is one day");
    let page: Value = app
        .get("/v1/alerts?limit=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["id"], created["id"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(&format!("/v1/alerts?limit=1&cursor={cursor}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][0]["id"], second["id"]);
    assert_eq!(rest["next_cursor"], Value::Null);

    let deleted = app.delete(&location).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_problem(app.get(&location).send().await.unwrap(), 404, "not_found").await;
    assert_problem(
        app.delete(&location).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;
    let all: Value = app
        .get("/v1/alerts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_rules_are_refused_with_every_field_error() {
    let app = TestApp::spawn().await;
    let integration = ga4(&app, app.workspace).await;

    let response = app
        .post("/v1/alerts")
        .json(&json!({
            "name": "  ",
            "integration_id": integration,
            "metric": "revenue_of_the_moon",
            "condition": "sideways",
            "window_days": 0,
            "recipients": ["ops@acme.example", "not an address", "x@y"],
        }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "condition",
            "threshold",
            "window_days",
            "recipients[1]",
            "recipients[2]",
            "metric"
        ],
        "{problem}"
    );
    let metric = &problem["errors"][6]["message"];
    assert!(
        metric.as_str().unwrap().contains("sessions"),
        "names the provider's metrics: {metric}"
    );

    // Recipients: none, or too many.
    let mut none = rule(integration);
    none["recipients"] = json!([]);
    let problem = assert_problem(
        app.post("/v1/alerts").json(&none).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "recipients");
    let mut many = rule(integration);
    many["recipients"] = json!(
        (0..51)
            .map(|i| format!("u{i}@acme.example"))
            .collect::<Vec<_>>()
    );
    let problem = assert_problem(
        app.post("/v1/alerts").json(&many).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "recipients");
    let mut window = rule(integration);
    window["window_days"] = json!(367);
    let problem = assert_problem(
        app.post("/v1/alerts").json(&window).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "window_days");

    // Another workspace's integration is as unknown as a made-up one: the 404 of
    // every route that names an integration.
    let (other, _) = create_workspace(app.db.store(), "Other").await;
    let foreign = ga4(&app, other).await;
    for integration_id in [foreign, Uuid::new_v4()] {
        assert_problem(
            app.post("/v1/alerts")
                .json(&rule(integration_id))
                .send()
                .await
                .unwrap(),
            404,
            "integration_not_found",
        )
        .await;
    }
    let mut missing = rule(integration);
    missing.as_object_mut().unwrap().remove("integration_id");
    let problem = assert_problem(
        app.post("/v1/alerts").json(&missing).send().await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "integration_id");

    // Unknown fields are refused too.
    let mut unknown = rule(integration);
    unknown["severity"] = json!("high");
    let response = app.post("/v1/alerts").json(&unknown).send().await.unwrap();
    assert_eq!(response.status(), 422);

    assert_eq!(app.count("SELECT count(*) AS n FROM alert_rules").await, 0);
}

#[tokio::test]
async fn rules_and_notifications_of_another_workspace_are_invisible() {
    let app = TestApp::spawn().await;
    let (other, _) = create_workspace(app.db.store(), "Other").await;
    let foreign = ga4(&app, other).await;
    let mut tx = app.db.store().begin(other).await.unwrap();
    let rule = repo::alerts::create(
        tx.conn(),
        other,
        repo::alerts::NewAlertRule {
            integration_id: Some(foreign),
            name: "theirs".into(),
            metric: "sessions".into(),
            condition: junction_store::models::AlertCondition::Above,
            threshold: 1.0,
            window_days: 1,
            recipients: vec!["them@other.example".into()],
            currency: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    assert_problem(
        app.get(&format!("/v1/alerts/{}", rule.id))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    assert_problem(
        app.delete(&format!("/v1/alerts/{}", rule.id))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    let list: Value = app
        .get("/v1/alerts")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]));
    assert_eq!(
        app.count("SELECT count(*) AS n FROM alert_rules").await,
        1,
        "still there"
    );
}

#[tokio::test]
async fn notifications_are_listed_newest_first_with_a_status_filter() {
    let app = TestApp::spawn().await;
    let mut tx = app.db.store().begin(app.workspace).await.unwrap();
    for key in ["first", "second"] {
        repo::notifications::insert_once(
            tx.conn(),
            NewNotification {
                workspace_id: app.workspace,
                kind: NotificationKind::SyncFailed,
                dedupe_key: key,
                alert_rule_id: None,
                integration_id: None,
                recipients: vec!["ops@acme.example".into()],
                subject: key,
                details: json!({"attempts": 3}),
                status: NotificationStatus::Pending,
            },
        )
        .await
        .unwrap()
        .unwrap();
    }
    tx.commit().await.unwrap();

    let list: Value = app
        .get("/v1/notifications?status=pending")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let subjects: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 2);
    assert_eq!(list["data"][0]["status"], "pending");
    assert_eq!(list["data"][0]["kind"], "sync_failed");
    assert_eq!(list["data"][0]["details"], json!({"attempts": 3}));
    let sent: Value = app
        .get("/v1/notifications?status=sent")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["data"], json!([]));
    assert_problem(
        app.get("/v1/notifications?status=lost")
            .send()
            .await
            .unwrap(),
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_rule_is_changed_paused_and_its_state_reset() {
    let app = TestApp::spawn().await;
    let integration = ga4(&app, app.workspace).await;
    let created: Value = app
        .post("/v1/alerts")
        .json(&rule(integration))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = format!("/v1/alerts/{}", created["id"].as_str().unwrap());
    // As the worker leaves a rule that fired.
    app.db
        .execute(&format!(
            "UPDATE alert_rules SET firing_since = now(), last_value = -30, last_evaluated_at = now() WHERE id = '{}'",
            created["id"].as_str().unwrap()
        ))
        .await;

    // Renaming and new recipients keep the state.
    let renamed: Value = app
        .patch(&path)
        .json(&json!({"name": "Traffic fell", "recipients": ["New@Acme.example"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "Traffic fell");
    assert_eq!(renamed["recipients"], json!(["new@acme.example"]));
    assert_eq!(renamed["condition"], "change_pct_below");
    assert_eq!(renamed["state"], "firing");
    assert_eq!(renamed["last_value"], -30.0);

    // A new threshold starts over.
    let moved: Value = app
        .patch(&path)
        .json(&json!({"threshold": -50}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["threshold"], -50.0);
    assert_eq!(moved["state"], "pending");
    assert_eq!(moved["firing_since"], Value::Null);
    assert_eq!(moved["last_value"], Value::Null);

    let paused: Value = app
        .patch(&path)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(paused["enabled"], false);
    assert_eq!(paused["name"], "Traffic fell");

    // Invalid changes: every field at once, nothing changed.
    let problem = assert_problem(
        app.patch(&path)
            .json(&json!({"name": "", "condition": "up", "window_days": 400, "recipients": []}))
            .send()
            .await
            .unwrap(),
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "condition", "window_days", "recipients"]);
    let response = app
        .patch(&path)
        .json(&json!({"metric": "conversions"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422, "the metric is fixed");
    let unchanged: Value = app.get(&path).send().await.unwrap().json().await.unwrap();
    assert_eq!(unchanged, paused);
    assert_problem(
        app.patch(&format!("/v1/alerts/{}", Uuid::new_v4()))
            .json(&json!({"enabled": true}))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
}

//! Outbound webhooks with an in-process worker and a real HTTP receiver (wiremock on
//! port 0): deliveries verify with the Standard Webhooks scheme, a rotated secret
//! signs beside the new one for 24 hours and stops after (the application's clock
//! advanced), and the facts of a sync run — its end, the records it changed, a lost
//! grant — become events in the transactions that record them.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use http::HeaderMap;
use junction_app::{
    App, PageRequest,
    models::{OutboundEventFilter, OutboundEventType, RunStatus},
    outbound::endpoints::{EndpointInput, EventDeliveries},
};
use junction_core::{
    Clock, WorkspaceId,
    webhook::{WebhookError, svix},
};
use junction_sandbox::{GrantType, TokenFailure};
use junction_testkit::create_integration;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use uuid::Uuid;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

use crate::support::*;

const TIMEOUT: Duration = Duration::from_secs(30);
const TOLERANCE: Duration = Duration::from_secs(300);

/// A clock the test moves.
#[derive(Debug)]
struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The worker settings of these tests: the receiver listens on 127.0.0.1.
fn config(env: &TestEnv) -> junction_app::Config {
    env.config(&[("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true")])
}

/// A receiver answering every POST with `status`.
async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

/// Waits until the receiver got `count` requests; returns them.
async fn received(server: &MockServer, count: usize) -> Vec<wiremock::Request> {
    wait_for(&format!("{count} deliveries"), TIMEOUT, || async {
        let requests = server.received_requests().await.unwrap_or_default();
        (requests.len() >= count).then_some(requests)
    })
    .await
}

async fn create_endpoint(app: &App, workspace: WorkspaceId, url: String, types: &[&str]) -> Uuid {
    app.create_webhook_endpoint(
        workspace,
        EndpointInput {
            url: Some(url),
            event_types: Some(types.iter().map(|t| (*t).to_owned()).collect()),
            ..EndpointInput::default()
        },
    )
    .await
    .unwrap()
    .id
}

/// Disconnects a fresh Stripe integration: one `connection.deleted`.
async fn delete_an_integration(env: &TestEnv, app: &App, workspace: WorkspaceId) -> Uuid {
    let integration = create_integration(env.db.store(), workspace, "stripe").await;
    app.disconnect(workspace, integration.id).await.unwrap();
    integration.id
}

/// Verifies a delivery against one secret at `now`, as a receiver would.
fn verify(
    request: &wiremock::Request,
    secret: &SecretString,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    let headers: &HeaderMap = &request.headers;
    svix::verify(secret, headers, &request.body, now, TOLERANCE)
}

fn header<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    request.headers[name].to_str().unwrap()
}

async fn events(app: &App, workspace: WorkspaceId) -> Vec<EventDeliveries> {
    app.outbound_events(
        workspace,
        &OutboundEventFilter::default(),
        PageRequest::first(200),
    )
    .await
    .unwrap()
    .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_verify_with_standard_webhooks_and_a_rotated_secret_signs_for_a_day() {
    let env = TestEnv::new().await;
    let server = receiver(204).await;
    let clock = Arc::new(ManualClock(Mutex::new(Utc::now())));
    let mut app = env.app(config(&env)).await;
    app.connections.clock = clock.clone();
    let worker = junction_app::worker::Worker::new(app.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    let workspace = env.workspace("Acme").await;
    let endpoint = create_endpoint(
        &app,
        workspace,
        format!("{}/hooks/junction", server.uri()),
        &["connection.deleted"],
    )
    .await;
    let first = app
        .webhook_endpoint_secret(workspace, endpoint)
        .await
        .unwrap();
    assert!(first.expose_secret().starts_with("whsec_"));

    // One event, one signature: it verifies with the endpoint's secret, by the
    // Standard Webhooks names of the headers, and with nothing else.
    let deleted = delete_an_integration(&env, &app, workspace).await;
    let requests = received(&server, 1).await;
    let delivery = &requests[0];
    assert_eq!(delivery.url.path(), "/hooks/junction");
    assert_eq!(header(delivery, "content-type"), "application/json");
    assert!(header(delivery, "user-agent").starts_with("Junction-Webhooks/"));
    let body: Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(header(delivery, "webhook-id"), body["id"].as_str().unwrap());
    assert_eq!(
        header(delivery, "webhook-timestamp"),
        clock.now().timestamp().to_string()
    );
    let signature = header(delivery, "webhook-signature");
    assert_eq!(signature.split(' ').count(), 1);
    assert!(signature.starts_with("v1,"));
    assert_eq!(verify(delivery, &first, clock.now()), Ok(()));
    let stranger = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_eq!(
        verify(delivery, &stranger, clock.now()),
        Err(WebhookError::SignatureMismatch)
    );
    assert_eq!(body["type"], "connection.deleted");
    assert_eq!(body["workspace_id"], workspace.to_string());
    assert_eq!(body["data"]["integration_id"], deleted.to_string());
    assert_eq!(body["data"]["provider"], "stripe");
    let text = String::from_utf8_lossy(&delivery.body);
    assert!(!text.contains(first.expose_secret()) && !text.contains("whsec_"));

    // Rotated: the new secret is current, and for 24 hours every delivery carries
    // both signatures, so a receiver holding either secret verifies it.
    app.rotate_webhook_endpoint_secret(workspace, endpoint, None)
        .await
        .unwrap();
    let second = app
        .webhook_endpoint_secret(workspace, endpoint)
        .await
        .unwrap();
    assert_ne!(first.expose_secret(), second.expose_secret());
    clock.advance(chrono::Duration::hours(23));
    delete_an_integration(&env, &app, workspace).await;
    let requests = received(&server, 2).await;
    let overlap = &requests[1];
    let entries: Vec<&str> = header(overlap, "webhook-signature").split(' ').collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(verify(overlap, &first, clock.now()), Ok(()));
    assert_eq!(verify(overlap, &second, clock.now()), Ok(()));

    // A day after the rotation the old secret signs no more.
    clock.advance(chrono::Duration::hours(1) + chrono::Duration::seconds(1));
    delete_an_integration(&env, &app, workspace).await;
    let requests = received(&server, 3).await;
    let after = &requests[2];
    assert_eq!(header(after, "webhook-signature").split(' ').count(), 1);
    assert_eq!(verify(after, &second, clock.now()), Ok(()));
    assert_eq!(
        verify(after, &first, clock.now()),
        Err(WebhookError::SignatureMismatch)
    );

    // Three events, each delivered once, each attempt recorded with its answer.
    let events = events(&app, workspace).await;
    assert_eq!(events.len(), 3);
    for event in &events {
        assert_eq!(event.event.event_type, OutboundEventType::ConnectionDeleted);
        assert_eq!(event.deliveries.len(), 1);
        let delivery = &event.deliveries[0];
        assert_eq!(delivery.status.as_str(), "succeeded");
        assert_eq!(
            (delivery.attempts, delivery.last_status_code),
            (1, Some(204))
        );
    }
    let _ = stop.send(());
    tokio::time::timeout(TIMEOUT, running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_reports_its_end_and_the_records_it_changed_with_where_to_fetch_them() {
    let env = TestEnv::new().await;
    let server = receiver(200).await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let worker = env.start_worker(config(&env)).await;
    let app = worker.app.clone();
    create_endpoint(&app, workspace, format!("{}/all", server.uri()), &[]).await;
    let id = env
        .create_ga4(workspace, Ga4::due(10, "country"), &tokens)
        .await;
    let expected = env.ga4_row_count(&tokens, 10, &["country"]).await;

    let run = env.wait_run_ended(workspace, id, TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let requests = received(&server, 2).await;
    let bodies: Vec<Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let of = |kind: &str| {
        bodies
            .iter()
            .find(|b| b["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {bodies:#?}"))
            .clone()
    };
    let succeeded = of("sync.succeeded");
    assert_eq!(succeeded["data"]["run_id"], run.id.to_string());
    assert_eq!(succeeded["data"]["integration_id"], id.to_string());
    assert_eq!(succeeded["data"]["trigger"], "schedule");
    assert_eq!(succeeded["data"]["records_written"], expected);
    assert_eq!(succeeded["data"]["kpi_points_written"], expected * 6);
    let streams = succeeded["data"]["streams"].as_array().unwrap();
    let daily = streams
        .iter()
        .find(|s| s["stream"] == "daily_report")
        .unwrap();
    assert_eq!(daily["records_changed"], expected);
    assert_eq!(daily["records_created"], expected);
    assert_eq!(daily["kpi_points_changed"], expected * 6);

    // `modified_after` fetches exactly the records the event counts.
    let changed = of("records.changed");
    assert_eq!(changed["data"]["stream"], "daily_report");
    assert_eq!(changed["data"]["records_changed"], expected);
    assert_eq!(changed["data"]["run_id"], run.id.to_string());
    let since: DateTime<Utc> =
        serde_json::from_value(changed["data"]["modified_after"].clone()).unwrap();
    let fetched = app
        .records(
            workspace,
            id,
            "daily_report",
            Some(since),
            PageRequest::first(200),
        )
        .await
        .unwrap();
    assert_eq!(fetched.items.len() as i64, expected);
    assert!(fetched.next.is_none());
    // No credential of the integration travels.
    for request in &requests {
        let text = String::from_utf8_lossy(&request.body);
        assert!(!text.contains(tokens.access_token.expose_secret()));
    }
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_grant_is_reported_once_as_sync_failed_and_connection_needs_reauth() {
    let env = TestEnv::new().await;
    let server = receiver(200).await;
    let tokens = env.ga4_tokens().await;
    let workspace = env.workspace("Acme").await;
    let worker = env.start_worker(config(&env)).await;
    let app = worker.app.clone();
    create_endpoint(
        &app,
        workspace,
        format!("{}/hooks", server.uri()),
        &["sync.failed", "connection.needs_reauth"],
    )
    .await;
    let mut ga4 = Ga4::due(3, "");
    ga4.token_expires_at = Some(Utc::now() - chrono::Duration::seconds(60));
    let id = env.create_ga4(workspace, ga4, &tokens).await;
    env.sandbox
        .sandbox
        .script_token_failure(GA4, GrantType::RefreshToken, TokenFailure::InvalidGrant, 1)
        .unwrap();

    let run = env.wait_run_ended(workspace, id, TIMEOUT).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    // The refresh moved the integration to needs_reauth in the OAuth engine; the
    // scheduler's sweep announces it (once, however many passes follow).
    for _ in 0..3 {
        worker.app.scheduler_pass().await.unwrap();
    }
    let requests = received(&server, 2).await;
    let mut types: Vec<String> = requests
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    types.sort();
    assert_eq!(types, vec!["connection.needs_reauth", "sync.failed"]);
    let failed: Value = requests
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .find(|b| b["type"] == "sync.failed")
        .unwrap();
    assert_eq!(failed["data"]["status"], "failed");
    assert_eq!(failed["data"]["error_code"], "integration_needs_reauth");
    let recorded = events(&app, workspace).await;
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded
            .iter()
            .filter(|e| e.event.event_type == OutboundEventType::ConnectionNeedsReauth)
            .count(),
        1
    );
    worker.stop().await;
}

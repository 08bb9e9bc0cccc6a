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

/// Whether a delivery carries a signature by `secret`, checked as a receiver with
/// no Junction code would: the `whsec_` secret's base64 part is the HMAC-SHA256 key
/// of `{webhook-id}.{webhook-timestamp}.{body}`, and `webhook-signature` holds
/// `v1,{base64 tag}` among its space-separated entries (Standard Webhooks).
fn signed_by(request: &wiremock::Request, secret: &SecretString) -> bool {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let key = STANDARD
        .decode(secret.expose_secret().trim_start_matches("whsec_"))
        .unwrap();
    let mut signed = format!(
        "{}.{}.",
        header(request, "webhook-id"),
        header(request, "webhook-timestamp")
    )
    .into_bytes();
    signed.extend_from_slice(&request.body);
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
        &signed,
    );
    let expected = format!("v1,{}", STANDARD.encode(tag.as_ref()));
    header(request, "webhook-signature")
        .split(' ')
        .any(|entry| entry == expected)
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
    assert!(
        signed_by(delivery, &first),
        "an independent HMAC-SHA256 agrees"
    );
    let stranger = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_eq!(
        verify(delivery, &stranger, clock.now()),
        Err(WebhookError::SignatureMismatch)
    );
    assert!(!signed_by(delivery, &stranger));
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
    assert!(signed_by(overlap, &first) && signed_by(overlap, &second));

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
    assert!(signed_by(after, &second) && !signed_by(after, &first));

    // Three events, each delivered once, each attempt recorded with its answer (the
    // record follows the answer: wait for it).
    let events = wait_for("the deliveries recorded", TIMEOUT, || async {
        let found = events(&app, workspace).await;
        found
            .iter()
            .all(|e| {
                e.deliveries
                    .iter()
                    .all(|d| d.status.as_str() == "succeeded")
            })
            .then_some(found)
    })
    .await;
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
    assert_eq!(succeeded["data"]["kpi_points_written"], expected * 7);
    let streams = succeeded["data"]["streams"].as_array().unwrap();
    let daily = streams
        .iter()
        .find(|s| s["stream"] == "daily_report")
        .unwrap();
    assert_eq!(daily["records_changed"], expected);
    assert_eq!(daily["records_created"], expected);
    assert_eq!(daily["kpi_points_changed"], expected * 7);

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_answering_410_is_disabled_and_its_dead_letter_replays_once_enabled() {
    let env = TestEnv::new().await;
    let server = receiver(410).await;
    let worker = env.start_worker(config(&env)).await;
    let app = worker.app.clone();
    let workspace = env.workspace("Acme").await;
    let endpoint = create_endpoint(&app, workspace, format!("{}/gone", server.uri()), &[]).await;

    // 410 Gone: one attempt, the endpoint disabled, the delivery dead at once.
    delete_an_integration(&env, &app, workspace).await;
    wait_for("the dead letter", TIMEOUT, || async {
        (env.count("SELECT count(*) AS n FROM dead_letters WHERE queue = 'outbound'")
            .await
            == 1)
            .then_some(())
    })
    .await;
    assert_eq!(received(&server, 1).await.len(), 1);
    let disabled = app.webhook_endpoint(workspace, endpoint).await.unwrap();
    assert!(!disabled.enabled);
    assert!(
        disabled
            .disabled_reason
            .as_deref()
            .is_some_and(|r| r.contains("410 Gone")),
        "{disabled:?}"
    );
    // The dead letter's hook marks the delivery right after the letter is stored.
    let recorded = wait_for("the delivery marked failed", TIMEOUT, || async {
        let found = events(&app, workspace).await;
        (found[0].deliveries[0].status.as_str() == "failed").then_some(found)
    })
    .await;
    assert_eq!(recorded[0].deliveries[0].attempts, 1);

    // Disabled, it is sent nothing: a new event is not even stored.
    delete_an_integration(&env, &app, workspace).await;
    assert_eq!(events(&app, workspace).await.len(), 1);

    // Enabled again, its dead letter replays to the receiver, now answering 200.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    app.update_webhook_endpoint(
        workspace,
        endpoint,
        junction_app::outbound::endpoints::EndpointChanges {
            enabled: Some(true),
            ..Default::default()
        },
    )
    .await
    .map(|e| assert!(e.enabled && e.disabled_reason.is_none()))
    .unwrap();
    let letter_id: Uuid = {
        let letters = junction_app::dead_letters::list(
            &app.store,
            workspace,
            &junction_app::models::DeadLetterFilter::default(),
            PageRequest::first(10),
        )
        .await
        .unwrap();
        assert_eq!(letters.items[0].error_code, "webhook_endpoint_rejected");
        letters.items[0].id
    };
    junction_app::dead_letters::replay(&app.store, workspace, letter_id)
        .await
        .unwrap();
    received(&server, 1).await;
    wait_for("the replayed delivery", TIMEOUT, || async {
        let recorded = events(&app, workspace).await;
        (recorded[0].deliveries[0].status.as_str() == "succeeded").then_some(())
    })
    .await;
    worker.stop().await;
}

/// The client app cannot be told its endpoint failed for good (that is the endpoint
/// failing), so the workspace's dead-letter recipients are: once per dead letter, the
/// endpoint named by its description and host, never its path (it may hold a token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbound_dead_letter_tells_the_dead_letter_recipients() {
    let env = TestEnv::new().await;
    let server = receiver(410).await;
    let worker = env.start_worker(config(&env)).await;
    let app = worker.app.clone();
    let workspace = env.workspace("Acme").await;
    app.put_notification_settings(
        workspace,
        junction_app::notifications::settings::NotificationSettingsInput {
            dead_letter: Some(vec!["oncall@acme.example".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let endpoint = app
        .create_webhook_endpoint(
            workspace,
            EndpointInput {
                url: Some(format!("{}/hooks/tok_secret_path", server.uri())),
                description: Some("Orders app".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .id;

    delete_an_integration(&env, &app, workspace).await;
    let notice = wait_for("the dead letter's notification", TIMEOUT, || async {
        app.notifications(workspace, None, PageRequest::first(10))
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|n| n.kind.as_str() == "dead_letter")
    })
    .await;
    assert_eq!(notice.recipients, ["oncall@acme.example"]);
    assert_eq!(notice.integration_id, None);
    assert!(
        notice.dedupe_key.starts_with("dead_letter:outbound:"),
        "{notice:?}"
    );
    assert!(
        notice.subject.contains(
            "Dead letter: Webhook endpoint Orders app (127.0.0.1) (webhook_endpoint_rejected)"
        ),
        "{}",
        notice.subject
    );
    let message = notice.details["error_message"].as_str().unwrap();
    assert!(message.contains("`connection.deleted` event"), "{message}");
    assert!(message.contains("410 Gone"), "{message}");
    assert!(!notice.details.to_string().contains("tok_secret_path"));
    let disabled = app.webhook_endpoint(workspace, endpoint).await.unwrap();
    assert!(!disabled.enabled);
    // Once: the dead letter notifies nobody again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dead_letters = app
        .notifications(workspace, None, PageRequest::first(10))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|n| n.kind.as_str() == "dead_letter")
        .count();
    assert_eq!(dead_letters, 1);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_does_not_answer_is_recorded_unreachable_with_its_retry() {
    let env = TestEnv::new().await;
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let worker = env.start_worker(config(&env)).await;
    let app = worker.app.clone();
    let workspace = env.workspace("Acme").await;
    let endpoint = create_endpoint(
        &app,
        workspace,
        format!("http://127.0.0.1:{port}/hooks"),
        &[],
    )
    .await;
    delete_an_integration(&env, &app, workspace).await;
    let attempt = wait_for("the retry to be scheduled", TIMEOUT, || async {
        let attempts = app
            .outbound_attempts(
                workspace,
                junction_app::outbound::endpoints::AttemptOwner::Endpoint(endpoint),
                PageRequest::first(10),
            )
            .await
            .unwrap()
            .items;
        attempts
            .into_iter()
            .next()
            .filter(|a| a.next_attempt_at.is_some())
    })
    .await;
    assert_eq!(attempt.attempt, 1);
    assert_eq!(attempt.status_code, None);
    assert!(!attempt.succeeded);
    assert_eq!(
        attempt.error_code.as_deref(),
        Some("webhook_endpoint_unreachable")
    );
    let message = attempt.error_message.unwrap_or_default();
    assert!(!message.contains(&port.to_string()), "no URL in {message}");
    // Svix's second attempt comes 5 seconds after the first failure.
    let next = attempt.next_attempt_at.unwrap();
    assert!(next > attempt.attempted_at);
    assert!(next - attempt.attempted_at < chrono::Duration::seconds(10));
    let delivery = &events(&app, workspace).await[0].deliveries[0];
    assert_eq!(delivery.status.as_str(), "pending");
    assert_eq!(delivery.next_attempt_at, Some(next));
    worker.stop().await;
}

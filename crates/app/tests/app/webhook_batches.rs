//! Verified webhook deliveries arriving together share a transaction (the group
//! commit of `junction_app::webhook_ingest`), and what verifies them is cached for a
//! few seconds: deliveries of two workspaces sent at once are each stored once with
//! their job, a duplicate within the batch is a duplicate like a redelivery, a
//! delivery the database refuses fails alone, an integration deleted behind the
//! cache is the 404 of an unknown one, and a secret set again applies at once (on
//! another process, at the first delivery that does not verify against the old).
//!
//! The deliveries of one `join_all` reach the writer together (their integrations'
//! secrets are cached first, so none of them waits on the database before it is
//! handed over), which is what makes them share batches; what is asserted holds
//! however they are grouped.

use std::collections::BTreeMap;

use chrono::Utc;
use futures::future::join_all;
use http::{HeaderMap, HeaderValue};
use junction_app::{App, webhooks::WebhookReceipt};
use junction_core::{ErrorCode, WorkspaceId};
use junction_stripe::sandbox::{WEBHOOK_SECRET, sign_event};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

/// A signed Stripe delivery of event `id` (a failed payment, which nothing applies
/// here: no worker runs).
fn delivery(id: &str) -> (HeaderMap, Vec<u8>) {
    let signed = sign_event(&event(id), Utc::now().timestamp());
    headers_and_body(&signed.signature, signed.body)
}

fn event(id: &str) -> serde_json::Value {
    json!({
        "id": id, "object": "event", "type": "payment_intent.payment_failed",
        "api_version": junction_stripe::API_VERSION, "created": Utc::now().timestamp(),
        "livemode": false, "pending_webhooks": 1,
        "data": {"object": {"id": format!("pi_{id}"), "object": "payment_intent", "amount": 100, "currency": "usd", "status": "requires_payment_method"}},
        "request": {"id": null, "idempotency_key": null},
    })
}

fn headers_and_body(signature: &str, body: Vec<u8>) -> (HeaderMap, Vec<u8>) {
    let mut headers = HeaderMap::new();
    headers.insert(
        "stripe-signature",
        HeaderValue::from_str(signature).unwrap(),
    );
    (headers, body)
}

/// A Stripe integration with the sandbox's webhook signing secret.
async fn stripe(env: &TestEnv, app: &App, workspace: WorkspaceId) -> Uuid {
    let id = env.create_stripe(workspace).await;
    app.configure_webhook(workspace, id, Some(WEBHOOK_SECRET.to_owned()), None)
        .await
        .unwrap();
    id
}

/// Sends every delivery at once; the outcomes in order.
async fn send_all(
    app: &App,
    deliveries: &[(Uuid, (HeaderMap, Vec<u8>))],
) -> Vec<junction_app::Result<WebhookReceipt>> {
    join_all(deliveries.iter().map(|(integration, (headers, body))| {
        app.receive_webhook("stripe", *integration, headers, body)
    }))
    .await
}

async fn stored_events(env: &TestEnv, integration: Uuid) -> i64 {
    env.count(&format!(
        "SELECT count(*) AS n FROM webhook_events WHERE integration_id = '{integration}'"
    ))
    .await
}

/// Events of the integration with exactly one staged job naming them.
async fn events_with_their_job(env: &TestEnv, integration: Uuid) -> i64 {
    env.count(&format!(
        "SELECT count(*) AS n FROM webhook_events e WHERE e.integration_id = '{integration}' \
         AND (SELECT count(*) FROM outbox o WHERE o.queue = 'webhook' \
              AND o.workspace_id = e.workspace_id \
              AND o.job->>'event_row_id' = e.id::text) = 1"
    ))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_of_two_workspaces_sent_at_once_are_each_stored_once_with_their_job() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let (acme, globex) = (env.workspace("Acme").await, env.workspace("Globex").await);
    let (a, b) = (
        stripe(&env, &app, acme).await,
        stripe(&env, &app, globex).await,
    );
    // The first delivery of each reads its secret (and caches it).
    for (integration, id) in [(a, "evt_warm_a"), (b, "evt_warm_b")] {
        let (headers, body) = delivery(id);
        let receipt = app
            .receive_webhook("stripe", integration, &headers, &body)
            .await
            .unwrap();
        assert_eq!((receipt.accepted, receipt.duplicates), (1, 0));
    }

    let mut deliveries = Vec::new();
    for n in 0..30 {
        deliveries.push((a, delivery(&format!("evt_a_{n}"))));
        deliveries.push((b, delivery(&format!("evt_b_{n}"))));
    }
    // The same event id at both integrations is two events; the same event twice at
    // one integration (a provider retrying while the first is in flight) is one,
    // and so is one stored before.
    deliveries.push((a, delivery("evt_shared")));
    deliveries.push((b, delivery("evt_shared")));
    deliveries.push((a, delivery("evt_a_7")));
    deliveries.push((b, delivery("evt_b_11")));
    deliveries.push((a, delivery("evt_warm_a")));
    let outcomes = send_all(&app, &deliveries).await;

    let mut by_event: BTreeMap<(Uuid, String), (usize, usize)> = BTreeMap::new();
    let bodies: Vec<String> = deliveries
        .iter()
        .map(|(_, (_, body))| {
            serde_json::from_slice::<serde_json::Value>(body).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for (((integration, _), id), outcome) in deliveries.iter().zip(&bodies).zip(&outcomes) {
        let receipt = outcome.as_ref().expect("every delivery is stored");
        let seen = by_event.entry((*integration, id.clone())).or_default();
        seen.0 += receipt.accepted;
        seen.1 += receipt.duplicates;
    }
    for ((integration, id), (accepted, duplicates)) in &by_event {
        let sent = bodies
            .iter()
            .zip(&deliveries)
            .filter(|(b, (i, _))| *b == id && i == integration)
            .count();
        let stored_before = usize::from(id.starts_with("evt_warm"));
        assert_eq!(
            (*accepted, *duplicates),
            (1 - stored_before, sent - 1 + stored_before),
            "{id} at {integration}"
        );
    }
    // 30 each, the shared id and the warm-up one, each stored once with its job.
    for integration in [a, b] {
        assert_eq!(stored_events(&env, integration).await, 32);
        assert_eq!(events_with_their_job(&env, integration).await, 32);
    }
    // Each workspace's transaction holds its own events only (row-level security).
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) AS n FROM webhook_events WHERE workspace_id = '{acme}' AND integration_id <> '{a}'"
        ))
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_the_database_refuses_fails_alone_and_the_others_are_stored() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let workspace = env.workspace("Acme").await;
    let stripe_id = stripe(&env, &app, workspace).await;
    let (headers, body) = delivery("evt_warm");
    app.receive_webhook("stripe", stripe_id, &headers, &body)
        .await
        .unwrap();

    // Signed, so verified; but its id is longer than the table takes.
    let too_long = "evt_".to_owned() + &"x".repeat(600);
    let mut deliveries: Vec<_> = (0..10)
        .map(|n| (stripe_id, delivery(&format!("evt_ok_{n}"))))
        .collect();
    deliveries.insert(4, (stripe_id, delivery(&too_long)));
    let outcomes = send_all(&app, &deliveries).await;

    for (n, outcome) in outcomes.iter().enumerate() {
        if n == 4 {
            let error = outcome.as_ref().unwrap_err();
            assert_eq!(error.code, ErrorCode::ValidationFailed, "{error}");
        } else {
            let receipt = outcome.as_ref().unwrap();
            assert_eq!((receipt.accepted, receipt.duplicates), (1, 0));
        }
    }
    assert_eq!(stored_events(&env, stripe_id).await, 11);
    assert_eq!(events_with_their_job(&env, stripe_id).await, 11);
}

/// A delivery of event `id` signed with `secret`.
fn signed_with(secret: &str, id: &str) -> (HeaderMap, Vec<u8>) {
    let body = serde_json::to_vec(&event(id)).unwrap();
    let signature = junction_core::webhook::stripe::sign(
        &SecretString::from(secret.to_owned()),
        &body,
        Utc::now().timestamp(),
    );
    headers_and_body(&signature, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cached_secret_follows_its_integration() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    // Another API process: its cache is its own.
    let replica = env.app(env.config(&[])).await;
    let workspace = env.workspace("Acme").await;
    let stripe_id = stripe(&env, &app, workspace).await;
    for (process, id) in [(&app, "evt_1"), (&replica, "evt_1b")] {
        let (headers, body) = delivery(id);
        process
            .receive_webhook("stripe", stripe_id, &headers, &body)
            .await
            .unwrap();
    }

    // A new signing secret applies to the next delivery on the process that set it:
    // the old one no longer verifies, the new one does.
    let rotated = "whsec_rotatedSecretForTheCache";
    app.configure_webhook(workspace, stripe_id, Some(rotated.to_owned()), None)
        .await
        .unwrap();
    let (headers, body) = delivery("evt_2");
    let refused = app
        .receive_webhook("stripe", stripe_id, &headers, &body)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::WebhookSignatureInvalid);
    for (process, id) in [(&app, "evt_2"), (&replica, "evt_2b")] {
        let (headers, body) = signed_with(rotated, id);
        // The replica still holds the old secret: the delivery that does not verify
        // against it makes it read the new one.
        let receipt = process
            .receive_webhook("stripe", stripe_id, &headers, &body)
            .await
            .unwrap();
        assert_eq!((receipt.accepted, receipt.duplicates), (1, 0));
    }
    // A forgery is still refused on the replica, with the fresh secret.
    let (headers, body) = signed_with("whsec_forged", "evt_forged");
    let forged = replica
        .receive_webhook("stripe", stripe_id, &headers, &body)
        .await
        .unwrap_err();
    assert_eq!(forged.code, ErrorCode::WebhookSignatureInvalid);

    // Deleted behind this process's back (through another replica, whose cache this
    // one does not share): the delivery verifies against the cached secret, and its
    // store finds no integration: the 404 of an unknown one, nothing stored.
    env.execute(&format!(
        "DELETE FROM integrations WHERE id = '{stripe_id}'"
    ))
    .await;
    let (headers, body) = signed_with(rotated, "evt_3");
    let gone = app
        .receive_webhook("stripe", stripe_id, &headers, &body)
        .await
        .unwrap_err();
    assert_eq!(gone.code, ErrorCode::IntegrationNotFound, "{gone}");
    assert_eq!(stored_events(&env, stripe_id).await, 0);
}

//! Payment emails end to end, with a real Postgres and Redis, an in-process worker
//! and the sandbox's Stripe and Resend fakes: a Stripe integration whose
//! `payment_emails` setting asks for them turns a signed `payment_intent.succeeded`
//! (then `charge.refunded`) into one email to the paying customer and one copy to the
//! configured address, sent through the workspace's Resend integration; a redelivered
//! or replayed event mails nobody twice; without the setting nobody is mailed; a
//! customer on the suppression list is not mailed.

use std::time::Duration;

use chrono::Utc;
use http::{HeaderMap, HeaderValue};
use junction_app::{App, integrations::IntegrationChanges};
use junction_core::WorkspaceId;
use junction_store::{
    models::{Notification, NotificationKind, NotificationStatus, WebhookStatus},
    repo,
};
use junction_stripe::sandbox::{SECRET_KEY, WEBHOOK_SECRET, sign_event};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{resend::ResendWorld, support::*};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A confirmed payment of `amount` cents made in the sandbox's Stripe fake.
async fn pay(env: &TestEnv, amount: i64, receipt_email: &str) -> Value {
    env.http
        .post(env.sandbox.url.join("stripe/v1/payment_intents").unwrap())
        .bearer_auth(SECRET_KEY)
        .header("stripe-version", junction_stripe::API_VERSION)
        .form(&[
            ("amount", amount.to_string()),
            ("currency", "usd".into()),
            ("customer", "cus_sandbox0006".into()),
            ("payment_method", "pm_card_visa".into()),
            ("confirm", "true".into()),
            ("receipt_email", receipt_email.into()),
            ("description", "Order 6735".into()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A refund of `charge` in the sandbox's Stripe fake; the charge as it is then.
async fn refund(env: &TestEnv, charge: &str, amount: i64) -> Value {
    let response = env
        .http
        .post(env.sandbox.url.join("stripe/v1/refunds").unwrap())
        .bearer_auth(SECRET_KEY)
        .header("stripe-version", junction_stripe::API_VERSION)
        .form(&[
            ("charge", charge.to_owned()),
            ("amount", amount.to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    env.http
        .get(
            env.sandbox
                .url
                .join(&format!("stripe/v1/charges/{charge}"))
                .unwrap(),
        )
        .bearer_auth(SECRET_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A Stripe event about `object`, as a signed delivery's headers and body.
fn delivery(id: &str, event_type: &str, object: &Value) -> (HeaderMap, Vec<u8>) {
    let event = json!({
        "id": id, "object": "event", "type": event_type, "api_version": junction_stripe::API_VERSION,
        "created": Utc::now().timestamp(), "livemode": false, "pending_webhooks": 1,
        "data": {"object": object}, "request": {"id": null, "idempotency_key": null},
    });
    let signed = sign_event(&event, Utc::now().timestamp());
    let mut headers = HeaderMap::new();
    headers.insert(
        "stripe-signature",
        HeaderValue::from_str(&signed.signature).unwrap(),
    );
    (headers, signed.body)
}

/// A Stripe integration on the sandbox key with its webhook secret and `config`.
async fn stripe(env: &TestEnv, app: &App, workspace: WorkspaceId, config: Value) -> Uuid {
    let id = env.create_stripe(workspace).await;
    app.configure_webhook(workspace, id, Some(WEBHOOK_SECRET.to_owned()), None)
        .await
        .unwrap();
    app.update_integration(
        workspace,
        id,
        IntegrationChanges {
            config: config.as_object().cloned(),
            ..IntegrationChanges::default()
        },
    )
    .await
    .unwrap();
    id
}

async fn payment_emails(env: &TestEnv, workspace: WorkspaceId) -> Vec<Notification> {
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    let list = repo::notifications::list(tx.conn(), None, None, 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    list.into_iter()
        .filter(|n| n.kind == NotificationKind::PaymentEmail)
        .collect()
}

async fn emails_to(env: &TestEnv, address: &str) -> Vec<Value> {
    env.resend_emails()
        .await
        .into_iter()
        .filter(|email| {
            email["to"]
                .as_array()
                .is_some_and(|to| to.iter().any(|t| t == address))
        })
        .collect()
}

/// Waits until every stored event of the workspace is processed.
async fn processed(env: &TestEnv, workspace: WorkspaceId, count: usize) {
    wait_for(&format!("{count} processed events"), TIMEOUT, || async {
        let mut tx = env.db.store().begin(workspace).await.unwrap();
        let rows = repo::webhook_events::list(tx.conn(), &Default::default(), None, 100)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let done = rows
            .iter()
            .filter(|r| r.status == WebhookStatus::Processed)
            .count();
        (done == count).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_reach_the_customer_and_the_copy_address_once_per_event() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let workspace = env.workspace("Acme Shop").await;
    env.create_resend(workspace).await;
    let integration = stripe(
        &env,
        &app,
        workspace,
        json!({"payment_emails": "customer_and_address", "payment_emails_to": "billing@acme-shop.example"}),
    )
    .await;
    let worker = env.start_worker(env.config(&[])).await;

    let buyer = "buyer.payment-emails@shop.example";
    let intent = pay(&env, 2_599, buyer).await;
    assert_eq!(intent["status"], "succeeded", "{intent}");
    let (headers, body) = delivery("evt_pay_1", "payment_intent.succeeded", &intent);
    let receipt = app
        .receive_webhook("stripe", integration, &headers, &body)
        .await
        .unwrap();
    assert_eq!(receipt.accepted, 1);

    let sent = wait_for("two payment emails sent", TIMEOUT, || async {
        let emails = payment_emails(&env, workspace).await;
        let sent = emails
            .iter()
            .filter(|n| n.status == NotificationStatus::Sent)
            .count();
        (sent == 2).then_some(emails)
    })
    .await;
    let to_customer = sent.iter().find(|n| n.recipients == [buyer]).unwrap();
    assert_eq!(
        to_customer.subject,
        "Payment received: 25.99 USD — Acme Shop"
    );
    assert_eq!(to_customer.integration_id, Some(integration));
    assert!(to_customer.dedupe_key.ends_with(":evt_pay_1:customer"));
    let copy = sent
        .iter()
        .find(|n| n.recipients == ["billing@acme-shop.example"])
        .unwrap();
    assert!(
        copy.subject
            .starts_with("[Acme Shop] Payment succeeded: 25.99 USD"),
        "{}",
        copy.subject
    );
    let mailed = emails_to(&env, buyer).await;
    assert_eq!(mailed.len(), 1, "{mailed:#?}");
    assert_eq!(
        mailed[0]["subject"],
        "Payment received: 25.99 USD — Acme Shop"
    );

    // The same delivery again is a duplicate; a replay of the stored event applies it
    // again but mails nobody twice.
    let receipt = app
        .receive_webhook("stripe", integration, &headers, &body)
        .await
        .unwrap();
    assert_eq!((receipt.accepted, receipt.duplicates), (0, 1));
    let mut tx = env.db.store().begin(workspace).await.unwrap();
    let stored = repo::webhook_events::list(tx.conn(), &Default::default(), None, 10)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    app.replay_webhook_event(workspace, stored[0].id)
        .await
        .unwrap();
    processed(&env, workspace, 1).await;

    // A refund of part of it: one more email each.
    let charge_id = intent["latest_charge"].as_str().unwrap();
    let charge = refund(&env, charge_id, 1_000).await;
    let (headers, body) = delivery("evt_refund_1", "charge.refunded", &charge);
    app.receive_webhook("stripe", integration, &headers, &body)
        .await
        .unwrap();
    processed(&env, workspace, 2).await;
    let all = wait_for("four payment emails sent", TIMEOUT, || async {
        let emails = payment_emails(&env, workspace).await;
        let sent = emails
            .iter()
            .filter(|n| n.status == NotificationStatus::Sent)
            .count();
        (sent == 4).then_some(emails)
    })
    .await;
    assert_eq!(all.len(), 4);
    assert!(
        all.iter()
            .any(|n| n.subject == "Refund of 10.00 USD — Acme Shop")
    );
    let mailed = emails_to(&env, buyer).await;
    assert_eq!(mailed.len(), 2, "{mailed:#?}");
    assert_eq!(emails_to(&env, "billing@acme-shop.example").await.len(), 2);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_setting_payments_mail_nobody() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let workspace = env.workspace("Quiet Shop").await;
    env.create_resend(workspace).await;
    let integration = stripe(&env, &app, workspace, json!({})).await;
    let worker = env.start_worker(env.config(&[])).await;
    let buyer = "buyer.quiet@shop.example";
    let intent = pay(&env, 1_000, buyer).await;
    let (headers, body) = delivery("evt_quiet_1", "payment_intent.succeeded", &intent);
    app.receive_webhook("stripe", integration, &headers, &body)
        .await
        .unwrap();
    processed(&env, workspace, 1).await;
    assert!(payment_emails(&env, workspace).await.is_empty());
    assert!(emails_to(&env, buyer).await.is_empty());
    worker.stop().await;
}

/// A customer on the workspace's suppression list (a bounce, a complaint, or added
/// by hand) gets no payment email; the team's copy still goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suppressed_customer_gets_no_payment_email() {
    let env = TestEnv::new().await;
    let app = env.app(env.config(&[])).await;
    let workspace = env.workspace("Careful Shop").await;
    env.create_resend(workspace).await;
    let integration = stripe(
        &env,
        &app,
        workspace,
        json!({"payment_emails": "customer_and_address", "payment_emails_to": "billing@careful-shop.example"}),
    )
    .await;
    let buyer = "buyer.bounced@shop.example";
    app.add_email_suppression(workspace, Some(&buyer.to_uppercase()), Some("bounce"))
        .await
        .unwrap();
    let worker = env.start_worker(env.config(&[])).await;
    let intent = pay(&env, 4_200, buyer).await;
    let (headers, body) = delivery("evt_pay_bounced", "payment_intent.succeeded", &intent);
    app.receive_webhook("stripe", integration, &headers, &body)
        .await
        .unwrap();

    let emails = wait_for("both payment emails settled", TIMEOUT, || async {
        let emails = payment_emails(&env, workspace).await;
        let settled = emails
            .iter()
            .filter(|n| {
                matches!(
                    n.status,
                    NotificationStatus::Sent | NotificationStatus::Suppressed
                )
            })
            .count();
        (settled == 2).then_some(emails)
    })
    .await;
    let to_customer = emails.iter().find(|n| n.recipients == [buyer]).unwrap();
    assert_eq!(to_customer.status, NotificationStatus::Suppressed);
    let copy = emails
        .iter()
        .find(|n| n.recipients == ["billing@careful-shop.example"])
        .unwrap();
    assert_eq!(copy.status, NotificationStatus::Sent);
    assert!(emails_to(&env, buyer).await.is_empty());
    assert_eq!(
        emails_to(&env, "billing@careful-shop.example").await.len(),
        1
    );
    worker.stop().await;
}

//! The adapter against the crate's fake: Junction's notification email goes out
//! through SendGrid (the email port), the fake's signed webhooks verify and suppress,
//! the import job runs its lifecycle, and a send-only key is reported as such.

use std::sync::Arc;

use junction_conformance::{FakeServer, TokenTable};
use junction_core::webhook::WebhookRequest;
use junction_core::{Adapter, OutgoingEmail};
use junction_sendgrid::{
    SEND_MAIL, Sendgrid, UPSERT_CONTACTS,
    sandbox::{
        BOUNCE_ADDRESS, REJECTED_DOMAIN, SANDBOX_API_KEY, SANDBOX_SEND_ONLY_KEY,
        SANDBOX_WEBHOOK_PUBLIC_KEY, SendgridFake,
    },
};
use secrecy::SecretString;
use serde_json::json;

use crate::support::connection;

async fn server() -> (Arc<SendgridFake>, FakeServer) {
    let fake = Arc::new(SendgridFake::default());
    let server = FakeServer::start(fake.clone(), TokenTable::default()).await;
    (fake, server)
}

#[tokio::test]
async fn a_notification_goes_out_through_sendgrid_and_its_events_come_back_signed() {
    let (fake, server) = server().await;
    let ctx = server.context();
    let conn = connection(SANDBOX_API_KEY);
    let sender = Sendgrid.email_sender().expect("SendGrid sends email");
    let email = OutgoingEmail {
        to: vec!["ops@acme.example".into(), BOUNCE_ADDRESS.into()],
        subject: "Sessions below 100".into(),
        html: "<p>Sessions fell to 80.</p>".into(),
        text: "Sessions fell to 80.".into(),
        category: "kpi_alert".into(),
    };
    let sent = sender
        .send_email(&ctx, &conn, &email, "notification-42")
        .await
        .unwrap();
    let message_id = sent.external_id.clone().unwrap();
    let messages = fake.sent_messages();
    assert_eq!(messages.len(), 1);
    let mail = &messages[0];
    assert_eq!(
        mail["from"],
        json!({"email": "alerts@junction-demo.dev", "name": "Junction"})
    );
    assert_eq!(mail["categories"], json!(["kpi_alert"]));
    assert_eq!(
        mail["custom_args"]["junction_idempotency_key"],
        "notification-42"
    );
    // One personalization per recipient: they do not see each other.
    assert_eq!(mail["personalizations"].as_array().unwrap().len(), 2);

    let delivery = fake.take_webhooks(ctx.now()).expect("events were queued");
    let headers = delivery.header_map();
    let request = WebhookRequest {
        headers: &headers,
        body: &delivery.body,
    };
    let key = SecretString::from(SANDBOX_WEBHOOK_PUBLIC_KEY);
    let events = Sendgrid.verify_webhook(&ctx, &key, &request).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, ["processed", "delivered", "processed", "bounce"]);
    let mut suppressed = Vec::new();
    for event in &events {
        let effects = Sendgrid.apply_webhook(&ctx, &conn, event).await.unwrap();
        assert!(
            effects.records[0]
                .record
                .external_id
                .starts_with(&message_id)
        );
        suppressed.extend(effects.suppressions.into_iter().map(|s| s.address));
    }
    assert_eq!(suppressed, [BOUNCE_ADDRESS]);
    // A tampered copy is refused before anything is parsed.
    let mut forged = delivery.body.clone();
    forged[5] ^= 1;
    assert!(
        Sendgrid
            .verify_webhook(
                &ctx,
                &key,
                &WebhookRequest {
                    headers: &headers,
                    body: &forged
                }
            )
            .is_err()
    );
    assert!(fake.take_webhooks(ctx.now()).is_none());
}

#[tokio::test]
async fn the_fake_refuses_what_sendgrid_refuses() {
    let (_, server) = server().await;
    let ctx = server.context();
    let conn = crate::support::with(
        json!({"from": "someone@unverified.example"}),
        SANDBOX_API_KEY,
    );
    let error = Sendgrid
        .act(
            &ctx,
            &conn,
            SEND_MAIL,
            &json!({"to": "x@y.example", "subject": "S", "text": "t"}),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, junction_core::AdapterError::Invalid { field: Some(f), .. } if f == "from"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_import_through_the_fake_reports_the_rejected_contact() {
    let (_, server) = server().await;
    let bad = format!("someone@{REJECTED_DOMAIN}");
    let outcome = Sendgrid
        .act(
            &server.context(),
            &connection(SANDBOX_API_KEY),
            UPSERT_CONTACTS,
            &json!({"contacts": [{"email": "new@acme.example"}, {"email": bad}]}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome.output["status"], "errored");
    assert_eq!(outcome.output["created_count"], 1);
    assert_eq!(
        outcome.output["errors"],
        json!([{"email": bad, "error": "email is invalid"}])
    );
}

#[tokio::test]
async fn a_send_only_key_sends_and_is_reported_short_of_scopes() {
    let (_, server) = server().await;
    let ctx = server.context();
    let conn = connection(SANDBOX_SEND_ONLY_KEY);
    let health = Sendgrid.check(&ctx, &conn).await.unwrap();
    assert_eq!(health.details["features"]["send_mail"]["available"], true);
    assert_eq!(
        health.details["features"]["global_stats"]["available"],
        false
    );
    let refused = Sendgrid
        .read(
            &ctx,
            &conn,
            &junction_core::ReadRequest {
                stream: "global_stats".into(),
                cursor: None,
                page_size: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            junction_core::AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{refused:?}"
    );
}

//! The authenticated proxy's target (Resend's API root, or the context's override,
//! with the API key as `Authorization: Bearer`) and the `EmailSender` port (Junction's
//! own emails through `send_email` with the notification's idempotency key), against
//! wiremock and (with the `sandbox` feature) the crate's fake.

use junction_core::{Adapter, AdapterError, Context, OutgoingEmail, ProxyTarget};
use junction_resend::Resend;
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path},
};

use crate::support::*;

/// The target's headers, by name, with their values.
fn headers(target: &ProxyTarget) -> Vec<(String, String)> {
    target
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.expose_secret().to_owned()))
        .collect()
}

fn alert(to: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: vec![to.to_owned()],
        subject: "Sessions dropped below 100".into(),
        html: "<p>Sessions dropped below 100</p>".into(),
        text: "Sessions dropped below 100".into(),
        category: "kpi_alert".into(),
    }
}

#[tokio::test]
async fn the_target_is_the_api_root_with_the_api_key() {
    let ctx = Context::new(reqwest::Client::new());
    let target = Resend
        .proxy_target(&ctx, &connection(json!({})))
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "https://api.resend.com/");
    assert_eq!(
        headers(&target),
        [("authorization".to_owned(), format!("Bearer {API_KEY}"))]
    );
    assert!(!format!("{target:?}").contains(API_KEY));
}

#[tokio::test]
async fn the_base_url_override_is_the_target() {
    let target = Resend
        .proxy_target(
            &context_with_base("http://127.0.0.1:9/resend"),
            &connection(json!({})),
        )
        .await
        .unwrap();
    assert_eq!(target.base_url.as_str(), "http://127.0.0.1:9/resend/");
}

#[tokio::test]
async fn a_connection_without_a_key_names_the_field() {
    let mut conn = connection(json!({}));
    conn.secrets.clear();
    let err = Resend
        .proxy_target(&Context::new(reqwest::Client::new()), &conn)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "api_key"),
        "{err:?}"
    );
}

#[tokio::test]
async fn resend_is_an_email_sender_posting_send_email_with_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resend/emails"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .and(header("idempotency-key", "kpi-alert/42"))
        .and(body_json(json!({
            "from": "Acme Alerts <alerts@acme.example>",
            "to": ["ops@acme.example"],
            "subject": "Sessions dropped below 100",
            "html": "<p>Sessions dropped below 100</p>",
            "text": "Sessions dropped below 100",
            "tags": [{"name": "category", "value": "kpi_alert"}]
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let sender = Resend.email_sender().expect("Resend sends email");
    let outcome = sender
        .send_email(
            &context(&server),
            &connection(json!({"from": "Acme Alerts <alerts@acme.example>"})),
            &alert("ops@acme.example"),
            "kpi-alert/42",
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.external_id.as_deref(),
        Some("49a3999c-0ce1-4ea6-ab68-afcd6dc2e794")
    );
}

#[cfg(feature = "sandbox")]
mod fake {
    use std::sync::Arc;

    use junction_conformance::{FakeServer, TokenTable};
    use junction_resend::sandbox::{ResendFake, SANDBOX_API_KEY, SANDBOX_SENDER};

    use super::*;

    /// A request through the target reaches the fake; without the target's headers
    /// the fake refuses it with Resend's 401 `missing_api_key`.
    #[tokio::test]
    async fn a_request_through_the_target_reaches_the_fake() {
        let server =
            FakeServer::start(Arc::new(ResendFake::default()), TokenTable::default()).await;
        let target = Resend
            .proxy_target(
                &server.context(),
                &connection_with_key(SANDBOX_API_KEY, json!({})),
            )
            .await
            .unwrap();
        assert_eq!(target.base_url, server.base_url());

        let url = format!("{}domains", target.base_url);
        // Resend's edge refuses requests without a User-Agent, so the client sends one.
        let http = reqwest::Client::builder()
            .user_agent("junction-proxy-test")
            .build()
            .unwrap();
        let authorized = headers(&target)
            .into_iter()
            .fold(http.get(&url), |request, (name, value)| {
                request.header(name, value)
            });
        let response = authorized.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let list: serde_json::Value = response.json().await.unwrap();
        assert_eq!(list["object"], "list", "{list}");

        let anonymous = http.get(&url).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
    }

    /// The port sends through the fake once per idempotency key and returns the id
    /// the fake gave the email.
    #[tokio::test]
    async fn an_email_sent_through_the_port_reaches_the_fake_once_per_key() {
        let fake = Arc::new(ResendFake::default());
        let server = FakeServer::start(fake.clone(), TokenTable::default()).await;
        let ctx = server.context();
        let conn = connection_with_key(SANDBOX_API_KEY, json!({"from": SANDBOX_SENDER}));
        let sender = Resend.email_sender().expect("Resend sends email");
        let email = alert("maria@customer.example");

        let first = sender
            .send_email(&ctx, &conn, &email, "kpi-alert/7")
            .await
            .unwrap();
        let again = sender
            .send_email(&ctx, &conn, &email, "kpi-alert/7")
            .await
            .unwrap();
        assert_eq!(first, again);
        let sent = fake.sent_emails();
        assert_eq!(sent.len(), 1, "one email per key");
        assert_eq!(first.external_id.as_deref(), sent[0]["id"].as_str());
        assert_eq!(first.output, json!({"id": sent[0]["id"]}));
        assert_eq!(sent[0]["to"], json!(["maria@customer.example"]));
        assert_eq!(sent[0]["subject"], json!(email.subject));

        let posts: Vec<_> = server
            .requests()
            .await
            .into_iter()
            .filter(|r| r.method == http::Method::POST && r.url.path() == "/resend/emails")
            .collect();
        assert_eq!(posts.len(), 2);
        for post in &posts {
            assert_eq!(post.headers.get("idempotency-key").unwrap(), "kpi-alert/7");
            let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
            assert_eq!(
                body["tags"],
                json!([{"name": "category", "value": "kpi_alert"}])
            );
        }
    }
}

//! The requests the adapter sends, checked against Resend's documented shapes:
//! method, path, auth and User-Agent headers, `Idempotency-Key`, JSON bodies and
//! query parameters; and how the documented responses are read.

use chrono::NaiveDate;
use junction_core::{Adapter, AdapterError, KpiPoint, ReadRequest};
use junction_resend::Resend;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, header_exists, method, path, query_param},
};

use crate::support::*;

fn default_sender() -> Value {
    json!({"from": "Acme Alerts <alerts@acme.example>"})
}

#[tokio::test]
async fn send_email_posts_the_documented_body_with_the_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resend/emails"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .and(header_exists("user-agent"))
        .and(header("content-type", "application/json"))
        .and(header("idempotency-key", "kpi-alert/42"))
        .and(body_json(json!({
            "from": "Acme Alerts <alerts@acme.example>",
            "to": ["ops@acme.example"],
            "subject": "Sessions dropped",
            "html": "<p>Sessions dropped</p>",
            "text": "Sessions dropped",
            "reply_to": "support@acme.example",
            "tags": [{"name": "category", "value": "kpi_alert"}]
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let outcome = Resend
        .act(
            &context(&server),
            &connection(default_sender()),
            "send_email",
            &json!({
                "to": ["ops@acme.example"],
                "subject": "Sessions dropped",
                "html": "<p>Sessions dropped</p>",
                "text": "Sessions dropped",
                "reply_to": "support@acme.example",
                "tags": [{"name": "category", "value": "kpi_alert"}]
            }),
            Some("kpi-alert/42"),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.external_id.as_deref(),
        Some("49a3999c-0ce1-4ea6-ab68-afcd6dc2e794")
    );
    assert_eq!(
        outcome.output,
        json!({"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"})
    );
}

#[tokio::test]
async fn without_a_key_no_idempotency_header_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resend/emails"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "e1"})))
        .expect(1)
        .mount(&server)
        .await;
    Resend
        .act(
            &context(&server),
            &connection(json!({})),
            "send_email",
            &json!({"from": "a@acme.example", "to": "b@acme.example", "subject": "S", "text": "t"}),
            None,
        )
        .await
        .unwrap();
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("idempotency-key").is_none());
    let user_agent = received[0]
        .headers
        .get("user-agent")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(user_agent.starts_with("junction-resend/"), "{user_agent}");
}

#[tokio::test]
async fn send_batch_posts_an_array_and_returns_every_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resend/emails/batch"))
        .and(header("idempotency-key", "weekly-report/2026-11"))
        .and(body_json(json!([
            {"from": "Acme Alerts <alerts@acme.example>", "to": "a@acme.example", "subject": "A", "text": "a"},
            {"from": "billing@acme.example", "to": ["b@acme.example", "c@acme.example"], "subject": "B", "html": "<b>b</b>"}
        ])))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "ae2014de-c168-4c61-8267-70d2662a1ce1"},
                {"id": "faccb7a5-8a28-4e9a-ac64-8da1cc3bc1cb"}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = Resend
        .act(
            &context(&server),
            &connection(default_sender()),
            "send_batch",
            &json!({"emails": [
                {"to": "a@acme.example", "subject": "A", "text": "a"},
                {"from": "billing@acme.example", "to": ["b@acme.example", "c@acme.example"], "subject": "B", "html": "<b>b</b>"}
            ]}),
            Some("weekly-report/2026-11"),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.output,
        json!({"ids": ["ae2014de-c168-4c61-8267-70d2662a1ce1", "faccb7a5-8a28-4e9a-ac64-8da1cc3bc1cb"]})
    );
}

#[tokio::test]
async fn a_batch_answer_missing_ids_is_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/resend/emails/batch"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"id": "only-one"}]})),
        )
        .mount(&server)
        .await;
    let err = Resend
        .act(
            &context(&server),
            &connection(default_sender()),
            "send_batch",
            &json!({"emails": [
                {"to": "a@acme.example", "subject": "A", "text": "a"},
                {"to": "b@acme.example", "subject": "B", "text": "b"}
            ]}),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_input_never_reaches_resend() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "x"})))
        .expect(0)
        .mount(&server)
        .await;
    let ctx = context(&server);
    let cases = [
        (
            "send_email",
            json!({"to": "a@acme.example", "subject": "S", "text": "t"}),
            "from",
            None,
        ),
        (
            "send_email",
            json!({"from": "a@acme.example", "to": "a@acme.example", "subject": "S", "text": "t", "bcc": "x"}),
            "bcc",
            None,
        ),
        (
            "send_email",
            json!({"from": "a@acme.example", "to": "b@acme.example", "subject": "S", "text": "t"}),
            "idempotency_key",
            Some("k".repeat(257)),
        ),
        ("send_batch", json!({"emails": []}), "emails", None),
        (
            "send_batch",
            json!({"emails": [{"from": "a@acme.example", "to": "b@acme.example", "subject": "S"}]}),
            "emails[0].html",
            None,
        ),
        (
            "send_batch",
            json!({"emails": (0..101).map(|_| json!({"from": "a@acme.example", "to": "b@acme.example", "subject": "S", "text": "t"})).collect::<Vec<_>>()}),
            "emails",
            None,
        ),
        (
            "get_email",
            json!({"email_id": "../domains"}),
            "email_id",
            None,
        ),
        ("post_tweet", json!({}), "action", None),
    ];
    for (action, input, field, key) in cases {
        let err = Resend
            .act(&ctx, &connection(json!({})), action, &input, key.as_deref())
            .await
            .unwrap_err();
        match err {
            AdapterError::Invalid { field: Some(f), .. } => {
                assert_eq!(f, field, "{action} {input}")
            }
            other => panic!("{action}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn get_email_reads_the_delivery_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/emails/4ef9a417-02e9-4d39-ad75-9611e0fcc33c"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "email",
            "id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c",
            "to": ["delivered@resend.dev"],
            "from": "Acme <onboarding@resend.dev>",
            "created_at": "2023-04-03 22:13:42.674981+00",
            "subject": "Hello World",
            "html": "Congrats on sending your <strong>first email</strong>!",
            "text": null,
            "bcc": [], "cc": [], "reply_to": [],
            "last_event": "delivered"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = Resend
        .act(
            &context(&server),
            &connection(json!({})),
            "get_email",
            &json!({"email_id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome.output["last_event"], "delivered");
    assert!(outcome.output.get("html").is_none());
}

#[tokio::test]
async fn check_lists_domains_and_names_the_verified_ones() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/domains"))
        .and(query_param("limit", "20"))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(list(
            false,
            vec![
                domain_item("d1", "acme.example", "verified"),
                domain_item("d2", "news.acme.example", "verified"),
                domain_item("d3", "staging.acme.example", "pending"),
            ],
        )))
        .expect(1)
        .mount(&server)
        .await;
    let health = Resend
        .check(&context(&server), &connection(json!({})))
        .await
        .unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("Resend (acme.example and 1 more)")
    );
    assert_eq!(health.details["verified_domains"], 2);
    assert_eq!(health.details["domains"][2]["status"], "pending");
}

#[tokio::test]
async fn email_metrics_asks_for_daily_periods_and_maps_kpis() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/emails/metrics"))
        .and(query_param("start_date", "2026-03-09"))
        .and(query_param("end_date", "2026-03-15T12:00:00Z"))
        .and(query_param("granularity", "daily"))
        .and(query_param("dimensions", "period"))
        .and(query_param("timezone", "UTC"))
        .and(query_param("metrics", "sent,delivered,bounced,complained,opened,clicked"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "metrics",
            "start_date": "2026-03-09T00:00:00.000Z",
            "end_date": "2026-03-15T12:00:00.000Z",
            "metrics": ["sent", "delivered", "bounced", "complained", "opened", "clicked"],
            "dimensions": ["period"],
            "granularity": "daily",
            "totals": {"sent": 12, "delivered": 11, "bounced": 1, "complained": 0, "opened": 5, "clicked": 2},
            "data": [
                {"period": "2026-03-09T00:00:00.000Z", "sent": 12, "delivered": 11, "bounced": 1, "complained": 0, "opened": 5, "clicked": 2}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = Resend
        .read(
            &context(&server),
            &connection(json!({"lookback_days": 7})),
            &ReadRequest {
                stream: "email_metrics".into(),
                cursor: None,
                page_size: None,
            },
        )
        .await
        .unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
    assert_eq!(page.records.len(), 1);
    assert_eq!(page.records[0].external_id, "2026-03-09");
    assert_eq!(
        page.kpis,
        vec![
            KpiPoint::total("emails_sent", day, 12.0),
            KpiPoint::total("emails_delivered", day, 11.0),
            KpiPoint::total("emails_bounced", day, 1.0),
            KpiPoint::total("emails_complained", day, 0.0),
            KpiPoint::total("emails_opened", day, 5.0),
            KpiPoint::total("emails_clicked", day, 2.0),
        ]
    );
    assert!(!page.has_more);
    // The next sync re-reads the last seven days (bounced into their send day).
    assert_eq!(page.next_cursor, Some(json!({"start": "2026-03-09"})));
}

#[tokio::test]
async fn email_metrics_resumes_from_its_cursor() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/resend/emails/metrics"))
        .and(query_param("start_date", "2026-03-01"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "metrics", "metrics": [], "dimensions": ["period"], "granularity": "daily",
            "totals": {}, "data": []
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = Resend
        .read(
            &context(&server),
            &connection(json!({})),
            &ReadRequest {
                stream: "email_metrics".into(),
                cursor: Some(json!({"start": "2026-03-01"})),
                page_size: None,
            },
        )
        .await
        .unwrap();
    assert!(page.kpis.is_empty());
    assert_eq!(page.next_cursor, Some(json!({"start": "2026-03-08"})));
}

#[tokio::test]
async fn unknown_streams_and_missing_keys_are_invalid() {
    let server = MockServer::start().await;
    let err = Resend
        .read(
            &context(&server),
            &connection(json!({})),
            &ReadRequest {
                stream: "contacts".into(),
                cursor: None,
                page_size: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "stream"));
    let mut keyless = connection(json!({}));
    keyless.secrets.clear();
    let err = Resend.check(&context(&server), &keyless).await.unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "api_key"));
    assert!(server.received_requests().await.unwrap().is_empty());
}

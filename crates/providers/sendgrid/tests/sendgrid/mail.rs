//! The actions against wiremock: `send_mail`'s request body and each documented
//! refusal (400 naming the field, 403 sender identity, 401, 413, 429 with its
//! reset), a lost answer not retried, and the contact import job polled to its end
//! with each contact's error.

use std::time::Duration;

use junction_core::{Adapter, AdapterError};
use junction_sendgrid::{ADD_TO_LIST, SEND_MAIL, Sendgrid, UPSERT_CONTACTS};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, method, path},
};

use crate::support::{any, context};

async fn send(
    server: &MockServer,
    input: Value,
) -> Result<junction_core::ActionOutcome, AdapterError> {
    Sendgrid
        .act(&context(server), &any(), SEND_MAIL, &input, Some("run-1"))
        .await
}

fn sendgrid_error(status: u16, message: &str, field: Value) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({"errors": [{"message": message, "field": field, "help": null}]}))
}

#[tokio::test]
async fn a_templated_send_to_personalizations_is_sendgrids_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/sendgrid/v3/mail/send"))
        .and(body_json(json!({
            "personalizations": [
                {"to": [{"email": "ada@x.example", "name": "Ada"}], "dynamic_template_data": {"name": "Ada"}, "send_at": 1_774_962_000},
                {"to": [{"email": "bob@x.example"}], "cc": [{"email": "cc@x.example"}], "dynamic_template_data": {"plan": "pro"}}
            ],
            "from": {"email": "alerts@junction-demo.dev", "name": "Junction"},
            "template_id": "d-0123456789abcdef0123456789abcdef",
            "categories": ["welcome", "onboarding"],
            "custom_args": {"campaign": "spring", "junction_idempotency_key": "run-1"}
        })))
        .respond_with(ResponseTemplate::new(202).insert_header("x-message-id", "W8T0xMQ2RAmKtD7Z0iCwqA"))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = send(
        &server,
        json!({
            "personalizations": [
                {"to": ["Ada <ada@x.example>"], "dynamic_template_data": {"name": "Ada"}, "send_at": 1_774_962_000},
                {"to": ["bob@x.example"], "cc": ["cc@x.example"]}
            ],
            "template_id": "d-0123456789abcdef0123456789abcdef",
            "dynamic_template_data": {"plan": "pro"},
            "categories": ["welcome", "onboarding"],
            "custom_args": {"campaign": "spring"}
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome.external_id.as_deref(),
        Some("W8T0xMQ2RAmKtD7Z0iCwqA")
    );
    assert_eq!(outcome.output["status"], "accepted");
}

#[tokio::test]
async fn inputs_are_checked_before_anything_is_sent() {
    let server = MockServer::start().await;
    let field = |result: Result<_, AdapterError>| match result {
        Err(AdapterError::Invalid { field: Some(f), .. }) => f,
        other => panic!("{other:?}"),
    };
    for (input, expected) in [
        (json!({"to": "x@y.example", "text": "t"}), "subject"),
        (json!({"to": "x@y.example", "subject": "S"}), "text"),
        (json!({"to": "nobody", "subject": "S", "text": "t"}), "to"),
        (
            json!({"to": ["a@y.example", "b@c"], "subject": "S", "text": "t"}),
            "to[1]",
        ),
        (
            json!({"to": "x@y.example", "subject": "S\r\nBcc: z@y.example", "text": "t"}),
            "subject",
        ),
        (
            json!({"to": "x@y.example", "subject": "S", "text": "t", "send_at": 1_900_000_000}),
            "send_at",
        ),
        (
            json!({"to": "x@y.example", "subject": "S", "text": "t", "categories": ["a","b","c","d","e","f","g","h","i","j","k"]}),
            "categories",
        ),
        (
            json!({"personalizations": [{"to": ["x@y.example"]}], "text": "t"}),
            "personalizations[0].subject",
        ),
        (
            json!({"to": "x@y.example", "subject": "S", "text": "t", "from": "me"}),
            "from",
        ),
        (
            json!({"to": "x@y.example", "subject": "S", "text": "t", "template_id": "abc"}),
            "template_id",
        ),
    ] {
        assert_eq!(
            field(send(&server, input.clone()).await),
            expected,
            "{input}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn each_documented_refusal_is_classified() {
    let server = MockServer::start().await;
    let input = json!({"to": "x@y.example", "subject": "S", "text": "t"});
    let cases = [
        (
            sendgrid_error(
                400,
                "The to array is required for all personalization objects.",
                json!("personalizations.0.to"),
            ),
            AdapterError::invalid_field(
                "personalizations.0.to",
                "The to array is required for all personalization objects.",
            ),
        ),
        (
            sendgrid_error(
                403,
                "The from address does not match a verified Sender Identity.",
                json!("from"),
            ),
            AdapterError::invalid_field(
                "from",
                "The from address does not match a verified Sender Identity.",
            ),
        ),
        (
            sendgrid_error(
                401,
                "The provided authorization grant is invalid, expired, or revoked",
                Value::Null,
            ),
            AdapterError::Unauthorized {
                refreshable: false,
                message: "The provided authorization grant is invalid, expired, or revoked".into(),
            },
        ),
        (
            sendgrid_error(413, "Payload Too Large", Value::Null),
            AdapterError::Invalid {
                field: None,
                message: "Payload Too Large".into(),
            },
        ),
    ];
    for (response, expected) in cases {
        server.reset().await;
        Mock::given(path("/sendgrid/v3/mail/send"))
            .respond_with(response)
            .mount(&server)
            .await;
        assert_eq!(send(&server, input.clone()).await.unwrap_err(), expected);
    }
    server.reset().await;
    // 2026-03-31T12:00:45Z: 45 s after the pinned clock.
    Mock::given(path("/sendgrid/v3/mail/send"))
        .respond_with(
            sendgrid_error(429, "too many requests", Value::Null)
                .insert_header("x-ratelimit-limit", "600")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1774958445"),
        )
        .mount(&server)
        .await;
    assert_eq!(
        send(&server, input.clone()).await.unwrap_err(),
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(45))
        }
    );
    server.reset().await;
    Mock::given(path("/sendgrid/v3/mail/send"))
        .respond_with(sendgrid_error(503, "service unavailable", Value::Null))
        .mount(&server)
        .await;
    assert!(send(&server, input).await.unwrap_err().is_retryable());
}

#[tokio::test]
async fn a_send_whose_answer_is_lost_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/sendgrid/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let ctx = junction_core::Context::new(http)
        .with_base_url(format!("{}/sendgrid/", server.uri()).parse().unwrap());
    let error = Sendgrid
        .act(
            &ctx,
            &any(),
            SEND_MAIL,
            &json!({"to": "x@y.example", "subject": "S", "text": "t"}),
            Some("k"),
        )
        .await
        .unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert!(
        matches!(&error, AdapterError::Provider { code: Some(c), .. } if c == "send_outcome_unknown")
    );
}

#[tokio::test]
async fn an_upsert_polls_its_job_and_reports_each_contacts_error() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/sendgrid/v3/marketing/contacts"))
        .and(body_json(json!({
            "list_ids": ["0f1b7ec2-6f2c-4a8e-9d1e-3b2c1a000001"],
            "contacts": [{"email": "ada@x.example", "first_name": "Ada"}, {"email": "bad@invalid.example"}]
        })))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"job_id": "job-42"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/marketing/contacts/imports/job-42"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "job-42", "status": "pending", "job_type": "upsert"})),
        )
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let errors_url = format!("{}/errors/job-42.csv", server.uri());
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/marketing/contacts/imports/job-42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "job-42", "status": "errored", "job_type": "upsert",
            "results": {"requested_count": 2, "created_count": 1, "updated_count": 0, "deleted_count": 0,
                        "errored_count": 1, "errors_url": errors_url},
            "started_at": "2026-03-31T12:00:00Z", "finished_at": "2026-03-31T12:00:04Z"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/errors/job-42.csv"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            "email,error\nbad@invalid.example,email is invalid, domain has no MX\n",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = Sendgrid
        .act(
            &context(&server),
            &any(),
            UPSERT_CONTACTS,
            &json!({"list_ids": ["0f1b7ec2-6f2c-4a8e-9d1e-3b2c1a000001"],
                    "contacts": [{"email": "Ada@X.example", "first_name": "Ada"}, {"email": "bad@invalid.example"}]}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some("job-42"));
    assert_eq!(outcome.output["status"], "errored");
    assert_eq!(outcome.output["finished"], true);
    assert_eq!(outcome.output["created_count"], 1);
    assert_eq!(
        outcome.output["errors"],
        json!([{"email": "bad@invalid.example", "error": "email is invalid, domain has no MX"}])
    );
}

#[tokio::test]
async fn adding_to_a_list_is_an_import_with_the_list() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/sendgrid/v3/marketing/contacts"))
        .and(body_json(json!({"list_ids": ["0f1b7ec2-6f2c-4a8e-9d1e-3b2c1a000002"], "contacts": [{"email": "ada@x.example"}]})))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"job_id": "job-7"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/sendgrid/v3/marketing/contacts/imports/job-7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "job-7", "status": "completed",
            "results": {"requested_count": 1, "created_count": 0, "updated_count": 1, "errored_count": 0}
        })))
        .mount(&server)
        .await;
    let outcome = Sendgrid
        .act(&context(&server), &any(), ADD_TO_LIST,
             &json!({"list_id": "0f1b7ec2-6f2c-4a8e-9d1e-3b2c1a000002", "emails": ["ADA@x.example"]}), None)
        .await
        .unwrap();
    assert_eq!(outcome.output["status"], "completed");
    assert_eq!(outcome.output["updated_count"], 1);
    assert_eq!(outcome.output["errors"], json!([]));
}

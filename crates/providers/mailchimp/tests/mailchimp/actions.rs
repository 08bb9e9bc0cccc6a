//! The contact actions against wiremock: the requests Mailchimp documents (PUT on the
//! subscriber hash, the tags POST, `POST /batches` with string bodies, batch polling),
//! the results archive (a real gzipped tar, fetched without the API key), and how
//! refusals of contact writes name the offending input field.

use junction_core::{Adapter, AdapterError};
use junction_mailchimp::{
    BULK_SYNC_CONTACTS, GET_BATCH, Mailchimp, UPSERT_CONTACT, subscriber_hash,
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path},
};

use crate::support::*;

const ARCHIVE: &[u8] = include_bytes!("fixtures/batch-results.tar.gz");

async fn act(
    server: &MockServer,
    action: &str,
    input: Value,
) -> Result<junction_core::ActionOutcome, AdapterError> {
    Mailchimp::default()
        .act(
            &context(server),
            &connection(),
            action,
            &input,
            Some("idem-1"),
        )
        .await
}

#[tokio::test]
async fn upsert_puts_the_member_at_its_hash_then_tags_it() {
    let server = MockServer::start().await;
    let hash = subscriber_hash("urist.mcvankab@freddiesjokes.com");
    assert_eq!(hash, "62eeb292278cc15f5817cb78f7790b08");
    let member_path = format!("/mailchimp/3.0/lists/b1f3a9c2d4/members/{hash}");
    Mock::given(method("PUT"))
        .and(path(member_path.as_str()))
        .and(header("authorization", basic_header().as_str()))
        .and(body_json(json!({
            "email_address": "Urist.McVankab@freddiesjokes.com",
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Urist", "LNAME": "McVankab"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(member(
            "b1f3a9c2d4",
            "Urist.McVankab@freddiesjokes.com",
            "2026-03-15T11:59:00+00:00",
            "2026-03-15T11:59:00+00:00",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{member_path}/tags")))
        .and(header("authorization", basic_header().as_str()))
        .and(body_json(json!({"tags": [{"name": "jokes", "status": "active"}, {"name": "vip", "status": "active"}]})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = act(
        &server,
        UPSERT_CONTACT,
        json!({
            "audience_id": "b1f3a9c2d4",
            "email_address": "Urist.McVankab@freddiesjokes.com",
            "merge_fields": {"FNAME": "Urist", "LNAME": "McVankab"},
            "tags": ["jokes", "vip"]
        }),
    )
    .await
    .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some(hash.as_str()));
    assert_eq!(outcome.output["status"], "subscribed");
    assert_eq!(outcome.output["tags_added"], json!(["jokes", "vip"]));
    // Mailchimp has no idempotency keys; none is sent.
    for request in server.received_requests().await.unwrap() {
        assert!(request.headers.get("idempotency-key").is_none());
    }
}

#[tokio::test]
async fn upsert_without_tags_makes_one_call_with_the_status() {
    let server = MockServer::start().await;
    let hash = subscriber_hash("ada@example.com");
    Mock::given(method("PUT"))
        .and(path(format!("/mailchimp/3.0/lists/a1/members/{hash}")))
        .and(body_json(json!({"email_address": "ada@example.com", "status_if_new": "pending", "status": "unsubscribed"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(member("a1", "ada@example.com", "", "")))
        .expect(1)
        .mount(&server)
        .await;
    act(
        &server,
        UPSERT_CONTACT,
        json!({"audience_id": "a1", "email_address": "ada@example.com", "status_if_new": "pending", "status": "unsubscribed"}),
    )
    .await
    .unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn refused_contact_writes_name_the_field() {
    let server = MockServer::start().await;
    let cases = [
        (
            "fake@example.com",
            400,
            problem(
                400,
                "Invalid Resource",
                "fake@example.com looks fake or invalid, please enter a real email address.",
            ),
            "email_address",
        ),
        (
            "birthday@example.com",
            400,
            {
                let mut p = problem(400, "Invalid Resource", "Your merge fields were invalid.");
                p["errors"] =
                    json!([{"field": "BIRTHDAY", "message": "Please enter a complete date"}]);
                p
            },
            "merge_fields.BIRTHDAY",
        ),
        (
            "nolist@example.com",
            404,
            problem(
                404,
                "Resource Not Found",
                "The requested resource could not be found.",
            ),
            "audience_id",
        ),
    ];
    for (email, status, body, _) in &cases {
        Mock::given(method("PUT"))
            .and(path(format!(
                "/mailchimp/3.0/lists/a1/members/{}",
                subscriber_hash(email)
            )))
            .respond_with(ResponseTemplate::new(*status).set_body_json(body))
            .mount(&server)
            .await;
    }
    for (email, _, _, field) in cases {
        let err = act(
            &server,
            UPSERT_CONTACT,
            json!({"audience_id": "a1", "email_address": email}),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == field),
            "{email}: {err:?}"
        );
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn invalid_input_sends_nothing() {
    let server = MockServer::start().await;
    for (action, input, field) in [
        (
            UPSERT_CONTACT,
            json!({"audience_id": "a1"}),
            "email_address",
        ),
        (
            UPSERT_CONTACT,
            json!({"audience_id": "a1", "email_address": "x@y.co", "tags": "vip"}),
            "tags",
        ),
        (
            BULK_SYNC_CONTACTS,
            json!({"audience_id": "a1", "contacts": [{"email": "x@y.co"}]}),
            "contacts[0].email",
        ),
        (GET_BATCH, json!({"batch_id": "../lists"}), "batch_id"),
        ("delete_everything", json!({}), "action"),
    ] {
        let err = act(&server, action, input).await.unwrap_err();
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == field),
            "{action}: {err:?}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

fn batch(status: &str, finished: u64, errored: u64, url: &str) -> Value {
    json!({
        "id": "7d94c0ca2a",
        "status": status,
        "total_operations": 4,
        "finished_operations": finished,
        "errored_operations": errored,
        "submitted_at": "2026-03-15T12:00:00+00:00",
        "completed_at": if status == "finished" { "2026-03-15T12:00:04+00:00" } else { "" },
        "response_body_url": url,
        "_links": []
    })
}

#[tokio::test]
async fn bulk_sync_submits_one_batch_polls_it_and_reports_failures() {
    let server = MockServer::start().await;
    let ada = subscriber_hash("ada.lovelace@example.com");
    let expected_operations = json!([
        {
            "method": "PUT",
            "path": format!("/lists/b1f3a9c2d4/members/{ada}"),
            "body": "{\"email_address\":\"ada.lovelace@example.com\",\"status_if_new\":\"subscribed\",\"merge_fields\":{\"FNAME\":\"Ada\"}}",
            "operation_id": "upsert:ada.lovelace@example.com"
        },
        {
            "method": "POST",
            "path": format!("/lists/b1f3a9c2d4/members/{ada}/tags"),
            "body": "{\"tags\":[{\"name\":\"founder\",\"status\":\"active\"}]}",
            "operation_id": "tags:ada.lovelace@example.com"
        },
        {
            "method": "PUT",
            "path": format!("/lists/b1f3a9c2d4/members/{}", subscriber_hash("grace@example.invalid")),
            "body": "{\"email_address\":\"grace@example.invalid\",\"status_if_new\":\"pending\"}",
            "operation_id": "upsert:grace@example.invalid"
        },
        {
            "method": "PUT",
            "path": format!("/lists/b1f3a9c2d4/members/{}", subscriber_hash("linus@example.com")),
            "body": "{\"email_address\":\"linus@example.com\",\"status_if_new\":\"pending\",\"merge_fields\":{\"BIRTHDAY\":\"13/45\"}}",
            "operation_id": "upsert:linus@example.com"
        }
    ]);
    Mock::given(method("POST"))
        .and(path("/mailchimp/3.0/batches"))
        .and(header("authorization", basic_header().as_str()))
        .and(body_json(json!({"operations": expected_operations})))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch("pending", 0, 0, "")))
        .expect(1)
        .mount(&server)
        .await;
    let archive_url = format!(
        "{}/storage/7d94c0ca2a.tar.gz?X-Amz-Signature=abc",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/batches/7d94c0ca2a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch("started", 2, 1, "")))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/batches/7d94c0ca2a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch(
            "finished",
            4,
            2,
            &archive_url,
        )))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/7d94c0ca2a.tar.gz"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(ARCHIVE, "application/x-gzip"))
        .expect(1)
        .mount(&server)
        .await;

    let outcome = act(
        &server,
        BULK_SYNC_CONTACTS,
        json!({
            "audience_id": "b1f3a9c2d4",
            "status_if_new": "pending",
            "contacts": [
                {"email_address": "ada.lovelace@example.com", "status_if_new": "subscribed", "merge_fields": {"FNAME": "Ada"}, "tags": ["founder"]},
                {"email_address": "grace@example.invalid"},
                {"email_address": "linus@example.com", "merge_fields": {"BIRTHDAY": "13/45"}}
            ]
        }),
    )
    .await
    .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some("7d94c0ca2a"));
    let output = &outcome.output;
    assert_eq!(output["status"], "finished");
    assert_eq!(output["finished"], true);
    assert_eq!(output["errored_operations"], 2);
    assert_eq!(output["contacts"], 3);
    assert_eq!(output["succeeded"], 1);
    let failures = output["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0]["email_address"], "grace@example.invalid");
    assert_eq!(failures[0]["operation"], "upsert");
    assert_eq!(failures[0]["status_code"], 400);
    assert_eq!(failures[0]["title"], "Invalid Resource");
    assert_eq!(
        failures[0]["detail"],
        "grace@example.invalid looks fake or invalid, please enter a real email address."
    );
    assert_eq!(failures[1]["email_address"], "linus@example.com");
    assert_eq!(
        failures[1]["detail"],
        "Your merge fields were invalid.; BIRTHDAY: Please enter a complete date"
    );
    assert_eq!(failures[1]["errors"][0]["field"], "BIRTHDAY");

    // The archive comes from pre-signed storage: the API key is not sent there.
    let requests = server.received_requests().await.unwrap();
    let download = requests
        .iter()
        .find(|r| r.url.path().starts_with("/storage/"))
        .unwrap();
    assert!(download.headers.get("authorization").is_none());
    assert_eq!(download.url.query(), Some("X-Amz-Signature=abc"));
}

#[tokio::test]
async fn polling_survives_a_transient_refusal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/mailchimp/3.0/batches"))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch("pending", 0, 0, "")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/batches/7d94c0ca2a"))
        .respond_with(ResponseTemplate::new(429).set_body_json(problem(
            429,
            "Too Many Requests",
            "You have exceeded the limit of 10 simultaneous connections.",
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/batches/7d94c0ca2a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch("finished", 1, 0, "")))
        .with_priority(2)
        .mount(&server)
        .await;
    let outcome = act(
        &server,
        BULK_SYNC_CONTACTS,
        json!({"audience_id": "a1", "contacts": [{"email_address": "ada@example.com"}]}),
    )
    .await
    .unwrap();
    assert_eq!(outcome.output["finished"], true);
    assert_eq!(outcome.output["succeeded"], 1);
    assert_eq!(outcome.output["failures"], json!([]));
}

#[tokio::test]
async fn get_batch_reports_a_running_batch_and_an_unknown_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/batches/7d94c0ca2a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch("preprocessing", 0, 0, "")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/batches/nope"))
        .respond_with(ResponseTemplate::new(404).set_body_json(problem(
            404,
            "Resource Not Found",
            "The requested resource could not be found.",
        )))
        .mount(&server)
        .await;
    let outcome = act(&server, GET_BATCH, json!({"batch_id": "7d94c0ca2a"}))
        .await
        .unwrap();
    assert_eq!(outcome.output["status"], "preprocessing");
    assert_eq!(outcome.output["finished"], false);
    assert!(
        outcome.output["note"]
            .as_str()
            .unwrap()
            .contains("get_batch")
    );
    let err = act(&server, GET_BATCH, json!({"batch_id": "nope"}))
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "batch_id"));
}

#[tokio::test]
async fn an_unreadable_archive_still_reports_the_counts() {
    let server = MockServer::start().await;
    let url = format!("{}/storage/broken.tar.gz", server.uri());
    Mock::given(method("GET"))
        .and(path("/mailchimp/3.0/batches/7d94c0ca2a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(batch("finished", 4, 1, &url)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/broken.tar.gz"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(&ARCHIVE[..300], "application/x-gzip"),
        )
        .mount(&server)
        .await;
    let outcome = act(&server, GET_BATCH, json!({"batch_id": "7d94c0ca2a"}))
        .await
        .unwrap();
    assert_eq!(outcome.output["errored_operations"], 1);
    assert!(
        outcome.output["results_error"]
            .as_str()
            .unwrap()
            .contains("could not be read"),
        "{}",
        outcome.output
    );
}

//! The contact actions against wiremock serving Kit v4's documented shapes: the bulk
//! upsert (`POST /v4/bulk/subscribers` in chunks of 100 for OAuth, one
//! `POST /v4/subscribers` each for an API key) with per-contact results, `create_tag`,
//! `remove_tag_from_subscriber`, `unsubscribe`; their request bodies, Kit's 404s and
//! 429, and their inputs refused before any request.

use junction_core::AdapterError;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path, query_param},
};

use crate::support::*;

/// A subscriber as Kit's bulk answer lists it.
fn bulk_written(id: u64, email: &str) -> Value {
    json!({"id": id, "first_name": null, "email_address": email, "state": "active",
           "created_at": "2023-02-17T11:43:55Z"})
}

#[tokio::test]
async fn bulk_upserts_go_in_chunks_of_100_and_subscribers_with_fields_one_by_one() {
    let server = MockServer::start().await;
    let emails: Vec<String> = (0..101).map(|i| format!("s{i}@convertkit.dev")).collect();
    // The first chunk: exactly the first 100 subscribers, all upserted.
    let first: Vec<Value> = emails[..100]
        .iter()
        .map(|e| json!({"email_address": e}))
        .collect();
    let written: Vec<Value> = (0..100u64)
        .map(|i| bulk_written(500 + i, &emails[i as usize]))
        .collect();
    Mock::given(method("POST"))
        .and(path("/kit/v4/bulk/subscribers"))
        .and(header("Authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({ "subscribers": first })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"subscribers": written, "failures": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    // The second: an address Kit refuses (answered without it).
    Mock::given(method("POST"))
        .and(path("/kit/v4/bulk/subscribers"))
        .and(body_json(json!({"subscribers": [{"email_address": "benito"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "subscribers": [],
            "failures": [{
                "subscriber": {"first_name": null, "email_address": null, "state": "active", "created_at": null},
                "errors": ["Email address is invalid"]
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    // The one with custom fields goes by the single upsert, which sets them (a bulk
    // entry has no fields).
    Mock::given(method("POST"))
        .and(path("/kit/v4/subscribers"))
        .and(header("Authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({
            "email_address": "s100@convertkit.dev", "first_name": "Alice", "state": "inactive",
            "fields": {"last_name": "Lamarr", "lead_score": "87"}
        })))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"subscriber": {
                "id": 600, "first_name": "Alice", "email_address": "s100@convertkit.dev",
                "state": "inactive", "created_at": "2023-02-17T11:43:55Z",
                "fields": {"last_name": "Lamarr", "lead_score": "87"}
            }})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut subscribers: Vec<Value> = emails[..100]
        .iter()
        .map(|e| json!({"email_address": e}))
        .collect();
    subscribers.push(json!({
        "email_address": " s100@convertkit.dev ", "first_name": "Alice", "state": "inactive",
        "fields": {"surname": "Lamarr", "lead_score": 87}
    }));
    subscribers.push(json!({"email_address": "benito"}));
    let outcome = act(
        &context(&server),
        &oauth_connection(Some(TOKEN), json!({"field_map": "surname:last_name"})),
        "bulk_upsert_subscribers",
        json!({ "subscribers": subscribers }),
        None,
    )
    .await
    .unwrap();
    let output = &outcome.output;
    assert_eq!(
        (&output["succeeded"], &output["failed"], &output["queued"]),
        (&json!(101), &json!(1), &json!(0))
    );
    let results = output["results"].as_array().unwrap();
    assert_eq!(results.len(), 102);
    assert_eq!(results[0]["id"], 500);
    assert_eq!(results[100]["status"], "created");
    assert_eq!(results[100]["id"], 600);
    assert_eq!(
        results[101],
        json!({"index": 101, "email_address": "benito", "status": "failed",
               "errors": ["Email address is invalid"]})
    );
}

#[tokio::test]
async fn a_queued_bulk_chunk_is_reported_as_queued() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/bulk/subscribers"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = act(
        &context(&server),
        &oauth_connection(Some(TOKEN), json!({})),
        "bulk_upsert_subscribers",
        json!({"subscribers": [{"email_address": "a@convertkit.dev"}]}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(outcome.output["queued"], 1);
    assert_eq!(outcome.output["results"][0]["status"], "queued");
}

#[tokio::test]
async fn an_api_key_upserts_one_subscriber_at_a_time() {
    let server = MockServer::start().await;
    for (email, status) in [("new@convertkit.dev", 201), ("old@convertkit.dev", 200)] {
        Mock::given(method("POST"))
            .and(path("/kit/v4/subscribers"))
            .and(header("X-Kit-Api-Key", KEY))
            .and(body_json(
                json!({"email_address": email, "fields": {"last_name": "Lamarr"}}),
            ))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({"subscriber": {
                    "id": status, "first_name": null, "email_address": email, "state": "active",
                    "created_at": "2023-02-17T11:43:55Z", "fields": {"last_name": "Lamarr"}
                }})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/kit/v4/subscribers"))
        .and(body_json(json!({"email_address": "nope"})))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(kit_errors(&["Email address is invalid"])),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Kit's bulk endpoints refuse API keys: none is asked.
    Mock::given(path("/kit/v4/bulk/subscribers"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let outcome = act(
        &context(&server),
        &connection(json!({"field_map": "surname:last_name"})),
        "bulk_upsert_subscribers",
        json!({"subscribers": [
            {"email_address": "new@convertkit.dev", "fields": {"surname": "Lamarr"}},
            {"email_address": "nope"},
            {"email_address": "old@convertkit.dev", "fields": {"surname": "Lamarr"}}
        ]}),
        None,
    )
    .await
    .unwrap();
    let statuses: Vec<&Value> = outcome.output["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!("created"), &json!("failed"), &json!("updated")]
    );
    assert_eq!(
        outcome.output["results"][1]["errors"],
        json!(["Email address is invalid"])
    );
    assert_eq!(outcome.output["results"][0]["id"], 201);
}

#[tokio::test]
async fn a_rate_limited_bulk_upsert_fails_whole_for_the_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/bulk/subscribers"))
        .respond_with(ResponseTemplate::new(429).set_body_raw("Retry later", "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    let err = act(
        &context(&server),
        &oauth_connection(Some(TOKEN), json!({})),
        "bulk_upsert_subscribers",
        json!({"subscribers": [{"email_address": "a@convertkit.dev"}]}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    // Too many bulk requests queued for the account: wait and retry as well.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/subscribers"))
        .respond_with(ResponseTemplate::new(429).set_body_raw("Retry later", "text/plain"))
        .expect(1)
        .mount(&server)
        .await;
    let err = act(
        &context(&server),
        &connection(json!({})),
        "bulk_upsert_subscribers",
        json!({"subscribers": [{"email_address": "a@convertkit.dev"}, {"email_address": "b@convertkit.dev"}]}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
}

#[tokio::test]
async fn create_tag_posts_the_name_and_finds_an_existing_tag() {
    let server = MockServer::start().await;
    let tag = json!({"tag": {"id": 52, "name": "Completed", "created_at": "2023-02-17T11:43:55Z"}});
    Mock::given(method("POST"))
        .and(path("/kit/v4/tags"))
        .and(body_json(json!({"name": "Completed"})))
        .respond_with(ResponseTemplate::new(201).set_body_json(tag.clone()))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/tags"))
        .and(body_json(json!({"name": "Completed"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(tag))
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let input = json!({"name": " Completed "});
    let first = act(&ctx, &conn, "create_tag", input.clone(), None)
        .await
        .unwrap();
    assert_eq!(first.external_id.as_deref(), Some("52"));
    assert_eq!(first.output["created"], true);
    let again = act(&ctx, &conn, "create_tag", input, None).await.unwrap();
    assert_eq!(
        (again.external_id, &again.output["created"]),
        (first.external_id, &json!(false))
    );
}

#[tokio::test]
async fn remove_tag_deletes_by_id_or_by_email_and_names_a_404() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/kit/v4/tags/5/subscribers/9"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/kit/v4/tags/5/subscribers"))
        .and(body_json(json!({"email_address": "alice@convertkit.dev"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/kit/v4/tags/6/subscribers/9"))
        .respond_with(ResponseTemplate::new(404).set_body_json(kit_errors(&["Not Found"])))
        .expect(1)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let by_id = act(
        &ctx,
        &conn,
        "remove_tag_from_subscriber",
        json!({"tag_id": 5, "subscriber_id": 9}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(by_id.output["removed"], true);
    assert_eq!(by_id.external_id.as_deref(), Some("9"));
    act(
        &ctx,
        &conn,
        "remove_tag_from_subscriber",
        json!({"tag_id": 5, "email_address": "alice@convertkit.dev"}),
        None,
    )
    .await
    .unwrap();
    let err = act(
        &ctx,
        &conn,
        "remove_tag_from_subscriber",
        json!({"tag_id": 6, "subscriber_id": 9}),
        None,
    )
    .await
    .unwrap_err();
    let AdapterError::Invalid { field, message } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field.as_deref(), Some("tag_id"));
    assert!(message.contains("does not have the tag"), "{message}");
}

#[tokio::test]
async fn unsubscribe_by_id_or_by_email_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/subscribers/9/unsubscribe"))
        .and(body_json(json!({})))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let listed = |state: &str| {
        let mut found = subscriber(9, state);
        found["email_address"] = json!("alice@convertkit.dev");
        json!({"subscribers": [found], "pagination": pagination(false, None)})
    };
    Mock::given(method("GET"))
        .and(path("/kit/v4/subscribers"))
        .and(query_param("email_address", "alice@convertkit.dev"))
        .and(query_param("status", "all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(listed("active")))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/subscribers"))
        .and(query_param("email_address", "alice@convertkit.dev"))
        .respond_with(ResponseTemplate::new(200).set_body_json(listed("cancelled")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/kit/v4/subscribers"))
        .and(query_param("email_address", "ghost@convertkit.dev"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"subscribers": [], "pagination": pagination(false, None)})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/subscribers/404/unsubscribe"))
        .respond_with(ResponseTemplate::new(404).set_body_json(kit_errors(&["Not Found"])))
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let by_id = act(
        &ctx,
        &conn,
        "unsubscribe",
        json!({"subscriber_id": 9}),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        by_id.output,
        json!({"subscriber_id": 9, "already_unsubscribed": false})
    );
    let by_email = json!({"email_address": "alice@convertkit.dev"});
    let first = act(&ctx, &conn, "unsubscribe", by_email.clone(), None)
        .await
        .unwrap();
    assert_eq!(first.output["already_unsubscribed"], false);
    // Kit now lists the subscriber as cancelled: nothing more is sent.
    let again = act(&ctx, &conn, "unsubscribe", by_email, None)
        .await
        .unwrap();
    assert_eq!(again.output["already_unsubscribed"], true);
    assert_eq!(again.external_id.as_deref(), Some("9"));
    for (input, field) in [
        (
            json!({"email_address": "ghost@convertkit.dev"}),
            "email_address",
        ),
        (json!({"subscriber_id": 404}), "subscriber_id"),
    ] {
        let err = act(&ctx, &conn, "unsubscribe", input, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == field),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn the_new_actions_refuse_bad_input_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection(json!({})));
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"email_address": format!("s{i}@x.co")}))
        .collect();
    for (action, input, field) in [
        ("bulk_upsert_subscribers", json!({}), "subscribers"),
        (
            "bulk_upsert_subscribers",
            json!({"subscribers": too_many}),
            "subscribers",
        ),
        (
            "bulk_upsert_subscribers",
            json!({"subscribers": [{"email_address": "a@x.co", "state": "gone"}]}),
            "subscribers[0].state",
        ),
        (
            "bulk_upsert_subscribers",
            json!({"subscribers": [{"email_address": "a@x.co"}], "callback_url": "https://x.example"}),
            "callback_url",
        ),
        ("create_tag", json!({}), "name"),
        ("create_tag", json!({"name": "  "}), "name"),
        ("create_tag", json!({"name": "a", "color": "red"}), "color"),
        (
            "remove_tag_from_subscriber",
            json!({"subscriber_id": 3}),
            "tag_id",
        ),
        (
            "remove_tag_from_subscriber",
            json!({"tag_id": 3}),
            "email_address",
        ),
        (
            "remove_tag_from_subscriber",
            json!({"tag_id": 3, "subscriber_id": 3, "email_address": "a@x.co"}),
            "subscriber_id",
        ),
        ("unsubscribe", json!({}), "email_address"),
        (
            "unsubscribe",
            json!({"email_address": "not-an-email"}),
            "email_address",
        ),
        ("unsubscribe", json!({"subscriber_id": 0}), "subscriber_id"),
        (
            "unsubscribe",
            json!({"subscriber_id": 3, "reason": "x"}),
            "reason",
        ),
    ] {
        let err = act(&ctx, &conn, action, input.clone(), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == field),
            "{action} {input}: expected Invalid on `{field}`, got {err:?}"
        );
    }
}

#[tokio::test]
async fn bulk_tagging_reports_each_tagging_on_both_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/kit/v4/bulk/tags/subscribers"))
        .and(header("Authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({"taggings": [
            {"tag_id": 74, "subscriber_id": 558},
            {"tag_id": 74, "subscriber_id": 9},
            {"tag_id": 1, "subscriber_id": 558}
        ]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "subscribers": [{"id": 558, "first_name": "Sub", "email_address": "sub@kit.dev",
                             "created_at": "2023-02-17T11:43:55Z", "tagged_at": "2023-02-17T11:43:55Z"}],
            "failures": [
                {"errors": ["Subscriber does not exist"], "tagging": {"tag_id": 74, "subscriber_id": null}},
                {"errors": ["Tag does not exist"], "tagging": {"tag_id": null, "subscriber_id": 558}}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let input = json!({"taggings": [
        {"tag_id": 74, "subscriber_id": 558},
        {"tag_id": 74, "subscriber_id": 9},
        {"tag_id": 1, "subscriber_id": 558}
    ]});
    let outcome = act(
        &context(&server),
        &oauth_connection(Some(TOKEN), json!({})),
        "bulk_tag_subscribers",
        input.clone(),
        None,
    )
    .await
    .unwrap();
    let results = outcome.output["results"].as_array().unwrap();
    assert_eq!(
        results[0],
        json!({"index": 0, "tag_id": 74, "subscriber_id": 558, "status": "tagged"})
    );
    assert_eq!(results[1]["errors"], json!(["Subscriber does not exist"]));
    assert_eq!(results[2]["errors"], json!(["Tag does not exist"]));
    assert_eq!(outcome.output["failed"], 2);

    // An API key: one tagging per request, Kit's 201 / 200 / 404.
    let server = MockServer::start().await;
    for (path_of, status) in [
        ("/kit/v4/tags/74/subscribers/558", 201),
        ("/kit/v4/tags/1/subscribers/558", 200),
    ] {
        Mock::given(method("POST"))
            .and(path(path_of))
            .and(header("X-Kit-Api-Key", KEY))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({"subscriber": {
                "id": 558, "first_name": "Sub", "email_address": "sub@kit.dev", "state": "active",
                "created_at": "2023-02-17T11:43:55Z", "tagged_at": "2023-02-17T11:43:55Z", "fields": {}
            }})))
            .expect(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/kit/v4/tags/74/subscribers/9"))
        .respond_with(ResponseTemplate::new(404).set_body_json(kit_errors(&["Not Found"])))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = act(
        &context(&server),
        &connection(json!({})),
        "bulk_tag_subscribers",
        input,
        None,
    )
    .await
    .unwrap();
    let statuses: Vec<&Value> = outcome.output["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(
        statuses,
        [&json!("tagged"), &json!("failed"), &json!("already_tagged")]
    );
}

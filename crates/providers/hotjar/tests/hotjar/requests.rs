//! The adapter against wiremock serving Hotjar's shapes (`{"results": [...],
//! "next_cursor": "..." | null}` pages, the user-lookup body): the requests it makes
//! (paths, parameters, the Bearer token), the records and KPI points they become,
//! paging to the end, and each refusal and the rate limit classified as the error
//! table says.

use std::{sync::Arc, time::Duration};

use chrono::{NaiveDate, TimeZone, Utc};
use junction_core::{Adapter, AdapterError, Context, FixedClock, KpiPoint, ReadRequest};
use junction_hotjar::{
    DELETE_USER_DATA, Hotjar, LOOKUP_USER, SITES, SURVEY_RESPONSES, SURVEY_RESPONSES_METRIC,
    SURVEYS, SURVEYS_ENABLED, SURVEYS_METRIC,
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_json, header, method, path, query_param, query_param_is_missing},
};

use crate::support::{any, with_sites};

/// A context pointed at `server` under `/hotjar/`, at 2026-03-31 12:00 UTC.
fn context(server: &MockServer) -> Context {
    let now = Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap();
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/hotjar/", server.uri()).parse().unwrap())
        .with_clock(Arc::new(FixedClock(now)))
}

fn request(stream: &str, cursor: Option<Value>) -> ReadRequest {
    ReadRequest {
        stream: stream.into(),
        cursor,
        page_size: Some(2),
    }
}

/// Reads `stream` to its end with `conn`: the pages' records, points and cursors.
async fn read_all(
    server: &MockServer,
    conn: &junction_core::Connection,
    stream: &str,
) -> (Vec<Value>, Vec<KpiPoint>, Vec<Option<Value>>) {
    let (mut records, mut kpis, mut cursors, mut cursor) = (vec![], vec![], vec![], None);
    for _ in 0..50 {
        let page = Hotjar
            .read(&context(server), conn, &request(stream, cursor.clone()))
            .await
            .unwrap();
        records.extend(page.records.into_iter().map(|r| r.data));
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
        cursors.push(cursor.clone());
        if !page.has_more {
            return (records, kpis, cursors);
        }
    }
    panic!("{stream} never ended");
}

fn survey(id: u64, enabled: bool, created: &str) -> Value {
    json!({"id": id, "name": format!("Survey {id}"), "type": "popover", "is_enabled": enabled,
           "created_time": created, "url": format!("/v1/sites/1/surveys/{id}"),
           "responses_url": format!("/v1/sites/1/surveys/{id}/responses"),
           "sentiment_analysis_enabled": false})
}

fn response(id: u64, created: &str) -> Value {
    json!({"id": id, "created_time": created, "answers": [{"question_id": 1, "answer": "9"}]})
}

async fn surveys_of(server: &MockServer, site: &str, surveys: Vec<Value>) {
    Mock::given(method("GET"))
        .and(path(format!("/hotjar/v1/sites/{site}/surveys")))
        .and(query_param("with_questions", "false"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"results": surveys, "next_cursor": null})),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn responses_are_paged_to_the_end_and_counted_once_per_day() {
    let server = MockServer::start().await;
    surveys_of(
        &server,
        "11",
        vec![
            survey(7, true, "2026-03-28T08:00:00Z"),
            survey(8, false, "2026-03-30T08:00:00Z"),
        ],
    )
    .await;
    let responses = "/hotjar/v1/sites/11/surveys/7/responses";
    // Three pages: the cursor passed back as `cursor`, null on the last.
    Mock::given(method("GET"))
        .and(path(responses))
        .and(query_param_is_missing("cursor"))
        .and(query_param("limit", "2"))
        .and(header("authorization", "Bearer test-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [response(71, "2026-03-31T09:00:00Z"), response(72, "2026-03-31T01:00:00Z")],
            "next_cursor": "c-2",
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(responses))
        .and(query_param("cursor", "c-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [response(73, "2026-03-30T23:59:59+00:00"), response(74, "2026-03-29T10:00:00Z")],
            "next_cursor": "c-3",
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(responses))
        .and(query_param("cursor", "c-3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            // Before midnight UTC on the 29th, in another offset.
            "results": [response(75, "2026-03-29T23:30:00-02:00")],
            "next_cursor": null,
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hotjar/v1/sites/11/surveys/8/responses"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"results": [], "next_cursor": null})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let (records, kpis, cursors) =
        read_all(&server, &with_sites("test-token", "11"), SURVEY_RESPONSES).await;
    let ids: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [71, 72, 73, 74, 75]);
    assert_eq!(records[0]["site_id"], "11");
    assert_eq!(records[0]["survey_id"], "7");
    // Four pages; the pass ends where the next one starts.
    assert_eq!(cursors.len(), 4);
    assert_eq!(cursors.last().unwrap(), &Some(json!({})));
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let of = |survey: &str| -> Vec<(NaiveDate, f64)> {
        kpis.iter()
            .filter(|p| p.metric == SURVEY_RESPONSES_METRIC && p.dimensions["survey"] == survey)
            .map(|p| (p.date, p.value))
            .collect()
    };
    // Whole days from creation through today, 0 where nobody answered.
    assert_eq!(
        of("7"),
        [
            (day(28), 0.0),
            (day(29), 1.0),
            (day(30), 2.0),
            (day(31), 2.0)
        ]
    );
    assert_eq!(of("8"), [(day(30), 0.0), (day(31), 0.0)]);
    assert!(kpis.iter().all(|p| p.dimensions["site"] == "11"));
}

#[tokio::test]
async fn surveys_are_read_site_after_site_with_their_questions() {
    let server = MockServer::start().await;
    for (site, id) in [("11", 7), ("12", 9)] {
        Mock::given(method("GET"))
            .and(path(format!("/hotjar/v1/sites/{site}/surveys")))
            .and(query_param("with_questions", "true"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "results": [survey(id, true, "2026-03-01T00:00:00Z")],
                "next_cursor": null,
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (records, kpis, _) = read_all(&server, &with_sites("t", "11, 12"), SURVEYS).await;
    let sites: Vec<_> = records
        .iter()
        .map(|r| (r["id"].clone(), r["site_id"].clone()))
        .collect();
    assert_eq!(sites, [(json!(7), json!("11")), (json!(9), json!("12"))]);
    assert!(kpis.is_empty());
}

#[tokio::test]
async fn sites_come_from_the_settings_with_survey_gauges() {
    let server = MockServer::start().await;
    surveys_of(
        &server,
        "11",
        vec![
            survey(7, true, "2026-03-28T08:00:00Z"),
            survey(8, false, "2026-03-30T08:00:00Z"),
        ],
    )
    .await;
    // A key without the survey scope still lists its sites.
    Mock::given(path("/hotjar/v1/sites/12/surveys"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .mount(&server)
        .await;
    let (records, kpis, _) = read_all(&server, &with_sites("t", "11,12"), SITES).await;
    assert_eq!(records[0]["id"], "11");
    assert_eq!(records[0]["surveys"], 2);
    assert_eq!(records[0]["surveys_enabled"], 1);
    assert_eq!(
        records[1],
        json!({"id": "12", "organization_id": "1204567", "survey_access": false})
    );
    let values: Vec<_> = kpis.iter().map(|p| (p.metric.as_str(), p.value)).collect();
    assert_eq!(values, [(SURVEYS_METRIC, 2.0), (SURVEYS_ENABLED, 1.0)]);
}

/// The error a response list answering `status` with `body` (and `headers`) gives.
async fn refusal(status: u16, body: Value, headers: &[(&str, &str)]) -> AdapterError {
    let server = MockServer::start().await;
    surveys_of(&server, "11", vec![survey(7, true, "2026-03-28T08:00:00Z")]).await;
    let mut template = ResponseTemplate::new(status).set_body_json(body);
    for (name, value) in headers {
        template = template.insert_header(*name, *value);
    }
    Mock::given(path("/hotjar/v1/sites/11/surveys/7/responses"))
        .respond_with(template)
        .mount(&server)
        .await;
    Hotjar
        .read(
            &context(&server),
            &with_sites("t", "11"),
            &request(SURVEY_RESPONSES, None),
        )
        .await
        .unwrap_err()
}

#[tokio::test]
async fn refusals_and_the_rate_limit_are_classified_as_the_error_table_says() {
    // 429: wait as Retry-After says.
    let error = refusal(
        429,
        json!({"message": "Too many requests"}),
        &[("retry-after", "17")],
    )
    .await;
    match &error {
        AdapterError::RateLimited { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(17)));
        }
        other => panic!("{other:?}"),
    }
    // 401: the token expired or was revoked: a new token may help.
    let error = refusal(401, json!({"message": "Unauthorized"}), &[]).await;
    assert!(
        matches!(
            error,
            AdapterError::Unauthorized {
                refreshable: true,
                ..
            }
        ),
        "{error:?}"
    );
    // 403: the key's scope or plan, not the key: no new credentials needed.
    let error = refusal(
        403,
        json!({"error": {"code": "forbidden", "message": "Not in plan"}}),
        &[],
    )
    .await;
    match &error {
        AdapterError::Invalid {
            field: None,
            message,
        } => {
            assert!(
                message.contains("Ask Scale") && message.contains("Not in plan"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // 400: the request as it is will not do.
    let error = refusal(400, json!({"detail": "limit must be at most 100"}), &[]).await;
    assert!(matches!(error, AdapterError::Invalid { .. }), "{error:?}");
    // 5xx: come back later.
    let error = refusal(503, json!({}), &[]).await;
    assert!(
        matches!(error, AdapterError::Unavailable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_site_hotjar_does_not_know_names_the_site_ids_setting() {
    let server = MockServer::start().await;
    Mock::given(path("/hotjar/v1/sites/99/surveys"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not found"})))
        .mount(&server)
        .await;
    for stream in [SITES, SURVEYS, SURVEY_RESPONSES] {
        let error = Hotjar
            .read(
                &context(&server),
                &with_sites("t", "99"),
                &request(stream, None),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "site_ids"),
            "{stream}: {error:?}"
        );
    }
}

#[tokio::test]
async fn the_check_reads_one_survey_per_site_and_reports_a_key_without_survey_scope() {
    let server = MockServer::start().await;
    Mock::given(path("/hotjar/v1/sites/11/surveys"))
        .and(query_param("limit", "1"))
        .and(header("authorization", "Bearer t"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .expect(1)
        .mount(&server)
        .await;
    let health = Hotjar
        .check(&context(&server), &with_sites("t", "11"))
        .await
        .unwrap();
    assert_eq!(
        health.account.as_deref(),
        Some("Hotjar organization 1204567 (site 11, user lookup and deletion only)")
    );
    assert_eq!(health.details["survey_access"], false);
}

#[tokio::test]
async fn a_lookup_sends_exactly_the_input_without_deleting() {
    let server = MockServer::start().await;
    let map = json!({"11": "user-1"});
    Mock::given(method("POST"))
        .and(path("/hotjar/v1/organizations/1204567/user-lookup"))
        .and(header("authorization", "Bearer test-token"))
        .and(body_json(json!({
            "data_subject_email": "jane@example.com",
            "data_subject_site_id_to_user_id_map": map,
            "delete_all_hits": false,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "submitted"})))
        .expect(1)
        .mount(&server)
        .await;
    let input = json!({"data_subject_email": "jane@example.com", "data_subject_site_id_to_user_id_map": map});
    let outcome = Hotjar
        .act(&context(&server), &any(), LOOKUP_USER, &input, Some("k"))
        .await
        .unwrap();
    assert_eq!(outcome.output["deletion_requested"], false);
    assert_eq!(outcome.output["status"], 200);
    assert_eq!(outcome.output["answer"], json!({"status": "submitted"}));
    assert_eq!(outcome.output["requested"]["organization_id"], "1204567");
}

#[tokio::test]
async fn a_deletion_must_be_asked_for_explicitly_and_says_what_was_requested() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hotjar/v1/organizations/1204567/user-lookup"))
        .and(body_json(
            json!({"data_subject_email": "jane@example.com", "delete_all_hits": true}),
        ))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    // Not without the flag, not with `false`, not with neither subject field, not with
    // an unknown field: nothing is sent.
    for input in [
        json!({"data_subject_email": "jane@example.com"}),
        json!({"data_subject_email": "jane@example.com", "delete_all_hits": false}),
        json!({"delete_all_hits": true}),
        json!({"delete_all_hits": true, "data_subject_email": "jane@example.com", "everything": true}),
        json!({"delete_all_hits": true, "data_subject_site_id_to_user_id_map": {"not-a-site": "u"}}),
    ] {
        let error = Hotjar
            .act(&context(&server), &any(), DELETE_USER_DATA, &input, None)
            .await
            .unwrap_err();
        assert!(
            matches!(error, AdapterError::Invalid { .. }),
            "{input}: {error:?}"
        );
    }
    // A lookup cannot delete.
    let error = Hotjar
        .act(
            &context(&server),
            &any(),
            LOOKUP_USER,
            &json!({"data_subject_email": "jane@example.com", "delete_all_hits": true}),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(error, AdapterError::Invalid { .. }), "{error:?}");
    let outcome = Hotjar
        .act(
            &context(&server),
            &any(),
            DELETE_USER_DATA,
            &json!({"data_subject_email": "jane@example.com", "delete_all_hits": true}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.output,
        json!({
            "requested": {"organization_id": "1204567", "data_subject_email": "jane@example.com", "delete_all_hits": true},
            "deletion_requested": true,
            "status": 202,
            "answer": null,
        })
    );
}

//! The adapter against wiremock serving HubSpot's documented shapes (CRM v3 objects,
//! searches, pipelines, owners, the account's details, batch upsert, v4 default
//! associations, notes, errors and rate-limit headers): the requests each read and
//! action makes, the records, KPI points and cursors they become, paging to the end,
//! and each refusal classified.

use std::time::Duration;

use junction_core::{Adapter, AdapterError, ReadRequest};
use junction_hubspot::Hubspot;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_partial_json, header, method, path, query_param},
};

use crate::support::{TOKEN, account, connection, context, error, object};

fn read(stream: &str, cursor: Option<Value>) -> ReadRequest {
    ReadRequest {
        stream: stream.into(),
        cursor,
        page_size: None,
    }
}

async fn mount_account(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/hubspot/account-info/v3/details"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account()))
        .mount(server)
        .await;
}

#[tokio::test]
async fn check_reads_the_account_and_one_contact_with_the_bearer_token() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/objects/contacts"))
        .and(query_param("limit", "1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .expect(1)
        .mount(&server)
        .await;
    let health = Hubspot::private_app()
        .check(&context(&server), &connection())
        .await
        .unwrap();
    assert_eq!(health.account.as_deref(), Some("HubSpot account 12345678"));
    assert_eq!(health.details["company_currency"], "USD");
}

#[tokio::test]
async fn a_first_sync_lists_to_the_end_then_searches_from_the_latest_change() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/objects/contacts"))
        .and(query_param("limit", "100"))
        .and(query_param("archived", "false"))
        .and(query_param("after", "NTI1Cg%3D%3D"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [object("3", "2026-03-02T10:00:00.000Z", json!({"email": "c@example.com"}))],
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                object("1", "2026-03-05T08:00:00.000Z", json!({"email": "a@example.com"})),
                object("2", "2026-02-01T08:00:00.000Z", json!({"email": "b@example.com"})),
            ],
            "paging": {"next": {"after": "NTI1Cg%3D%3D", "link": "?after=NTI1Cg%3D%3D"}},
        })))
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection());
    let first = Hubspot::private_app()
        .read(&ctx, &conn, &read("contacts", None))
        .await
        .unwrap();
    assert!(first.has_more);
    assert_eq!(first.records.len(), 2);
    let properties = server.received_requests().await.unwrap()[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "properties")
        .unwrap()
        .1
        .into_owned();
    assert!(properties.contains("email") && properties.contains("lastmodifieddate"));
    let last = Hubspot::private_app()
        .read(&ctx, &conn, &read("contacts", first.next_cursor.clone()))
        .await
        .unwrap();
    assert!(!last.has_more);
    assert_eq!(last.records[0].external_id, "3");
    // The next sync searches from the latest change of the whole pass (03-05 08:00).
    assert_eq!(
        last.next_cursor,
        Some(json!({"mode": "search", "since": 1_772_697_600_000_i64}))
    );
}

#[tokio::test]
async fn searches_page_to_the_end_and_move_on_at_ten_thousand_results() {
    let server = MockServer::start().await;
    let since = 1_772_697_600_000_i64;
    Mock::given(method("POST"))
        .and(path("/hubspot/crm/v3/objects/deals/search"))
        .and(body_partial_json(json!({
            "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since.to_string()}]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "limit": 200,
            "after": "9800",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 12000,
            "results": [object("77", "2026-03-20T00:00:00.000Z", json!({"dealname": "Big"}))],
            "paging": {"next": {"after": "10000", "link": "?after=10000"}},
        })))
        .mount(&server)
        .await;
    let cursor = json!({"mode": "search", "since": since, "after": "9800"});
    let page = Hubspot::private_app()
        .read(
            &context(&server),
            &connection(),
            &read("deals", Some(cursor)),
        )
        .await
        .unwrap();
    assert!(page.has_more);
    // A new search from the last change read instead of an `after` HubSpot refuses.
    let next = page.next_cursor.unwrap();
    assert_eq!(next["mode"], "search");
    assert_eq!(next["since"], 1_773_964_800_000_i64);
    assert!(next.get("after").is_none());

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hubspot/crm/v3/objects/companies/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 1,
            "results": [object("5", "2026-03-21T00:00:00.000Z", json!({"name": "Acme"}))],
        })))
        .mount(&server)
        .await;
    let cursor = json!({"mode": "search", "since": since});
    let page = Hubspot::private_app()
        .read(
            &context(&server),
            &connection(),
            &read("companies", Some(cursor)),
        )
        .await
        .unwrap();
    assert!(!page.has_more);
    assert_eq!(page.next_cursor.unwrap()["since"], 1_774_051_200_000_i64);
}

#[tokio::test]
async fn daily_totals_are_whole_days_with_the_won_amount_by_currency() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    // 2026-03-29, the first day of a two-day lookback.
    let (from, to) = ("1774742400000", "1774828800000");
    for (kind, total) in [("contacts", 7), ("deals", 3)] {
        Mock::given(method("POST"))
            .and(path(format!("/hubspot/crm/v3/objects/{kind}/search")))
            .and(body_partial_json(json!({"filterGroups": [{"filters": [
                {"propertyName": "createdate", "operator": "GTE", "value": from},
                {"propertyName": "createdate", "operator": "LT", "value": to},
            ]}]})))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({"total": total, "results": []})),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/hubspot/crm/v3/objects/deals/search"))
        .and(body_partial_json(json!({"filterGroups": [{"filters": [
            {"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"},
        ]}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 3,
            "results": [
                object("1", "2026-03-29T10:00:00.000Z", json!({"amount": "1000.50", "deal_currency_code": null})),
                object("2", "2026-03-29T11:00:00.000Z", json!({"amount": "250", "deal_currency_code": "eur"})),
                object("3", "2026-03-29T12:00:00.000Z", json!({"amount": null})),
            ],
        })))
        .mount(&server)
        .await;
    let page = Hubspot::private_app()
        .read(
            &context(&server),
            &connection(),
            &read("daily_totals", None),
        )
        .await
        .unwrap();
    assert!(page.has_more);
    assert_eq!(page.records[0].external_id, "2026-03-29");
    let value = |metric: &str, currency: Option<&str>| {
        page.kpis
            .iter()
            .find(|p| {
                p.metric == metric && p.dimensions.get("currency").map(String::as_str) == currency
            })
            .map(|p| p.value)
    };
    assert_eq!(value("new_contacts", None), Some(7.0));
    assert_eq!(value("deals_created", None), Some(3.0));
    assert_eq!(value("deals_won", None), Some(3.0));
    assert_eq!(value("won_amount", Some("USD")), Some(1000.5));
    assert_eq!(value("won_amount", Some("EUR")), Some(250.0));
    assert_eq!(
        page.next_cursor,
        Some(json!({"day": "2026-03-30", "end": "2026-03-31"}))
    );
}

#[tokio::test]
async fn the_open_pipeline_is_summed_by_stage_over_every_deal_page() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/pipelines/deals"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [{
            "id": "default", "label": "Sales", "displayOrder": 0, "archived": false,
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2025-01-01T00:00:00.000Z",
            "stages": [
                {"id": "open1", "label": "Open", "displayOrder": 0, "archived": false, "metadata": {"isClosed": "false", "probability": "0.2"}},
                {"id": "empty", "label": "Empty", "displayOrder": 1, "archived": false, "metadata": {"isClosed": "false", "probability": "0.5"}},
                {"id": "closedwon", "label": "Won", "displayOrder": 2, "archived": false, "metadata": {"isClosed": "true", "probability": "1.0"}},
            ],
        }]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/objects/deals"))
        .and(query_param("after", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            object("3", "2026-03-01T00:00:00.000Z", json!({"amount": "50", "dealstage": "open1", "deal_currency_code": "EUR"})),
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/objects/deals"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                object("1", "2026-03-01T00:00:00.000Z", json!({"amount": "100", "dealstage": "open1"})),
                object("2", "2026-03-01T00:00:00.000Z", json!({"amount": "999", "dealstage": "closedwon"})),
            ],
            "paging": {"next": {"after": "2"}},
        })))
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection());
    let mut cursor = None;
    let mut kpis = Vec::new();
    let mut records = 0;
    for _ in 0..5 {
        let page = Hubspot::private_app()
            .read(&ctx, &conn, &read("pipelines", cursor.clone()))
            .await
            .unwrap();
        records += page.records.len();
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(records, 1);
    let value = |metric: &str, stage: &str, currency: Option<&str>| {
        kpis.iter()
            .find(|p| {
                p.metric == metric
                    && p.dimensions["stage"] == stage
                    && p.dimensions.get("currency").map(String::as_str) == currency
            })
            .map(|p| p.value)
    };
    assert_eq!(value("open_deals", "open1", None), Some(2.0));
    assert_eq!(
        value("open_pipeline_value", "open1", Some("USD")),
        Some(100.0)
    );
    assert_eq!(
        value("open_pipeline_value", "open1", Some("EUR")),
        Some(50.0)
    );
    assert_eq!(value("open_deals", "empty", None), Some(0.0));
    assert_eq!(
        value("open_pipeline_value", "empty", Some("USD")),
        Some(0.0)
    );
    assert!(kpis.iter().all(|p| p.dimensions["stage"] != "closedwon"));
    assert!(kpis.iter().all(|p| p.date.to_string() == "2026-03-31"));
}

#[tokio::test]
async fn owners_page_to_the_end() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/owners"))
        .and(query_param("after", "o2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"id": "3", "email": "c@example.com", "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-01T00:00:00Z", "archived": false},
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/owners"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"id": "1", "email": "a@example.com", "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-01T00:00:00Z", "archived": false}],
            "paging": {"next": {"after": "o2"}},
        })))
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection());
    let first = Hubspot::private_app()
        .read(&ctx, &conn, &read("owners", None))
        .await
        .unwrap();
    assert!(first.has_more);
    let last = Hubspot::private_app()
        .read(&ctx, &conn, &read("owners", first.next_cursor))
        .await
        .unwrap();
    assert!(!last.has_more);
    assert_eq!(last.records[0].external_id, "3");
}

async fn refused(status: u16, body: Value, headers: &[(&str, &str)]) -> AdapterError {
    let server = MockServer::start().await;
    let mut response = ResponseTemplate::new(status).set_body_json(body);
    for (name, value) in headers {
        response = response.insert_header(*name, *value);
    }
    Mock::given(path("/hubspot/crm/v3/objects/contacts"))
        .respond_with(response)
        .mount(&server)
        .await;
    Hubspot::private_app()
        .read(&context(&server), &connection(), &read("contacts", None))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn each_documented_refusal_and_rate_limit_signal_is_classified() {
    let daily = json!({"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT", "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24", "policyName": "DAILY", "groupName": "api-calls-daily"});
    assert_eq!(
        refused(
            429,
            daily,
            &[
                ("x-hubspot-ratelimit-daily", "250000"),
                ("x-hubspot-ratelimit-daily-remaining", "0")
            ]
        )
        .await,
        AdapterError::QuotaExhausted {
            resets_at: Some("2026-04-01T00:00:00Z".parse().unwrap())
        }
    );
    let window = json!({"status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "correlationId": "c1", "policyName": "TEN_SECONDLY_ROLLING"});
    assert_eq!(
        refused(
            429,
            window,
            &[
                ("x-hubspot-ratelimit-max", "100"),
                ("x-hubspot-ratelimit-remaining", "0"),
                ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
            ]
        )
        .await,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(10))
        }
    );
    let scopes = refused(
        403,
        error(
            "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call.",
        ),
        &[],
    )
    .await;
    assert!(
        matches!(
            scopes,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{scopes:?}"
    );
    let invalid = refused(
        400,
        error("VALIDATION_ERROR", "Invalid input JSON on line 1"),
        &[],
    )
    .await;
    assert!(
        matches!(invalid, AdapterError::Invalid { .. }),
        "{invalid:?}"
    );
    let unauthorized = refused(
        401,
        error(
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found.",
        ),
        &[],
    )
    .await;
    assert!(
        matches!(
            unauthorized,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{unauthorized:?}"
    );
    let outage = refused(503, error("INTERNAL_ERROR", "internal error"), &[]).await;
    assert!(
        matches!(outage, AdapterError::Unavailable { .. }),
        "{outage:?}"
    );
}

#[tokio::test]
async fn upsert_contact_is_hubspots_batch_upsert_by_email() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hubspot/crm/v3/objects/contacts/batch/upsert"))
        .and(body_partial_json(json!({"inputs": [{
            "idProperty": "email",
            "id": "ada@example.com",
            "properties": {"firstname": "Ada", "hs_lead_status": "NEW", "score": "7"},
        }]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{"id": "901", "new": true, "archived": false, "createdAt": "2026-03-31T12:00:00Z", "updatedAt": "2026-03-31T12:00:00Z", "properties": {"email": "ada@example.com"}}],
            "startedAt": "2026-03-31T12:00:00Z",
            "completedAt": "2026-03-31T12:00:00Z",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = Hubspot::private_app()
        .act(
            &context(&server),
            &connection(),
            "upsert_contact",
            &json!({"email": " Ada@Example.com", "firstname": "Ada", "properties": {"hs_lead_status": "NEW", "score": 7}}),
            Some("key-1"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some("901"));
    assert_eq!(outcome.output["created"], true);
}

#[tokio::test]
async fn a_retried_deal_create_finds_the_first_attempts_deal() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hubspot/crm/v3/objects/deals/search"))
        .and(body_partial_json(json!({"filterGroups": [{"filters": [
            {"propertyName": "dealname", "operator": "EQ", "value": "Renewal"},
        ]}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "total": 1,
            "results": [object("555", "2026-03-31T11:59:00Z", json!({"dealname": "Renewal", "amount": "1200", "pipeline": "default", "dealstage": "contractsent"}))],
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hubspot/crm/v3/objects/deals"))
        .respond_with(ResponseTemplate::new(201).set_body_json(object(
            "556",
            "2026-03-31T12:00:00Z",
            json!({}),
        )))
        .expect(0)
        .mount(&server)
        .await;
    let outcome = Hubspot::private_app()
        .act(
            &context(&server),
            &connection(),
            "upsert_deal",
            &json!({"dealname": "Renewal", "amount": 1200, "pipeline": "default", "dealstage": "contractsent"}),
            Some("run-1"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some("555"));
    assert_eq!(outcome.output["deduplicated"], true);
}

#[tokio::test]
async fn updating_an_unknown_deal_names_deal_id() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/hubspot/crm/v3/objects/deals/404"))
        .respond_with(ResponseTemplate::new(404).set_body_json(error(
            "OBJECT_NOT_FOUND",
            "Object not found.  objectId are usually numeric.",
        )))
        .mount(&server)
        .await;
    let error = Hubspot::private_app()
        .act(
            &context(&server),
            &connection(),
            "upsert_deal",
            &json!({"deal_id": "404", "amount": 5}),
            Some("k"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "deal_id"),
        "{error:?}"
    );
}

#[tokio::test]
async fn associate_puts_the_default_association() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/hubspot/crm/v4/objects/contact/12345/associations/default/company/67891"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{"from": {"id": "12345"}, "to": {"id": "67891"}, "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}}],
            "startedAt": "2026-03-31T12:00:00Z", "completedAt": "2026-03-31T12:00:00Z",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = Hubspot::private_app()
        .act(
            &context(&server),
            &connection(),
            "associate",
            &json!({"from_type": "contact", "from_id": "12345", "to_type": "company", "to_id": "67891"}),
            Some("k"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.output["status"], "COMPLETE");
}

#[tokio::test]
async fn a_note_is_created_with_its_association_unless_a_retry_finds_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hubspot/crm/v3/objects/notes/search"))
        .and(body_partial_json(json!({"filterGroups": [{"filters": [
            {"propertyName": "associations.deal", "operator": "EQ", "value": "42"},
        ]}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 1, "results": [
            object("7001", "2026-03-31T11:00:00Z", json!({"hs_note_body": "Another note", "hs_timestamp": "2026-03-31T11:00:00.000Z"})),
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hubspot/crm/v3/objects/notes"))
        .and(body_partial_json(json!({
            "properties": {"hs_note_body": "Called, left a message", "hs_timestamp": "2026-03-31T12:00:00.000Z"},
            "associations": [{"to": {"id": "42"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}]}],
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(object("7002", "2026-03-31T12:00:00Z", json!({"hs_note_body": "Called, left a message"}))))
        .expect(1)
        .mount(&server)
        .await;
    let input = json!({"object_type": "deal", "object_id": "42", "body": "Called, left a message"});
    let outcome = Hubspot::private_app()
        .act(
            &context(&server),
            &connection(),
            "add_note",
            &input,
            Some("run-9"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some("7002"));
    assert_eq!(outcome.output["created"], true);
}

#[tokio::test]
async fn the_proxy_targets_hubspots_root_with_the_token() {
    let server = MockServer::start().await;
    let target = Hubspot::oauth()
        .proxy_target(
            &context(&server),
            &crate::support::oauth("oauth-token", json!({})),
        )
        .await
        .unwrap();
    assert_eq!(
        target.base_url.as_str(),
        format!("{}/hubspot/", server.uri())
    );
    assert_eq!(target.headers[0].0, "authorization");
}

//! The adapter against wiremock serving Buffer's documented GraphQL shapes: the
//! requests each stream and action makes, paging to the end, each documented error
//! (top-level `errors[]` with HTTP 200 or with a 401/429, and the mutation payload
//! unions), and the rate-limit signals.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use junction_buffer::{Buffer, POSTING_LIMITS, POSTS, QUEUE_SIZE};
use junction_core::{
    Adapter, AdapterError, Context, FixedClock, ReadRequest, http::RateLimitInfo,
    ratelimit::RateLimiter, spec::RateBudget,
};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, Request, ResponseTemplate,
    matchers::{body_partial_json, body_string_contains, header, method, path},
};

use crate::support::{any, with_config};

/// 2026-03-31 12:00 UTC.
fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 31, 12, 0, 0).unwrap()
}

/// A context pointed at `server` under `/buffer/`, at [`now`].
fn context(server: &MockServer) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/buffer/", server.uri()).parse().unwrap())
        .with_clock(Arc::new(FixedClock(now())))
}

fn read(stream: &str, cursor: Option<Value>) -> ReadRequest {
    ReadRequest {
        stream: stream.into(),
        cursor,
        page_size: Some(2),
    }
}

/// The `Account` answer: one organization.
async fn mount_account(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/buffer/"))
        .and(body_string_contains("query Account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"account": {
            "id": "acc_1", "email": "me@example.com", "name": "Me", "timezone": "UTC",
            "organizations": [{"id": "org_1", "name": "Org", "ownerEmail": "me@example.com", "channelCount": 2}]
        }}})))
        .mount(server)
        .await;
}

fn post(id: &str, channel: &str, status: &str, created: &str) -> Value {
    json!({"node": {"id": id, "text": format!("text {id}"), "status": status, "dueAt": "2026-04-01T10:00:00.000Z",
        "sentAt": null, "createdAt": created, "updatedAt": created, "channelId": channel, "channelService": "twitter",
        "schedulingType": "automatic", "isCustomScheduled": false, "shareMode": "addToQueue", "sharedNow": false,
        "externalLink": null, "error": null}})
}

fn page(edges: Vec<Value>, next: Option<&str>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": {"posts": {
        "edges": edges,
        "pageInfo": {"hasNextPage": next.is_some(), "endCursor": next}
    }}}))
}

#[tokio::test]
async fn posts_page_to_the_end_of_both_phases_and_count_the_queue() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    let created = |after: Value| {
        body_partial_json(json!({"variables": {"first": 2, "after": after, "input": {
            "organizationId": "org_1",
            "filter": {"createdAt": {"start": "2026-03-01T12:00:00.000Z"}},
            "sort": [{"field": "createdAt", "direction": "asc"}]}}}))
    };
    Mock::given(method("POST"))
        .and(path("/buffer/"))
        .and(header("authorization", "Bearer test_key"))
        .and(body_string_contains("query Posts"))
        .and(created(Value::Null))
        .respond_with(page(
            vec![
                post("p1", "ch_a", "scheduled", "2026-03-20T08:00:00.000Z"),
                post("p2", "ch_a", "sent", "2026-03-21T08:00:00.000Z"),
            ],
            Some("c1"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(body_string_contains("query Posts"))
        .and(created(json!("c1")))
        .respond_with(page(
            vec![post("p3", "ch_b", "scheduled", "2026-03-22T08:00:00.000Z")],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    // The due phase: p1 again (created in the window, left out) and an older post
    // still queued.
    Mock::given(body_string_contains("query Posts"))
        .and(body_partial_json(
            json!({"variables": {"after": null, "input": {
            "filter": {"dueAt": {"start": "2026-03-01T12:00:00.000Z"}},
            "sort": [{"field": "dueAt", "direction": "asc"}]}}}),
        ))
        .respond_with(page(
            vec![
                post("p1", "ch_a", "scheduled", "2026-03-20T08:00:00.000Z"),
                post("p0", "ch_a", "scheduled", "2026-02-01T08:00:00.000Z"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;

    let ctx = context(&server);
    let mut cursor = None;
    let mut ids = Vec::new();
    let mut kpis = Vec::new();
    for _ in 0..10 {
        let page = Buffer
            .read(&ctx, &any(), &read(POSTS, cursor.clone()))
            .await
            .unwrap();
        ids.extend(page.records.iter().map(|r| r.external_id.clone()));
        kpis.extend(page.kpis);
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(ids, ["p1", "p2", "p3", "p0"]);
    let mut queue: Vec<_> = kpis
        .iter()
        .map(|p| {
            (
                p.metric.as_str(),
                p.dimensions["channel"].as_str(),
                p.value,
                p.date.to_string(),
            )
        })
        .collect();
    queue.sort_by(|a, b| a.1.cmp(b.1));
    assert_eq!(
        queue,
        [
            (QUEUE_SIZE, "ch_a", 2.0, "2026-03-31".into()),
            (QUEUE_SIZE, "ch_b", 1.0, "2026-03-31".into())
        ]
    );
    // The next pass starts a day before this one began.
    assert_eq!(
        cursor,
        Some(json!({"since": "2026-03-30T12:00:00Z", "organization": 0, "phase": "created"}))
    );
}

#[tokio::test]
async fn daily_posting_limits_ask_a_week_per_request_and_become_kpis() {
    let server = MockServer::start().await;
    mount_account(&server).await;
    Mock::given(body_string_contains("query Channels"))
        .and(body_partial_json(json!({"variables": {"organizationId": "org_1"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"channels": [
            {"id": "ch_a", "name": "a", "service": "twitter"}, {"id": "ch_b", "name": "b", "service": "linkedin"}
        ]}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(body_string_contains("query DailyPostingLimits"))
        .respond_with(|request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let variables = &body["variables"];
            assert_eq!(variables["channelIds"], json!(["ch_a", "ch_b"]));
            let mut data = serde_json::Map::new();
            for i in 0.. {
                if variables.get(format!("d{i}")).is_none() {
                    break;
                }
                data.insert(format!("d{i}"), json!([
                    {"channelId": "ch_a", "sent": 2, "scheduled": 1, "limit": 50, "isAtLimit": false},
                    {"channelId": "ch_b", "sent": 0, "scheduled": 0, "limit": null, "isAtLimit": false},
                ]));
            }
            ResponseTemplate::new(200).set_body_json(json!({"data": data}))
        })
        .expect(2)
        .mount(&server)
        .await;
    let conn = with_config(json!({"lookback_days": 10}));
    let ctx = context(&server);
    let first = Buffer
        .read(&ctx, &conn, &read(POSTING_LIMITS, None))
        .await
        .unwrap();
    assert!(first.has_more);
    // 7 days × 2 channels; ch_b has no limit point (unlimited).
    assert_eq!(first.records.len(), 14);
    assert_eq!(first.records[0].external_id, "ch_a:2026-03-22");
    let of = |metric: &str| first.kpis.iter().filter(|p| p.metric == metric).count();
    assert_eq!(
        (
            of("posts_sent"),
            of("posts_scheduled"),
            of("daily_posting_limit")
        ),
        (14, 14, 7)
    );
    let second = Buffer
        .read(
            &ctx,
            &conn,
            &read(POSTING_LIMITS, first.next_cursor.clone()),
        )
        .await
        .unwrap();
    assert!(!second.has_more);
    assert_eq!(second.records.len(), 6);
    assert_eq!(
        second.records.last().unwrap().external_id,
        "ch_b:2026-03-31"
    );
    // The next pass re-reads from yesterday.
    assert_eq!(second.next_cursor.unwrap()["from"], "2026-03-30");
}

/// The error of a `check` against a server answering `template`.
async fn check_error(template: ResponseTemplate) -> AdapterError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    Buffer.check(&context(&server), &any()).await.unwrap_err()
}

fn errors(code: &str, message: &str, extensions: Value) -> Value {
    let mut extensions = extensions;
    extensions["code"] = json!(code);
    json!({"data": null, "errors": [{"message": message, "extensions": extensions}]})
}

#[tokio::test]
async fn each_documented_error_is_classified() {
    // UNAUTHORIZED in a 200 body, and a bare 401: a key no refresh can fix.
    for template in [
        ResponseTemplate::new(200).set_body_json(errors(
            "UNAUTHORIZED",
            "Not authorized",
            json!({}),
        )),
        ResponseTemplate::new(401).set_body_json(errors(
            "UNAUTHORIZED",
            "Not authorized",
            json!({}),
        )),
        ResponseTemplate::new(401),
    ] {
        match check_error(template).await {
            AdapterError::Unauthorized {
                refreshable: false, ..
            } => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        check_error(ResponseTemplate::new(200).set_body_json(errors(
            "FORBIDDEN",
            "Forbidden",
            json!({})
        )))
        .await,
        AdapterError::Unauthorized {
            refreshable: false,
            ..
        }
    ));
    // The 15-minute window: a wait; the daily window: a quota until its reset.
    let limited = |secs: u64| {
        ResponseTemplate::new(429)
            .insert_header("retry-after", secs.to_string().as_str())
            .set_body_json(errors(
                "RATE_LIMIT_EXCEEDED",
                "Too many requests from this client. Please try again later.",
                json!({"limitType": "CLIENT_ACCOUNT", "retryAfter": secs}),
            ))
    };
    assert_eq!(
        check_error(limited(900)).await,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(900))
        }
    );
    assert_eq!(
        check_error(limited(86_400)).await,
        AdapterError::QuotaExhausted {
            resets_at: Some(now() + chrono::Duration::days(1))
        }
    );
    // Only the body says how long (an HTTP 200 carrying the error).
    let in_body = ResponseTemplate::new(200).set_body_json(errors(
        "RATE_LIMIT_EXCEEDED",
        "Too many requests",
        json!({"retryAfter": 120}),
    ));
    assert_eq!(
        check_error(in_body).await,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    match check_error(ResponseTemplate::new(200).set_body_json(errors(
        "BAD_USER_INPUT",
        "Invalid organization id",
        json!({}),
    )))
    .await
    {
        AdapterError::Invalid { message, .. } => {
            assert!(message.contains("Invalid organization id"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        check_error(ResponseTemplate::new(200).set_body_json(errors(
            "INTERNAL_SERVER_ERROR",
            "Unexpected",
            json!({})
        )))
        .await,
        AdapterError::Unavailable { .. }
    ));
    assert!(matches!(
        check_error(ResponseTemplate::new(200).set_body_json(json!({"data": null}))).await,
        AdapterError::Unavailable { .. }
    ));
}

/// A limiter that keeps what it is told.
#[derive(Default)]
struct Recorder(Mutex<Vec<RateLimitInfo>>);

#[async_trait]
impl RateLimiter for Recorder {
    async fn acquire(&self, _: &str, _: &RateBudget) -> Result<(), AdapterError> {
        Ok(())
    }

    fn observe(&self, _: &str, info: &RateLimitInfo) {
        self.0.lock().unwrap().push(info.clone());
    }
}

#[tokio::test]
async fn the_structured_rate_limit_headers_reach_the_shared_limiter() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ratelimit", "\"100-in-15min\";r=40;t=600, \"250-in-24h\";r=3;t=7200")
                .insert_header("ratelimit-policy", "\"100-in-15min\";q=100;w=900, \"250-in-24h\";q=250;w=86400")
                .set_body_json(json!({"data": {"account": {"id": "a", "email": "me@example.com", "organizations": []}}})),
        )
        .mount(&server)
        .await;
    let recorder = Arc::new(Recorder::default());
    let mut ctx = context(&server);
    ctx.limiter = recorder.clone();
    let health = Buffer.check(&ctx, &any()).await.unwrap();
    assert_eq!(health.account.as_deref(), Some("me@example.com"));
    let seen = recorder.0.lock().unwrap().clone();
    let tightest = seen
        .iter()
        .find(|info| info.remaining == Some(3))
        .expect("the 24-hour window reported");
    assert_eq!(tightest.limit, Some(250));
    assert_eq!(tightest.reset_at, Some(now() + chrono::Duration::hours(2)));
}

/// A `createPost` payload for the wiremock server.
fn create_answer(payload: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": {"createPost": payload}}))
}

#[tokio::test]
async fn mutation_error_members_are_invalid_with_buffers_message() {
    let input = json!({"channel_id": "ch_a", "text": "Hello", "mode": "scheduled", "due_at": "2026-04-02T09:00:00Z"});
    for (payload, expected_field, invalid) in [
        (
            json!({"__typename": "InvalidInputError", "message": "dueAt must be in the future"}),
            None,
            true,
        ),
        (
            json!({"__typename": "LimitReachedError", "message": "Daily limit reached"}),
            None,
            true,
        ),
        (
            json!({"__typename": "RestProxyError", "message": "Proxy failed", "code": 400, "link": null}),
            None,
            true,
        ),
        (
            json!({"__typename": "NotFoundError", "message": "Channel not found"}),
            Some("channel_id"),
            true,
        ),
        (
            json!({"__typename": "UnauthorizedError", "message": "No access"}),
            Some("channel_id"),
            true,
        ),
        (json!({"message": "Channel not found"}), None, true),
        (
            json!({"__typename": "UnexpectedError", "message": "Something broke"}),
            None,
            false,
        ),
    ] {
        let server = MockServer::start().await;
        let said = payload["message"].as_str().unwrap().to_owned();
        Mock::given(body_string_contains("mutation CreatePost"))
            .and(body_partial_json(json!({"variables": {"input": {
                "channelId": "ch_a", "text": "Hello", "mode": "customScheduled",
                "dueAt": "2026-04-02T09:00:00.000Z", "schedulingType": "automatic",
                "assets": [], "needsApproval": false}}})))
            .respond_with(create_answer(payload.clone()))
            .expect(1)
            .mount(&server)
            .await;
        // Without an idempotency key: no look-up, straight to the mutation.
        let error = Buffer
            .act(&context(&server), &any(), "create_post", &input, None)
            .await
            .unwrap_err();
        match (&error, invalid) {
            (AdapterError::Invalid { field, message }, true) => {
                assert_eq!(field.as_deref(), expected_field, "{payload}");
                assert!(message.contains(&said), "{message}");
            }
            (AdapterError::Unavailable { message }, false) => assert!(message.contains(&said)),
            _ => panic!("{payload}: {error:?}"),
        }
    }
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_finds_the_post_instead_of_posting_twice() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("query Channel("))
        .and(body_partial_json(json!({"variables": {"id": "ch_a"}})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"data": {"channel": {"id": "ch_a", "organizationId": "org_1"}}}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    // The earlier try's post is among the channel's posts of the last day.
    Mock::given(body_string_contains("query Posts"))
        .and(body_partial_json(json!({"variables": {"first": 100, "input": {
            "organizationId": "org_1",
            "filter": {"channelIds": ["ch_a"], "createdAt": {"start": "2026-03-30T12:00:00.000Z"}},
            "sort": [{"field": "createdAt", "direction": "desc"}]}}})))
        .respond_with(page(
            vec![
                json!({"node": {"id": "p_other", "text": "Hello", "status": "scheduled", "dueAt": "2026-04-03T09:00:00.000Z", "createdAt": "2026-03-31T11:00:00.000Z", "channelId": "ch_a"}}),
                json!({"node": {"id": "p_mine", "text": "Hello", "status": "scheduled", "dueAt": "2026-04-02T09:00:00.000Z", "createdAt": "2026-03-31T11:59:00.000Z", "channelId": "ch_a"}}),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(body_string_contains("mutation CreatePost"))
        .respond_with(create_answer(
            json!({"__typename": "PostActionSuccess", "post": {"id": "p_new"}}),
        ))
        .expect(0)
        .mount(&server)
        .await;
    let input = json!({"channel_id": "ch_a", "text": "Hello", "mode": "scheduled", "due_at": "2026-04-02T09:00:00Z"});
    let outcome = Buffer
        .act(
            &context(&server),
            &any(),
            "create_post",
            &input,
            Some("jct-key-1"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.external_id.as_deref(), Some("p_mine"));
    assert_eq!(outcome.output["deduplicated"], true);
}

#[tokio::test]
async fn the_proxy_targets_the_graphql_endpoint_with_the_key() {
    let server = MockServer::start().await;
    let target = Buffer
        .proxy_target(&context(&server), &any())
        .await
        .unwrap();
    assert_eq!(
        target.base_url.as_str(),
        format!("{}/buffer/", server.uri())
    );
    assert_eq!(target.headers.len(), 1);
    assert_eq!(target.headers[0].0, http::header::AUTHORIZATION);
}

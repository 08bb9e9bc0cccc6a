use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use junction_core::{RateBudget, RateLimiter, http::RateLimitInfo};
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

use super::*;
use crate::{
    Envelope, ErrorRule, ErrorTable, RateLimitHeaders, RateLimitSignals, Verification,
    auth::AuthMode,
    base::BaseUrl,
    paging::{OnStall, PageSize, Style},
    testing::{TestConnection as _, connection, spec_with},
};

fn usage(headers: &HeaderMap, _: DateTime<Utc>) -> Option<RateLimitInfo> {
    let used: u64 = headers.get("x-usage")?.to_str().ok()?.parse().ok()?;
    Some(RateLimitInfo {
        limit: Some(100),
        remaining: Some(100 - used.min(100)),
        ..RateLimitInfo::default()
    })
}

const API: HttpApi = HttpApi {
    base: BaseUrl::fixed("https://api.example.test").with_prefix("v2"),
    auth: &[
        AuthMode::OAUTH_BEARER,
        AuthMode::api_key_header("api_key", "X-Api-Key", "{key}"),
    ],
    headers: &[("accept", "application/json")],
    verification: Some(Verification {
        method: "GET",
        path: "accounts/{account}",
        query: &[("fields", "name")],
        account: Some("/name"),
    }),
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/error/code"],
            message: &["/error/message"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::code("THROTTLED").rate_limited(),
            ErrorRule::code("BAD_ACCOUNT").invalid_field("account"),
        ],
        in_success_body: Some("/errors"),
    },
    rate_limits: RateLimitSignals {
        headers: RateLimitHeaders::Custom(usage),
        warn_at_percent: Some(10),
    },
};

#[derive(Default)]
struct Recorder(Mutex<Vec<RateLimitInfo>>);

#[async_trait::async_trait]
impl RateLimiter for Recorder {
    async fn acquire(&self, _: &str, _: &RateBudget) -> Result<(), AdapterError> {
        Ok(())
    }
    fn observe(&self, _: &str, info: &RateLimitInfo) {
        self.0.lock().unwrap().push(info.clone());
    }
}

fn context(server: &MockServer) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(format!("{}/mount", server.uri()).parse().unwrap())
}

fn key_connection() -> Connection {
    let mut conn = connection(&[("api_key", "k-1")]);
    conn.config.insert("account".into(), json!("a/1"));
    conn
}

#[tokio::test]
async fn requests_carry_the_credential_and_headers_under_the_prefix() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mount/v2/accounts/a%2F1"))
        .and(header("x-api-key", "k-1"))
        .and(header("accept", "application/json"))
        .and(query_param("fields", "name"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Acme"})))
        .expect(1)
        .mount(&server)
        .await;
    let ctx = context(&server);
    let spec = spec_with(junction_core::AuthSpec::ApiKey { fields: vec![] });
    let conn = key_connection();
    let client = Client::new(&ctx, &spec, &API, &conn).unwrap();
    assert_eq!(client.policy(), ResponsePolicy::API_KEY);
    let health = client.check().await.unwrap();
    assert_eq!(health.account.as_deref(), Some("Acme"));
    assert!(!format!("{client:?}").contains("k-1"));

    let target = client.proxy_target().unwrap();
    assert_eq!(target.base_url.as_str(), format!("{}/mount/", server.uri()));
    assert_eq!(target.headers[0].1.expose_secret(), "k-1");
    let default = Context::new(reqwest::Client::new());
    let client = Client::new(&default, &spec, &API, &conn).unwrap();
    assert_eq!(
        client.url("/me").unwrap().as_str(),
        "https://api.example.test/v2/me"
    );
}

#[tokio::test]
async fn refusals_go_through_the_table_and_the_calls_refinement() {
    let server = MockServer::start().await;
    Mock::given(path("/mount/v2/throttled"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"code": "THROTTLED", "message": "slow"}}))
                .insert_header("x-usage", "100"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/mount/v2/account"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(
                json!({"error": {"code": "BAD_ACCOUNT", "message": "no such account"}}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(path("/mount/v2/graphql"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": null, "errors": [{"message": "slow down", "extensions": {"code": "THROTTLED"}}]}),
        ))
        .mount(&server)
        .await;
    let recorder = Arc::new(Recorder::default());
    let mut ctx = context(&server);
    ctx.limiter = recorder.clone();
    let spec = crate::testing::oauth_spec();
    let conn = connection(&[]).with_token("tok");
    let client = Client::new(&ctx, &spec, &API, &conn).unwrap();
    assert_eq!(client.policy(), ResponsePolicy::OAUTH);

    let err = client.get::<Value>("throttled", &[]).await.unwrap_err();
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
    let seen = recorder.0.lock().unwrap().clone();
    assert!(
        seen.iter().any(|info| info.remaining == Some(0)),
        "{seen:?}"
    );

    let err = client.get::<Value>("account", &[]).await.unwrap_err();
    assert_eq!(
        err,
        AdapterError::invalid_field("account", "no such account")
    );
    let err = client
        .send_with(
            client.request(Method::GET, "account").unwrap(),
            |err, refusal| {
                assert_eq!(refusal.status, StatusCode::NOT_FOUND);
                AdapterError::invalid_field("other", err.to_string())
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { field: Some(f), .. } if f == "other"));

    // GraphQL: an error list with HTTP 200 is a refusal, classified by the same table
    // (the generic code reading finds `extensions.code` when the envelope has none).
    let graphql = HttpApi {
        errors: ErrorTable {
            envelope: Envelope::GENERIC,
            ..API.errors
        },
        ..API
    };
    let client = Client::new(&ctx, &spec, &graphql, &conn).unwrap();
    let err = client.get::<Value>("graphql", &[]).await.unwrap_err();
    assert_eq!(err, AdapterError::RateLimited { retry_after: None });
}

#[tokio::test]
async fn link_walks_stay_under_the_api_root() {
    let server = MockServer::start().await;
    let next = format!("<{}/mount/v2/items?page=2>; rel=\"next\"", server.uri());
    Mock::given(path("/mount/v2/items"))
        .and(query_param("per_page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1}, {"id": 2}]))
                .insert_header("link", next.as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/mount/v2/items"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 3}])))
        .mount(&server)
        .await;
    let paging = Paging {
        style: Style::Link,
        items: "",
        size_param: "per_page",
        size: PageSize { default: 2, max: 2 },
        on_stall: OnStall::Fail,
    };
    let ctx = context(&server);
    let spec = spec_with(junction_core::AuthSpec::ApiKey { fields: vec![] });
    let conn = key_connection();
    let client = Client::new(&ctx, &spec, &API, &conn).unwrap();
    let mut token = PageToken::First;
    let mut ids = Vec::new();
    loop {
        let request = client
            .page_request(Method::GET, "items", &paging, &token, 2)
            .unwrap();
        let page = client.fetch(request).await.unwrap();
        ids.extend(
            page.body
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone()),
        );
        match paging.next(&token, 2, &page.headers, &page.body).unwrap() {
            Some(next) => token = next,
            None => break,
        }
    }
    assert_eq!(ids, [json!(1), json!(2), json!(3)]);
    for away in ["https://evil.example/v2/items", "/other/v2/items"] {
        let err = client
            .page_request(
                Method::GET,
                "items",
                &paging,
                &PageToken::Url(away.into()),
                2,
            )
            .unwrap_err();
        assert!(matches!(err, AdapterError::Unavailable { .. }), "{away}");
    }
}

#[tokio::test]
async fn fetched_bodies_decode_without_quoting_values() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        count: u64,
    }
    let fetched = Fetched {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body: json!({"count": "sk_live_SECRET"}),
    };
    let err = fetched.decode::<Shape>().unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }));
    assert!(!err.to_string().contains("SECRET"), "{err}");
    let missing = Fetched {
        body: json!({}),
        ..fetched
    };
    assert!(
        missing
            .decode::<Shape>()
            .unwrap_err()
            .to_string()
            .contains("missing field `count`")
    );
    assert_eq!(API.validate(), Ok(()));
}

#[tokio::test]
async fn custom_checks_read_the_verification_answer() {
    #[derive(Debug, serde::Deserialize)]
    struct Account {
        name: String,
    }
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/mount/v2/accounts/a%2F1"))
        .and(query_param("fields", "name"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Acme"})))
        .expect(2)
        .mount(&server)
        .await;
    let ctx = context(&server);
    let spec = spec_with(junction_core::AuthSpec::ApiKey { fields: vec![] });
    let conn = key_connection();
    let client = Client::new(&ctx, &spec, &API, &conn).unwrap();
    assert_eq!(client.verify::<Account>().await.unwrap().name, "Acme");
    // An answer of another shape is a malformed body, as for any call.
    assert!(matches!(
        client.verify::<Vec<u8>>().await,
        Err(AdapterError::Unavailable { .. })
    ));
    let none = HttpApi {
        verification: None,
        ..API
    };
    let client = Client::new(&ctx, &spec, &none, &conn).unwrap();
    assert!(matches!(
        client.verify::<Value>().await,
        Err(AdapterError::Invalid { .. })
    ));
}

#[tokio::test]
async fn downloads_follow_links_without_the_credential() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/storage/r.tar.gz"))
        .and(query_param("X-Amz-Signature", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![7_u8; 64]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/mount/v2/files/r.json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/storage/gone"))
        .respond_with(ResponseTemplate::new(403).set_body_string("expired"))
        .mount(&server)
        .await;
    let ctx = context(&server);
    let spec = spec_with(junction_core::AuthSpec::ApiKey { fields: vec![] });
    let conn = key_connection();
    let client = Client::new(&ctx, &spec, &API, &conn).unwrap();
    let link = format!("{}/storage/r.tar.gz?X-Amz-Signature=abc", server.uri());
    assert_eq!(client.download(&link, 64).await.unwrap(), vec![7_u8; 64]);
    assert_eq!(client.download("files/r.json", 64).await.unwrap(), b"[]");
    let err = client.download(&link, 63).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains("abc"), "{err}");
    let gone = format!("{}/storage/gone", server.uri());
    assert!(matches!(
        client.download(&gone, 64).await,
        Err(AdapterError::Provider { status: 403, .. })
    ));
    for request in server.received_requests().await.unwrap() {
        assert!(
            request.headers.get("x-api-key").is_none(),
            "{}",
            request.url
        );
    }
    // Without an override, only HTTPS links are followed, and nothing is sent.
    let production = Context::new(reqwest::Client::new());
    let client = Client::new(&production, &spec, &API, &conn).unwrap();
    let sent = server.received_requests().await.unwrap().len();
    for bad in [link.as_str(), "http://[::1"] {
        assert!(matches!(
            client.download(bad, 64).await,
            Err(AdapterError::Unavailable { .. })
        ));
    }
    assert_eq!(server.received_requests().await.unwrap().len(), sent);
}

#[tokio::test]
async fn list_pages_hold_their_items_and_the_next_token() {
    let server = MockServer::start().await;
    Mock::given(path("/mount/v2/emails"))
        .and(query_param("limit", "2"))
        .and(query_param("after", "e2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"id": "e3"}, {"id": "e4"}], "has_more": true})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/mount/v2/emails"))
        .and(query_param("after", "e4"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list"})))
        .mount(&server)
        .await;
    let paging = Paging {
        style: Style::Cursor {
            param: "after",
            at: crate::CursorAt::LastItem("id"),
            more: crate::More::Flag("/has_more"),
        },
        items: "/data",
        size_param: "limit",
        size: PageSize { default: 2, max: 2 },
        on_stall: OnStall::End,
    };
    let ctx = context(&server);
    let spec = spec_with(junction_core::AuthSpec::ApiKey { fields: vec![] });
    let conn = key_connection();
    let client = Client::new(&ctx, &spec, &API, &conn).unwrap();
    let page = client
        .list_page("emails", &paging, &PageToken::Cursor("e2".into()), 2)
        .await
        .unwrap();
    assert_eq!(
        page,
        ListPage {
            items: vec![json!({"id": "e3"}), json!({"id": "e4"})],
            next: Some(PageToken::Cursor("e4".into())),
        }
    );
    let err = client
        .list_page("emails", &paging, &PageToken::Cursor("e4".into()), 2)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        AdapterError::unavailable("malformed response body: no list at `/data`")
    );
}

//! The authenticated proxy: a request reaches the provider's own API with the
//! integration's credentials and its answer comes back; a refused token is
//! refreshed once; nothing outside the provider's API can be reached; another
//! workspace's integration is unknown.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::{
    api_key_connections,
    support::{TestApp, assert_problem},
    webhooks::connect_stripe,
};

/// A raw `GET` whose path goes on the wire exactly as written (an HTTP client would
/// normalise `..` and `%2e` segments before sending). Returns the status and body.
async fn raw_get(app: &TestApp, path: &str) -> (u16, Value) {
    let addr = app.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        app.api_key
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    // A chunked body: the JSON sits between the chunk sizes.
    let json_start = body.find('{').unwrap_or(0);
    let json_end = body.rfind('}').map_or(body.len(), |i| i + 1);
    let value = serde_json::from_str(&body[json_start..json_end]).unwrap_or(Value::Null);
    (status, value)
}

async fn proxy_logs(app: &TestApp) -> i64 {
    app.count("SELECT count(*) AS n FROM integration_logs WHERE operation = 'proxy'")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_through_the_proxy_reaches_the_sandbox_stripe_and_returns_its_json() {
    let app = TestApp::spawn().await;
    let stripe = connect_stripe(&app).await;
    let response = app
        .get(&format!(
            "/v1/integrations/{stripe}/proxy/v1/charges?limit=2"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert!(body["data"][0]["id"].as_str().unwrap().starts_with("ch_"));

    // The provider's own refusals come back as they are (status and body).
    let missing = app
        .get(&format!(
            "/v1/integrations/{stripe}/proxy/v1/charges/ch_does_not_exist"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let missing: Value = missing.json().await.unwrap();
    assert!(missing["error"]["message"].is_string(), "{missing}");

    assert_eq!(proxy_logs(&app).await, 2, "every request is logged");
    let logged: Value = app
        .get(&format!(
            "/v1/integrations/{stripe}/logs?operation=proxy&limit=1"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logged["data"][0]["details"]["status"], 404);
    assert_eq!(logged["data"][0]["details"]["method"], "GET");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_token_the_provider_refuses_is_refreshed_once() {
    let app = TestApp::spawn().await;
    let ga4 = app.connect_ga4("321").await;
    let report = json!({
        "dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}],
        "dimensions": [{"name": "date"}],
        "metrics": [{"name": "sessions"}],
    });
    let refreshes = || async {
        app.count(
            "SELECT count(*) AS n FROM integration_logs WHERE operation = 'refresh' \
             AND message = 'Access token refreshed.'",
        )
        .await
    };
    // The next GA4 request answers 401 although the token looks valid for an hour.
    app.sandbox_control(
        "/_sandbox/faults",
        json!({"provider": "google-analytics", "fault": {"kind": "expired_token"}, "count": 1}),
    )
    .await;
    let response = app
        .post(&format!(
            "/v1/integrations/{ga4}/proxy/v1beta/properties/321:runReport"
        ))
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(refreshes().await, 1, "refreshed once, then the call passed");

    // A token past its expiry by Junction's clock is refreshed before the call.
    app.db
        .execute("UPDATE integrations SET token_expires_at = now() - interval '1 minute'")
        .await;
    let response = app
        .post(&format!(
            "/v1/integrations/{ga4}/proxy/v1beta/properties/321:runReport"
        ))
        .json(&report)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["rows"].is_array(), "{body}");
    assert_eq!(refreshes().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_that_would_leave_the_provider_are_refused_and_reach_nothing() {
    let (app, provider) = api_key_connections::spawn().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Acme"})))
        .mount(&provider)
        .await;
    let created: Value = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {"account": "acme"}, "credentials": {"api_key": "tk_good1"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let checks = provider.received_requests().await.unwrap().len();
    for tail in [
        "https://evil.example/x",
        "http:%2F%2Fevil.example/x",
        "//evil.example/x",
        "/etc/passwd",
        "v1/../../admin",
        "v1/%2e%2e/admin",
        "v1/%2E%2E/%2E%2E/admin",
        "v1/.%2e/admin",
        "v1/%252e%252e/admin",
        "v1%2f..%2fadmin",
        "v1/%5c..%5cadmin",
        "v1/me%0d%0aHost:%20evil.example",
    ] {
        let (status, body) = raw_get(&app, &format!("/v1/integrations/{id}/proxy/{tail}")).await;
        assert_eq!(status, 400, "{tail}: {body}");
        assert_eq!(body["code"], "proxy_path_refused", "{tail}: {body}");
    }
    assert_eq!(
        provider.received_requests().await.unwrap().len(),
        checks,
        "no refused request reached the provider"
    );
    assert_eq!(proxy_logs(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_the_provider_is_refused_and_not_followed() {
    let (app, provider) = api_key_connections::spawn().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Acme"})))
        .mount(&provider)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/moved"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal", elsewhere.uri())),
        )
        .expect(1)
        .mount(&provider)
        .await;
    let created: Value = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {"account": "acme"}, "credentials": {"api_key": "tk_good1"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let response = app
        .get(&format!("/v1/integrations/{id}/proxy/v1/moved"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 502, "provider_redirect_refused").await;
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the credentials never travelled to the redirect's target"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_added_for_the_provider_and_stripped_from_everything_else() {
    let (app, provider) = api_key_connections::spawn().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Acme"})))
        .mount(&provider)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/things"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-echo-auth", "Bearer tk_good1")
                .insert_header("set-cookie", "session=abc")
                .insert_header("x-request-id", "provider-side")
                .insert_header("x-ratelimit-remaining", "41")
                .set_body_json(json!({"id": "t_1", "seen_key": "tk_good1"})),
        )
        .mount(&provider)
        .await;
    let created: Value = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {"account": "acme"}, "credentials": {"api_key": "tk_good1"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let response = app
        .post(&format!("/v1/integrations/{id}/proxy/v1/things?dry_run=1"))
        .header("cookie", "junction_session=1")
        .header("x-client-header", "kept")
        .json(&json!({"name": "thing"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("x-echo-auth").is_none());
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(response.headers()["x-ratelimit-remaining"], "41");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"id": "t_1", "seen_key": "[redacted]"}));

    let sent = provider.received_requests().await.unwrap();
    let sent = sent.iter().find(|r| r.url.path() == "/v1/things").unwrap();
    assert_eq!(sent.headers["authorization"], "Bearer tk_good1");
    assert_eq!(sent.url.query(), Some("dry_run=1"));
    assert_eq!(sent.headers["x-client-header"], "kept");
    assert!(sent.headers.get("cookie").is_none());
    assert_eq!(
        serde_json::from_slice::<Value>(&sent.body).unwrap(),
        json!({"name": "thing"})
    );
    assert!(
        !sent
            .headers
            .values()
            .any(|v| v.to_str().unwrap_or_default().contains(&app.api_key)),
        "the client's Junction key never reaches the provider"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workspaces_integration_is_not_found() {
    let app = TestApp::spawn().await;
    let stripe = connect_stripe(&app).await;
    let (_, other_key) = junction_testkit::create_workspace(app.db.store(), "Other").await;
    let response = app
        .client
        .get(format!(
            "{}/v1/integrations/{stripe}/proxy/v1/charges",
            app.url
        ))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&other_key))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, "integration_not_found").await;
    let unknown = app
        .get(&format!(
            "/v1/integrations/{}/proxy/v1/charges",
            Uuid::new_v4()
        ))
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 404, "integration_not_found").await;
    assert_eq!(proxy_logs(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_answer_keeps_the_providers_content_type_and_bytes() {
    let (app, provider) = api_key_connections::spawn().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Acme"})))
        .mount(&provider)
        .await;
    // An answer that is neither JSON nor Junction's problem type, sent once.
    Mock::given(method("POST"))
        .and(path("/v1/exports"))
        .respond_with(ResponseTemplate::new(422).set_body_raw("id,reason\n7,closed\n", "text/csv"))
        .expect(1)
        .mount(&provider)
        .await;
    let created: Value = app
        .post("/v1/integrations")
        .json(&json!({"provider": "keyed", "config": {"account": "acme"}, "credentials": {"api_key": "tk_good1"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let send = || {
        app.post(&format!("/v1/integrations/{id}/proxy/v1/exports"))
            .header("Idempotency-Key", "export-1")
            .body("since=2026-01-01")
            .send()
    };
    for replayed in [false, true] {
        let response = send().await.unwrap();
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()["content-type"], "text/csv");
        assert_eq!(
            response.headers().contains_key("idempotent-replayed"),
            replayed
        );
        assert_eq!(response.text().await.unwrap(), "id,reason\n7,closed\n");
    }
}

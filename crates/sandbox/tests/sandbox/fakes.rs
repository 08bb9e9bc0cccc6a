//! Provider fakes mounted at `/{id}/`: the request a fake receives, the response that
//! comes back, and faults armed through `/_sandbox/faults` consumed exactly n times.

use junction_core::fake::Fault;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_fake_receives_the_request_below_its_mount() {
    let h = start().await;
    let response = h
        .http
        .post(h.url("/keyed/v1/things/a%20b:run?x=1&y=two%20words&x=2"))
        .header("x-api-key", "key-1")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("content-type", "application/json")
        .body(r#"{"name":"thing"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let fake_headers: Vec<_> = response
        .headers()
        .get_all("x-fake")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(fake_headers, ["recorded", "twice"]);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["path"], "/v1/things/a%20b:run");

    let seen = h.keyed_fake.last();
    let request = seen.request;
    assert_eq!(request.method, http::Method::POST);
    assert_eq!(request.path, "/v1/things/a%20b:run");
    assert_eq!(request.query, "x=1&y=two%20words&x=2");
    assert_eq!(request.query_param("y").as_deref(), Some("two words"));
    assert_eq!(request.header("x-api-key"), Some("key-1"));
    let multi: Vec<_> = request.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi.len(), 2);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.body, br#"{"name":"thing"}"#);
    assert_eq!(
        request.json::<serde_json::Value>().unwrap(),
        json!({"name": "thing"})
    );
    assert_eq!(seen.fault, None);
    assert_eq!(seen.token, None);
    h.stop().await;
}

#[tokio::test]
async fn the_mount_root_is_slash_and_every_method_reaches_the_fake() {
    let h = start().await;
    for (method, path) in [
        (reqwest::Method::GET, "/keyed"),
        (reqwest::Method::DELETE, "/keyed/"),
        (reqwest::Method::PUT, "/keyed/v3/marketing/contacts"),
        (reqwest::Method::PATCH, "/keyed/a/b/c/"),
    ] {
        let response = h
            .http
            .request(method.clone(), h.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{method} {path}");
        let request = h.keyed_fake.last().request;
        assert_eq!(request.method.as_str(), method.as_str());
        let expected = path
            .strip_prefix("/keyed")
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        assert_eq!(request.path, expected);
        assert_eq!(request.query, "");
    }
    h.stop().await;
}

#[tokio::test]
async fn an_unknown_mount_is_404_json() {
    let h = start().await;
    for path in ["/nope/v1/x", "/nope", "/steady/v1/x"] {
        let response = h.call_fake(path, None).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{body}");
    }
    h.stop().await;
}

#[tokio::test]
async fn armed_faults_are_consumed_exactly_count_times_in_order() {
    let h = start().await;
    let (status, body) = h
        .control(
            "/_sandbox/faults",
            json!({"provider": API_KEY, "fault": {"kind": "rate_limited", "retry_after_secs": 2}, "count": 2}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["armed"], 2);
    let (status, _) = h
        .control(
            "/_sandbox/faults",
            json!({"provider": API_KEY, "fault": {"kind": "server_error"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.sandbox().snapshot().providers[API_KEY].armed_faults, 3);

    // Another provider's requests do not consume them.
    assert_eq!(h.call_fake("/rotor/x", None).await.status(), 201);
    assert_eq!(h.rotor_fake.last().fault, None);

    let expected = [
        Some(Fault::RateLimited {
            retry_after_secs: 2,
        }),
        Some(Fault::RateLimited {
            retry_after_secs: 2,
        }),
        Some(Fault::ServerError),
        None,
        None,
    ];
    for fault in expected {
        let response = h.call_fake("/keyed/v1/x", None).await;
        assert_eq!(h.keyed_fake.last().fault, fault);
        if fault.is_some() {
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()["retry-after"], "2");
        } else {
            assert_eq!(response.status(), 201);
        }
    }
    assert_eq!(h.sandbox().snapshot().providers[API_KEY].armed_faults, 0);
    h.stop().await;
}

#[tokio::test]
async fn bad_fault_requests_are_refused() {
    let h = start().await;
    let cases = [
        (
            json!({"provider": "nope", "fault": {"kind": "server_error"}}),
            404,
        ),
        // A provider with an OAuth server but no fake has nothing to inject into.
        (
            json!({"provider": STABLE, "fault": {"kind": "server_error"}}),
            404,
        ),
        (
            json!({"provider": API_KEY, "fault": {"kind": "meltdown"}}),
            400,
        ),
        (
            json!({"provider": API_KEY, "fault": {"kind": "server_error"}, "count": 0}),
            400,
        ),
        (json!({"provider": API_KEY}), 400),
    ];
    for (body, status) in cases {
        let (got, answer) = h.control("/_sandbox/faults", body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert!(answer["error"].is_string());
    }
    let response = h
        .http
        .post(h.url("/_sandbox/faults"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(h.sandbox().snapshot().providers[API_KEY].armed_faults, 0);
    h.stop().await;
}

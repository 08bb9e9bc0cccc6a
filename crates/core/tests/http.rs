//! Integration tests of junction-core's provider HTTP helper against a mock server,
//! plus (in the `webhooks` module, same binary to keep one test binary per crate) the
//! webhook signature schemes against published vectors and property tests.

// Test code: a panic is how a test reports failure, so unwrap is the clearest form.
// (clippy's allow-unwrap-in-tests covers #[test] bodies, not their helpers.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod webhooks;

use std::{
    net::TcpListener,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use junction_core::{
    AdapterError, AuthSpec, Category, Context, RateBudget, RateLimiter,
    http::{self, RateLimitInfo, ResponsePolicy},
    spec::ProviderSpec,
};
use serde::Deserialize;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

/// A secret as a provider might take it in a query string; it must never show in errors.
const SECRET: &str = "SECRET123";

fn spec() -> ProviderSpec {
    ProviderSpec {
        id: "example",
        name: "Example",
        category: Category::Analytics,
        auth: AuthSpec::ApiKey { fields: vec![] },
        config: vec![],
        streams: vec![],
        actions: vec![],
        webhook: None,
        rate_limit: RateBudget {
            requests: 10,
            per: Duration::from_secs(1),
            concurrency: None,
        },
        docs_url: "https://example.invalid/docs",
    }
}

/// Counts calls and remembers what it observed, to prove `send` uses the limiter.
#[derive(Default)]
struct CountingLimiter {
    acquired: AtomicUsize,
    observed: Mutex<Vec<(String, RateLimitInfo)>>,
    refuse: Option<AdapterError>,
}

#[async_trait]
impl RateLimiter for CountingLimiter {
    async fn acquire(&self, _provider: &str, budget: &RateBudget) -> Result<(), AdapterError> {
        assert_eq!(budget.requests, 10);
        self.acquired.fetch_add(1, Ordering::SeqCst);
        match &self.refuse {
            Some(err) => Err(err.clone()),
            None => Ok(()),
        }
    }

    fn observe(&self, provider: &str, info: &RateLimitInfo) {
        self.observed
            .lock()
            .unwrap()
            .push((provider.to_owned(), info.clone()));
    }
}

fn context(limiter: Arc<CountingLimiter>) -> Context {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut ctx = Context::new(client);
    ctx.limiter = limiter;
    ctx
}

/// GETs `/v1/things` with the secret in the query string, through a counting limiter.
async fn call(
    server_uri: &str,
    policy: ResponsePolicy,
) -> (
    Result<reqwest::Response, AdapterError>,
    Arc<CountingLimiter>,
) {
    let limiter = Arc::new(CountingLimiter::default());
    let ctx = context(limiter.clone());
    let request = ctx
        .http
        .get(format!("{server_uri}/v1/things?api_key={SECRET}"));
    (http::send(&ctx, &spec(), request, &policy).await, limiter)
}

async fn respond_with(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/things"))
        .and(query_param("api_key", SECRET))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn assert_no_secret(err: &AdapterError) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "secret leaked: {shown}");
}

#[derive(Debug, Deserialize, PartialEq)]
struct Things {
    things: Vec<u32>,
}

#[tokio::test]
async fn success_passes_through_and_is_observed() {
    let server = respond_with(
        ResponseTemplate::new(200)
            .insert_header("X-RateLimit-Limit", "100")
            .insert_header("X-RateLimit-Remaining", "99")
            .set_body_json(serde_json::json!({"things": [1, 2]})),
    )
    .await;
    let (result, limiter) = call(&server.uri(), ResponsePolicy::API_KEY).await;
    let response = result.unwrap();
    assert_eq!(response.status(), 200);
    let things: Things = http::json(response).await.unwrap();
    assert_eq!(things, Things { things: vec![1, 2] });

    assert_eq!(limiter.acquired.load(Ordering::SeqCst), 1);
    let observed = limiter.observed.lock().unwrap();
    assert_eq!(observed.len(), 1);
    assert_eq!(observed[0].0, "example");
    assert_eq!(observed[0].1.limit, Some(100));
    assert_eq!(observed[0].1.remaining, Some(99));
}

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_the_hint() {
    let server = respond_with(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "7")
            .insert_header("X-RateLimit-Remaining", "0"),
    )
    .await;
    let (result, limiter) = call(&server.uri(), ResponsePolicy::API_KEY).await;
    let err = result.unwrap_err();
    assert_eq!(
        err,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
    // Refusals are observed too: that is when the limiter most needs to know.
    assert_eq!(limiter.acquired.load(Ordering::SeqCst), 1);
    let observed = limiter.observed.lock().unwrap();
    assert_eq!(observed.len(), 1);
    assert!(observed[0].1.is_exhausted());
    assert_eq!(observed[0].1.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let server = respond_with(
        ResponseTemplate::new(503).set_body_json(serde_json::json!({"message": "maintenance"})),
    )
    .await;
    let (result, _) = call(&server.uri(), ResponsePolicy::API_KEY).await;
    let err = result.unwrap_err();
    assert_eq!(err, AdapterError::unavailable("HTTP 503: maintenance"));
    assert_no_secret(&err);
}

#[tokio::test]
async fn unauthorized_is_refreshable_only_for_oauth() {
    let server = respond_with(
        ResponseTemplate::new(401)
            .set_body_json(serde_json::json!({"error": {"message": "Invalid Credentials", "code": 401, "status": "UNAUTHENTICATED"}})),
    )
    .await;
    for policy in [ResponsePolicy::OAUTH, ResponsePolicy::API_KEY] {
        let (result, _) = call(&server.uri(), policy).await;
        assert_eq!(
            result.unwrap_err(),
            AdapterError::Unauthorized {
                refreshable: policy.unauthorized_is_refreshable,
                message: "Invalid Credentials".into()
            }
        );
    }
}

#[tokio::test]
async fn client_errors_carry_the_providers_code() {
    let server = respond_with(ResponseTemplate::new(404).set_body_json(
        serde_json::json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "No such customer"}}),
    ))
    .await;
    let (result, _) = call(&server.uri(), ResponsePolicy::API_KEY).await;
    assert_eq!(
        result.unwrap_err(),
        AdapterError::Provider {
            status: 404,
            code: Some("resource_missing".into()),
            message: "No such customer".into()
        }
    );
}

#[tokio::test]
async fn connection_refused_is_unavailable_without_the_url() {
    // Bind then drop a listener: the port is then (almost certainly) closed.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (result, limiter) =
        call(&format!("http://127.0.0.1:{port}"), ResponsePolicy::API_KEY).await;
    let err = result.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("could not connect"), "{err}");
    assert_no_secret(&err);
    assert!(!err.to_string().contains("127.0.0.1"), "{err}");
    // Nothing came back, so nothing was observed.
    assert_eq!(limiter.acquired.load(Ordering::SeqCst), 1);
    assert!(limiter.observed.lock().unwrap().is_empty());
}

#[tokio::test]
async fn timeouts_are_unavailable_without_the_url() {
    let server = respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5))).await;
    let limiter = Arc::new(CountingLimiter::default());
    let mut ctx = context(limiter);
    ctx.http = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let request = ctx
        .http
        .get(format!("{}/v1/things?api_key={SECRET}", server.uri()));
    let err = http::send(&ctx, &spec(), request, &ResponsePolicy::API_KEY)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn a_request_that_cannot_be_built_is_invalid_without_the_url() {
    let limiter = Arc::new(CountingLimiter::default());
    let ctx = context(limiter);
    let request = ctx
        .http
        .get(format!("http://127.0.0.1:9/v1/things?api_key={SECRET}"))
        .header("Authorization", "Bearer bad\nvalue");
    let err = http::send(&ctx, &spec(), request, &ResponsePolicy::API_KEY)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Invalid { .. }), "{err:?}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn a_refusing_limiter_stops_the_request() {
    let server = respond_with(ResponseTemplate::new(200)).await;
    let refusal = AdapterError::RateLimited {
        retry_after: Some(Duration::from_secs(3)),
    };
    let limiter = Arc::new(CountingLimiter {
        refuse: Some(refusal.clone()),
        ..Default::default()
    });
    let ctx = context(limiter.clone());
    let request = ctx
        .http
        .get(format!("{}/v1/things?api_key={SECRET}", server.uri()));
    let err = http::send(&ctx, &spec(), request, &ResponsePolicy::API_KEY)
        .await
        .unwrap_err();
    assert_eq!(err, refusal);
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(limiter.observed.lock().unwrap().is_empty());
}

#[tokio::test]
async fn malformed_bodies_are_unavailable_without_the_body() {
    let server = respond_with(
        ResponseTemplate::new(200).set_body_string(format!(r#"{{"things": "{SECRET}"}}"#)),
    )
    .await;
    let (result, _) = call(&server.uri(), ResponsePolicy::API_KEY).await;
    let err = http::json::<Things>(result.unwrap()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("provider unavailable: malformed response body: "),
        "{err}"
    );
    assert_no_secret(&err);

    let server =
        respond_with(ResponseTemplate::new(200).set_body_string("<html>proxy error</html>")).await;
    let (result, _) = call(&server.uri(), ResponsePolicy::API_KEY).await;
    let err = http::json::<Things>(result.unwrap()).await.unwrap_err();
    assert!(matches!(err, AdapterError::Unavailable { .. }), "{err:?}");
    assert!(!err.to_string().contains("proxy error"), "{err}");
}

//! Request middleware: request ids, metrics, `Idempotency-Key` replay, and 405 for a
//! method a known path does not take.

use std::time::Instant;

use actix_web::{
    Error, HttpMessage, HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, header::HeaderValue},
    middleware::Next,
    web,
};
use junction_app::models::{Claim, IdempotentAnswer};
use junction_app::workspaces::{self, IdempotentRequest};
use junction_core::ErrorCode;
use tracing::Instrument;

use crate::{auth::authenticate, error::ApiError, state::AppState};

/// The request id of a request (also sent back as `X-Request-Id`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Takes a sane incoming `X-Request-Id` or makes one, puts it on the tracing span and
/// on the response.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request done"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    Ok(response)
}

/// Counts requests and their latency by route pattern (not the raw path: ids would
/// explode the label set) and status.
pub async fn metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    metrics::counter!("junction_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("junction_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    Ok(response)
}

fn bytes_payload(bytes: web::Bytes) -> actix_web::dev::Payload {
    let (_, mut payload) = actix_http::h1::Payload::create(true);
    payload.unread_data(bytes);
    actix_web::dev::Payload::from(payload)
}

/// The methods a path item of the OpenAPI document may declare.
pub const METHODS: [&str; 8] = [
    "get", "head", "post", "put", "patch", "delete", "options", "trace",
];

/// The methods a path item of the document declares, as an `Allow` header value.
fn allow_header(item: &serde_json::Value) -> String {
    METHODS
        .iter()
        .filter(|method| item.get(**method).is_some())
        .map(|method| method.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The actix pattern of a document path. Parameters are one segment each, except
/// the proxy's `{path}`, which is the rest of the URL (`{path:.*}` in its route).
fn actix_pattern(template: &str) -> String {
    match template.strip_suffix("/{path}") {
        Some(prefix) => format!("{prefix}/{{path:.*}}"),
        None => template.to_owned(),
    }
}

/// The paths of the API and the methods each takes, from the OpenAPI document.
#[derive(Debug, Clone)]
pub struct KnownPaths(Vec<KnownPath>);

#[derive(Debug, Clone)]
struct KnownPath {
    pattern: actix_web::dev::ResourceDef,
    /// The template up to its first parameter, and how many `/`-separated parts it
    /// has (`None` for a tail such as the proxy's): a URL without that prefix or
    /// with another number of parts cannot match, so most paths are ruled out
    /// without running their pattern's regex, which every request would otherwise
    /// run for each of the API's paths.
    literal_prefix: String,
    parts: Option<usize>,
    /// How many segments are literal: where two paths match a URL, the one with
    /// more (`/v1/dead-letters/replay` over `/v1/dead-letters/{id}`) is meant.
    literal_segments: usize,
    /// The `Allow` header value.
    allow: String,
}

impl KnownPaths {
    /// The paths of the OpenAPI document.
    pub fn from_document(document: &serde_json::Value) -> Self {
        let paths = document["paths"].as_object().into_iter().flatten();
        Self(
            paths
                .map(|(template, item)| KnownPath {
                    pattern: actix_web::dev::ResourceDef::new(actix_pattern(template)),
                    literal_prefix: template
                        .split_once('{')
                        .map_or(template.as_str(), |(prefix, _)| prefix)
                        .to_owned(),
                    parts: (!template.ends_with("/{path}")).then(|| template.split('/').count()),
                    literal_segments: template
                        .split('/')
                        .filter(|segment| !segment.is_empty() && !segment.starts_with('{'))
                        .count(),
                    allow: allow_header(item),
                })
                .collect(),
        )
    }

    /// The `Allow` value of the path `path` is meant for, when it does not take
    /// `method`; `None` when it does, or when the path is not the API's.
    fn refusal(&self, path: &str, method: &Method) -> Option<&str> {
        let parts = path.split('/').count();
        let meant = self
            .0
            .iter()
            .filter(|known| {
                path.starts_with(&known.literal_prefix)
                    && known.parts.is_none_or(|n| n == parts)
                    && known.pattern.is_match(path)
            })
            .max_by_key(|known| known.literal_segments)?;
        let takes = meant
            .allow
            .split(", ")
            .any(|allowed| allowed == method.as_str());
        (!takes).then_some(meant.allow.as_str())
    }
}

/// A method the path does not take is 405 with `Allow` naming the ones it does, before
/// any routing: the router would otherwise answer 404, or hand the URL to a route
/// with a parameter in that place (`GET /v1/dead-letters/replay` to
/// `GET /v1/dead-letters/{id}`).
pub async fn allowed_methods(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let refusal = req
        .app_data::<web::Data<KnownPaths>>()
        .and_then(|known| known.refusal(req.path(), req.method()).map(str::to_owned));
    let Some(allow) = refusal else {
        return next.call(req).await;
    };
    let mut response = actix_web::ResponseError::error_response(&ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("this resource answers {allow}"),
    ));
    if let Ok(value) = HeaderValue::from_str(&allow) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    Ok(req.into_response(response))
}

/// The header that makes a POST idempotent.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
/// The longest key.
pub const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;
/// What a key is made of: visible ASCII, no spaces (the document's pattern for
/// [`valid_idempotency_key`]).
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]+$";

/// Whether `key` is a usable `Idempotency-Key`: 1-255 visible ASCII characters.
pub fn valid_idempotency_key(key: &[u8]) -> bool {
    (1..=IDEMPOTENCY_KEY_MAX_LEN).contains(&key.len()) && key.iter().all(u8::is_ascii_graphic)
}

/// `Idempotency-Key` on POSTs: the same key with the same request (method, path,
/// body) replays the first response as it was sent (status, content type, body —
/// not its other headers); with another request it is a 409; while the
/// first is still running, a 409 too. Responses of 5xx are not remembered, so a
/// client may retry them with the same key.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let key = req
        .headers()
        .get(IDEMPOTENCY_KEY_HEADER)
        .map(|v| v.as_bytes().to_vec());
    // Webhook deliveries carry no API key and dedupe by the provider's event id.
    // Nor are answers holding a secret shown once remembered (`NOT_REPLAYED`).
    let Some(key) = key.filter(|_| {
        req.method() == Method::POST
            && !req.path().starts_with(crate::WEBHOOK_PATH_PREFIX)
            && !crate::NOT_REPLAYED.contains(&req.path())
    }) else {
        return next.call(req).await;
    };
    let reject = |req: ServiceRequest, error: ApiError| {
        Ok(req.into_response(actix_web::ResponseError::error_response(&error)))
    };
    let key = match String::from_utf8(key) {
        Ok(key) if valid_idempotency_key(key.as_bytes()) => key,
        _ => {
            return reject(
                req,
                ApiError::new(
                    ErrorCode::InvalidRequest,
                    "Idempotency-Key must be 1-255 visible ASCII characters",
                ),
            );
        }
    };
    let auth = match authenticate(req.request()).await {
        Ok(auth) => auth,
        Err(error) => return reject(req, error),
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return reject(
            req,
            ApiError::internal(anyhow::anyhow!("application state missing")),
        );
    };
    let limit = state.app.config.max_body_bytes;
    let body = match req.extract::<web::Bytes>().await {
        Ok(body) if body.len() <= limit => body,
        _ => {
            return reject(
                req,
                ApiError::new(ErrorCode::PayloadTooLarge, "the request body is too large"),
            );
        }
    };
    let path = req.path().to_owned();
    let claim = workspaces::claim_idempotency_key(
        &state.app.store,
        IdempotentRequest {
            workspace_id: auth.workspace_id,
            key: &key,
            method: "POST",
            path: &path,
            body: &body,
            expires_at: state.app.now() + state.app.config.idempotency_ttl,
        },
    )
    .await
    .map_err(ApiError);
    match claim {
        Err(error) => return reject(req, error),
        Ok(Claim::Replay(answer)) => {
            let status = actix_web::http::StatusCode::from_u16(answer.status)
                .unwrap_or(actix_web::http::StatusCode::OK);
            let mut response = HttpResponse::build(status);
            response.insert_header(("Idempotent-Replayed", "true"));
            match answer.content_type {
                Some(content_type) => {
                    response.content_type(content_type);
                }
                // Kept before content types were: Junction's own JSON.
                None if status.is_success() => {
                    response.content_type("application/json");
                }
                None => {
                    response.content_type("application/problem+json");
                }
            }
            return Ok(req.into_response(response.body(answer.body)));
        }
        Ok(Claim::Mismatch) => {
            return reject(
                req,
                ApiError::new(
                    ErrorCode::IdempotencyKeyReused,
                    "this Idempotency-Key was used with a different request",
                ),
            );
        }
        Ok(Claim::InFlight) => {
            return reject(
                req,
                ApiError(junction_app::Error {
                    retry_after: Some(1),
                    ..junction_app::Error::new(
                        ErrorCode::IdempotencyKeyInFlight,
                        "a request with this Idempotency-Key is still running",
                    )
                }),
            );
        }
        Ok(Claim::New) => {}
    }
    req.set_payload(bytes_payload(body));
    let response = next.call(req).await;
    // Remember the response (or release the key when there is none worth replaying).
    let outcome = match response {
        Ok(response) => {
            let status = response.status();
            let (http_req, res) = response.into_parts();
            let (res, body) = res.into_parts();
            let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
            // Kept as sent: a proxied provider answer need be neither JSON nor
            // Junction's content type.
            let stored = (!status.is_server_error()).then(|| IdempotentAnswer {
                status: status.as_u16(),
                content_type: res
                    .headers()
                    .get(actix_web::http::header::CONTENT_TYPE)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
                body: bytes.to_vec(),
            });
            let res = res.set_body(BoxBody::new(bytes));
            (Ok(ServiceResponse::new(http_req, res)), stored)
        }
        Err(error) => (Err(error), None),
    };
    let remember = workspaces::finish_idempotent_request(
        &state.app.store,
        auth.workspace_id,
        &key,
        outcome.1.as_ref(),
    );
    if let Err(error) = remember.await {
        tracing::error!(error = %error, "could not record the idempotent response");
    }
    outcome.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_the_routes_and_the_most_literal_path_is_meant() {
        assert_eq!(
            actix_pattern("/v1/integrations/{id}"),
            "/v1/integrations/{id}"
        );
        assert_eq!(
            actix_pattern("/v1/integrations/{id}/proxy/{path}"),
            "/v1/integrations/{id}/proxy/{path:.*}"
        );
        let known = KnownPaths::from_document(&serde_json::json!({"paths": {
            "/v1/dead-letters/{id}": {"get": {}},
            "/v1/dead-letters/replay": {"post": {}},
            "/v1/integrations/{id}/proxy/{path}": {"get": {}, "post": {}},
        }}));
        assert_eq!(
            known.refusal("/v1/dead-letters/replay", &Method::GET),
            Some("POST")
        );
        assert_eq!(
            known.refusal("/v1/dead-letters/replay", &Method::POST),
            None
        );
        assert_eq!(known.refusal("/v1/dead-letters/x", &Method::GET), None);
        assert_eq!(
            known.refusal("/v1/dead-letters/x", &Method::DELETE),
            Some("GET")
        );
        assert_eq!(
            known.refusal("/v1/integrations/1/proxy/v1/charges", &Method::TRACE),
            Some("GET, POST")
        );
        assert_eq!(known.refusal("/v1/nothing", &Method::TRACE), None);
    }

    #[test]
    fn the_key_check_is_the_documented_pattern() {
        let pattern = regex::Regex::new(IDEMPOTENCY_KEY_PATTERN).unwrap();
        let longest = "k".repeat(IDEMPOTENCY_KEY_MAX_LEN);
        let too_long = "k".repeat(IDEMPOTENCY_KEY_MAX_LEN + 1);
        for key in [
            "a",
            "refund-order-1042",
            "~!{}",
            "with space",
            "",
            "é",
            "tab\t",
            "line\n",
            &longest,
            &too_long,
        ] {
            let documented =
                pattern.is_match(key) && key.chars().count() <= IDEMPOTENCY_KEY_MAX_LEN;
            assert_eq!(valid_idempotency_key(key.as_bytes()), documented, "{key:?}");
        }
    }
}

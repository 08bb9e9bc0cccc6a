//! Serves every provider's fake at `/{provider}/...`: converts the actix request into a
//! framework-free [`FakeRequest`], hands it to the fake with the sandbox as token
//! authority and the next armed fault, and converts the [`FakeResponse`] back.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{HeaderName, HeaderValue},
    },
    web,
};
use chrono::Utc;
use junction_core::fake::{FakeContext, FakeRequest, FakeResponse};

use crate::{Sandbox, reply};

/// Mounts the catch-all provider routes. Registered last: they match any first path
/// segment.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/{provider}").to(serve))
        .service(web::resource("/{provider}/{tail:.*}").to(serve));
}

/// Headers that describe the connection or the framing, which actix sets itself.
const HOP_BY_HOP: [&str; 4] = [
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

async fn serve(sandbox: web::Data<Sandbox>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let provider = req
        .match_info()
        .get("provider")
        .unwrap_or_default()
        .to_owned();
    let fake = match sandbox.fake(&provider) {
        Ok(fake) => fake.clone(),
        Err(err) => return reply::sandbox_error(&err),
    };
    let request = match fake_request(&req, &provider, &body) {
        Ok(request) => request,
        Err(message) => {
            return reply::json_error(StatusCode::BAD_REQUEST, "invalid_request", &message);
        }
    };
    // Read (and released) before waiting: the lock must never be held across an await.
    let latency = sandbox.lock().latency(&provider);
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    // Taken (and released) before the fake runs: the fake checks tokens, which locks
    // the state again.
    let fault = sandbox.lock().take_fault(&provider);
    if let Some(fault) = fault {
        tracing::info!(provider, ?fault, path = %request.path, "injecting a fault");
    }
    let ctx = FakeContext {
        tokens: sandbox.get_ref(),
        fault,
        now: Utc::now(),
    };
    let response = fake.handle(&request, &ctx);
    tracing::debug!(provider, method = %request.method, path = %request.path, status = response.status, "fake answered");
    http_response(response)
}

/// The request as the fake sees it: the path below the mount (from `/`), the raw
/// query, every header and the body.
fn fake_request(req: &HttpRequest, provider: &str, body: &[u8]) -> Result<FakeRequest, String> {
    let method = http::Method::from_bytes(req.method().as_str().as_bytes())
        .map_err(|_| format!("unsupported method {}", req.method()))?;
    // The raw path (not the percent-decoded match) so the fake sees what was sent.
    let below = req
        .path()
        .strip_prefix('/')
        .and_then(|path| path.strip_prefix(provider))
        .unwrap_or_default();
    let path = if below.is_empty() {
        "/".to_owned()
    } else {
        below.to_owned()
    };
    let mut headers = http::HeaderMap::with_capacity(req.headers().len());
    for (name, value) in req.headers() {
        let name = http::HeaderName::from_bytes(name.as_str().as_bytes())
            .map_err(|_| format!("header name {name} is not valid"))?;
        let value = http::HeaderValue::from_bytes(value.as_bytes())
            .map_err(|_| format!("the value of header {name} is not valid"))?;
        headers.append(name, value);
    }
    Ok(FakeRequest {
        method,
        path,
        query: req.query_string().to_owned(),
        headers,
        body: body.to_vec(),
    })
}

/// The fake's answer as an actix response. A fake that produces an impossible status
/// or header is a bug in that fake; it is reported as a 500 naming the problem.
fn http_response(response: FakeResponse) -> HttpResponse {
    let Ok(status) = StatusCode::from_u16(response.status) else {
        return reply::json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "fake_error",
            &format!("the fake answered with status {}", response.status),
        );
    };
    let mut builder = HttpResponse::build(status);
    for (name, value) in &response.headers {
        if HOP_BY_HOP.iter().any(|hop| name.eq_ignore_ascii_case(hop)) {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(value)) => {
                builder.append_header((name, value));
            }
            _ => {
                return reply::json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "fake_error",
                    &format!("the fake answered with an invalid header `{name}`"),
                );
            }
        }
    }
    builder.body(response.body)
}

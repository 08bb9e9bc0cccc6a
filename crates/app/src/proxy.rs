//! The authenticated proxy: a client calls the provider's own API with an
//! integration's credentials, for what no action covers yet (the escape hatch
//! Nango users rely on).
//!
//! A request goes to the provider's API base URL for that connection
//! ([`junction_core::Adapter::proxy_target`]) with the connection's credentials, the
//! provider's shared request budget, a refresh-once on a refused token (the one
//! wrapper, [`crate::Session::call`]) and a log entry; the provider's status, body
//! and safe headers come back. Nothing else on the network can be reached through
//! it:
//! - the path is checked before anything is sent: no absolute URL, no `//host`, no
//!   `.` or `..` segment, no backslash, no control character, whether written plain
//!   or percent-encoded (once or twice); the URL built from it must keep the base's
//!   scheme, host, port and path prefix;
//! - redirects are never followed (the provider HTTP client follows none) and a
//!   redirect answer (a 3xx with a `Location`) is refused, so credentials never
//!   travel to where it points;
//! - hop-by-hop headers, the client's own credentials (its Junction API key,
//!   cookies) and forwarding headers are not passed on, in either direction, and
//!   the connection's secrets are blanked out of whatever comes back.

use std::sync::{Arc, Mutex};

use aho_corasick::AhoCorasick;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use junction_core::{AdapterError, Connection, ErrorCode, WorkspaceId};
use junction_store::models::{LogLevel, Operation};
use percent_encoding::percent_decode_str;
use secrecy::ExposeSecret;
use serde_json::json;
use url::Url;
use uuid::Uuid;

use crate::{App, CallError, Error, Result, integrations::log, metrics};

/// The largest provider answer passed on (bodies are read whole to blank out
/// secrets).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Headers never passed on, in either direction: the connection's own hop-by-hop
/// headers, the client's credentials towards Junction, forwarding information, and
/// lengths and encodings the HTTP stack sets itself.
const DROPPED_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "proxy-authenticate",
    "cookie",
    "set-cookie",
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "accept-encoding",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-request-id",
];

/// Shortest secret blanked out of answers (shorter values would blank ordinary
/// text).
const MIN_SCRUBBED_CHARS: usize = 8;

/// What stands in for a secret in a proxied answer.
const REDACTED: &[u8] = b"[redacted]";

/// A request to pass on.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub method: Method,
    /// The path below the provider's API root, as the client sent it (still
    /// percent-encoded), without a leading slash.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The client's headers (the unsafe ones are dropped here).
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// The provider's answer.
#[derive(Debug, Clone)]
pub struct ProxyResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl App {
    /// Passes a request on to the integration's provider (see the module docs).
    pub async fn proxy(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        request: ProxyRequest,
    ) -> Result<ProxyResponse> {
        // The integration first: an unknown one is 404 whatever the path, as for
        // every route that names a resource. Nothing is sent before the checks below.
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, integration_id).await?;
        tx.commit().await?;
        let path = checked_path(&request.path)?;
        if request
            .query
            .as_deref()
            .is_some_and(|q| q.chars().any(|c| c.is_control() || c == '#'))
        {
            return Err(refused(
                "the query string holds characters a URL cannot carry",
            ));
        }
        crate::integrations::ensure_active(&integration)?;
        let adapter = self.adapter(&integration.provider)?;
        let ctx = self.context(&integration.provider);
        let headers = forwarded(&request.headers);
        // The answer refused with a 401 is kept here: after the one refresh, a second
        // refusal goes back to the client as the provider sent it.
        let refused_answer: Arc<Mutex<Option<ProxyResponse>>> = Arc::default();
        let outcome = self
            .connections
            .call(workspace_id, &integration, |connection| {
                let (adapter, ctx, headers, refused_answer) = (
                    adapter.clone(),
                    ctx.clone(),
                    headers.clone(),
                    refused_answer.clone(),
                );
                let (method, path, query, body) = (
                    request.method.clone(),
                    path.clone(),
                    request.query.clone(),
                    request.body.clone(),
                );
                async move {
                    let target = adapter.proxy_target(&ctx, &connection).await?;
                    let url = target_url(&target.base_url, &path, query.as_deref())?;
                    // The connection's credentials replace any header of the same name
                    // the client sent.
                    let mut headers = headers;
                    for (name, value) in &target.headers {
                        let mut value =
                            HeaderValue::from_str(value.expose_secret()).map_err(|_| {
                                AdapterError::invalid("a credential is not a valid header value")
                            })?;
                        value.set_sensitive(true);
                        headers.insert(name.clone(), value);
                    }
                    let mut builder = ctx.http.request(method, url).headers(headers);
                    if !body.is_empty() {
                        builder = builder.body(body);
                    }
                    let response =
                        junction_core::http::send_raw(&ctx, adapter.spec(), builder).await?;
                    let answer =
                        read_answer(response, &secrets_of(&connection, &target.headers)).await?;
                    if answer.status == StatusCode::UNAUTHORIZED
                        && connection.access_token.is_some()
                    {
                        if let Ok(mut slot) = refused_answer.lock() {
                            *slot = Some(answer);
                        }
                        return Err(AdapterError::Unauthorized {
                            refreshable: true,
                            message: "the provider refused the access token".into(),
                        });
                    }
                    Ok(answer)
                }
            })
            .await;
        let answer = match outcome {
            Ok(answer) => answer,
            Err(CallError::Adapter(AdapterError::Unauthorized { .. })) => {
                match refused_answer.lock().ok().and_then(|mut slot| slot.take()) {
                    Some(answer) => answer,
                    None => {
                        return Err(Error::new(
                            ErrorCode::ProviderUnauthorized,
                            "the provider refused the connection's credentials",
                        ));
                    }
                }
            }
            Err(error) => {
                metrics::proxy_request(&integration.provider, "failed");
                return Err(error.into());
            }
        };
        metrics::proxy_request(
            &integration.provider,
            &format!("{}xx", answer.status.as_u16() / 100),
        );
        // The provider has answered (and may have acted): a failure to log it must
        // not turn its answer into an error a client would retry.
        let logged = async {
            let mut tx = self.begin(workspace_id).await?;
            log(
                &mut tx,
                workspace_id,
                integration_id,
                if answer.status.is_success() {
                    LogLevel::Info
                } else {
                    LogLevel::Warn
                },
                Operation::Proxy,
                &format!(
                    "proxy {} {} answered {}",
                    request.method,
                    path,
                    answer.status.as_u16()
                ),
                json!({
                    "method": request.method.as_str(),
                    "path": path,
                    "status": answer.status.as_u16(),
                    "response_bytes": answer.body.len(),
                }),
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(())
        };
        if let Err(error) = logged.await {
            tracing::warn!(%integration_id, %error, "could not log a proxied request");
        }
        // A redirect would send the client (and any credential it adds) elsewhere; a
        // 304 and other 3xx without a target are answers like any other.
        if answer.status.is_redirection() && answer.headers.contains_key(http::header::LOCATION) {
            return Err(Error::new(
                ErrorCode::ProviderRedirectRefused,
                format!(
                    "the provider answered {} (a redirect); the proxy follows none",
                    answer.status.as_u16()
                ),
            ));
        }
        Ok(answer)
    }
}

fn refused(detail: &str) -> Error {
    Error::new(ErrorCode::ProxyPathRefused, detail)
}

/// Checks a proxied path (see the module docs); returns it as it will be sent.
pub fn checked_path(raw: &str) -> Result<String> {
    if raw.starts_with('/') || raw.starts_with('\\') {
        return Err(refused(
            "the path must be relative to the provider's API (no leading slash)",
        ));
    }
    if raw
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '\\' || c == '#' || c == '?')
    {
        return Err(refused(
            "the path holds characters a path segment cannot carry",
        ));
    }
    let once = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| refused("the path is not valid UTF-8 once decoded"))?;
    let lower = once.to_ascii_lowercase();
    // Encoded twice: a server that decodes again would see a dot or a slash.
    if ["%2e", "%2f", "%5c", "%25"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return Err(refused("the path holds doubly encoded characters"));
    }
    if once.chars().any(|c| c.is_control() || c == '\\') {
        return Err(refused(
            "the path holds characters a path segment cannot carry",
        ));
    }
    let segments: Vec<&str> = once.split('/').collect();
    if let Some(first) = segments.first()
        && first.contains(':')
    {
        return Err(refused("the path must not be an absolute URL"));
    }
    for (i, segment) in segments.iter().enumerate() {
        if *segment == "." || *segment == ".." {
            return Err(refused("the path must not hold `.` or `..` segments"));
        }
        if segment.is_empty() && i + 1 != segments.len() {
            return Err(refused("the path must not hold empty segments (`//`)"));
        }
    }
    Ok(raw.to_owned())
}

/// The URL of a checked path below `base`, which must not leave it.
fn target_url(base: &Url, path: &str, query: Option<&str>) -> Result<Url, AdapterError> {
    let root = base.as_str().trim_end_matches('/');
    let mut text = format!("{root}/{path}");
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        text.push('?');
        text.push_str(query);
    }
    let url = Url::parse(&text).map_err(|_| AdapterError::invalid("the proxied URL is invalid"))?;
    let prefix = format!("{}/", base.path().trim_end_matches('/'));
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin
        || !(url.path() == prefix.trim_end_matches('/') || url.path().starts_with(&prefix))
    {
        return Err(AdapterError::invalid(
            "the proxied URL leaves the provider's API",
        ));
    }
    Ok(url)
}

/// The client's headers that may go on to the provider.
fn forwarded(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        if keep(name) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

fn keep(name: &HeaderName) -> bool {
    let name = name.as_str();
    !DROPPED_HEADERS.contains(&name) && !name.starts_with("x-junction-")
}

/// Every secret of the connection, as it may appear in an answer.
fn secrets_of(
    connection: &Connection,
    headers: &[(HeaderName, secrecy::SecretString)],
) -> Vec<String> {
    let mut secrets: Vec<String> = connection
        .secrets
        .values()
        .chain(connection.access_token.iter())
        .map(|s| s.expose_secret().to_owned())
        .collect();
    for (_, value) in headers {
        let value = value.expose_secret();
        secrets.push(value.to_owned());
        if let Some((_, credential)) = value.split_once(' ') {
            secrets.push(credential.to_owned());
        }
    }
    secrets.retain(|s| s.chars().count() >= MIN_SCRUBBED_CHARS);
    secrets
}

/// Reads the provider's answer (up to [`MAX_RESPONSE_BYTES`]), keeps its safe
/// headers and blanks out the connection's secrets.
async fn read_answer(
    mut response: reqwest::Response,
    secrets: &[String],
) -> Result<ProxyResponse, AdapterError> {
    let status = response.status();
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if keep(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| AdapterError::unavailable("the provider's answer was cut off"))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(AdapterError::Provider {
                status: status.as_u16(),
                code: Some(ErrorCode::ProviderResponseTooLarge.name().to_owned()),
                message: format!(
                    "the answer is larger than {} MiB",
                    MAX_RESPONSE_BYTES / 1024 / 1024
                ),
            });
        }
        body.extend_from_slice(&chunk);
    }
    if !secrets.is_empty()
        && let Ok(matcher) = AhoCorasick::new(secrets)
    {
        body = matcher.replace_all_bytes(&body, &vec![REDACTED; secrets.len()]);
        let names: Vec<HeaderName> = headers.keys().cloned().collect();
        for name in names {
            let values: Vec<HeaderValue> = headers.get_all(&name).iter().cloned().collect();
            let cleaned: Vec<HeaderValue> = values
                .into_iter()
                .filter(|value| !matcher.is_match(value.as_bytes()))
                .collect();
            headers.remove(&name);
            for value in cleaned {
                headers.append(name.clone(), value);
            }
        }
    }
    Ok(ProxyResponse {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_would_leave_the_api_are_refused() {
        for bad in [
            "https://evil.example/x",
            "http:%2F%2Fevil.example",
            "//evil.example/x",
            "/v1/charges",
            "v1/../admin",
            "v1/%2e%2e/admin",
            "v1/%2E%2E/admin",
            "v1/.%2e/admin",
            "v1/%252e%252e/admin",
            "v1%2f..%2fadmin",
            "v1/./charges",
            "v1//charges",
            "v1\\..\\admin",
            "v1/%5c..%5cadmin",
            "v1/charges%0d%0aX-Injected:%201",
            "v1/char ges",
            "v1/charges?x=1",
            "v1/charges#frag",
            "..",
            "%2e%2e",
        ] {
            let refused = checked_path(bad);
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.code == ErrorCode::ProxyPathRefused),
                "{bad:?}: {refused:?}"
            );
        }
        for good in [
            "v1/charges",
            "v1/charges/ch_123/refunds",
            "v1beta/properties/123:runReport",
            "3.0/lists/",
            "v4/subscribers",
            "v1/customers/cus%20with%20space",
            "",
        ] {
            assert_eq!(checked_path(good).ok().as_deref(), Some(good), "{good}");
        }
    }

    #[test]
    fn urls_stay_below_the_base() {
        let base = Url::parse("http://127.0.0.1:8090/stripe/").unwrap_or_else(|e| panic!("{e}"));
        let url =
            target_url(&base, "v1/charges", Some("limit=3")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8090/stripe/v1/charges?limit=3"
        );
        // Even a path that slipped through could not climb out of the prefix.
        assert!(target_url(&base, "../admin", None).is_err());
        assert!(target_url(&base, "%2e%2e/admin", None).is_err());
        let root = Url::parse("https://api.stripe.com/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            target_url(&root, "v1/charges", None)
                .unwrap_or_else(|e| panic!("{e}"))
                .as_str(),
            "https://api.stripe.com/v1/charges"
        );
        assert!(
            target_url(&root, "@evil.example/x", None)
                .is_ok_and(|u| u.host_str() == Some("api.stripe.com"))
        );
    }

    #[test]
    fn only_safe_headers_go_on() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer jct_client_key"),
            ("cookie", "session=1"),
            ("connection", "keep-alive"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-junction-anything", "1"),
            ("content-type", "application/json"),
            ("stripe-version", "2025-03-31.basil"),
            ("idempotency-key", "k1"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let kept = forwarded(&headers);
        let names: Vec<&str> = kept.keys().map(HeaderName::as_str).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        for name in ["content-type", "stripe-version", "idempotency-key"] {
            assert!(kept.contains_key(name), "{name}");
        }
    }
}

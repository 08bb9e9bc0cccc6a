//! [`Client`]: one connection's calls to a provider, run from its [`HttpApi`].
//!
//! Every request goes through core's [`send_refined`]: it waits on the shared rate
//! limiter, feeds it the standard rate-limit headers and classifies refusals
//! generically; the client then applies the provider's error table, reports the
//! provider's own rate-limit signals, and hands an adapter's per-call refinement
//! (a 404 that means "no such tag" for one action) the table's result.

use http::{HeaderMap, Method, StatusCode};
use junction_core::{
    AdapterError, Connection, Context, Health, ProxyTarget,
    http::{Refusal, ResponsePolicy, send_refined},
    spec::ProviderSpec,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::{
    api::HttpApi,
    auth::{self, Credential},
    errors::scalar_at,
    paging::{PageToken, Paging},
};

/// A connection's way into a provider's API.
pub struct Client<'a> {
    ctx: &'a Context,
    spec: &'a ProviderSpec,
    api: &'a HttpApi,
    conn: &'a Connection,
    credential: Credential,
    /// The API root for this connection, placeholders filled (`ctx.base_url`
    /// replaces it when set).
    root: String,
    policy: ResponsePolicy,
}

impl std::fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("provider", &self.spec.id)
            .field("root", &self.root)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

/// A successful answer, read as JSON.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Fetched {
    /// The body as `T`. A body of another shape is `Unavailable` (a flaky proxy or a
    /// changed API; a retry may help), described without quoting the body.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, AdapterError> {
        T::deserialize(&self.body).map_err(|err| {
            let text = err.to_string();
            let kept = ["missing field", "unknown field", "duplicate field"]
                .iter()
                .any(|start| text.starts_with(start));
            let what = if kept {
                text
            } else {
                text.split(':')
                    .next()
                    .unwrap_or("unexpected shape")
                    .to_owned()
            };
            AdapterError::unavailable(format!("malformed response body: {what}"))
        })
    }
}

/// One page of a list: its items and where the walk goes next.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    pub items: Vec<Value>,
    /// The next page's token; `None` at the end of the list.
    pub next: Option<PageToken>,
}

impl<'a> Client<'a> {
    /// The client of `conn`: its auth mode picked, its credential read and its API
    /// root resolved (see [`crate::auth`] and [`crate::base`]).
    pub fn new(
        ctx: &'a Context,
        spec: &'a ProviderSpec,
        api: &'a HttpApi,
        conn: &'a Connection,
    ) -> Result<Self, AdapterError> {
        Self::build(ctx, spec, api, conn, &[])
    }

    /// [`Client::new`] with host placeholders the adapter knows itself (`given`
    /// wins over the description's sources).
    pub fn build(
        ctx: &'a Context,
        spec: &'a ProviderSpec,
        api: &'a HttpApi,
        conn: &'a Connection,
        given: &[(&str, String)],
    ) -> Result<Self, AdapterError> {
        let mode = auth::select(api.auth, spec, conn)?;
        let credential = Credential::new(mode, conn)?;
        let root = api.base.resolve(conn, given)?;
        Ok(Self {
            ctx,
            spec,
            api,
            conn,
            credential,
            root,
            policy: auth::policy(mode, spec),
        })
    }

    pub fn context(&self) -> &'a Context {
        self.ctx
    }

    /// How a 401 reads for this connection.
    pub fn policy(&self) -> ResponsePolicy {
        self.policy
    }

    /// The URL of `path`, under the base URL's prefix.
    pub fn url(&self, path: &str) -> Result<Url, AdapterError> {
        self.ctx.url(&self.root, &self.api.base.path(path))
    }

    /// The API root, without the prefix.
    pub fn root_url(&self) -> Result<Url, AdapterError> {
        self.ctx.url(&self.root, "")
    }

    /// A request to `path` with the credential and the API's headers.
    pub fn request(
        &self,
        method: Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, AdapterError> {
        Ok(self.authorize(self.ctx.http.request(method, self.url(path)?)))
    }

    /// Adds the credential and the API's headers to any request.
    pub fn authorize(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        for (name, value) in self.api.headers {
            request = request.header(*name, *value);
        }
        self.credential.apply(request)
    }

    /// The request of one page of the list at `path`: the paging query, or, for a
    /// `Link` walk, the next URL itself — which must stay under the API root, so a
    /// provider's header can never send the credential elsewhere.
    pub fn page_request(
        &self,
        method: Method,
        path: &str,
        paging: &Paging,
        token: &PageToken,
        size: u32,
    ) -> Result<reqwest::RequestBuilder, AdapterError> {
        let PageToken::Url(next) = token else {
            return Ok(self
                .request(method, path)?
                .query(&paging.query(token, size)));
        };
        let start = self.url(path)?;
        let url = start
            .join(next)
            .map_err(|_| AdapterError::unavailable("the provider's next-page link is not a URL"))?;
        let root = self.root_url()?;
        let same_origin = url.scheme() == root.scheme()
            && url.host_str() == root.host_str()
            && url.port_or_known_default() == root.port_or_known_default();
        if !same_origin || !url.path().starts_with(root.path()) {
            return Err(AdapterError::unavailable(
                "the provider's next-page link leaves its API; not followed",
            ));
        }
        Ok(self.authorize(self.ctx.http.request(method, url)))
    }

    /// Sends `request`: a 2xx answer, or the refusal classified by the error table.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AdapterError> {
        self.send_with(request, |err, _| err).await
    }

    /// [`Client::send`] with the adapter's refinement of the table's classification.
    pub async fn send_with(
        &self,
        request: reqwest::RequestBuilder,
        refine: impl FnOnce(AdapterError, &Refusal<'_>) -> AdapterError,
    ) -> Result<reqwest::Response, AdapterError> {
        let response = send_refined(
            self.ctx,
            self.spec,
            request,
            &self.policy,
            |base, refusal| {
                self.observe(refusal.headers, false);
                refine(self.classify(base, refusal), refusal)
            },
        )
        .await?;
        self.observe(response.headers(), true);
        Ok(response)
    }

    /// Sends `request` and decodes the JSON answer.
    pub async fn json<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, AdapterError> {
        if self.api.errors.in_success_body.is_none() {
            junction_core::http::json(self.send(request).await?).await
        } else {
            self.fetch(request).await?.decode()
        }
    }

    /// Sends `request` and keeps the answer's status, headers and JSON body (what a
    /// paging walk reads).
    pub async fn fetch(&self, request: reqwest::RequestBuilder) -> Result<Fetched, AdapterError> {
        self.fetch_with(request, |err, _| err).await
    }

    /// [`Client::fetch`] with the adapter's refinement.
    pub async fn fetch_with(
        &self,
        request: reqwest::RequestBuilder,
        refine: impl FnOnce(AdapterError, &Refusal<'_>) -> AdapterError,
    ) -> Result<Fetched, AdapterError> {
        let response = self.send_with(request, refine).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body: Value = junction_core::http::json(response).await?;
        if self.api.errors.success_body_fails(&body) {
            let bytes = body.to_string().into_bytes();
            let now = self.ctx.now();
            let base = junction_core::http::classify(status, &headers, &bytes, now, &self.policy);
            let refusal = Refusal {
                status,
                headers: &headers,
                body: &bytes,
                now,
            };
            return Err(self.classify(base, &refusal));
        }
        Ok(Fetched {
            status,
            headers,
            body,
        })
    }

    /// `GET` the page at `token` of the list at `path` ([`Client::page_request`]):
    /// its items, at the paging's pointer, and the next page's token
    /// ([`Paging::next`]). A body without the list is malformed (`Unavailable`).
    pub async fn list_page(
        &self,
        path: &str,
        paging: &Paging,
        token: &PageToken,
        size: u32,
    ) -> Result<ListPage, AdapterError> {
        self.list_page_with(Method::GET, path, paging, token, size, &[])
            .await
    }

    /// [`Client::list_page`] with `method` and `query` sent besides the paging's
    /// parameters (`fields=...`). A next-page link carries the query already, so it
    /// is not added to one.
    pub async fn list_page_with(
        &self,
        method: Method,
        path: &str,
        paging: &Paging,
        token: &PageToken,
        size: u32,
        query: &[(&str, &str)],
    ) -> Result<ListPage, AdapterError> {
        let mut request = self.page_request(method, path, paging, token, size)?;
        if !matches!(token, PageToken::Url(_)) {
            request = request.query(query);
        }
        let Fetched {
            headers, mut body, ..
        } = self.fetch(request).await?;
        let next = paging.next(token, size, &headers, &body)?;
        match body.pointer_mut(paging.items).map(Value::take) {
            Some(Value::Array(items)) => Ok(ListPage { items, next }),
            _ => Err(AdapterError::unavailable(format!(
                "malformed response body: no list at `{}`",
                paging.items
            ))),
        }
    }

    /// `GET path?query`, decoded.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, AdapterError> {
        self.json(self.request(Method::GET, path)?.query(query))
            .await
    }

    /// `DELETE path`, whatever the answer's body.
    pub async fn delete(&self, path: &str) -> Result<(), AdapterError> {
        self.send(self.request(Method::DELETE, path)?)
            .await
            .map(drop)
    }

    /// The default health check: the API's [`Verification`](crate::Verification)
    /// request, the account labelled from its answer.
    pub async fn check(&self) -> Result<Health, AdapterError> {
        let body: Value = self.verify().await?;
        Ok(Health {
            account: self
                .api
                .verification
                .and_then(|verification| verification.account)
                .and_then(|pointer| scalar_at(Some(&body), pointer)),
            details: Value::Null,
        })
    }

    /// The answer of the API's [`Verification`](crate::Verification) request as `T`:
    /// the request a custom `check` makes when its health says more than the
    /// account's label (Mailchimp's `health_status`).
    pub async fn verify<T: DeserializeOwned>(&self) -> Result<T, AdapterError> {
        let verification = self.api.verification.ok_or_else(|| {
            AdapterError::invalid(format!("{} has no verification request", self.spec.name))
        })?;
        let method = Method::from_bytes(verification.method.as_bytes())
            .map_err(|_| AdapterError::invalid("the verification method is not a method"))?;
        let path = fill_path(verification.path, self.conn)?;
        let request = self.request(method, &path)?.query(verification.query);
        self.json(request).await
    }

    /// A file the provider links to from an answer — a pre-signed storage URL (a
    /// batch's results, a bulk export) — read whole, at most `max_bytes`. A relative
    /// link resolves under the API's prefix. Links must be HTTPS (plain HTTP only
    /// under a base-URL override: the sandbox, tests), and the request carries no
    /// credential: the link is signed by itself, and the connection's credential must
    /// not leave the provider's API. Every failure is `Unavailable` (or the refusal's
    /// generic class) and never quotes the link, whose query holds its signature.
    pub async fn download(&self, link: &str, max_bytes: usize) -> Result<Vec<u8>, AdapterError> {
        let malformed = || AdapterError::unavailable("the provider's download link is malformed");
        let url = match Url::parse(link) {
            Ok(url) => url,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                self.url("")?.join(link).map_err(|_| malformed())?
            }
            Err(_) => return Err(malformed()),
        };
        if url.scheme() != "https" && !(url.scheme() == "http" && self.ctx.base_url.is_some()) {
            return Err(AdapterError::unavailable(
                "the provider's download link is not HTTPS",
            ));
        }
        // A refusal from storage is not the connection's: no refresh can fix it.
        let request = self.ctx.http.get(url);
        let policy = ResponsePolicy::API_KEY;
        let mut response = junction_core::http::send(self.ctx, self.spec, request, &policy).await?;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| AdapterError::unavailable("the provider's download was cut off"))?
        {
            if body.len() + chunk.len() > max_bytes {
                return Err(AdapterError::unavailable(format!(
                    "the provider's download is larger than {max_bytes} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Where the authenticated proxy sends this connection's requests: the API
    /// root (the context's override applies) with the credential's header.
    pub fn proxy_target(&self) -> Result<ProxyTarget, AdapterError> {
        self.credential.proxy_target(self.root_url()?)
    }

    /// The error table's classification of a refusal whose generic class is `base`.
    pub fn classify(&self, base: AdapterError, refusal: &Refusal<'_>) -> AdapterError {
        self.api
            .errors
            .classify(base, refusal, &self.api.rate_limits, &self.conn.config)
    }

    /// Reports the provider's own rate-limit signals to the limiter (core reports
    /// the standard ones) and warns when a successful answer shows them running low.
    fn observe(&self, headers: &HeaderMap, success: bool) {
        let signals = &self.api.rate_limits;
        let Some(info) = signals.read(headers, self.ctx.now()) else {
            return;
        };
        if success && signals.is_low(&info) {
            tracing::warn!(
                provider = self.spec.id,
                remaining = info.remaining,
                limit = info.limit,
                "the provider's rate limit is close: the next calls may be throttled"
            );
        }
        if signals.needs_reporting() {
            self.ctx.limiter.observe(self.spec.id, &info);
        }
    }
}

/// `path` with each `{name}` replaced by the connection's config value, encoded as
/// one path segment.
fn fill_path(path: &str, conn: &Connection) -> Result<String, AdapterError> {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            return Err(AdapterError::invalid(format!("bad request path {path}")));
        };
        let name = &rest[start + 1..start + len];
        let value = conn.config_str(name)?.trim();
        out.extend(utf8_percent_encode(value, NON_ALPHANUMERIC));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;

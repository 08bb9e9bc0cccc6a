//! Calling Kit v4: authentication (the API-key header, or the OAuth access token as
//! `Authorization: Bearer`, chosen by the entry's auth kind), JSON in and out, and
//! what Kit's refusals mean.
//!
//! The OAuth token is the one Junction keeps fresh in [`Connection::bearer`]; this
//! client never refreshes it. A 401 with OAuth is classified refreshable (the token may
//! have expired), with a key it is not.
//!
//! Every request goes through [`junction_core::http::send_refined`], which waits on the
//! shared budget (120 requests per 60 s per key) and classifies refusals. Kit answers
//! errors as `{"errors": ["..."]}`; a 429 is the plain text `Retry later` without a
//! `Retry-After` header, so it becomes `RateLimited { retry_after: None }` and the
//! worker's own exponential backoff decides the wait. On top of that, [`refine`] says
//! that a 422 (Kit rejected the parameters) is permanent bad input, and lets an action
//! name the input field behind a 404.

use http::{HeaderName, HeaderValue, StatusCode};
use junction_core::{
    AdapterError, Connection, Context, ProxyTarget,
    http::{Refusal, ResponsePolicy, send_refined},
    spec::{AuthSpec, ProviderSpec},
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::spec::{API_KEY_FIELD, API_KEY_HEADER, DEFAULT_BASE};

/// Requests to Kit on behalf of one connection.
pub(crate) struct KitClient<'a> {
    ctx: &'a Context,
    spec: &'static ProviderSpec,
    /// The header that authenticates every request, and its (sensitive) value.
    auth: (&'static str, HeaderValue),
}

impl std::fmt::Debug for KitClient<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KitClient").finish_non_exhaustive()
    }
}

/// What a 404 from a write means: which input field named the missing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotFound {
    /// The input field the error points at.
    pub field: &'static str,
    /// What Kit did not find, for the message ("tag 12 or that subscriber").
    pub what: &'static str,
}

/// What a successful write returned: Kit tells "created" (201) from "already there"
/// (200) by status alone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Written {
    pub status: StatusCode,
    pub body: Value,
}

impl<'a> KitClient<'a> {
    pub(crate) fn new(
        ctx: &'a Context,
        spec: &'static ProviderSpec,
        conn: &Connection,
    ) -> Result<Self, AdapterError> {
        let auth = match &spec.auth {
            AuthSpec::OAuth2(_) => {
                let token = conn.bearer()?;
                let value = format!("Bearer {}", token.expose_secret().trim());
                let header =
                    HeaderValue::from_str(&value).map_err(|_| AdapterError::Unauthorized {
                        refreshable: true,
                        message: "the stored access token cannot be sent in a header".into(),
                    })?;
                ("authorization", header)
            }
            _ => {
                let key = conn.secret(API_KEY_FIELD)?;
                let header = HeaderValue::from_str(key.expose_secret().trim()).map_err(|_| {
                    AdapterError::invalid_field(
                        API_KEY_FIELD,
                        "contains characters an HTTP header cannot carry",
                    )
                })?;
                (API_KEY_HEADER, header)
            }
        };
        let (name, mut value) = auth;
        // Keeps the credential out of any debug output of the request.
        value.set_sensitive(true);
        Ok(Self {
            ctx,
            spec,
            auth: (name, value),
        })
    }

    /// The API root (the client names the version: `v4/subscribers`), or the
    /// context's override, with the header every request carries, for the
    /// authenticated proxy.
    pub(crate) fn proxy_target(&self) -> Result<ProxyTarget, AdapterError> {
        let unsendable = || AdapterError::invalid("the credential cannot be sent in a header");
        let (name, value) = &self.auth;
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| unsendable())?;
        let value = std::str::from_utf8(value.as_bytes()).map_err(|_| unsendable())?;
        Ok(ProxyTarget {
            base_url: self.ctx.url(DEFAULT_BASE, "")?,
            headers: vec![(name, SecretString::from(value.to_owned()))],
        })
    }

    fn request(
        &self,
        method: http::Method,
        path: &str,
    ) -> Result<reqwest::RequestBuilder, AdapterError> {
        let url = self.ctx.url(DEFAULT_BASE, path)?;
        Ok(self
            .ctx
            .http
            .request(method, url)
            .header(self.auth.0, self.auth.1.clone())
            .header(http::header::ACCEPT, "application/json"))
    }

    /// `GET path?query`, decoded as `T`.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, AdapterError> {
        let request = self.request(http::Method::GET, path)?.query(query);
        let response = self.send(request, None).await?;
        junction_core::http::json(response).await
    }

    /// `POST path` with a JSON body. `not_found` says what a 404 means for this
    /// write (a missing tag, sequence or form), so the error points at the input.
    pub(crate) async fn post(
        &self,
        path: &str,
        body: &Value,
        not_found: Option<&NotFound>,
    ) -> Result<Written, AdapterError> {
        let request = self.request(http::Method::POST, path)?.json(body);
        let response = self.send(request, not_found).await?;
        let status = response.status();
        let body = junction_core::http::json(response).await?;
        Ok(Written { status, body })
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        not_found: Option<&NotFound>,
    ) -> Result<reqwest::Response, AdapterError> {
        send_refined(
            self.ctx,
            self.spec,
            request,
            &ResponsePolicy::for_auth(&self.spec.auth),
            |classified, refusal| refine(classified, refusal, not_found),
        )
        .await
    }
}

/// Refines the generic classification with what Kit's statuses mean.
pub(crate) fn refine(
    base: AdapterError,
    refusal: &Refusal<'_>,
    not_found: Option<&NotFound>,
) -> AdapterError {
    match (refusal.status, not_found, base) {
        // "One or more of the parameters are invalid": the same request fails the same
        // way every time, so it is bad input, not a provider hiccup.
        (StatusCode::UNPROCESSABLE_ENTITY, _, AdapterError::Provider { message, .. }) => {
            AdapterError::Invalid {
                field: None,
                message,
            }
        }
        (StatusCode::NOT_FOUND, Some(missing), AdapterError::Provider { message, .. }) => {
            AdapterError::Invalid {
                field: Some(missing.field.to_owned()),
                message: format!("Kit found no {} ({message})", missing.what),
            }
        }
        (_, _, base) => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use http::HeaderMap;

    const TAG: NotFound = NotFound {
        field: "tag_id",
        what: "such tag",
    };

    fn refused(status: u16, body: &[u8], not_found: Option<&NotFound>) -> AdapterError {
        let status = StatusCode::from_u16(status).unwrap();
        let headers = HeaderMap::new();
        let now = Utc::now();
        let base =
            junction_core::http::classify(status, &headers, body, now, &ResponsePolicy::API_KEY);
        refine(
            base,
            &Refusal {
                status,
                headers: &headers,
                body,
                now,
            },
            not_found,
        )
    }

    #[test]
    fn kit_statuses_are_classified() {
        assert_eq!(
            refused(422, br#"{"errors":["Email address is invalid"]}"#, None),
            AdapterError::invalid("Email address is invalid")
        );
        assert_eq!(
            refused(404, br#"{"errors":["Not Found"]}"#, Some(&TAG)),
            AdapterError::invalid_field("tag_id", "Kit found no such tag (Not Found)")
        );
        assert_eq!(
            refused(404, br#"{"errors":["Not Found"]}"#, None),
            AdapterError::Provider {
                status: 404,
                code: None,
                message: "Not Found".into()
            }
        );
        assert_eq!(
            refused(429, b"Retry later", None),
            AdapterError::RateLimited { retry_after: None }
        );
        assert_eq!(
            refused(401, br#"{"errors":["The API key is invalid"]}"#, None),
            AdapterError::Unauthorized {
                refreshable: false,
                message: "The API key is invalid".into()
            }
        );
        assert!(matches!(
            refused(503, b"", Some(&TAG)),
            AdapterError::Unavailable { .. }
        ));
    }
}

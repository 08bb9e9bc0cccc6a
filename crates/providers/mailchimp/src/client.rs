//! Calling the Marketing API: the data center (from the API key, or from the OAuth
//! metadata lookup in [`crate::oauth`]), HTTP Basic auth with a key or
//! `Authorization: Bearer` with an OAuth access token, URLs under `/3.0`, and Mailchimp's problem documents turned into the right
//! [`AdapterError`].
//!
//! Requests go through [`junction_core::http::send_refined`]: the generic
//! classification already gets 401 (`Unauthorized`, not refreshable: an API key does
//! not expire), 429 (`RateLimited` without a wait: Mailchimp sends no rate headers)
//! and 5xx right; [`refine`] adds what only the problem's `title` tells (a disabled
//! user or the wrong data center is a credential problem) and, for contact writes,
//! turns validation failures into `Invalid` naming the field.

use junction_core::{
    AdapterError, Connection, Context, ProxyTarget,
    http::{Refusal, ResponsePolicy, send_refined},
    spec::ProviderSpec,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, de::DeserializeOwned};
use url::Url;

use crate::{
    spec::{API_HOST_TEMPLATE, API_KEY_FIELD, API_PREFIX},
    wire::Problem,
};

/// The user name sent with the key; Mailchimp accepts any.
const BASIC_USER: &str = "junction";

/// What a request is for, which decides how a 400 or 404 reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Reading streams: a 400 or 404 is Mailchimp refusing Junction's request.
    Read,
    /// Writing a contact: a 400 is the input, a 404 the audience.
    ContactWrite,
}

/// How requests prove who they are.
#[derive(Clone, Copy)]
pub(crate) enum Credential<'a> {
    /// An API key, as the password of HTTP Basic auth.
    ApiKey(&'a SecretString),
    /// An OAuth 2.0 access token, as `Authorization: Bearer`.
    Bearer(&'a SecretString),
}

/// A connection's way into the API.
pub(crate) struct Api<'a> {
    ctx: &'a Context,
    spec: &'a ProviderSpec,
    credential: Credential<'a>,
    /// `https://{dc}.api.mailchimp.com`, used unless the context overrides it.
    default_base: String,
    data_center: String,
}

impl<'a> Api<'a> {
    pub(crate) fn new(
        ctx: &'a Context,
        spec: &'a ProviderSpec,
        conn: &'a Connection,
    ) -> Result<Self, AdapterError> {
        let key = conn.secret(API_KEY_FIELD)?;
        let data_center = data_center(key.expose_secret())?;
        Ok(Self {
            ctx,
            spec,
            credential: Credential::ApiKey(key),
            default_base: API_HOST_TEMPLATE.replace("{dc}", &data_center),
            data_center,
        })
    }

    /// The API of an OAuth connection whose data center was looked up already.
    pub(crate) fn with_bearer(
        ctx: &'a Context,
        spec: &'a ProviderSpec,
        token: &'a SecretString,
        data_center: String,
    ) -> Self {
        Self {
            ctx,
            spec,
            credential: Credential::Bearer(token),
            default_base: API_HOST_TEMPLATE.replace("{dc}", &data_center),
            data_center,
        }
    }

    /// The key's data center (`us21`).
    pub(crate) fn data_center(&self) -> &str {
        &self.data_center
    }

    pub(crate) fn context(&self) -> &Context {
        self.ctx
    }

    /// The URL of an API path (`lists/abc/members`), under `/3.0`.
    pub(crate) fn url(&self, path: &str) -> Result<Url, AdapterError> {
        self.ctx.url(
            &self.default_base,
            &format!("{API_PREFIX}/{}", path.trim_start_matches('/')),
        )
    }

    /// The API host's root (the client names the version: `3.0/lists`), or the
    /// context's override, with the credential every call sends, for the
    /// authenticated proxy.
    pub(crate) fn proxy_target(&self) -> Result<ProxyTarget, AdapterError> {
        let base_url = self.ctx.url(&self.default_base, "")?;
        Ok(match self.credential {
            Credential::ApiKey(key) => ProxyTarget::basic(base_url, BASIC_USER, key),
            Credential::Bearer(token) => ProxyTarget::bearer(base_url, token),
        })
    }

    fn authorized(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let builder = match self.credential {
            Credential::ApiKey(key) => builder.basic_auth(BASIC_USER, Some(key.expose_secret())),
            Credential::Bearer(token) => builder.bearer_auth(token.expose_secret()),
        };
        builder.header(reqwest::header::ACCEPT, "application/json")
    }

    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        purpose: Purpose,
    ) -> Result<reqwest::Response, AdapterError> {
        send_refined(
            self.ctx,
            self.spec,
            self.authorized(builder),
            &ResponsePolicy::for_auth(&self.spec.auth),
            |classified, refusal| refine(classified, refusal, purpose),
        )
        .await
    }

    /// `GET path?query`, decoded.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        purpose: Purpose,
    ) -> Result<T, AdapterError> {
        let builder = self.ctx.http.get(self.url(path)?).query(query);
        junction_core::http::json(self.send(builder, purpose).await?).await
    }

    /// A request with a JSON body, decoded.
    pub(crate) async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
        purpose: Purpose,
    ) -> Result<T, AdapterError> {
        let builder = self.ctx.http.request(method, self.url(path)?).json(body);
        junction_core::http::json(self.send(builder, purpose).await?).await
    }

    /// A request with a JSON body whose answer has no body (`204 No Content`).
    pub(crate) async fn send_json_no_content<B: Serialize>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
        purpose: Purpose,
    ) -> Result<(), AdapterError> {
        let builder = self.ctx.http.request(method, self.url(path)?).json(body);
        self.send(builder, purpose).await.map(drop)
    }
}

/// The data center of an API key: what follows its last `-`. Checked to be a plain
/// data-center name, since it becomes part of a host name.
pub(crate) fn data_center(key: &str) -> Result<String, AdapterError> {
    let invalid = || {
        AdapterError::invalid_field(
            API_KEY_FIELD,
            "must end in the account's data center, e.g. `-us21` (copy the whole key)",
        )
    };
    let (_, dc) = key.trim().rsplit_once('-').ok_or_else(invalid)?;
    if !is_data_center(dc) {
        return Err(invalid());
    }
    Ok(dc.to_owned())
}

/// Whether a text is a plain data-center name (`us21`: lower-case letters, then
/// digits), safe to put into a host name.
pub(crate) fn is_data_center(dc: &str) -> bool {
    let letters = dc.bytes().take_while(u8::is_ascii_lowercase).count();
    let digits = &dc[letters..];
    letters > 0 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Refines the generic classification of a refusal with the problem document.
pub(crate) fn refine(base: AdapterError, refusal: &Refusal<'_>, purpose: Purpose) -> AdapterError {
    let problem: Problem = serde_json::from_slice(refusal.body).unwrap_or_default();
    let status = refusal.status.as_u16();
    let title = problem.title.to_ascii_lowercase();
    let described = {
        let text = problem.describe();
        if text.is_empty() {
            refusal
                .status
                .canonical_reason()
                .unwrap_or("refused")
                .to_owned()
        } else {
            truncate(&text)
        }
    };
    match status {
        // "User Disabled", "Wrong Datacenter", "API Key Invalid": the key cannot work
        // until the user fixes it.
        403 if title.contains("disabled")
            || title.contains("datacenter")
            || title.contains("api key") =>
        {
            AdapterError::Unauthorized {
                refreshable: false,
                message: described,
            }
        }
        400 if purpose == Purpose::ContactWrite => AdapterError::Invalid {
            field: Some(field_of(&problem)),
            message: described,
        },
        404 if purpose == Purpose::ContactWrite => AdapterError::Invalid {
            field: Some("audience_id".into()),
            message: format!("Mailchimp has no such audience: {described}"),
        },
        _ => base,
    }
}

/// The input field a contact validation failure is about.
fn field_of(problem: &Problem) -> String {
    match problem.errors.first() {
        Some(error) if error.field == "email_address" => "email_address".into(),
        Some(error) if error.field.starts_with("merge_fields") => error.field.clone(),
        // Mailchimp names a merge field by its tag alone (`FNAME`).
        Some(error) if !error.field.is_empty() => format!("merge_fields.{}", error.field),
        _ => {
            let text = format!("{} {}", problem.title, problem.detail).to_ascii_lowercase();
            if text.contains("merge field") {
                "merge_fields".into()
            } else if text.contains("tag") {
                "tags".into()
            } else if text.contains("status") {
                "status".into()
            } else {
                "email_address".into()
            }
        }
    }
}

/// Caps a provider message at 300 characters, on a character boundary.
pub(crate) fn truncate(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= 300 {
        return line;
    }
    let mut cut: String = line.chars().take(299).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use http::{HeaderMap, StatusCode};
    use serde_json::json;

    fn refine_body(status: u16, body: serde_json::Value, purpose: Purpose) -> AdapterError {
        let headers = HeaderMap::new();
        let body = body.to_string().into_bytes();
        let status = StatusCode::from_u16(status).unwrap();
        let base = junction_core::http::classify(
            status,
            &headers,
            &body,
            Utc::now(),
            &ResponsePolicy::API_KEY,
        );
        refine(
            base,
            &Refusal {
                status,
                headers: &headers,
                body: &body,
                now: Utc::now(),
            },
            purpose,
        )
    }

    #[test]
    fn data_centers_come_from_the_key() {
        assert_eq!(
            data_center("0123456789abcdef0123456789abcdef-us21").unwrap(),
            "us21"
        );
        for bad in [
            "0123456789abcdef",
            "abc-",
            "abc-us",
            "abc-21",
            "abc-us21.evil.example",
            "abc-US21",
            "abc-us21/x",
        ] {
            let err = data_center(bad).unwrap_err();
            assert!(!err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn credential_problems_behind_a_403() {
        let err = refine_body(
            403,
            json!({"title": "Wrong Datacenter", "status": 403, "detail": "The API key provided is linked to a different datacenter"}),
            Purpose::Read,
        );
        assert!(
            matches!(
                err,
                AdapterError::Unauthorized {
                    refreshable: false,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = refine_body(
            403,
            json!({"title": "Forbidden", "status": 403, "detail": "You don't have permission to access this resource"}),
            Purpose::Read,
        );
        assert!(
            matches!(err, AdapterError::Provider { status: 403, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn contact_validation_names_the_field() {
        let err = refine_body(
            400,
            json!({"title": "Invalid Resource", "status": 400, "detail": "Your merge fields were invalid.", "errors": [{"field": "FNAME", "message": "Please enter a value"}]}),
            Purpose::ContactWrite,
        );
        assert_eq!(
            err,
            AdapterError::invalid_field(
                "merge_fields.FNAME",
                "Your merge fields were invalid.; FNAME: Please enter a value"
            )
        );
        let err = refine_body(
            400,
            json!({"title": "Invalid Resource", "status": 400, "detail": "x@y looks fake or invalid, please enter a real email address."}),
            Purpose::ContactWrite,
        );
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "email_address"),
            "{err:?}"
        );
        let err = refine_body(
            404,
            json!({"title": "Resource Not Found", "status": 404, "detail": "The requested resource could not be found."}),
            Purpose::ContactWrite,
        );
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "audience_id"),
            "{err:?}"
        );
        // Reads keep the generic classification.
        let err = refine_body(
            400,
            json!({"title": "Invalid Resource", "status": 400, "detail": "bad"}),
            Purpose::Read,
        );
        assert!(
            matches!(err, AdapterError::Provider { status: 400, .. }),
            "{err:?}"
        );
    }

    /// An OAuth connection's data center (as the metadata lookup names it) is the
    /// proxy's host when nothing overrides it; the integration tests cover the
    /// lookup itself, which always goes to the override there.
    #[test]
    fn the_oauth_proxy_target_is_the_looked_up_data_center() {
        let ctx = Context::new(reqwest::Client::new());
        let token = SecretString::from("oauth-token");
        let api = Api::with_bearer(&ctx, crate::spec::oauth_spec(), &token, "us19".into());
        let target = api.proxy_target().unwrap();
        assert_eq!(target.base_url.as_str(), "https://us19.api.mailchimp.com/");
        let (name, value) = &target.headers[0];
        assert_eq!(name, http::header::AUTHORIZATION);
        assert_eq!(value.expose_secret(), "Bearer oauth-token");
    }
}

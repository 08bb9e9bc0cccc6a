//! The Marketing API as the toolkit runs it ([`API`]): the data center's host
//! (`https://{dc}.api.mailchimp.com`, the data center from the API key's suffix, or
//! given by the adapter from the OAuth metadata lookup in the `oauth` module), paths
//! under `/3.0`, the credential (an API key as the password of HTTP Basic auth, or an
//! OAuth access token as `Authorization: Bearer`: the toolkit picks the mode from the
//! connection), and how Mailchimp's problem documents classify.
//!
//! Core's generic classification already gets 401 (`Unauthorized`, not refreshable:
//! keys and Mailchimp's tokens do not expire), 429 (`RateLimited` without a wait:
//! Mailchimp sends no rate headers) and 5xx right. The error table adds what only a
//! 403's `title` tells: a disabled user, the wrong data center or a bad key is a
//! credential problem. Contact writes refine further per call (`contact_write`): a
//! 400 is the input, naming the field, and a 404 the audience.

use junction_core::{AdapterError, http::Refusal};
use junction_toolkit::{
    AuthMode, BaseUrl, Envelope, ErrorRule, ErrorTable, HttpApi, Placement, RateLimitSignals, Var,
    VarSource, Verification, When, data,
};

use crate::{
    spec::{API_HOST_TEMPLATE, API_KEY_FIELD, API_PREFIX, METADATA_BASE},
    wire::Problem,
};

/// The user name sent with the key; Mailchimp accepts any.
const BASIC_USER: &str = "junction";

/// What Junction asks for in every answer.
const ACCEPT_JSON: &[(&str, &str)] = &[("accept", "application/json")];

/// The longest provider message kept in an error or a batch report, in characters.
pub(crate) const MAX_MESSAGE_CHARS: usize = 300;

/// "User Disabled", "Wrong Datacenter", "API Key Invalid" under a 403: the credential
/// cannot work until the user fixes it. Its message is the problem's `detail`, else
/// its `title`, else the status's reason.
const fn credential_problem(title_part: &'static str) -> ErrorRule {
    ErrorRule::status(403)
        .when(When::Contains("/title", title_part))
        .unauthorized(false)
        .fallback("Forbidden")
}

/// The Marketing API 3.0.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(API_HOST_TEMPLATE)
        .with_prefix(API_PREFIX)
        .with_vars(&[Var {
            name: "dc",
            // OAuth connections have no key: the adapter gives the looked-up one.
            source: VarSource::Derived {
                field: API_KEY_FIELD,
                derive: key_data_center,
                message: "must end in the account's data center, e.g. `-us21` (copy the whole key)",
            },
        }]),
    auth: &[
        AuthMode::OAUTH_BEARER,
        AuthMode::basic_key_as_password(BASIC_USER, API_KEY_FIELD),
    ],
    headers: ACCEPT_JSON,
    // Proves the credential and its data center.
    verification: Some(Verification {
        method: "GET",
        path: "ping",
        query: &[],
        account: None,
    }),
    errors: ErrorTable {
        envelope: Envelope {
            message: &["/detail", "/title"],
            max_message_chars: MAX_MESSAGE_CHARS,
            ..Envelope::GENERIC
        },
        rules: &[
            credential_problem("disabled"),
            credential_problem("datacenter"),
            credential_problem("api key"),
        ],
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// The OAuth metadata endpoint's host, which takes the access token in Mailchimp's
/// own `Authorization: OAuth <token>` scheme.
pub const METADATA_API: HttpApi = HttpApi {
    base: BaseUrl::fixed(METADATA_BASE),
    auth: &[AuthMode::OAuth2 {
        placement: Placement::Header {
            name: "authorization",
            template: "OAuth {token}",
        },
    }],
    headers: ACCEPT_JSON,
    verification: None,
    errors: ErrorTable::GENERIC,
    rate_limits: RateLimitSignals::STANDARD,
};

/// The data center of an API key (trimmed): what follows its last `-`, when it is a
/// plain data-center name (it becomes part of a host name).
pub(crate) fn key_data_center(key: &str) -> Option<String> {
    let (_, dc) = key.rsplit_once('-')?;
    is_data_center(dc).then(|| dc.to_owned())
}

/// Whether a text is a plain data-center name (`us21`: lower-case letters, then
/// digits), safe to put into a host name.
pub(crate) fn is_data_center(dc: &str) -> bool {
    let letters = dc.bytes().take_while(u8::is_ascii_lowercase).count();
    let digits = &dc[letters..];
    letters > 0 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// How a refused contact write reads, after the table: a 400 is the input (the field
/// Mailchimp's problem names), a 404 the audience.
pub(crate) fn contact_write(classified: AdapterError, refusal: &Refusal<'_>) -> AdapterError {
    let problem: Problem = serde_json::from_slice(refusal.body).unwrap_or_default();
    let described = || {
        let text = data::one_line(&problem.describe(), MAX_MESSAGE_CHARS);
        match refusal.status.canonical_reason() {
            Some(reason) if text.is_empty() => reason.to_owned(),
            _ => text,
        }
    };
    match refusal.status.as_u16() {
        400 => AdapterError::Invalid {
            field: Some(field_of(&problem)),
            message: described(),
        },
        404 => AdapterError::Invalid {
            field: Some("audience_id".into()),
            message: format!("Mailchimp has no such audience: {}", described()),
        },
        _ => classified,
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use http::{HeaderMap, StatusCode};
    use junction_core::{Connection, Context, IntegrationId, WorkspaceId};
    use junction_toolkit::Client;
    use secrecy::{ExposeSecret, SecretString};
    use serde_json::{Map, json};

    /// `status` with `body` classified by the table and, for a contact write, its
    /// refinement.
    fn classify(status: u16, body: serde_json::Value, contact: bool) -> AdapterError {
        let headers = HeaderMap::new();
        let body = body.to_string().into_bytes();
        let status = StatusCode::from_u16(status).unwrap();
        let refusal = Refusal {
            status,
            headers: &headers,
            body: &body,
            now: Utc::now(),
        };
        let base = junction_core::http::classify(
            status,
            &headers,
            &body,
            refusal.now,
            &junction_core::http::ResponsePolicy::API_KEY,
        );
        let classified = API
            .errors
            .classify(base, &refusal, &API.rate_limits, &Map::new());
        if contact {
            contact_write(classified, &refusal)
        } else {
            classified
        }
    }

    #[test]
    fn the_descriptions_are_sound() {
        assert_eq!(API.validate(), Ok(()));
        assert_eq!(METADATA_API.validate(), Ok(()));
    }

    #[test]
    fn data_centers_come_from_the_key() {
        assert_eq!(
            key_data_center("0123456789abcdef0123456789abcdef-us21").as_deref(),
            Some("us21")
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
            assert_eq!(key_data_center(bad), None, "{bad}");
        }
    }

    #[test]
    fn credential_problems_behind_a_403() {
        let err = classify(
            403,
            json!({"title": "Wrong Datacenter", "status": 403, "detail": "The API key provided is linked to a different datacenter"}),
            false,
        );
        assert_eq!(
            err,
            AdapterError::Unauthorized {
                refreshable: false,
                message: "The API key provided is linked to a different datacenter".into()
            }
        );
        let err = classify(403, json!({"title": "User Disabled"}), false);
        assert!(
            matches!(err, AdapterError::Unauthorized { refreshable: false, ref message } if message == "User Disabled"),
            "{err:?}"
        );
        let err = classify(
            403,
            json!({"title": "Forbidden", "status": 403, "detail": "You don't have permission to access this resource"}),
            false,
        );
        assert!(
            matches!(err, AdapterError::Provider { status: 403, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn contact_validation_names_the_field() {
        let err = classify(
            400,
            json!({"title": "Invalid Resource", "status": 400, "detail": "Your merge fields were invalid.", "errors": [{"field": "FNAME", "message": "Please enter a value"}]}),
            true,
        );
        assert_eq!(
            err,
            AdapterError::invalid_field(
                "merge_fields.FNAME",
                "Your merge fields were invalid.; FNAME: Please enter a value"
            )
        );
        let err = classify(
            400,
            json!({"title": "Invalid Resource", "status": 400, "detail": "x@y looks fake or invalid, please enter a real email address."}),
            true,
        );
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "email_address"),
            "{err:?}"
        );
        let err = classify(
            400,
            json!({"title": "Invalid Resource", "detail": "A tag name is too long."}),
            true,
        );
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "tags"),
            "{err:?}"
        );
        let err = classify(
            404,
            json!({"title": "Resource Not Found", "status": 404, "detail": "The requested resource could not be found."}),
            true,
        );
        assert!(
            matches!(err, AdapterError::Invalid { field: Some(ref f), .. } if f == "audience_id"),
            "{err:?}"
        );
        assert_eq!(
            classify(400, json!({}), true),
            AdapterError::invalid_field("email_address", "Bad Request")
        );
        // Reads keep the generic classification.
        let err = classify(
            400,
            json!({"title": "Invalid Resource", "status": 400, "detail": "bad"}),
            false,
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
        let conn = Connection {
            workspace_id: WorkspaceId::new(),
            integration_id: IntegrationId::new(),
            config: Map::new(),
            secrets: Default::default(),
            access_token: Some(SecretString::from("oauth-token")),
            token_expires_at: None,
        };
        let spec = &crate::spec::OAUTH_SPEC;
        let client = Client::build(&ctx, spec, &API, &conn, &[("dc", "us19".into())]).unwrap();
        let target = client.proxy_target().unwrap();
        assert_eq!(target.base_url.as_str(), "https://us19.api.mailchimp.com/");
        let (name, value) = &target.headers[0];
        assert_eq!(name, http::header::AUTHORIZATION);
        assert_eq!(value.expose_secret(), "Bearer oauth-token");
    }
}

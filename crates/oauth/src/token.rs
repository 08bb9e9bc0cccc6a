//! Token and revocation responses: [`TokenSet`] and the tolerant parsing of what
//! real authorization servers send back.
//!
//! RFC 6749 §5 is followed loosely by providers, so the parser accepts:
//! `expires_in` missing, as a number, as a string, or `0` (Mailchimp: "never
//! expires"); `scope` space- or comma-separated, as a JSON array, or missing;
//! `application/x-www-form-urlencoded` bodies (GitHub's legacy default); and OAuth
//! errors inside HTTP 200 answers (`{"error":"invalid_grant"}` with status 200 is an
//! error, not a token). Nothing here ever copies a response body into an error: a
//! body may hold tokens. Error texts are the provider's `error` code and
//! `error_description`, cut to one short line.

use std::collections::BTreeMap;

use chrono::{DateTime, SubsecRound, Utc};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::{ACCESS_TOKEN, REFRESH_TOKEN, error::OAuthError};

/// Longest provider error description kept, in characters.
const MAX_DESCRIPTION_CHARS: usize = 300;

/// Longest OAuth `error` code kept, in characters (codes are identifiers).
const MAX_CODE_CHARS: usize = 100;

/// `expires_in` values beyond this (about 100 years) are treated as "never expires":
/// no real token lives that long, and the arithmetic stays far from overflow.
const MAX_EXPIRES_IN_SECS: f64 = 100.0 * 365.0 * 24.0 * 3600.0;

/// The `error` value used when a refusal carries no OAuth error code.
pub(crate) const UNEXPECTED_RESPONSE: &str = "unexpected_response";

/// Fields of a token response that [`TokenSet`] holds itself or that are secret;
/// they never reach [`TokenSet::extra`].
const CONSUMED_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "expires_in",
    "scope",
    "token_type",
];

/// What a successful token response granted.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access_token: SecretString,
    /// A new refresh token, when the provider sent one (on a refresh: the rotated
    /// one; `None` means "keep the one you have").
    pub refresh_token: Option<SecretString>,
    /// When the access token expires; `None` when the provider did not say or said
    /// it never expires (`expires_in` missing or `0`).
    pub expires_at: Option<DateTime<Utc>>,
    /// The granted scopes; `None` when the response did not list them, which per
    /// RFC 6749 §5.1 means "as requested" (on a refresh: unchanged).
    pub scopes: Option<Vec<String>>,
    pub token_type: Option<String>,
    /// Non-secret extra fields of the response (Kit's `created_at`, Slack's team
    /// object, ...). Any field, at any depth, whose name looks like a credential
    /// (`*token*`, `*secret*`, `*password*`, `*key`, `code`) is left out.
    pub extra: Map<String, Value>,
}

impl TokenSet {
    /// The vault fields to store for this token set: the access token, and the
    /// refresh token when one was sent. Storing these with
    /// `junction_store::repo::credentials::put` keeps an existing refresh token when
    /// the provider did not send a new one (`put` only replaces the fields given).
    pub fn credential_fields(&self) -> BTreeMap<String, SecretString> {
        let mut fields = BTreeMap::new();
        fields.insert(ACCESS_TOKEN.to_owned(), self.access_token.clone());
        if let Some(refresh_token) = &self.refresh_token {
            fields.insert(REFRESH_TOKEN.to_owned(), refresh_token.clone());
        }
        fields
    }
}

/// Interprets a token endpoint's answer (RFC 6749 §5.1 success, §5.2 error).
pub(crate) fn parse_token_response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<TokenSet, OAuthError> {
    let decoded = decode_body(content_type, body);
    if let Some(err) = transient_failure(status, decoded.as_ref().ok()) {
        return Err(err);
    }
    let object = match decoded {
        Ok(object) => object,
        Err(problem) if is_success(status) => return Err(OAuthError::Malformed(problem)),
        Err(_) => return Err(unexpected_status(status)),
    };
    if let Some(err) = oauth_error(status, &object) {
        return Err(err);
    }
    if !is_success(status) {
        return Err(unexpected_status(status));
    }
    token_set(object, now)
}

/// Interprets a revocation endpoint's answer (RFC 7009 §2.2). Any 2xx is success,
/// and so is being told the token is already dead (`invalid_token`, or
/// `invalid_grant` from servers that call a revoked refresh token that): the goal of
/// a revocation is a token nobody can use, and it is reached.
pub(crate) fn parse_revoke_response(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), OAuthError> {
    if is_success(status) {
        return Ok(());
    }
    let decoded = decode_body(content_type, body).ok();
    if let Some(err) = transient_failure(status, decoded.as_ref()) {
        return Err(err);
    }
    let Some(object) = decoded else {
        return Err(unexpected_status(status));
    };
    match oauth_error(status, &object) {
        Some(OAuthError::InvalidGrant { .. }) => Ok(()),
        Some(OAuthError::Provider { error, .. }) if error == "invalid_token" => Ok(()),
        Some(err) => Err(err),
        None => Err(unexpected_status(status)),
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// 5xx, 408 and 429 answers: whatever the body says, a later retry may work.
fn transient_failure(status: u16, body: Option<&Map<String, Value>>) -> Option<OAuthError> {
    if !(status >= 500 || status == 408 || status == 429) {
        return None;
    }
    let code = body
        .and_then(|object| object.get("error"))
        .and_then(Value::as_str)
        .map(|code| format!(" {}", clean(code, MAX_CODE_CHARS)))
        .unwrap_or_default();
    Some(OAuthError::Unavailable(format!("HTTP {status}{code}")))
}

/// A refusal without an OAuth error body (an HTML error page, a redirect).
fn unexpected_status(status: u16) -> OAuthError {
    OAuthError::Provider {
        status,
        error: UNEXPECTED_RESPONSE.to_owned(),
        description: Some(format!(
            "the endpoint answered HTTP {status} without an OAuth error body"
        )),
    }
}

/// The body as a JSON object, or a form-encoded body as an object of strings. The
/// error names what was wrong (never what the body contained).
fn decode_body(content_type: Option<&str>, body: &[u8]) -> Result<Map<String, Value>, String> {
    let is_form = content_type.is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if is_form {
        return Ok(url::form_urlencoded::parse(body)
            .into_owned()
            .map(|(k, v)| (k, Value::String(v)))
            .collect());
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty".into());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("the body is JSON but not an object".into()),
        // serde_json's syntax errors carry a position, not the offending text.
        Err(err) => Err(format!(
            "the body is not JSON (syntax error at line {} column {})",
            err.line(),
            err.column()
        )),
    }
}

/// The OAuth error an answer reports, if it reports one: RFC 6749 §5.2's
/// `{"error": "..", "error_description": ".."}`, or the nested
/// `{"error": {"code"|"type", "message"}}` some providers use on their token
/// endpoints.
fn oauth_error(status: u16, object: &Map<String, Value>) -> Option<OAuthError> {
    let (code, description) = match object.get("error")? {
        Value::String(code) if !code.trim().is_empty() => {
            let description =
                text(object.get("error_description")).or_else(|| text(object.get("message")));
            (code.clone(), description)
        }
        Value::Object(nested) => {
            let code = ["code", "type", "status"]
                .iter()
                .find_map(|key| match nested.get(*key) {
                    Some(Value::Number(n)) => Some(n.to_string()),
                    other => text(other),
                })
                .unwrap_or_else(|| UNEXPECTED_RESPONSE.to_owned());
            (code, text(nested.get("message")))
        }
        _ => return None,
    };
    let code = clean(&code, MAX_CODE_CHARS);
    let description = description.map(|d| clean(&d, MAX_DESCRIPTION_CHARS));
    Some(match code.as_str() {
        "invalid_grant" => OAuthError::InvalidGrant { description },
        // RFC 6749 defines these for the authorization endpoint; some servers send
        // them from the token endpoint too, and they mean "try again later".
        "temporarily_unavailable" | "server_error" => {
            let description = description.map(|d| format!(": {d}")).unwrap_or_default();
            OAuthError::Unavailable(format!("{code}{description}"))
        }
        _ => OAuthError::Provider {
            status,
            error: code,
            description,
        },
    })
}

/// Builds the token set from a successful response.
fn token_set(mut object: Map<String, Value>, now: DateTime<Utc>) -> Result<TokenSet, OAuthError> {
    let access_token = object
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|token| !token.trim().is_empty())
        .map(|token| SecretString::from(token.to_owned()))
        .ok_or_else(|| OAuthError::Malformed("the response has no access_token".into()))?;
    let refresh_token = object
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|token| !token.trim().is_empty())
        .map(|token| SecretString::from(token.to_owned()));
    let expires_at = expires_at(object.get("expires_in"), now)?;
    let scopes = scopes(object.get("scope"));
    let token_type = text(object.get("token_type"));
    for field in CONSUMED_FIELDS {
        object.remove(*field);
    }
    let extra = scrub(object);
    Ok(TokenSet {
        access_token,
        refresh_token,
        expires_at,
        scopes,
        token_type,
        extra,
    })
}

/// `expires_in` as an instant: a number or a numeric string of seconds; missing,
/// `null` or `0` mean no known expiry.
fn expires_at(
    value: Option<&Value>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, OAuthError> {
    let seconds = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    let Some(seconds) = seconds.filter(|s| s.is_finite() && *s >= 0.0) else {
        return Err(OAuthError::Malformed(
            "expires_in is not a non-negative number".into(),
        ));
    };
    if seconds == 0.0 || seconds > MAX_EXPIRES_IN_SECS {
        return Ok(None);
    }
    // Whole seconds, rounded down (expiring a moment early is harmless): that is
    // more precision than any expiry needs, the cast cannot overflow below
    // MAX_EXPIRES_IN_SECS, and the instant survives a round trip through Postgres
    // (microseconds) unchanged, so every caller sees the same value.
    let lifetime = chrono::Duration::seconds(seconds as i64);
    Ok(now
        .checked_add_signed(lifetime)
        .map(|at| at.trunc_subsecs(0)))
}

/// `scope` as a list: a string separated by spaces and/or commas, or an array of
/// strings. Missing, `null` or empty means the response did not say.
fn scopes(value: Option<&Value>) -> Option<Vec<String>> {
    let scopes: Vec<String> = match value? {
        Value::String(s) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => return None,
    };
    (!scopes.is_empty()).then_some(scopes)
}

/// Whether a response field's name says it holds a credential.
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.contains("token")
        || name.contains("secret")
        || name.contains("password")
        || name.ends_with("key")
        || name == "code"
}

/// Drops credential-looking fields at any depth (Slack nests a user's
/// `access_token` inside `authed_user`).
fn scrub(object: Map<String, Value>) -> Map<String, Value> {
    object
        .into_iter()
        .filter(|(name, _)| !is_secret_field(name))
        .map(|(name, value)| (name, scrub_value(value)))
        .collect()
}

fn scrub_value(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(scrub(object)),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub_value).collect()),
        other => other,
    }
}

/// A non-empty string value.
fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// One line of at most `max` characters (cut on a character boundary, marked with
/// an ellipsis), so a provider's text stays readable in logs and dashboards.
fn clean(text: &str, max: usize) -> String {
    let line = text
        .split(['\r', '\n', '\t'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn parse(status: u16, body: Value) -> Result<TokenSet, OAuthError> {
        parse_token_response(
            status,
            Some("application/json"),
            body.to_string().as_bytes(),
            now(),
        )
    }

    #[test]
    fn full_response() {
        let set = parse(
            200,
            json!({"access_token": "at", "refresh_token": "rt", "expires_in": 3600,
                   "scope": "a b", "token_type": "Bearer", "created_at": 1700000000}),
        )
        .unwrap();
        assert_eq!(set.access_token.expose_secret(), "at");
        assert_eq!(set.refresh_token.unwrap().expose_secret(), "rt");
        assert_eq!(set.expires_at, Some(now() + chrono::Duration::hours(1)));
        assert_eq!(set.scopes, Some(vec!["a".into(), "b".into()]));
        assert_eq!(set.token_type.as_deref(), Some("Bearer"));
        assert_eq!(
            set.extra,
            json!({"created_at": 1700000000})
                .as_object()
                .cloned()
                .unwrap()
        );
    }

    #[test]
    fn expires_in_quirks() {
        let at = |v: Value| parse(200, json!({"access_token": "t", "expires_in": v}));
        assert_eq!(
            at(json!("7200")).unwrap().expires_at,
            Some(now() + chrono::Duration::hours(2))
        );
        assert_eq!(
            at(json!(59.5)).unwrap().expires_at,
            Some(now() + chrono::Duration::seconds(59))
        );
        let with_nanos = now() + chrono::Duration::nanoseconds(123_456_789);
        let set = parse_token_response(
            200,
            None,
            br#"{"access_token":"t","expires_in":10}"#,
            with_nanos,
        )
        .unwrap();
        assert_eq!(set.expires_at, Some(now() + chrono::Duration::seconds(10)));
        assert_eq!(at(json!(0)).unwrap().expires_at, None);
        assert_eq!(at(Value::Null).unwrap().expires_at, None);
        assert_eq!(
            parse(200, json!({"access_token": "t"})).unwrap().expires_at,
            None
        );
        assert!(matches!(at(json!("soon")), Err(OAuthError::Malformed(_))));
        assert!(matches!(at(json!(-5)), Err(OAuthError::Malformed(_))));
    }

    #[test]
    fn scope_shapes() {
        let scopes = |v: Value| {
            parse(200, json!({"access_token": "t", "scope": v}))
                .unwrap()
                .scopes
        };
        let ab = Some(vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(scopes(json!("a b")), ab);
        assert_eq!(scopes(json!("a,b")), ab);
        assert_eq!(scopes(json!("a, b")), ab);
        assert_eq!(scopes(json!(["a", "b"])), ab);
        assert_eq!(scopes(json!("")), None);
        assert_eq!(scopes(Value::Null), None);
    }

    #[test]
    fn form_encoded_bodies_are_understood() {
        let set = parse_token_response(
            200,
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"access_token=gho_abc&scope=repo%2Cuser&token_type=bearer",
            now(),
        )
        .unwrap();
        assert_eq!(set.access_token.expose_secret(), "gho_abc");
        assert_eq!(set.scopes, Some(vec!["repo".into(), "user".into()]));
        let err = parse_token_response(
            200,
            Some("application/x-www-form-urlencoded"),
            b"error=bad_verification_code&error_description=The+code+is+wrong",
            now(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            OAuthError::Provider {
                status: 200,
                error: "bad_verification_code".into(),
                description: Some("The code is wrong".into())
            }
        );
    }

    #[test]
    fn secret_looking_extra_fields_are_dropped_at_any_depth() {
        let set = parse(
            200,
            json!({"access_token": "t", "id_token": "jwt", "api_key": "k",
                   "client_secret": "s", "team": {"id": "T1", "bot_token": "x"},
                   "authed_user": {"id": "U1", "access_token": "xoxp"},
                   "accounts": [{"id": 1, "password": "p"}]}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(set.extra),
            json!({"team": {"id": "T1"}, "authed_user": {"id": "U1"}, "accounts": [{"id": 1}]})
        );
    }

    #[test]
    fn error_shapes() {
        assert_eq!(
            parse(
                400,
                json!({"error": "invalid_grant", "error_description": "Bad\nRequest"})
            )
            .unwrap_err(),
            OAuthError::InvalidGrant {
                description: Some("Bad Request".into())
            }
        );
        assert_eq!(
            parse(200, json!({"error": "invalid_grant"})).unwrap_err(),
            OAuthError::InvalidGrant { description: None }
        );
        assert_eq!(
            parse(401, json!({"error": "invalid_client"})).unwrap_err(),
            OAuthError::Provider {
                status: 401,
                error: "invalid_client".into(),
                description: None
            }
        );
        assert_eq!(
            parse(503, json!({"error": "invalid_grant"})).unwrap_err(),
            OAuthError::Unavailable("HTTP 503 invalid_grant".into())
        );
        assert_eq!(
            parse(400, json!({"error": "temporarily_unavailable"})).unwrap_err(),
            OAuthError::Unavailable("temporarily_unavailable".into())
        );
        assert_eq!(
            parse(400, json!({"error": {"message": "Invalid verification code", "type": "OAuthException", "code": 100}}))
                .unwrap_err(),
            OAuthError::Provider {
                status: 400,
                error: "100".into(),
                description: Some("Invalid verification code".into())
            }
        );
        assert!(matches!(
            parse(200, json!({"token": "t"})).unwrap_err(),
            OAuthError::Malformed(_)
        ));
        assert!(matches!(
            parse(200, json!(["access_token"])).unwrap_err(),
            OAuthError::Malformed(_)
        ));
        assert!(matches!(
            parse_token_response(404, Some("text/html"), b"<html>nope</html>", now()).unwrap_err(),
            OAuthError::Provider { status: 404, .. }
        ));
        assert!(matches!(
            parse_token_response(200, None, b"", now()).unwrap_err(),
            OAuthError::Malformed(_)
        ));
    }

    #[test]
    fn malformed_messages_do_not_quote_the_body() {
        let err = parse_token_response(
            200,
            Some("application/json"),
            br#"{"access_token": "ya29.SECRET", "#,
            now(),
        )
        .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");
        let err = parse(
            200,
            json!({"access_token": "ya29.SECRET", "expires_in": "ya29.SECRET"}),
        )
        .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");
    }

    #[test]
    fn long_descriptions_are_cut() {
        let err = parse(
            400,
            json!({"error": "invalid_request", "error_description": "x".repeat(1000)}),
        )
        .unwrap_err();
        let OAuthError::Provider {
            description: Some(description),
            ..
        } = err
        else {
            panic!("{err:?}")
        };
        assert_eq!(description.chars().count(), MAX_DESCRIPTION_CHARS);
    }

    #[test]
    fn revocation_answers() {
        let revoke = |status, body: &str| {
            parse_revoke_response(status, Some("application/json"), body.as_bytes())
        };
        assert_eq!(revoke(200, ""), Ok(()));
        assert_eq!(revoke(204, ""), Ok(()));
        assert_eq!(revoke(400, r#"{"error":"invalid_token"}"#), Ok(()));
        assert_eq!(revoke(400, r#"{"error":"invalid_grant"}"#), Ok(()));
        assert!(matches!(
            revoke(400, r#"{"error":"unsupported_token_type"}"#),
            Err(OAuthError::Provider { status: 400, .. })
        ));
        assert!(matches!(
            revoke(503, "down"),
            Err(OAuthError::Unavailable(_))
        ));
        assert!(matches!(
            revoke(401, "nope"),
            Err(OAuthError::Provider { status: 401, .. })
        ));
    }
}

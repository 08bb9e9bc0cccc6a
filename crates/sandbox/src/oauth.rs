//! The fake OAuth 2.0 authorization server (RFC 6749 authorization-code grant with
//! refresh, RFC 7636 PKCE, RFC 7009 revocation), one per provider whose spec says
//! [`AuthSpec::OAuth2`], honouring that spec: its scopes and scope separator, whether
//! PKCE is required, its extra authorize parameters and its refresh behaviour, and,
//! for providers that declare one (Meta), the long-lived token exchange: the code's
//! token is then short-lived, and `grant_type=<the spec's>` with a valid token in the
//! spec's parameter (a GET with the client credentials in the query, or a POST form)
//! answers a new token of the same grant living 60 days.
//!
//! The server is strict on purpose: it is where Junction's OAuth engine is tested, so
//! a request a real provider would refuse is refused here too, with the error code
//! the RFCs prescribe.

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use junction_core::{
    AuthSpec, OAuth2Spec, RefreshBehaviour, TokenClientAuth,
    spec::{ProviderSpec, TokenExchangeMethod},
};
use serde_json::{Map, Value};

use crate::{
    CLIENT_ID, CLIENT_SECRET, GrantType, Sandbox, TokenFailure, html, reply,
    secret::{self, TokenKind},
    state::{CodeLookup, GrantId, PendingCode, State},
};

/// Mounts `/oauth/{provider}/{authorize,decision,token,revoke}`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/oauth/{provider}/authorize").route(web::get().to(authorize)))
        .service(web::resource("/oauth/{provider}/decision").route(web::post().to(decision)))
        .service(
            web::resource("/oauth/{provider}/token")
                .route(web::post().to(token))
                .route(web::get().to(token_get)),
        )
        .service(web::resource("/oauth/{provider}/revoke").route(web::post().to(revoke)));
}

/// Decoded `application/x-www-form-urlencoded` pairs (a query string or a form body),
/// in order, duplicates kept so they can be refused.
fn parse_pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw).into_owned().collect()
}

/// The first parameter that appears more than once (RFC 6749 section 3.1: parameters
/// must not be repeated).
fn repeated(params: &[(String, String)]) -> Option<&str> {
    params.iter().enumerate().find_map(|(i, (name, _))| {
        params[..i]
            .iter()
            .any(|(earlier, _)| earlier == name)
            .then_some(name.as_str())
    })
}

/// One parameter's value (empty values count as absent, as RFC 6749 section 3.1 says).
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|value| !value.is_empty())
}

/// `now` plus a configured lifetime, saturating instead of overflowing.
fn later(now: DateTime<Utc>, lifetime: std::time::Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(lifetime)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Splits a `scope` parameter by the provider's separator.
fn split_scopes(scope: &str, separator: &str) -> Vec<String> {
    let parts: Vec<&str> = if separator.is_empty() {
        vec![scope]
    } else {
        scope.split(separator).collect()
    };
    parts
        .into_iter()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------
// Authorization endpoint
// ---------------------------------------------------------------------------------

/// What an authorization request asks for, once valid.
struct AuthorizeRequest {
    scopes: Vec<String>,
    code_challenge: Option<String>,
}

/// An error to send back through the client's redirect URI: its `error` code and
/// description.
type Refusal = (&'static str, String);

/// The redirect URI, once the client id and it are known to be trustworthy. Errors
/// here are shown on a page, never redirected (RFC 6749 section 4.1.2.1).
fn trusted_redirect_uri(params: &[(String, String)]) -> Result<url::Url, String> {
    let count = |name: &str| params.iter().filter(|(key, _)| key == name).count();
    if count("client_id") > 1 {
        return Err("client_id is given more than once.".into());
    }
    let client_id =
        param(params, "client_id").ok_or_else(|| "The request has no client_id.".to_owned())?;
    if client_id != CLIENT_ID {
        return Err(format!(
            "Unknown client_id `{client_id}`: the sandbox knows only `{CLIENT_ID}`."
        ));
    }
    if count("redirect_uri") > 1 {
        return Err("redirect_uri is given more than once.".into());
    }
    let raw = param(params, "redirect_uri")
        .ok_or_else(|| "The request has no redirect_uri.".to_owned())?;
    match url::Url::parse(raw) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.fragment().is_none() =>
        {
            Ok(url)
        }
        _ => Err(format!(
            "redirect_uri `{raw}` is not an absolute http(s) URL without a fragment."
        )),
    }
}

/// The `state` to echo back (none when it is repeated: which one would it be?).
fn request_state(params: &[(String, String)]) -> Option<String> {
    let repeated = params.iter().filter(|(key, _)| key == "state").count() > 1;
    (!repeated)
        .then(|| param(params, "state").map(str::to_owned))
        .flatten()
}

/// Checks everything but the client and redirect URI against the provider's spec.
fn validate_authorize(
    oauth: &OAuth2Spec,
    params: &[(String, String)],
) -> Result<AuthorizeRequest, Refusal> {
    if let Some(name) = repeated(params) {
        return Err((
            "invalid_request",
            format!("parameter `{name}` is given more than once"),
        ));
    }
    match param(params, "response_type") {
        None => return Err(("invalid_request", "response_type is missing".into())),
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type `{other}` is not supported; use `code`"),
            ));
        }
    }

    let scopes = split_scopes(param(params, "scope").unwrap_or(""), oauth.scope_separator);
    if scopes.is_empty() && !oauth.scopes.is_empty() {
        return Err((
            "invalid_scope",
            format!(
                "scope is missing; this provider offers: {}",
                oauth.scopes.join(oauth.scope_separator)
            ),
        ));
    }
    if let Some(unknown) = scopes
        .iter()
        .find(|scope| !oauth.scopes.contains(&scope.as_str()))
    {
        return Err((
            "invalid_scope",
            format!(
                "scope `{unknown}` is not offered (scopes are separated by {:?}; offered: {})",
                oauth.scope_separator,
                oauth.scopes.join(oauth.scope_separator)
            ),
        ));
    }

    let code_challenge = param(params, "code_challenge");
    let method = param(params, "code_challenge_method");
    match (code_challenge, method) {
        (None, None) if oauth.pkce => {
            return Err((
                "invalid_request",
                "code_challenge is required (PKCE with S256)".into(),
            ));
        }
        (None, None) => {}
        (None, Some(_)) => {
            return Err((
                "invalid_request",
                "code_challenge_method without code_challenge".into(),
            ));
        }
        (Some(_), method) if method != Some("S256") => {
            return Err((
                "invalid_request",
                "code_challenge_method must be S256".into(),
            ));
        }
        (Some(challenge), _) if !secret::is_pkce_value(challenge) => {
            return Err((
                "invalid_request",
                "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]".into(),
            ));
        }
        (Some(_), _) => {}
    }

    for (name, expected) in &oauth.extra_authorize_params {
        if param(params, name) != Some(*expected) {
            return Err((
                "invalid_request",
                format!("this provider needs `{name}={expected}` on the authorize URL"),
            ));
        }
    }

    Ok(AuthorizeRequest {
        scopes,
        code_challenge: code_challenge.map(str::to_owned),
    })
}

/// A 302 to the client's redirect URI with the given parameters added to its query.
fn redirect_to(mut redirect_uri: url::Url, pairs: &[(&str, &str)]) -> HttpResponse {
    {
        let mut query = redirect_uri.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, redirect_uri.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A redirect carrying an error (and the state, when there is one).
fn redirect_error(
    redirect_uri: url::Url,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> HttpResponse {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    redirect_to(redirect_uri, &pairs)
}

/// `GET /oauth/{provider}/authorize`: the consent page, or an immediate redirect when
/// the URL carries `decision=approve|deny`.
async fn authorize(
    sandbox: web::Data<Sandbox>,
    provider: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let params = parse_pairs(req.query_string().as_bytes());
    answer_authorization(&sandbox, &provider, &params, false)
}

/// `POST /oauth/{provider}/decision`: the consent page's Approve / Deny.
async fn decision(
    sandbox: web::Data<Sandbox>,
    provider: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let params = parse_pairs(&body);
    answer_authorization(&sandbox, &provider, &params, true)
}

fn answer_authorization(
    sandbox: &Sandbox,
    provider: &str,
    params: &[(String, String)],
    from_consent_page: bool,
) -> HttpResponse {
    let (spec, oauth) = match sandbox.oauth_spec(provider) {
        Ok(found) => found,
        Err(err) => return reply::sandbox_error(&err),
    };
    let redirect_uri = match trusted_redirect_uri(params) {
        Ok(redirect_uri) => redirect_uri,
        Err(message) => {
            tracing::info!(provider = spec.id, %message, "authorize request refused");
            return html::authorize_error_page(spec.name, &message);
        }
    };
    let state = request_state(params);
    let state = state.as_deref();
    let request = match validate_authorize(oauth, params) {
        Ok(request) => request,
        Err((error, description)) => {
            tracing::info!(provider = spec.id, error, %description, "authorize request refused");
            return redirect_error(redirect_uri, state, error, &description);
        }
    };
    match param(params, "decision") {
        None if !from_consent_page => {
            html::consent_page(spec, &request.scopes, redirect_uri.as_str(), params)
        }
        None => redirect_error(
            redirect_uri,
            state,
            "invalid_request",
            "decision is missing",
        ),
        Some("approve") => approve(sandbox, spec, redirect_uri, state, request),
        Some("deny") => {
            tracing::info!(provider = spec.id, "authorization denied");
            redirect_error(
                redirect_uri,
                state,
                "access_denied",
                "The user denied the request.",
            )
        }
        Some(_) => redirect_error(
            redirect_uri,
            state,
            "invalid_request",
            "decision must be `approve` or `deny`",
        ),
    }
}

/// Issues a code and sends the user back with it.
fn approve(
    sandbox: &Sandbox,
    spec: &ProviderSpec,
    redirect_uri: url::Url,
    state: Option<&str>,
    request: AuthorizeRequest,
) -> HttpResponse {
    let Ok(code) = secret::new_token(spec.id, TokenKind::Code) else {
        return redirect_error(
            redirect_uri,
            state,
            "server_error",
            "no randomness available",
        );
    };
    tracing::info!(provider = spec.id, scopes = ?request.scopes, "authorization approved");
    sandbox.lock().insert_code(
        &code,
        PendingCode {
            provider: spec.id.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            redirect_uri: redirect_uri.to_string(),
            scopes: request.scopes,
            code_challenge: request.code_challenge,
            expires_at: later(Utc::now(), sandbox.config().code_lifetime),
        },
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    redirect_to(redirect_uri, &pairs)
}

// ---------------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------------

/// The marker of a Graph-style "invalid token" refusal (rendered as Meta renders it).
const INVALID_TOKEN_190: &str = "invalid_token_190";

/// An RFC 6749 section 5.2 error.
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl TokenError {
    fn bad_request(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
        }
    }

    /// Meta's refusal of a token it no longer accepts (OAuthException 190).
    fn invalid_token(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error: INVALID_TOKEN_190,
            description: description.into(),
        }
    }

    fn into_response(self) -> HttpResponse {
        if self.error == INVALID_TOKEN_190 {
            return HttpResponse::build(self.status).json(serde_json::json!({"error": {
                "message": self.description, "type": "OAuthException", "code": 190,
                "fbtrace_id": "AsandboxTraceId0"
            }}));
        }
        let mut response = reply::json_error(self.status, self.error, &self.description);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"junction-sandbox\""),
            );
        }
        response
    }
}

/// Tokens issued by one token request.
struct Issued {
    access_token: String,
    refresh_token: Option<String>,
    scopes: Vec<String>,
    /// `None` when the provider's tokens do not expire.
    expires_in: Option<u64>,
}

/// `POST /oauth/{provider}/token`.
async fn token(
    sandbox: web::Data<Sandbox>,
    provider: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(spec) = sandbox.client_credentials_spec(&provider) {
        let result = if is_form(&req) {
            client_credentials_response(&sandbox, spec, &req, parse_pairs(&body))
        } else {
            Err(TokenError::bad_request(
                "invalid_request",
                "the body must be application/x-www-form-urlencoded",
            ))
        };
        return finish_token_request(spec, result);
    }
    let (spec, oauth) = match sandbox.oauth_spec(&provider) {
        Ok(found) => found,
        Err(err) => return reply::sandbox_error(&err),
    };
    let result = if is_form(&req) {
        token_response(&sandbox, spec, oauth, &req, parse_pairs(&body))
    } else {
        Err(TokenError::bad_request(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ))
    };
    finish_token_request(spec, result)
}

/// `GET /oauth/{provider}/token?...`: the long-lived exchange of providers that take
/// it as a GET (Meta's `GET /oauth/access_token?grant_type=fb_exchange_token&..`).
/// Other providers' token endpoints answer only POST.
async fn token_get(
    sandbox: web::Data<Sandbox>,
    provider: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    let (spec, oauth) = match sandbox.oauth_spec(&provider) {
        Ok(found) => found,
        Err(err) => return reply::sandbox_error(&err),
    };
    let takes_get = oauth
        .long_lived_exchange
        .as_ref()
        .is_some_and(|exchange| exchange.method == TokenExchangeMethod::Get);
    let result = if takes_get {
        let params = parse_pairs(req.query_string().as_bytes());
        match param(&params, "grant_type") {
            Some(grant)
                if Some(grant) == oauth.long_lived_exchange.as_ref().map(|e| e.grant_type) =>
            {
                token_response(&sandbox, spec, oauth, &req, params)
            }
            _ => Err(TokenError::bad_request(
                "unsupported_grant_type",
                "only the long-lived token exchange is served by GET",
            )),
        }
    } else {
        return HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, "POST"))
            .finish();
    };
    finish_token_request(spec, result)
}

/// Logs a refused token request and renders the outcome.
fn finish_token_request(
    spec: &ProviderSpec,
    result: Result<HttpResponse, TokenError>,
) -> HttpResponse {
    match result {
        Ok(response) => response,
        Err(err) => {
            tracing::info!(provider = spec.id, error = err.error, description = %err.description, "token request refused");
            err.into_response()
        }
    }
}

fn token_response(
    sandbox: &Sandbox,
    spec: &ProviderSpec,
    oauth: &OAuth2Spec,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, TokenError> {
    if let Some(name) = repeated(&params) {
        return Err(TokenError::bad_request(
            "invalid_request",
            format!("parameter `{name}` is given more than once"),
        ));
    }
    let client_id = authenticate_client(spec, oauth, req, &params)?;
    let grant_type = match param(&params, "grant_type") {
        None => {
            return Err(TokenError::bad_request(
                "invalid_request",
                "grant_type is missing",
            ));
        }
        Some("authorization_code") => GrantType::AuthorizationCode,
        Some("refresh_token") if oauth.refresh != RefreshBehaviour::None => GrantType::RefreshToken,
        Some("refresh_token") => {
            return Err(TokenError::bad_request(
                "unsupported_grant_type",
                "this provider issues no refresh tokens",
            ));
        }
        Some(grant)
            if oauth
                .long_lived_exchange
                .as_ref()
                .is_some_and(|exchange| exchange.grant_type == grant) =>
        {
            GrantType::LongLivedExchange
        }
        Some(other) => {
            return Err(TokenError::bad_request(
                "unsupported_grant_type",
                format!("grant_type `{other}` is not supported"),
            ));
        }
    };

    let failure = match scripted(sandbox, spec, grant_type) {
        Scripted::Issue(failure) => failure,
        Scripted::Answer(answer) => return answer,
    };

    let issued = {
        let mut state = sandbox.lock();
        match grant_type {
            GrantType::AuthorizationCode => {
                exchange_code(sandbox, &mut state, spec, oauth, &params, &client_id)?
            }
            GrantType::RefreshToken => refresh(sandbox, &mut state, spec, oauth, &params)?,
            GrantType::LongLivedExchange => exchange_long_lived(&mut state, spec, oauth, &params)?,
            // Served by `client_credentials_response` to the entries that use it;
            // an authorization-code provider refuses the grant above.
            GrantType::ClientCredentials => {
                return Err(TokenError::bad_request(
                    "unsupported_grant_type",
                    "grant_type `client_credentials` is not supported",
                ));
            }
        }
    };
    tracing::info!(
        provider = spec.id,
        grant_type = grant_type.as_str(),
        scopes = ?issued.scopes,
        new_refresh_token = issued.refresh_token.is_some(),
        "tokens issued"
    );

    Ok(token_body(issued, failure, oauth.scope_separator))
}

/// Whether a request's body is a form.
fn is_form(req: &HttpRequest) -> bool {
    req.content_type()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// What a scripted failure makes of a token request.
enum Scripted {
    /// Answer this instead of issuing tokens.
    Answer(Result<HttpResponse, TokenError>),
    /// Issue tokens, altered as the failure (if any) says.
    Issue(Option<TokenFailure>),
}

/// Takes the failure scripted for this provider and grant type, if any.
fn scripted(sandbox: &Sandbox, spec: &ProviderSpec, grant_type: GrantType) -> Scripted {
    let Some(failure) = sandbox.lock().take_failure(spec.id, grant_type) else {
        return Scripted::Issue(None);
    };
    tracing::info!(
        provider = spec.id,
        ?failure,
        ?grant_type,
        "answering with a scripted failure"
    );
    let scripted = "scripted by the sandbox";
    match failure {
        TokenFailure::InvalidGrant => {
            Scripted::Answer(Err(TokenError::bad_request("invalid_grant", scripted)))
        }
        TokenFailure::ServerError => Scripted::Answer(Err(TokenError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: scripted.into(),
        })),
        TokenFailure::TemporarilyUnavailable => Scripted::Answer(Err(TokenError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "temporarily_unavailable",
            description: scripted.into(),
        })),
        TokenFailure::ErrorIn200 => Scripted::Answer(Ok(reply::json_error(
            StatusCode::OK,
            "invalid_grant",
            scripted,
        ))),
        TokenFailure::MissingExpiresIn | TokenFailure::CommaScopes => {
            Scripted::Issue(Some(failure))
        }
    }
}

/// A successful token response (RFC 6749 section 5.1), changed as a scripted
/// failure says.
fn token_body(issued: Issued, failure: Option<TokenFailure>, separator: &str) -> HttpResponse {
    let mut body = Map::new();
    body.insert("access_token".into(), Value::from(issued.access_token));
    body.insert("token_type".into(), Value::from("Bearer"));
    if let Some(expires_in) = issued.expires_in
        && failure != Some(TokenFailure::MissingExpiresIn)
    {
        body.insert("expires_in".into(), Value::from(expires_in));
    }
    if let Some(refresh_token) = issued.refresh_token {
        body.insert("refresh_token".into(), Value::from(refresh_token));
    }
    if !issued.scopes.is_empty() {
        let separator = if failure == Some(TokenFailure::CommaScopes) {
            ","
        } else {
            separator
        };
        body.insert("scope".into(), Value::from(issued.scopes.join(separator)));
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(Value::Object(body))
}

/// `grant_type=client_credentials` (RFC 6749 section 4.4) for a provider whose users
/// hold their own key pair: the pair its fake's catalog entry publishes is the one
/// accepted; the token lives the sandbox's token lifetime, carries the spec's scopes
/// (a narrower `scope` asked for is granted as asked), and comes without a refresh
/// token (section 4.4.3).
fn client_credentials_response(
    sandbox: &Sandbox,
    spec: &ProviderSpec,
    req: &HttpRequest,
    params: Vec<(String, String)>,
) -> Result<HttpResponse, TokenError> {
    let AuthSpec::ClientCredentials {
        scopes,
        client_id: id_field,
        client_secret: secret_field,
        client_auth,
        ..
    } = &spec.auth
    else {
        return Err(TokenError::bad_request(
            "unsupported_grant_type",
            "this provider does not use the client-credentials grant",
        ));
    };
    if let Some(name) = repeated(&params) {
        return Err(TokenError::bad_request(
            "invalid_request",
            format!("parameter `{name}` is given more than once"),
        ));
    }
    let (client_id, client_secret, style) = presented_client(req, &params)?;
    let accepted = sandbox.client_key_pair(spec.id, id_field.name, secret_field.name);
    let Some((accepted_id, accepted_secret)) = accepted else {
        return Err(TokenError::invalid_client(
            "the sandbox publishes no key pair for this provider",
        ));
    };
    if client_id != accepted_id || !secret::same_secret(&client_secret, &accepted_secret) {
        return Err(TokenError::invalid_client("invalid client credentials"));
    }
    if style != *client_auth {
        tracing::debug!(provider = spec.id, used = ?style, documented = ?client_auth, "client authenticated with the other style");
    }
    match param(&params, "grant_type") {
        Some("client_credentials") => {}
        None => {
            return Err(TokenError::bad_request(
                "invalid_request",
                "grant_type is missing",
            ));
        }
        Some(other) => {
            return Err(TokenError::bad_request(
                "unsupported_grant_type",
                format!("grant_type `{other}` is not supported"),
            ));
        }
    }
    let granted: Vec<String> = match param(&params, "scope") {
        None => scopes.iter().map(|s| (*s).to_owned()).collect(),
        Some(asked) => {
            let asked: Vec<String> = asked.split(' ').map(str::to_owned).collect();
            if let Some(unknown) = asked.iter().find(|s| !scopes.contains(&s.as_str())) {
                return Err(TokenError::bad_request(
                    "invalid_scope",
                    format!("scope `{unknown}` is not offered"),
                ));
            }
            asked
        }
    };
    let failure = match scripted(sandbox, spec, GrantType::ClientCredentials) {
        Scripted::Issue(failure) => failure,
        Scripted::Answer(answer) => return answer,
    };
    let issued = {
        let mut state = sandbox.lock();
        let grant = state.new_grant();
        issue_for(
            spec,
            &mut state,
            &granted,
            grant,
            false,
            Some(sandbox.config().token_lifetime),
        )?
    };
    tracing::info!(
        provider = spec.id,
        grant_type = GrantType::ClientCredentials.as_str(),
        "tokens issued"
    );
    Ok(token_body(issued, failure, " "))
}

/// Checks the client's credentials (HTTP Basic or form fields, RFC 6749 section
/// 2.3.1) and returns its id. Either style is accepted whatever the spec says, as
/// real providers do; only one may be used per request.
fn authenticate_client(
    spec: &ProviderSpec,
    oauth: &OAuth2Spec,
    req: &HttpRequest,
    params: &[(String, String)],
) -> Result<String, TokenError> {
    let (client_id, client_secret, style) = presented_client(req, params)?;
    if client_id != CLIENT_ID || !secret::same_secret(&client_secret, CLIENT_SECRET) {
        return Err(TokenError::invalid_client("invalid client credentials"));
    }
    if style != oauth.client_auth {
        tracing::debug!(provider = spec.id, used = ?style, documented = ?oauth.client_auth, "client authenticated with the other style");
    }
    Ok(client_id)
}

/// The client id and secret a token request presents, and how: HTTP Basic or form
/// fields, only one of them.
fn presented_client(
    req: &HttpRequest,
    params: &[(String, String)],
) -> Result<(String, String, TokenClientAuth), TokenError> {
    match req.headers().get(header::AUTHORIZATION) {
        Some(value) => {
            let (id, secret) = value.to_str().ok().and_then(basic_credentials).ok_or_else(
                || {
                    TokenError::invalid_client(
                        "the Authorization header is not valid HTTP Basic client authentication",
                    )
                },
            )?;
            if param(params, "client_secret").is_some() {
                return Err(TokenError::bad_request(
                    "invalid_request",
                    "use one client authentication method, not both Basic and client_secret",
                ));
            }
            if param(params, "client_id").is_some_and(|body_id| body_id != id) {
                return Err(TokenError::invalid_client(
                    "client_id in the body differs from the Basic credentials",
                ));
            }
            Ok((id, secret, TokenClientAuth::BasicHeader))
        }
        None => match (param(params, "client_id"), param(params, "client_secret")) {
            (Some(id), Some(secret)) => Ok((
                id.to_owned(),
                secret.to_owned(),
                TokenClientAuth::RequestBody,
            )),
            _ => Err(TokenError::invalid_client(
                "client authentication is missing (HTTP Basic or client_id and client_secret)",
            )),
        },
    }
}

/// The client id and secret of an `Authorization: Basic` value; each is form-encoded
/// before base64 (RFC 6749 section 2.3.1).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` and `%XX`).
fn form_decode(component: &str) -> Option<String> {
    let bytes = component.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Issues an access token (and a refresh token unless the provider has none) for a
/// grant.
fn issue(
    sandbox: &Sandbox,
    state: &mut State,
    spec: &ProviderSpec,
    oauth: &OAuth2Spec,
    scopes: &[String],
    grant: GrantId,
    with_refresh_token: bool,
) -> Result<Issued, TokenError> {
    // Providers without refresh hand out tokens that live until revoked (Mailchimp),
    // unless they exchange the code's short-lived token for a long-lived one (Meta).
    let lifetime = (oauth.refresh != RefreshBehaviour::None || oauth.long_lived_exchange.is_some())
        .then_some(sandbox.config().token_lifetime);
    issue_for(spec, state, scopes, grant, with_refresh_token, lifetime)
}

/// Issues tokens with a given access-token lifetime (`None`: never expires).
fn issue_for(
    spec: &ProviderSpec,
    state: &mut State,
    scopes: &[String],
    grant: GrantId,
    with_refresh_token: bool,
    lifetime: Option<std::time::Duration>,
) -> Result<Issued, TokenError> {
    let no_randomness = || TokenError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error: "server_error",
        description: "no randomness available".into(),
    };
    let access_token =
        secret::new_token(spec.id, TokenKind::Access).map_err(|_| no_randomness())?;
    let refresh_token = if with_refresh_token {
        Some(secret::new_token(spec.id, TokenKind::Refresh).map_err(|_| no_randomness())?)
    } else {
        None
    };
    let expires_at = lifetime.map(|lifetime| later(Utc::now(), lifetime));
    state.issue_access_token(&access_token, spec.id, scopes, expires_at, grant);
    if let Some(refresh_token) = &refresh_token {
        state.issue_refresh_token(refresh_token, spec.id, scopes, grant);
    }
    Ok(Issued {
        access_token,
        refresh_token,
        scopes: scopes.to_vec(),
        expires_in: lifetime.map(|lifetime| lifetime.as_secs()),
    })
}

/// `grant_type=authorization_code` (RFC 6749 section 4.1.3, RFC 7636 section 4.6).
fn exchange_code(
    sandbox: &Sandbox,
    state: &mut State,
    spec: &ProviderSpec,
    oauth: &OAuth2Spec,
    params: &[(String, String)],
    client_id: &str,
) -> Result<Issued, TokenError> {
    let code = param(params, "code")
        .ok_or_else(|| TokenError::bad_request("invalid_request", "code is missing"))?;
    let redirect_uri = param(params, "redirect_uri");
    let pending = match state.take_code(spec.id, code) {
        CodeLookup::Found(pending) => pending,
        CodeLookup::Replayed => {
            let revoked = state.revoke_replayed_code(code);
            tracing::warn!(
                provider = spec.id,
                revoked_grant = revoked,
                "authorization code replayed"
            );
            return Err(TokenError::bad_request(
                "invalid_grant",
                "the authorization code was already used",
            ));
        }
        CodeLookup::Unknown => {
            return Err(TokenError::bad_request(
                "invalid_grant",
                "unknown authorization code",
            ));
        }
    };
    if pending.expires_at <= Utc::now() {
        return Err(TokenError::bad_request(
            "invalid_grant",
            "the authorization code expired",
        ));
    }
    if pending.client_id != client_id {
        return Err(TokenError::bad_request(
            "invalid_grant",
            "the authorization code was issued to another client",
        ));
    }
    match redirect_uri {
        None => {
            return Err(TokenError::bad_request(
                "invalid_request",
                "redirect_uri is missing",
            ));
        }
        Some(uri) if !same_redirect_uri(uri, &pending.redirect_uri) => {
            return Err(TokenError::bad_request(
                "invalid_grant",
                "redirect_uri differs from the authorize request's",
            ));
        }
        Some(_) => {}
    }
    match (&pending.code_challenge, param(params, "code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !secret::is_pkce_value(verifier) || !secret::pkce_s256_matches(verifier, challenge) {
                return Err(TokenError::bad_request(
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                ));
            }
        }
        (Some(_), None) => {
            return Err(TokenError::bad_request(
                "invalid_grant",
                "code_verifier is missing (the authorize request had a code_challenge)",
            ));
        }
        (None, Some(_)) => {
            return Err(TokenError::bad_request(
                "invalid_grant",
                "code_verifier given, but the authorize request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    let grant = state.new_grant();
    state.bind_code_to_grant(code, grant);
    issue(
        sandbox,
        state,
        spec,
        oauth,
        &pending.scopes,
        grant,
        oauth.refresh != RefreshBehaviour::None,
    )
}

/// Whether the token request's redirect URI is the authorize request's (compared
/// parsed, so `http://h` and `http://h/` are the same).
fn same_redirect_uri(presented: &str, remembered: &str) -> bool {
    url::Url::parse(presented).is_ok_and(|url| url.as_str() == remembered)
}

/// `grant_type=refresh_token` (RFC 6749 section 6).
fn refresh(
    sandbox: &Sandbox,
    state: &mut State,
    spec: &ProviderSpec,
    oauth: &OAuth2Spec,
    params: &[(String, String)],
) -> Result<Issued, TokenError> {
    let presented = param(params, "refresh_token")
        .ok_or_else(|| TokenError::bad_request("invalid_request", "refresh_token is missing"))?;
    let current = state
        .active_refresh_token(spec.id, presented)
        .ok_or_else(|| {
            TokenError::bad_request(
                "invalid_grant",
                "the refresh token is unknown, revoked or already rotated",
            )
        })?;
    let scopes = match param(params, "scope") {
        None => current.scopes.clone(),
        Some(scope) => {
            let requested = split_scopes(scope, oauth.scope_separator);
            if let Some(extra) = requested.iter().find(|s| !current.scopes.contains(s)) {
                return Err(TokenError::bad_request(
                    "invalid_scope",
                    format!("scope `{extra}` was not granted"),
                ));
            }
            requested
        }
    };
    let rotating = oauth.refresh == RefreshBehaviour::Rotating;
    let mut issued = issue(sandbox, state, spec, oauth, &scopes, current.grant, false)?;
    if rotating {
        let no_randomness = TokenError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "no randomness available".into(),
        };
        let next = secret::new_token(spec.id, TokenKind::Refresh).map_err(|_| no_randomness)?;
        state.retire_refresh_token(presented);
        state.issue_refresh_token(&next, spec.id, &current.scopes, current.grant);
        issued.refresh_token = Some(next);
    }
    Ok(issued)
}

/// How long an exchanged long-lived token lives (Meta's are about 60 days).
const LONG_LIVED_LIFETIME: std::time::Duration = std::time::Duration::from_secs(60 * 24 * 60 * 60);

/// The long-lived token exchange (Meta's `grant_type=fb_exchange_token`): a valid
/// access token of this provider, in the spec's parameter, buys a new access token of
/// the same grant and scopes living [`LONG_LIVED_LIFETIME`]. The presented token
/// stays valid until it expires, as Meta's does. An expired, revoked or unknown token
/// is refused the way Meta refuses it: `{"error": {"type": "OAuthException", "code":
/// 190}}`, which junction-oauth reads as a gone grant.
fn exchange_long_lived(
    state: &mut State,
    spec: &ProviderSpec,
    oauth: &OAuth2Spec,
    params: &[(String, String)],
) -> Result<Issued, TokenError> {
    let Some(exchange) = &oauth.long_lived_exchange else {
        return Err(TokenError::bad_request(
            "unsupported_grant_type",
            "this provider has no token exchange",
        ));
    };
    let presented = param(params, exchange.token_param).ok_or_else(|| {
        TokenError::bad_request(
            "invalid_request",
            format!("{} is missing", exchange.token_param),
        )
    })?;
    let Some((scopes, grant)) = state.valid_access_token(spec.id, presented, Utc::now()) else {
        return Err(TokenError::invalid_token(
            "Error validating access token: the token is expired, revoked or unknown.",
        ));
    };
    issue_for(
        spec,
        state,
        &scopes,
        grant,
        false,
        Some(LONG_LIVED_LIFETIME),
    )
}

// ---------------------------------------------------------------------------------
// Revocation endpoint
// ---------------------------------------------------------------------------------

/// `POST /oauth/{provider}/revoke` (RFC 7009): 200 whether or not the token was known.
async fn revoke(
    sandbox: web::Data<Sandbox>,
    provider: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let spec = match sandbox.oauth_spec(&provider) {
        Ok((spec, _)) => spec,
        Err(err) => return reply::sandbox_error(&err),
    };
    let params = parse_pairs(&body);
    let Some(token) = param(&params, "token") else {
        return reply::json_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is missing",
        );
    };
    let known = sandbox.lock().revoke_token(spec.id, token);
    tracing::info!(provider = spec.id, known, "token revoked");
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_of_form_encoded_parts() {
        let header = format!("Basic {}", STANDARD.encode("my%20id:s%3Acret+x"));
        assert_eq!(
            basic_credentials(&header),
            Some(("my id".to_owned(), "s:cret x".to_owned()))
        );
        assert_eq!(basic_credentials("Bearer abc"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        assert_eq!(form_decode("%zz"), None);
    }

    #[test]
    fn scopes_split_by_the_providers_separator() {
        assert_eq!(split_scopes("a b  c", " "), ["a", "b", "c"]);
        assert_eq!(split_scopes("a,b", ","), ["a", "b"]);
        assert_eq!(split_scopes("a,b", " "), ["a,b"]);
        assert!(split_scopes("", " ").is_empty());
    }

    #[test]
    fn repeated_parameters_are_found() {
        let params = parse_pairs(b"a=1&b=2&a=3");
        assert_eq!(repeated(&params), Some("a"));
        assert_eq!(repeated(&parse_pairs(b"a=1&b=2")), None);
    }
}

//! Connect sessions: how a workspace's backend lets its own end users connect
//! providers (Nango's connect sessions are the model).
//!
//! The client's backend creates a session with its API key
//! ([`App::create_connect_session`]): the providers it may connect, the end user it
//! is for, tags, a return URL from the workspace's allow-list and an expiry of at
//! most 30 minutes. It gets a random token, stored only as its SHA-256, and the
//! Connect page's URL. The end user's browser presents the token to the Connect
//! page, which calls the `connect_session_*` use cases here: the token resolves to
//! its live session ([`App::open_connect_session`]: unknown, expired and revoked
//! tokens refused with their own codes), lists the providers it may connect, and
//! connects one — by OAuth through [`App::start_oauth`]'s path, whose callback then
//! reports to the session's return URL ([`outcome_url`]), or with typed-in
//! credentials through [`App::connect_with_credentials`]' path.
//!
//! A token can only connect: it authenticates no API request (API keys are looked
//! up by their own hash, in their own table) and reads nothing but the session's own
//! provider list. A session connects each provider once (Nango's rule), as many
//! providers as it allows; a unique index on (session, provider) holds that against
//! two tabs racing. Integrations it connects carry its end user and tags.

use std::collections::BTreeMap;

use chrono::Duration;
use junction_core::{AuthSpec, Category, ConfigField, ErrorCode, WorkspaceId, spec::FieldError};
use junction_store::{
    StoreError,
    models::{AuthKind, ConnectSession},
    repo::{self, connect_sessions::NewConnectSession as NewRow, integrations::TagFilter},
};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use url::Url;
use uuid::Uuid;

use crate::{
    App, Error, Result,
    connect::{
        NewConnection, NewOAuthConnection, SessionLink, StartedFlow, auth_kind, check_live,
        session_used,
    },
    integrations::IntegrationDetails,
    recipients,
};

/// The longest a session lives, and how long it lives when the client says nothing.
pub const MAX_EXPIRES_IN_SECONDS: i64 = 30 * 60;
/// The shortest a session may live: time to pick a provider and consent.
pub const MIN_EXPIRES_IN_SECONDS: i64 = 60;
/// How many tags a session carries.
pub const MAX_TAGS: usize = 20;
/// A tag's key: letters, digits, `_`, `.` and `-` (never `:`, which the
/// `tag=key:value` filter splits on).
pub const TAG_KEY_PATTERN: &str = "^[A-Za-z0-9_.-]{1,64}$";
/// The longest tag value (no control characters).
pub const MAX_TAG_VALUE_CHARS: usize = 200;
/// The longest end-user id (the client's own id of its user).
pub const MAX_END_USER_ID_CHARS: usize = 255;
/// The longest end-user display name.
pub const MAX_END_USER_NAME_CHARS: usize = 200;
/// How many return URLs a workspace's allow-list holds.
pub const MAX_RETURN_URLS: usize = 20;
/// The longest return URL.
pub const MAX_RETURN_URL_CHARS: usize = 2048;

/// A return URL: `http(s)://`, a host name (`localhost` included) or an IPv4
/// address (an installation on `http://127.0.0.1:8080` returns to its own origin),
/// an optional port, path and query, no fragment, spaces or control characters. A
/// browser goes there, Junction never connects to it, so private addresses are
/// fine. One pattern for the API's schema and this module's check.
pub fn return_url_pattern() -> String {
    format!(
        "^[Hh][Tt][Tt][Pp][Ss]?://(?:(?:{LABEL}\\.)*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*\\.?|{IPV4}){PORT}(?:[/?][^#\\x00-\\x20\\x7F]*)?$",
        IPV4 = "(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])",
        LABEL = crate::outbound::network::LABEL,
        PORT = crate::outbound::network::PORT,
    )
}

fn return_url_regex() -> Option<&'static regex::Regex> {
    static REGEX: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(&return_url_pattern()).ok());
    REGEX.as_ref()
}

fn tag_key_regex() -> Option<&'static regex::Regex> {
    static REGEX: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(TAG_KEY_PATTERN).ok());
    REGEX.as_ref()
}

/// The end user a session is for, as the client's backend describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndUser {
    /// The client's own id of the user (required).
    pub id: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

/// A session to create.
#[derive(Debug, Clone, Default)]
pub struct NewConnectSession {
    /// Provider ids; empty: every provider.
    pub allowed_providers: Vec<String>,
    pub end_user: EndUser,
    pub tags: BTreeMap<String, String>,
    /// Where the end user's browser goes when done (must match the allow-list).
    pub return_url: String,
    /// Seconds until it expires: 60-1800 (unset: 1800).
    pub expires_in_seconds: Option<i64>,
}

/// A created session, with its token (shown once).
#[derive(Debug)]
pub struct CreatedConnectSession {
    pub session: ConnectSession,
    pub token: SecretString,
    /// The Connect page with the token: `{public URL}/connect?session=TOKEN`.
    pub connect_url: SecretString,
}

/// A session with the integrations it connected.
#[derive(Debug, Clone)]
pub struct ConnectSessionDetails {
    pub session: ConnectSession,
    /// `(provider, integration id)`, oldest first.
    pub connected: Vec<(String, Uuid)>,
}

/// A live session, found by its token (what the Connect page works with).
#[derive(Debug, Clone)]
pub struct OpenConnectSession {
    pub workspace_id: WorkspaceId,
    pub details: ConnectSessionDetails,
}

impl OpenConnectSession {
    pub fn session(&self) -> &ConnectSession {
        &self.details.session
    }

    /// The integration the session connected for `provider`, if any.
    pub fn connected(&self, provider: &str) -> Option<Uuid> {
        self.details
            .connected
            .iter()
            .find(|(p, _)| p == provider)
            .map(|(_, id)| *id)
    }
}

/// A provider a session may connect, with what connecting it takes.
#[derive(Debug, Clone)]
pub struct ConnectableProvider {
    pub id: &'static str,
    pub name: &'static str,
    pub category: Category,
    /// OAuth (a consent page) or typed-in credentials.
    pub auth_kind: AuthKind,
    /// The fields to fill in: credentials first (secret ones), then settings. A
    /// field whose `options` is set may be chosen from the provider's list once
    /// connected.
    pub fields: Vec<ConfigField>,
    /// The integration this session already connected for it (no second one).
    pub connected: Option<Uuid>,
}

/// How a connection through a session ended, as reported to its return URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectOutcome {
    Connected,
    /// The user declined the consent.
    Denied,
    /// The session or the OAuth flow expired first.
    Expired,
    Error,
}

impl ConnectOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Error => "error",
        }
    }
}

/// `return_url` with the outcome of a connection through session `session_id`:
/// `connect_session`, `outcome` (`connected`, `denied`, `expired`, `error`), and
/// `integration_id` when connected or `error` (a stable code) when not. The
/// client's page reads these; nothing secret is in them.
pub fn outcome_url(
    return_url: &Url,
    session_id: Uuid,
    outcome: ConnectOutcome,
    integration_id: Option<Uuid>,
    error: Option<ErrorCode>,
) -> Url {
    let mut url = return_url.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("connect_session", &session_id.to_string());
        query.append_pair("outcome", outcome.as_str());
        if let Some(id) = integration_id {
            query.append_pair("integration_id", &id.to_string());
        }
        if let Some(code) = error {
            query.append_pair("error", code.name());
        }
    }
    url
}

/// The outcome an error stands for.
pub fn outcome_of(error: &Error, denied: bool) -> ConnectOutcome {
    if denied || error.code == ErrorCode::OAuthDenied {
        ConnectOutcome::Denied
    } else if error.code == ErrorCode::ConnectSessionExpired {
        ConnectOutcome::Expired
    } else {
        ConnectOutcome::Error
    }
}

/// `tag=key` (has the key) or `tag=key:value` (maps it to the value), split at the
/// first `:` (keys have none).
pub fn tag_filter(text: &str) -> TagFilter {
    match text.split_once(':') {
        Some((key, value)) => TagFilter::Value(key.to_owned(), value.to_owned()),
        None => TagFilter::Key(text.to_owned()),
    }
}

/// Whether a session may connect `provider` now: allowed, and not connected yet.
pub(crate) fn check_connectable(
    session: &ConnectSession,
    connected: &[(String, Uuid)],
    provider: &str,
) -> Result<()> {
    if !session.allowed_providers.is_empty()
        && !session.allowed_providers.iter().any(|p| p == provider)
    {
        return Err(Error::new(
            ErrorCode::ProviderNotAllowed,
            format!("this connect session does not allow {provider}"),
        ));
    }
    if connected.iter().any(|(p, _)| p == provider) {
        return Err(session_used(provider));
    }
    Ok(())
}

/// Checks a workspace's allow-list of return URLs (each a URL by
/// [`return_url_pattern`], at most [`MAX_RETURN_URLS`], repeats dropped).
pub(crate) fn check_return_urls(urls: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if urls.len() > MAX_RETURN_URLS {
        errors.push(FieldError::new(
            "connect_return_urls",
            format!("at most {MAX_RETURN_URLS} URLs"),
        ));
    }
    let mut kept: Vec<String> = Vec::new();
    for (i, raw) in urls.iter().enumerate() {
        match parse_web_url(raw) {
            Some(url) => {
                let url = url.to_string();
                if !kept.contains(&url) {
                    kept.push(url);
                }
            }
            None => errors.push(FieldError::new(
                &format!("connect_return_urls[{i}]"),
                WEB_URL_RULE,
            )),
        }
    }
    kept
}

pub(crate) const WEB_URL_RULE: &str = "must be http:// or https:// followed by a host name or an IPv4 \
     address, an optional port, path and query — no fragment, spaces or control characters, \
     at most 2048 characters";

/// A URL by the one rule of return URLs (a canonical URL follows it too), or `None`.
pub(crate) fn parse_web_url(raw: &str) -> Option<Url> {
    if raw.chars().count() > MAX_RETURN_URL_CHARS
        || !return_url_regex().is_some_and(|regex| regex.is_match(raw))
    {
        return None;
    }
    Url::parse(raw).ok()
}

/// Whether `url` is allowed by the allow-list `allowed`: an entry without a path
/// (`https://app.example.com`) admits every URL of its origin; an entry with one
/// admits that path, with any query. The installation's own origin (where the
/// Connect page lives) is always admitted.
fn return_url_allowed(url: &Url, allowed: &[String], own: &Url) -> bool {
    if url.origin() == own.origin() {
        return true;
    }
    allowed.iter().filter_map(|a| Url::parse(a).ok()).any(|a| {
        a.origin() == url.origin()
            && (a.path() == "/" && a.query().is_none() || a.path() == url.path())
    })
}

/// Checks the text of a one-line field: not blank, no control characters, at most
/// `max` characters.
fn check_line(field: &str, text: &str, max: usize, errors: &mut Vec<FieldError>) {
    if text.chars().count() > max
        || text.chars().all(char::is_whitespace)
        || text.chars().any(char::is_control)
    {
        errors.push(FieldError::new(
            field,
            format!("must be 1-{max} characters on one line, not all spaces"),
        ));
    }
}

impl App {
    /// Creates a connect session (see the module documentation). Every field is
    /// checked before anything is stored; the token is returned once.
    pub async fn create_connect_session(
        &self,
        workspace_id: WorkspaceId,
        request: NewConnectSession,
    ) -> Result<CreatedConnectSession> {
        let mut errors = Vec::new();
        let mut providers: Vec<String> = Vec::new();
        for (i, provider) in request.allowed_providers.iter().enumerate() {
            if self.registry().get(provider).is_none() {
                errors.push(FieldError::new(
                    &format!("allowed_providers[{i}]"),
                    "is not a provider of this installation (GET /v1/providers)",
                ));
            } else if !providers.contains(provider) {
                providers.push(provider.clone());
            }
        }
        let user = &request.end_user;
        check_line("end_user.id", &user.id, MAX_END_USER_ID_CHARS, &mut errors);
        let email = user
            .email
            .as_deref()
            .and_then(|email| recipients::check_address("end_user.email", email, &mut errors));
        if let Some(name) = &user.display_name {
            check_line(
                "end_user.display_name",
                name,
                MAX_END_USER_NAME_CHARS,
                &mut errors,
            );
        }
        if request.tags.len() > MAX_TAGS {
            errors.push(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
        }
        for (key, value) in &request.tags {
            if !tag_key_regex().is_some_and(|regex| regex.is_match(key)) {
                errors.push(FieldError::new(
                    "tags",
                    "a key is 1-64 letters, digits, `_`, `.` or `-`",
                ));
            }
            if value.chars().count() > MAX_TAG_VALUE_CHARS || value.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    &format!("tags.{key}"),
                    format!("must be at most {MAX_TAG_VALUE_CHARS} characters on one line"),
                ));
            }
        }
        let expires_in = request.expires_in_seconds.unwrap_or(MAX_EXPIRES_IN_SECONDS);
        if !(MIN_EXPIRES_IN_SECONDS..=MAX_EXPIRES_IN_SECONDS).contains(&expires_in) {
            errors.push(FieldError::new(
                "expires_in",
                format!("must be {MIN_EXPIRES_IN_SECONDS}-{MAX_EXPIRES_IN_SECONDS} seconds"),
            ));
        }
        let return_url = parse_web_url(&request.return_url);
        if return_url.is_none() {
            errors.push(FieldError::new("return_url", WEB_URL_RULE));
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let Some(return_url) = return_url else {
            return Err(Error::field("return_url", WEB_URL_RULE));
        };
        let mut tx = self.begin(workspace_id).await?;
        let workspace = repo::workspaces::get(tx.conn(), workspace_id).await?;
        if !return_url_allowed(
            &return_url,
            &workspace.connect_return_urls,
            &self.config.public_url,
        ) {
            return Err(Error::new(
                ErrorCode::ReturnUrlNotAllowed,
                "return_url is not in the workspace's connect_return_urls (PATCH /v1/workspace)",
            ));
        }
        let mut end_user = Map::new();
        end_user.insert("id".into(), json!(user.id));
        if let Some(email) = email {
            end_user.insert("email".into(), json!(email));
        }
        if let Some(name) = &user.display_name {
            end_user.insert("display_name".into(), json!(name));
        }
        let now = self.now();
        let (session, token) = repo::connect_sessions::create(
            tx.conn(),
            NewRow {
                workspace_id,
                allowed_providers: &providers,
                end_user_id: &user.id,
                end_user: Value::Object(end_user),
                tags: json!(request.tags),
                return_url: return_url.as_str(),
                created_at: now,
                expires_at: now + Duration::seconds(expires_in),
            },
        )
        .await?;
        tx.commit().await?;
        let connect_url = self.connect_url(&token)?;
        Ok(CreatedConnectSession {
            session,
            token,
            connect_url,
        })
    }

    /// The Connect page's URL for a token (the token is in it: a secret).
    fn connect_url(&self, token: &SecretString) -> Result<SecretString> {
        use secrecy::ExposeSecret;
        let mut url = self.config.public_url.join("connect").map_err(|e| {
            Error::new(
                ErrorCode::ConfigurationError,
                format!("JUNCTION_PUBLIC_URL cannot hold the Connect page's path: {e}"),
            )
        })?;
        url.query_pairs_mut()
            .append_pair("session", token.expose_secret());
        Ok(SecretString::from(url.to_string()))
    }

    /// A session of the workspace, with what it connected.
    pub async fn connect_session(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<ConnectSessionDetails> {
        let mut tx = self.begin(workspace_id).await?;
        let session = repo::connect_sessions::get(tx.conn(), id)
            .await
            .map_err(session_error)?;
        let connected = repo::connect_sessions::connected(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(ConnectSessionDetails { session, connected })
    }

    /// Revokes a session: its token connects nothing from now on (a flow it
    /// started is refused at the callback). Revoking twice keeps the first time;
    /// what it connected stays connected.
    pub async fn revoke_connect_session(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
    ) -> Result<ConnectSessionDetails> {
        let mut tx = self.begin(workspace_id).await?;
        let session = repo::connect_sessions::revoke(tx.conn(), id, self.now())
            .await
            .map_err(session_error)?;
        let connected = repo::connect_sessions::connected(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(ConnectSessionDetails { session, connected })
    }

    /// The live session of a token: `connect_token_invalid` when no session has it
    /// (a made-up token, an API key), `connect_session_revoked`,
    /// `connect_session_expired`.
    pub async fn open_connect_session(&self, token: &SecretString) -> Result<OpenConnectSession> {
        let invalid = || {
            Error::new(
                ErrorCode::ConnectTokenInvalid,
                "this connect link is not valid: ask for a new one",
            )
        };
        let workspace_id = {
            let mut conn = self.store.unscoped().await?;
            repo::connect_sessions::workspace_of(&mut conn, token).await?
        }
        .ok_or_else(invalid)?;
        let mut tx = self.begin(workspace_id).await?;
        let session = repo::connect_sessions::find_by_token(tx.conn(), token)
            .await?
            .ok_or_else(invalid)?;
        let connected = repo::connect_sessions::connected(tx.conn(), session.id).await?;
        tx.commit().await?;
        check_live(&session, self.now())?;
        Ok(OpenConnectSession {
            workspace_id,
            details: ConnectSessionDetails { session, connected },
        })
    }

    /// The providers a token's session may connect, by name, with their fields.
    pub async fn connect_session_providers(
        &self,
        token: &SecretString,
    ) -> Result<(OpenConnectSession, Vec<ConnectableProvider>)> {
        let open = self.open_connect_session(token).await?;
        let allowed = &open.session().allowed_providers;
        let mut providers: Vec<ConnectableProvider> = self
            .registry()
            .specs()
            .filter(|spec| allowed.is_empty() || allowed.iter().any(|p| p == spec.id))
            .map(|spec| ConnectableProvider {
                id: spec.id,
                name: spec.name,
                category: spec.category,
                auth_kind: auth_kind(spec),
                fields: spec.all_fields().cloned().collect(),
                connected: open.connected(spec.id),
            })
            .collect();
        providers.sort_by(|a, b| a.name.cmp(b.name));
        Ok((open, providers))
    }

    /// Starts connecting an OAuth provider through a token's session: the URL of the
    /// provider's consent page. The callback stores the integration with the
    /// session's end user and tags and sends the browser to the session's return
    /// URL with the outcome.
    pub async fn connect_session_start_oauth(
        &self,
        token: &SecretString,
        provider: &str,
        config: Map<String, Value>,
    ) -> Result<StartedFlow> {
        let open = self.open_connect_session(token).await?;
        check_connectable(open.session(), &open.details.connected, provider)?;
        let adapter = self.adapter(provider)?;
        if !matches!(adapter.spec().auth, AuthSpec::OAuth2(_)) {
            return Err(Error::new(
                ErrorCode::UnsupportedOperation,
                format!(
                    "{} connects with credentials, not OAuth",
                    adapter.spec().name
                ),
            ));
        }
        self.start_new_oauth(
            open.workspace_id,
            NewOAuthConnection {
                provider: provider.to_owned(),
                config,
                ..NewOAuthConnection::default()
            },
            Some(open.session()),
        )
        .await
    }

    /// Connects a provider with typed-in credentials through a token's session:
    /// checked with the provider first (its refusal, or a field's, is the error,
    /// per field where it names one), stored with the session's end user and tags.
    pub async fn connect_session_connect(
        &self,
        token: &SecretString,
        provider: &str,
        config: Map<String, Value>,
        credentials: Map<String, Value>,
    ) -> Result<IntegrationDetails> {
        let open = self.open_connect_session(token).await?;
        check_connectable(open.session(), &open.details.connected, provider)?;
        self.connect_credentials(
            open.workspace_id,
            NewConnection {
                provider: provider.to_owned(),
                config,
                credentials,
                ..NewConnection::default()
            },
            Some(SessionLink::from(open.session())),
        )
        .await
    }

    /// Where the Connect page sends the browser after a connection through a
    /// token's session (for credentials; OAuth callbacks redirect by themselves).
    pub fn connect_session_return(
        &self,
        session: &ConnectSession,
        outcome: ConnectOutcome,
        integration_id: Option<Uuid>,
        error: Option<ErrorCode>,
    ) -> Result<Url> {
        let return_url = Url::parse(&session.return_url).map_err(Error::internal)?;
        Ok(outcome_url(
            &return_url,
            session.id,
            outcome,
            integration_id,
            error,
        ))
    }

    /// The session an OAuth flow was started through, checked again at the
    /// callback, before the code is exchanged: still live, and the provider still
    /// not connected through it.
    pub(crate) async fn flow_session(
        &self,
        workspace_id: WorkspaceId,
        session_id: Uuid,
        provider: &str,
    ) -> Result<SessionLink> {
        let mut tx = self.begin(workspace_id).await?;
        let session = repo::connect_sessions::get(tx.conn(), session_id)
            .await
            .map_err(session_error)?;
        let connected = repo::connect_sessions::connected(tx.conn(), session_id).await?;
        tx.commit().await?;
        check_live(&session, self.now())?;
        check_connectable(&session, &connected, provider)?;
        Ok(SessionLink::from(&session))
    }
}

fn session_error(error: StoreError) -> Error {
    match error {
        StoreError::NotFound(_) => {
            Error::not_found(ErrorCode::ConnectSessionNotFound, "connect session")
        }
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_urls_follow_the_one_pattern() {
        for good in [
            "https://app.example.com/connected",
            "http://localhost:3000/done?x=1",
            "https://a-b.example.co.uk:65535/",
            "http://127.0.0.1:8080/connected",
        ] {
            assert!(parse_web_url(good).is_some(), "{good}");
        }
        for bad in [
            "ftp://example.com",
            "https://256.0.0.1/done",
            "https://[::1]/done",
            "https://example.com/#frag",
            "https://user@example.com/",
            "https://example.com:65536/",
            "javascript:alert(1)",
        ] {
            assert!(parse_web_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_allow_list_admits_origins_and_paths() {
        let own = Url::parse("https://junction.example.com/").unwrap();
        let allowed = vec![
            "https://app.example.com/".to_owned(),
            "https://other.example.com/connected".to_owned(),
        ];
        let allows = |url: &str| return_url_allowed(&Url::parse(url).unwrap(), &allowed, &own);
        assert!(allows("https://app.example.com/anything?x=1"));
        assert!(allows("https://other.example.com/connected?x=1"));
        assert!(allows("https://junction.example.com/dashboard"));
        assert!(!allows("https://other.example.com/elsewhere"));
        assert!(!allows("http://app.example.com/"));
        assert!(!allows("https://app.example.com.evil.com/"));
    }

    #[test]
    fn outcomes_go_into_the_return_url() {
        let url = Url::parse("https://app.example.com/done?keep=1").unwrap();
        let id = Uuid::nil();
        let done = outcome_url(&url, id, ConnectOutcome::Connected, Some(id), None);
        assert_eq!(
            done.as_str(),
            format!(
                "https://app.example.com/done?keep=1&connect_session={id}&outcome=connected&integration_id={id}"
            )
        );
        let expired = outcome_url(
            &url,
            id,
            ConnectOutcome::Expired,
            None,
            Some(ErrorCode::ConnectSessionExpired),
        );
        assert!(
            expired
                .as_str()
                .ends_with("outcome=expired&error=connect_session_expired")
        );
    }

    #[test]
    fn tag_filters_split_at_the_first_colon() {
        assert_eq!(tag_filter("plan"), TagFilter::Key("plan".into()));
        assert_eq!(
            tag_filter("site:https://x"),
            TagFilter::Value("site".into(), "https://x".into())
        );
    }
}

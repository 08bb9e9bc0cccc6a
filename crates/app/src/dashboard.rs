//! The dashboard's sign-in rules: a workspace API key (or an operator's one-time
//! link) is exchanged for a server-side session; the browser holds only the
//! session id, in a cookie, and every form carries the session's CSRF token.
//!
//! - A session lives at most [`SESSION_LIFETIME`] after sign-in and ends after
//!   [`SESSION_IDLE`] without a request, when the API key it was opened with is
//!   revoked, or at sign-out. Its id and the link tokens are stored only as SHA-256.
//! - The CSRF token is an HMAC of the session id under the session's own secret:
//!   tied to the session, never stored, checked in constant time.
//! - A sign-in link ([`create_sign_in_link`], `junction dashboard-link`) works once,
//!   within [`LINK_LIFETIME_MINUTES`].
//!
//! Session times are wall-clock (the lookup compares with the database's `now()`),
//! not the application's test clock.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, WorkspaceId};
use junction_store::{
    Store,
    repo::{
        dashboard_sessions::{self, LiveSession},
        dashboard_sign_in_links,
    },
};
use ring::hmac;
use secrecy::SecretString;
use uuid::Uuid;

use crate::{Error, Result, workspaces};

/// A session ends after this long without a request.
pub const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// A session ends this long after sign-in, however busy.
pub const SESSION_LIFETIME: chrono::Duration = chrono::Duration::days(7);
/// How long a sign-in link works.
pub const LINK_LIFETIME_MINUTES: i64 = 15;

/// Where a sign-in link points, relative to the API's public URL (joined like the
/// OAuth redirect URI); the token goes in its `token` query parameter.
pub const LINK_PATH: &str = "dashboard/sign-in/link";

/// What the CSRF token's HMAC signs, besides the session id.
const CSRF_CONTEXT: &[u8] = b"junction-dashboard-csrf:";

/// A signed-in browser's session.
#[derive(Debug, Clone)]
pub struct Session(LiveSession);

impl Session {
    /// The workspace the session acts for.
    pub fn workspace_id(&self) -> WorkspaceId {
        self.0.workspace_id
    }

    /// The session's row id (not its secret id).
    pub fn id(&self) -> Uuid {
        self.0.id
    }

    /// When the session ends at the latest.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }

    fn csrf_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.0.csrf_secret)
    }

    fn csrf_message(&self) -> Vec<u8> {
        [CSRF_CONTEXT, self.0.id.as_bytes()].concat()
    }

    /// The token every form of this session carries.
    pub fn csrf_token(&self) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.csrf_key(), &self.csrf_message()))
    }

    /// Whether a form's token is this session's (constant time).
    pub fn csrf_valid(&self, presented: Option<&str>) -> bool {
        let Some(tag) = presented.and_then(|p| URL_SAFE_NO_PAD.decode(p.trim()).ok()) else {
            return false;
        };
        hmac::verify(&self.csrf_key(), &self.csrf_message(), &tag).is_ok()
    }
}

/// A random token for the sign-in form's double-submit cookie (sign-in has no
/// session to tie a CSRF token to yet).
pub fn sign_in_form_token() -> Result<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::internal(anyhow::anyhow!("the system random generator failed")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether two tokens are the same, comparing their SHA-256 digests so the time
/// taken says nothing about the secret's characters.
pub fn same_token(a: &str, b: &str) -> bool {
    let digest = |t: &str| ring::digest::digest(&ring::digest::SHA256, t.as_bytes());
    !a.is_empty() && digest(a).as_ref() == digest(b).as_ref()
}

/// A new session: the id goes into the cookie once and is never stored.
#[derive(Debug)]
pub struct SignedIn {
    pub session: Session,
    pub cookie_value: SecretString,
}

/// A one-time sign-in link's token (goes into the link once, never stored).
#[derive(Debug)]
pub struct SignInLink {
    pub token: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// Opens a session in a workspace (sweeping its sessions that ended by time).
async fn open(
    store: &Store,
    workspace_id: WorkspaceId,
    api_key_id: Option<Uuid>,
) -> Result<SignedIn> {
    let now = Utc::now();
    let mut tx = store.begin(workspace_id).await?;
    dashboard_sessions::delete_expired(tx.conn(), now, SESSION_IDLE).await?;
    let (live, cookie_value) =
        dashboard_sessions::create(tx.conn(), workspace_id, api_key_id, now + SESSION_LIFETIME)
            .await?;
    tx.commit().await?;
    Ok(SignedIn {
        session: Session(live),
        cookie_value,
    })
}

/// Signs in with a workspace API key (refused as the API refuses it: unknown or
/// revoked). The key is not kept: the session remembers only which key it was.
pub async fn sign_in_with_key(store: &Store, key: &SecretString) -> Result<SignedIn> {
    let authenticated = workspaces::authenticate(store, key).await?;
    open(
        store,
        authenticated.workspace_id,
        Some(authenticated.api_key_id),
    )
    .await
}

/// Signs in with a one-time link; an unknown, used or expired link is refused.
pub async fn sign_in_with_link(store: &Store, token: &SecretString) -> Result<SignedIn> {
    let mut conn = store.unscoped().await?;
    let workspace_id = dashboard_sign_in_links::use_link(&mut conn, token).await?;
    drop(conn);
    let Some(workspace_id) = workspace_id else {
        return Err(Error::new(
            ErrorCode::Unauthenticated,
            format!(
                "this sign-in link is not valid: it works once, within \
                 {LINK_LIFETIME_MINUTES} minutes; ask for a new one"
            ),
        ));
    };
    open(store, workspace_id, None).await
}

/// The live session a cookie names, or `None` (unknown, expired, idle, or its
/// key revoked).
pub async fn session(store: &Store, cookie_value: &SecretString) -> Result<Option<Session>> {
    let mut conn = store.unscoped().await?;
    Ok(
        dashboard_sessions::resolve(&mut conn, cookie_value, SESSION_IDLE)
            .await?
            .map(Session),
    )
}

/// Ends a session (sign-out): its cookie opens nothing from then on.
pub async fn sign_out(store: &Store, session: &Session) -> Result<()> {
    let mut tx = store.begin(session.workspace_id()).await?;
    dashboard_sessions::delete(tx.conn(), session.id()).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a one-time sign-in link to an existing workspace (operators:
/// `junction dashboard-link`).
pub async fn create_sign_in_link(store: &Store, workspace_id: WorkspaceId) -> Result<SignInLink> {
    let now = Utc::now();
    let expires_at = now + chrono::Duration::minutes(LINK_LIFETIME_MINUTES);
    let mut tx = workspaces::existing_workspace(store, workspace_id).await?;
    dashboard_sign_in_links::delete_expired(tx.conn(), now).await?;
    let (_, token) = dashboard_sign_in_links::create(tx.conn(), workspace_id, expires_at).await?;
    tx.commit().await?;
    Ok(SignInLink { token, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(secret: u8) -> Session {
        Session(LiveSession {
            id: Uuid::from_u128(7),
            workspace_id: WorkspaceId::new(),
            csrf_secret: vec![secret; 32],
            expires_at: Utc::now(),
        })
    }

    #[test]
    fn the_csrf_token_is_the_sessions_own() {
        let a = session(1);
        assert!(a.csrf_valid(Some(&a.csrf_token())));
        assert!(!a.csrf_valid(None));
        assert!(!a.csrf_valid(Some("")));
        assert!(!a.csrf_valid(Some("not base64!")));
        assert!(!a.csrf_valid(Some(&session(2).csrf_token())));
    }

    #[test]
    fn sign_in_form_tokens_are_random_and_compared_whole() {
        let (a, b) = (
            sign_in_form_token().unwrap_or_default(),
            sign_in_form_token().unwrap_or_default(),
        );
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(same_token(&a, &a.clone()));
        assert!(!same_token(&a, &b));
        assert!(!same_token("", ""));
    }
}

//! Single-flight refresh against a real Postgres: what is stored, what is logged,
//! and that concurrent callers share one call to the token endpoint.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use junction_core::{OAuth2Spec, RefreshBehaviour, TokenClientAuth, WorkspaceId};
use junction_oauth::{
    ACCESS_TOKEN, ClientConfig, OAuthEngine, OAuthError, REFRESH_TOKEN, RefreshError,
    refresh::{RefreshRequest, fresh_access_token},
};
use junction_store::{
    models::{Integration, IntegrationLog, IntegrationStatus, LogLevel, Operation},
    repo::{self, integrations::IntegrationPatch},
};
use junction_testkit::{TestDb, create_integration, create_workspace};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{body_string_contains, method, path},
};

use crate::{client_for, default_spec, form_of, spec};

/// One integration with stored tokens, and a mock token endpoint.
struct Fixture {
    db: TestDb,
    server: MockServer,
    spec: OAuth2Spec,
    client: ClientConfig,
    engine: OAuthEngine,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
}

fn in_minutes(minutes: i64) -> DateTime<Utc> {
    (Utc::now() + Duration::minutes(minutes)).trunc_subsecs(0)
}

impl Fixture {
    async fn new(
        spec: OAuth2Spec,
        access: Option<&str>,
        refresh: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        let db = TestDb::new().await;
        let server = MockServer::start().await;
        let (workspace_id, _) = create_workspace(db.store(), "acme").await;
        let integration = create_integration(db.store(), workspace_id, "google-analytics").await;
        let mut fields = BTreeMap::new();
        if let Some(access) = access {
            fields.insert(ACCESS_TOKEN.to_owned(), SecretString::from(access));
        }
        if let Some(refresh) = refresh {
            fields.insert(REFRESH_TOKEN.to_owned(), SecretString::from(refresh));
        }
        let mut tx = db.store().begin(workspace_id).await.unwrap();
        repo::credentials::put(tx.conn(), db.vault(), workspace_id, integration.id, &fields)
            .await
            .unwrap();
        repo::integrations::update(
            tx.conn(),
            integration.id,
            &IntegrationPatch {
                token_expires_at: Some(expires_at),
                scopes: Some(vec!["openid".into()]),
                ..IntegrationPatch::default()
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let client = client_for(&server, &spec);
        Self {
            db,
            server,
            spec,
            client,
            engine: OAuthEngine::new().unwrap(),
            workspace_id,
            integration_id: integration.id,
        }
    }

    /// Mounts the token endpoint's answer, expected to be called `times` times.
    async fn token_endpoint(&self, template: ResponseTemplate, times: u64) {
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(template)
            .expect(times)
            .mount(&self.server)
            .await;
    }

    fn request<'a>(&'a self, rejected: Option<&'a SecretString>) -> RefreshRequest<'a> {
        RefreshRequest {
            store: self.db.store(),
            vault: self.db.vault(),
            engine: &self.engine,
            spec: &self.spec,
            client: &self.client,
            workspace_id: self.workspace_id,
            integration_id: self.integration_id,
            refresh_ahead: Duration::minutes(5),
            rejected_token: rejected,
            now: Utc::now(),
        }
    }

    async fn credentials(&self) -> BTreeMap<String, String> {
        let mut tx = self.db.store().begin(self.workspace_id).await.unwrap();
        let fields = repo::credentials::get_all(tx.conn(), self.db.vault(), self.integration_id)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        fields
            .into_iter()
            .map(|(k, v)| (k, v.expose_secret().to_owned()))
            .collect()
    }

    async fn integration(&self) -> Integration {
        let mut tx = self.db.store().begin(self.workspace_id).await.unwrap();
        let integration = repo::integrations::get(tx.conn(), self.integration_id)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        integration
    }

    /// Refresh log entries, oldest first.
    async fn logs(&self) -> Vec<IntegrationLog> {
        let mut tx = self.db.store().begin(self.workspace_id).await.unwrap();
        let mut logs = repo::logs::list(
            tx.conn(),
            self.integration_id,
            Some(Operation::Refresh),
            None,
            100,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        logs.reverse();
        logs
    }
}

fn pairs(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Asserts that no log entry mentions any of `secrets`.
fn assert_logs_hold_no_secret(logs: &[IntegrationLog], secrets: &[&str]) {
    for log in logs {
        let text = format!("{} {}", log.message, log.details);
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} in log: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_still_valid_token_is_returned_without_calling_the_provider() {
    let expires = in_minutes(30);
    let fx = Fixture::new(
        default_spec(),
        Some("at-valid"),
        Some("rt-1"),
        Some(expires),
    )
    .await;
    fx.token_endpoint(ResponseTemplate::new(500), 0).await;
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "at-valid");
    assert_eq!(token.expires_at, Some(expires));
    assert!(fx.logs().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expiring_token_is_refreshed_and_a_rotated_refresh_token_stored() {
    let fx = Fixture::new(
        default_spec(),
        Some("at-old"),
        Some("rt-old"),
        Some(in_minutes(2)),
    )
    .await;
    fx.token_endpoint(
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-new", "refresh_token": "rt-new", "expires_in": 3600,
            "scope": "openid,email", "token_type": "Bearer"
        })),
        1,
    )
    .await;
    let before = Utc::now();
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "at-new");
    let expires_at = token.expires_at.unwrap();
    assert!(expires_at >= before.trunc_subsecs(0) + Duration::seconds(3599));

    let request = fx.server.received_requests().await.unwrap().remove(0);
    assert_eq!(form_of(&request)["refresh_token"], "rt-old");

    assert_eq!(
        fx.credentials().await,
        pairs(&[(ACCESS_TOKEN, "at-new"), (REFRESH_TOKEN, "rt-new")])
    );
    let integration = fx.integration().await;
    assert_eq!(integration.token_expires_at, Some(expires_at));
    assert_eq!(integration.scopes, vec!["openid", "email"]);
    assert_eq!(integration.status, IntegrationStatus::Active);

    let logs = fx.logs().await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].level, LogLevel::Info);
    assert_eq!(logs[0].details["refresh_token_rotated"], json!(true));
    assert_logs_hold_no_secret(&logs, &["at-new", "rt-new", "at-old", "rt-old"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_old_refresh_token_is_kept_when_none_is_returned() {
    let fx = Fixture::new(
        spec(
            TokenClientAuth::RequestBody,
            false,
            RefreshBehaviour::Stable,
        ),
        Some("at-old"),
        Some("rt-stable"),
        Some(in_minutes(-10)),
    )
    .await;
    fx.token_endpoint(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "at-new", "expires_in": "3600"})),
        1,
    )
    .await;
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "at-new");
    assert_eq!(
        fx.credentials().await,
        pairs(&[(ACCESS_TOKEN, "at-new"), (REFRESH_TOKEN, "rt-stable")])
    );
    // No scope in the answer: the stored scopes stay as they were.
    assert_eq!(fx.integration().await.scopes, vec!["openid"]);
    assert_eq!(
        fx.logs().await[0].details["refresh_token_rotated"],
        json!(false)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_callers_share_one_refresh() {
    let fx = Fixture::new(
        default_spec(),
        Some("at-old"),
        Some("rt-old"),
        Some(in_minutes(1)),
    )
    .await;
    // The delay keeps the first caller inside its lock while the others arrive.
    fx.token_endpoint(
        ResponseTemplate::new(200)
            .set_body_json(
                json!({"access_token": "at-new", "refresh_token": "rt-new", "expires_in": 3600}),
            )
            .set_delay(std::time::Duration::from_millis(500)),
        1,
    )
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let store = fx.db.store().clone();
        let vault = fx.db.vault().clone();
        let engine = fx.engine.clone();
        let spec = fx.spec.clone();
        let client = fx.client.clone();
        let (workspace_id, integration_id) = (fx.workspace_id, fx.integration_id);
        tasks.spawn(async move {
            fresh_access_token(RefreshRequest {
                store: &store,
                vault: &vault,
                engine: &engine,
                spec: &spec,
                client: &client,
                workspace_id,
                integration_id,
                refresh_ahead: Duration::minutes(5),
                rejected_token: None,
                now: Utc::now(),
            })
            .await
        });
    }
    let results = tasks.join_all().await;
    assert_eq!(results.len(), 5);
    let mut expiries = Vec::new();
    for result in results {
        let token = result.unwrap();
        assert_eq!(token.token.expose_secret(), "at-new");
        expiries.push(token.expires_at);
    }
    assert!(expiries.windows(2).all(|w| w[0] == w[1]), "{expiries:?}");
    fx.server.verify().await;
    assert_eq!(fx.server.received_requests().await.unwrap().len(), 1);
    assert_eq!(fx.logs().await.len(), 1);
    assert_eq!(
        fx.credentials().await,
        pairs(&[(ACCESS_TOKEN, "at-new"), (REFRESH_TOKEN, "rt-new")])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_forces_one_refresh() {
    let fx = Fixture::new(
        default_spec(),
        Some("at-rejected"),
        Some("rt-1"),
        Some(in_minutes(50)),
    )
    .await;
    fx.token_endpoint(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "at-new", "expires_in": 3600})),
        1,
    )
    .await;
    let rejected = SecretString::from("at-rejected");
    let token = fresh_access_token(fx.request(Some(&rejected)))
        .await
        .unwrap();
    assert_eq!(token.token.expose_secret(), "at-new");
    // A second caller that was rejected with the old token finds the new one
    // stored and does not refresh again (the mock expects one call).
    let token = fresh_access_token(fx.request(Some(&rejected)))
        .await
        .unwrap();
    assert_eq!(token.token.expose_secret(), "at-new");
    fx.server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_grant_moves_the_integration_to_needs_reauth() {
    let fx = Fixture::new(
        default_spec(),
        Some("at-old"),
        Some("rt-revoked"),
        Some(in_minutes(-1)),
    )
    .await;
    fx.token_endpoint(
        ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Token has been expired or revoked."
        })),
        1,
    )
    .await;
    let err = fresh_access_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");

    let integration = fx.integration().await;
    assert_eq!(integration.status, IntegrationStatus::NeedsReauth);
    assert_eq!(
        integration.last_error_code.as_deref(),
        Some("integration_needs_reauth")
    );
    assert!(
        integration
            .last_error_message
            .unwrap()
            .contains("Token has been expired or revoked.")
    );
    // The credentials stay (disconnect still revokes them).
    assert_eq!(
        fx.credentials().await,
        pairs(&[(ACCESS_TOKEN, "at-old"), (REFRESH_TOKEN, "rt-revoked")])
    );
    let logs = fx.logs().await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].level, LogLevel::Error);
    assert_eq!(
        logs[0].details["error_code"],
        json!("integration_needs_reauth")
    );
    assert_logs_hold_no_secret(&logs, &["at-old", "rt-revoked"]);

    // Known revoked: the next caller is told so without another provider call.
    let err = fresh_access_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    fx.server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_failures_change_nothing_but_a_warn_log() {
    let expires = in_minutes(-1);
    let fx = Fixture::new(
        default_spec(),
        Some("at-old"),
        Some("rt-old"),
        Some(expires),
    )
    .await;
    fx.token_endpoint(ResponseTemplate::new(503), 1).await;
    let err = fresh_access_token(fx.request(None)).await.unwrap_err();
    assert!(
        matches!(&err, RefreshError::OAuth(OAuthError::Unavailable(_))),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let integration = fx.integration().await;
    assert_eq!(integration.status, IntegrationStatus::Active);
    assert_eq!(integration.token_expires_at, Some(expires));
    assert_eq!(
        fx.credentials().await,
        pairs(&[(ACCESS_TOKEN, "at-old"), (REFRESH_TOKEN, "rt-old")])
    );
    let logs = fx.logs().await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].level, LogLevel::Warn);
    assert_eq!(logs[0].details["error_code"], json!("provider_unavailable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_that_cannot_be_refreshed() {
    let none = || spec(TokenClientAuth::RequestBody, false, RefreshBehaviour::None);

    // A never-expiring token is handed out, refresh-ahead or not.
    let fx = Fixture::new(none(), Some("mc-token"), None, None).await;
    fx.token_endpoint(ResponseTemplate::new(500), 0).await;
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "mc-token");

    // Expiring soon but not yet expired: still usable, there is no way to renew it.
    let fx = Fixture::new(none(), Some("short"), None, Some(in_minutes(2))).await;
    fx.token_endpoint(ResponseTemplate::new(500), 0).await;
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "short");

    // Rejected: the connection must be made again.
    let fx = Fixture::new(none(), Some("mc-token"), None, None).await;
    fx.token_endpoint(ResponseTemplate::new(500), 0).await;
    let rejected = SecretString::from("mc-token");
    let err = fresh_access_token(fx.request(Some(&rejected)))
        .await
        .unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    assert_eq!(
        fx.integration().await.status,
        IntegrationStatus::NeedsReauth
    );
    assert_eq!(fx.logs().await[0].level, LogLevel::Error);

    // Expired, and a refreshable provider but no refresh token stored: the same.
    let fx = Fixture::new(default_spec(), Some("at"), None, Some(in_minutes(-5))).await;
    fx.token_endpoint(ResponseTemplate::new(500), 0).await;
    let err = fresh_access_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    assert_eq!(
        fx.integration().await.status,
        IntegrationStatus::NeedsReauth
    );

    // No tokens at all: nothing to use, and the status is left alone.
    let fx = Fixture::new(default_spec(), None, None, None).await;
    fx.token_endpoint(ResponseTemplate::new(500), 0).await;
    let err = fresh_access_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::NoRefreshToken), "{err:?}");
    assert_eq!(fx.integration().await.status, IntegrationStatus::Active);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_a_refresh_token_stored_is_enough() {
    let fx = Fixture::new(default_spec(), None, Some("rt-only"), None).await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("refresh_token=rt-only"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "at-new"})))
        .expect(1)
        .mount(&fx.server)
        .await;
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "at-new");
    assert_eq!(token.expires_at, None);
}

/// Meta-like: no refresh token; the long-lived token is renewed by exchanging it
/// again a week before it expires.
fn exchange_spec() -> OAuth2Spec {
    crate::long_lived::exchange_spec(junction_core::spec::TokenExchangeMethod::Get)
}

/// Mounts the GET exchange endpoint answering `template` for `token`.
async fn mount_exchange(fx: &Fixture, token: &str, template: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path("/token"))
        .and(wiremock::matchers::query_param(
            "grant_type",
            "fb_exchange_token",
        ))
        .and(wiremock::matchers::query_param("fb_exchange_token", token))
        .respond_with(template)
        .expect(times)
        .mount(&fx.server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_lived_token_is_renewed_by_exchange_within_its_renewal_window() {
    // 30 days left: outside the week-long window, used as it is.
    let fx = Fixture::new(
        exchange_spec(),
        Some("EAAold"),
        None,
        Some(in_minutes(30 * 24 * 60)),
    )
    .await;
    mount_exchange(&fx, "EAAold", ResponseTemplate::new(500), 0).await;
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "EAAold");

    // 3 days left: exchanged again, and the new token and expiry stored.
    let fx = Fixture::new(
        exchange_spec(),
        Some("EAAold"),
        None,
        Some(in_minutes(3 * 24 * 60)),
    )
    .await;
    mount_exchange(
        &fx,
        "EAAold",
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "EAAnew", "token_type": "bearer",
            "expires_in": crate::long_lived::LONG_LIVED_SECS
        })),
        1,
    )
    .await;
    let before = Utc::now();
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "EAAnew");
    let expires = token.expires_at.unwrap();
    assert!(
        expires >= before.trunc_subsecs(0) + Duration::days(59),
        "{expires}"
    );
    assert_eq!(fx.credentials().await, pairs(&[("access_token", "EAAnew")]));
    assert_eq!(fx.integration().await.token_expires_at, Some(expires));
    let logs = fx.logs().await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].level, LogLevel::Info);
    assert_logs_hold_no_secret(&logs, &["EAAold", "EAAnew"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_renewal_keeps_the_still_valid_token_and_a_dead_one_needs_reauth() {
    // The exchange is down: the current token still works and is handed out.
    let fx = Fixture::new(
        exchange_spec(),
        Some("EAAold"),
        None,
        Some(in_minutes(24 * 60)),
    )
    .await;
    mount_exchange(&fx, "EAAold", ResponseTemplate::new(503), 1).await;
    let token = fresh_access_token(fx.request(None)).await.unwrap();
    assert_eq!(token.token.expose_secret(), "EAAold");
    assert_eq!(fx.credentials().await, pairs(&[("access_token", "EAAold")]));
    assert_eq!(fx.integration().await.status, IntegrationStatus::Active);
    assert_eq!(fx.logs().await[0].level, LogLevel::Warn);

    // Meta says the token was invalidated (code 190): reconnect.
    let fx = Fixture::new(
        exchange_spec(),
        Some("EAAold"),
        None,
        Some(in_minutes(24 * 60)),
    )
    .await;
    mount_exchange(
        &fx,
        "EAAold",
        ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "Error validating access token: The user has not authorized application.",
            "type": "OAuthException", "code": 190, "error_subcode": 458, "fbtrace_id": "x"
        }})),
        1,
    )
    .await;
    let err = fresh_access_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    assert_eq!(
        fx.integration().await.status,
        IntegrationStatus::NeedsReauth
    );

    // Already expired: nothing can renew it.
    let fx = Fixture::new(exchange_spec(), Some("EAAold"), None, Some(in_minutes(-1))).await;
    mount_exchange(&fx, "EAAold", ResponseTemplate::new(500), 0).await;
    let err = fresh_access_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
}

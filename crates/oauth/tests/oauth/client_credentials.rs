//! The client-credentials grant: the request the engine sends (both client
//! authentication styles, the scope), how refusals are told from failures, and the
//! single-flight token cache against a real Postgres.

use std::collections::BTreeMap;

use chrono::{Duration, SubsecRound, Utc};
use junction_core::{TokenClientAuth, WorkspaceId};
use junction_oauth::{
    ACCESS_TOKEN, ClientCredentials, ClientTokenRequest, OAuthEngine, OAuthError, RefreshError,
    fresh_client_token,
};
use junction_store::{
    models::{IntegrationStatus, LogLevel, Operation},
    repo::{self, integrations::IntegrationPatch},
};
use junction_testkit::{TestDb, create_integration, create_workspace};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;
use uuid::Uuid;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

use crate::{CLIENT_ID, CLIENT_SECRET, EXPECTED_BASIC, engine, form_of, now, only_request};

fn client(server: &MockServer, client_auth: TokenClientAuth, scopes: &[&str]) -> ClientCredentials {
    let base = Url::parse(&server.uri()).unwrap();
    ClientCredentials {
        token_url: ClientCredentials::token_url(
            "https://api.provider.example/v1/oauth/token",
            Some(&base.join("/v1/oauth/token").unwrap()),
        )
        .unwrap(),
        client_auth,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        client_id: SecretString::from(CLIENT_ID),
        client_secret: SecretString::from(CLIENT_SECRET),
    }
}

async fn answer(server: &MockServer, template: ResponseTemplate) {
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_pair_goes_in_the_form_body_and_no_scope_is_sent_when_none_is_asked() {
    let server = MockServer::start().await;
    answer(
        &server,
        ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "cc-token", "token_type": "Bearer", "expires_in": 3600}),
        ),
    )
    .await;
    let tokens = engine()
        .client_credentials_token(&client(&server, TokenClientAuth::RequestBody, &[]), now())
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "cc-token");
    assert_eq!(tokens.expires_at, Some(now() + Duration::hours(1)));
    let request = only_request(&server).await;
    assert_eq!(request.url.path(), "/v1/oauth/token");
    assert!(request.headers.get("authorization").is_none());
    let form = form_of(&request);
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["client_secret"], CLIENT_SECRET);
    assert!(!form.contains_key("scope"), "{form:?}");
}

#[tokio::test]
async fn basic_client_auth_and_scopes_joined_by_spaces() {
    let server = MockServer::start().await;
    answer(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "cc-token", "expires_in": 60})),
    )
    .await;
    engine()
        .client_credentials_token(
            &client(&server, TokenClientAuth::BasicHeader, &["read", "write"]),
            now(),
        )
        .await
        .unwrap();
    let request = only_request(&server).await;
    assert_eq!(request.headers["authorization"], EXPECTED_BASIC);
    let form = form_of(&request);
    assert_eq!(form["scope"], "read write");
    assert!(!form.contains_key("client_secret"));
}

#[tokio::test]
async fn refusals_of_the_pair_are_told_from_failures() {
    let cases = [
        (
            ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
            true,
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": "unauthorized_client"})),
            true,
        ),
        // A bare 403 without an OAuth body (a key without the API feature).
        (
            ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})),
            true,
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_scope"})),
            false,
        ),
        (ResponseTemplate::new(503), false),
    ];
    for (template, refused) in cases {
        let server = MockServer::start().await;
        answer(&server, template).await;
        let err = engine()
            .client_credentials_token(&client(&server, TokenClientAuth::RequestBody, &[]), now())
            .await
            .unwrap_err();
        assert_eq!(err.refuses_client(), refused, "{err:?}");
        assert!(!err.to_string().contains(CLIENT_SECRET), "{err}");
    }
    let err = OAuthError::Unavailable("down".into());
    assert!(!err.refuses_client());
}

/// One client-credentials integration holding a key pair (and maybe a token).
struct Fixture {
    db: TestDb,
    server: MockServer,
    token_url: Url,
    engine: OAuthEngine,
    workspace_id: WorkspaceId,
    integration_id: Uuid,
}

impl Fixture {
    async fn new(token: Option<(&str, chrono::DateTime<Utc>)>) -> Self {
        let db = TestDb::new().await;
        let server = MockServer::start().await;
        let (workspace_id, _) = create_workspace(db.store(), "acme").await;
        let integration = create_integration(db.store(), workspace_id, "hotjar").await;
        let mut fields = BTreeMap::new();
        fields.insert("client_id".to_owned(), SecretString::from(CLIENT_ID));
        fields.insert(
            "client_secret".to_owned(),
            SecretString::from(CLIENT_SECRET),
        );
        if let Some((token, _)) = token {
            fields.insert(ACCESS_TOKEN.to_owned(), SecretString::from(token));
        }
        let mut tx = db.store().begin(workspace_id).await.unwrap();
        repo::credentials::put(tx.conn(), db.vault(), workspace_id, integration.id, &fields)
            .await
            .unwrap();
        repo::integrations::update(
            tx.conn(),
            integration.id,
            &IntegrationPatch {
                token_expires_at: Some(token.map(|(_, at)| at)),
                ..IntegrationPatch::default()
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let token_url = Url::parse(&server.uri())
            .unwrap()
            .join("/v1/oauth/token")
            .unwrap();
        Self {
            db,
            server,
            token_url,
            engine: OAuthEngine::new().unwrap(),
            workspace_id,
            integration_id: integration.id,
        }
    }

    fn request<'a>(&'a self, rejected: Option<&'a SecretString>) -> ClientTokenRequest<'a> {
        ClientTokenRequest {
            store: self.db.store(),
            vault: self.db.vault(),
            engine: &self.engine,
            token_url: &self.token_url,
            client_auth: TokenClientAuth::RequestBody,
            scopes: &[],
            client_id_field: "client_id",
            client_secret_field: "client_secret",
            workspace_id: self.workspace_id,
            integration_id: self.integration_id,
            refresh_ahead: Duration::minutes(5),
            rejected_token: rejected,
            now: Utc::now(),
        }
    }

    async fn stored(
        &self,
    ) -> (
        BTreeMap<String, String>,
        junction_store::models::Integration,
    ) {
        let mut tx = self.db.store().begin(self.workspace_id).await.unwrap();
        let fields = repo::credentials::get_all(tx.conn(), self.db.vault(), self.integration_id)
            .await
            .unwrap();
        let integration = repo::integrations::get(tx.conn(), self.integration_id)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let fields = fields
            .into_iter()
            .map(|(k, v)| (k, v.expose_secret().to_owned()))
            .collect();
        (fields, integration)
    }

    async fn token_endpoint(&self, template: ResponseTemplate, times: u64) {
        Mock::given(method("POST"))
            .respond_with(template)
            .expect(times)
            .mount(&self.server)
            .await;
    }
}

fn in_minutes(minutes: i64) -> chrono::DateTime<Utc> {
    (Utc::now() + Duration::minutes(minutes)).trunc_subsecs(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_call_fetches_a_token_and_the_next_ones_reuse_it() {
    let fx = Fixture::new(None).await;
    fx.token_endpoint(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "cc-1", "expires_in": 3600})),
        1,
    )
    .await;
    let first = fresh_client_token(fx.request(None)).await.unwrap();
    assert_eq!(first.token.expose_secret(), "cc-1");
    let second = fresh_client_token(fx.request(None)).await.unwrap();
    assert_eq!(second.token.expose_secret(), "cc-1");
    assert_eq!(second.expires_at, first.expires_at);
    fx.server.verify().await;
    let (fields, integration) = fx.stored().await;
    assert_eq!(fields[ACCESS_TOKEN], "cc-1");
    assert_eq!(fields["client_secret"], CLIENT_SECRET, "the pair stays");
    assert_eq!(integration.token_expires_at, first.expires_at);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_expiring_within_the_window_or_rejected_is_replaced() {
    let fx = Fixture::new(Some(("cc-old", in_minutes(2)))).await;
    fx.token_endpoint(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "cc-new", "expires_in": 3600})),
        2,
    )
    .await;
    let renewed = fresh_client_token(fx.request(None)).await.unwrap();
    assert_eq!(renewed.token.expose_secret(), "cc-new");
    // Valid for an hour, but the provider refused it: replaced.
    let rejected = SecretString::from("cc-new");
    let replaced = fresh_client_token(fx.request(Some(&rejected)))
        .await
        .unwrap();
    assert_eq!(replaced.token.expose_secret(), "cc-new");
    fx.server.verify().await;
    // A stale rejection (the stored token differs already) fetches nothing.
    let stale = SecretString::from("cc-old");
    fresh_client_token(fx.request(Some(&stale))).await.unwrap();
    assert_eq!(fx.server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_callers_share_one_fetch() {
    let fx = Fixture::new(None).await;
    fx.token_endpoint(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": "cc-shared", "expires_in": 3600}))
            .set_delay(std::time::Duration::from_millis(400)),
        1,
    )
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let (store, vault, engine) = (
            fx.db.store().clone(),
            fx.db.vault().clone(),
            fx.engine.clone(),
        );
        let token_url = fx.token_url.clone();
        let (workspace_id, integration_id) = (fx.workspace_id, fx.integration_id);
        tasks.spawn(async move {
            fresh_client_token(ClientTokenRequest {
                store: &store,
                vault: &vault,
                engine: &engine,
                token_url: &token_url,
                client_auth: TokenClientAuth::RequestBody,
                scopes: &[],
                client_id_field: "client_id",
                client_secret_field: "client_secret",
                workspace_id,
                integration_id,
                refresh_ahead: Duration::minutes(5),
                rejected_token: None,
                now: Utc::now(),
            })
            .await
        });
    }
    for result in tasks.join_all().await {
        assert_eq!(result.unwrap().token.expose_secret(), "cc-shared");
    }
    fx.server.verify().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_pair_needs_reauth_and_a_failure_changes_nothing() {
    let fx = Fixture::new(Some(("cc-old", in_minutes(-1)))).await;
    fx.token_endpoint(
        ResponseTemplate::new(503).set_body_json(json!({"error": "temporarily_unavailable"})),
        1,
    )
    .await;
    let err = fresh_client_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::OAuth(_)), "{err:?}");
    assert!(err.is_retryable());
    let (fields, integration) = fx.stored().await;
    assert_eq!(fields[ACCESS_TOKEN], "cc-old");
    assert_eq!(integration.status, IntegrationStatus::Active);

    fx.server.reset().await;
    fx.token_endpoint(
        ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
        1,
    )
    .await;
    let err = fresh_client_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::Revoked), "{err:?}");
    let (_, integration) = fx.stored().await;
    assert_eq!(integration.status, IntegrationStatus::NeedsReauth);
    // Known revoked: no further call until a reconnect.
    let again = fresh_client_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(again, RefreshError::Revoked));
    fx.server.verify().await;

    let mut tx = fx.db.store().begin(fx.workspace_id).await.unwrap();
    let logs = repo::logs::list(
        tx.conn(),
        fx.integration_id,
        Some(Operation::Refresh),
        None,
        10,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        logs.iter().map(|l| l.level).collect::<Vec<_>>(),
        vec![LogLevel::Error, LogLevel::Warn]
    );
    for log in &logs {
        let text = format!("{} {}", log.message, log.details);
        assert!(
            !text.contains(CLIENT_SECRET) && !text.contains("cc-old"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_integration_without_a_stored_pair_is_told_to_connect() {
    let fx = Fixture::new(None).await;
    let mut tx = fx.db.store().begin(fx.workspace_id).await.unwrap();
    repo::credentials::delete(tx.conn(), fx.integration_id, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let err = fresh_client_token(fx.request(None)).await.unwrap_err();
    assert!(matches!(err, RefreshError::NoClientCredentials), "{err:?}");
    assert!(fx.server.received_requests().await.unwrap().is_empty());
}

//! Shared test setup: test providers (one per OAuth behaviour the sandbox honours), a
//! fake that records what it receives, a running sandbox and small OAuth client
//! helpers built on reqwest with redirects disabled.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use junction_core::{
    AuthSpec, Category, ConfigField, OAuth2Spec, RateBudget, RefreshBehaviour, StreamSpec,
    TokenClientAuth,
    fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake, TokenStatus},
    spec::ProviderSpec,
};
use junction_sandbox::{CLIENT_ID, CLIENT_SECRET, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// PKCE required, rotating refresh tokens, HTTP Basic client auth, space-separated.
pub const ROTATING: &str = "rotor";
/// No PKCE, stable refresh tokens, body client auth, comma-separated scopes.
pub const STABLE: &str = "steady";
/// No refresh tokens at all (tokens do not expire).
pub const NO_REFRESH: &str = "forever";
/// PKCE plus extra authorize parameters, like Google.
pub const EXTRA_PARAMS: &str = "offline";
/// An API-key provider with a fake but no OAuth server.
pub const API_KEY: &str = "keyed";
/// A client-credentials provider: users hold a key pair, its fake publishes one.
pub const KEY_PAIR: &str = "paired";
/// The key pair the `paired` fake's catalog entry publishes.
pub const PAIR_ID: &str = "paired-client";
pub const PAIR_SECRET: &str = "paired-secret";

pub const REDIRECT_URI: &str = "http://app.example.test/oauth/callback";

fn oauth_spec(id: &'static str, name: &'static str, oauth: OAuth2Spec) -> ProviderSpec {
    ProviderSpec {
        id,
        name,
        category: Category::Analytics,
        auth: AuthSpec::OAuth2(oauth),
        config: vec![],
        streams: vec![StreamSpec {
            name: "things",
            description: "Things",
            primary_key: vec!["id"],
            cursor_field: None,
            webhook_only: false,
            default_schedule: Duration::from_secs(3600),
            metrics: vec![],
        }],
        actions: vec![],
        webhook: None,
        rate_limit: RateBudget {
            requests: 10,
            per: Duration::from_secs(1),
            concurrency: None,
        },
        docs_url: "https://example.invalid/docs",
    }
}

fn oauth(
    scopes: Vec<&'static str>,
    scope_separator: &'static str,
    pkce: bool,
    refresh: RefreshBehaviour,
    client_auth: TokenClientAuth,
) -> OAuth2Spec {
    OAuth2Spec {
        authorize_url: "https://example.invalid/authorize",
        token_url: "https://example.invalid/token",
        revoke_url: Some("https://example.invalid/revoke"),
        scopes,
        scope_separator,
        pkce,
        extra_authorize_params: vec![],
        refresh,
        client_auth,
        long_lived_exchange: None,
    }
}

/// The test providers' specs.
pub fn specs() -> Vec<ProviderSpec> {
    let mut specs = vec![
        oauth_spec(
            ROTATING,
            "Rotor <Analytics> & \"Co\"",
            oauth(
                vec!["read", "write"],
                " ",
                true,
                RefreshBehaviour::Rotating,
                TokenClientAuth::BasicHeader,
            ),
        ),
        oauth_spec(
            STABLE,
            "Steady",
            oauth(
                vec!["ads_read", "ads_management"],
                ",",
                false,
                RefreshBehaviour::Stable,
                TokenClientAuth::RequestBody,
            ),
        ),
        oauth_spec(
            NO_REFRESH,
            "Forever",
            oauth(
                vec![],
                " ",
                false,
                RefreshBehaviour::None,
                TokenClientAuth::RequestBody,
            ),
        ),
    ];
    let mut offline = oauth(
        vec!["analytics.readonly"],
        " ",
        true,
        RefreshBehaviour::Stable,
        TokenClientAuth::RequestBody,
    );
    offline.extra_authorize_params = vec![("access_type", "offline"), ("prompt", "consent")];
    specs.push(oauth_spec(EXTRA_PARAMS, "Offline", offline));
    let mut keyed = oauth_spec(
        API_KEY,
        "Keyed",
        oauth(
            vec![],
            " ",
            false,
            RefreshBehaviour::None,
            TokenClientAuth::BasicHeader,
        ),
    );
    keyed.auth = AuthSpec::ApiKey {
        fields: vec![ConfigField::secret("api_key", "API key", "")],
    };
    specs.push(keyed);
    let mut paired = oauth_spec(
        KEY_PAIR,
        "Paired",
        oauth(
            vec![],
            " ",
            false,
            RefreshBehaviour::None,
            TokenClientAuth::BasicHeader,
        ),
    );
    paired.auth = AuthSpec::ClientCredentials {
        token_url: "https://example.invalid/v1/oauth/token",
        scopes: vec!["surveys:read", "users:delete"],
        client_auth: TokenClientAuth::RequestBody,
        client_id: ConfigField::secret("client_id", "Client ID", ""),
        client_secret: ConfigField::secret("client_secret", "Client secret", ""),
    };
    specs.push(paired);
    specs
}

/// What a [`RecordingFake`] saw in one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request: FakeRequest,
    pub fault: Option<junction_core::fake::Fault>,
    pub token: Option<TokenStatus>,
}

/// A fake that records every request and answers with what it saw.
pub struct RecordingFake {
    pub id: &'static str,
    pub seen: Mutex<Vec<Seen>>,
    pub entry: CatalogEntry,
}

impl RecordingFake {
    pub fn new(id: &'static str) -> Arc<Self> {
        Self::listed(id, CatalogEntry::default())
    }

    /// A fake whose catalog entry is `entry`.
    pub fn listed(id: &'static str, entry: CatalogEntry) -> Arc<Self> {
        Arc::new(Self {
            id,
            seen: Mutex::new(Vec::new()),
            entry,
        })
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no request seen")
    }
}

impl ProviderFake for RecordingFake {
    fn provider_id(&self) -> &'static str {
        self.id
    }

    fn catalog(&self) -> CatalogEntry {
        self.entry.clone()
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        let token = request
            .bearer()
            .map(|token| ctx.tokens.check(self.id, token));
        self.seen.lock().unwrap().push(Seen {
            request: request.clone(),
            fault: ctx.fault,
            token: token.clone(),
        });
        if let Some(fault) = ctx.fault {
            return FakeResponse::json(503, &json!({ "fault": fault }))
                .with_header("retry-after", "2");
        }
        let token = match token {
            None => json!(null),
            Some(TokenStatus::Valid { scopes }) => json!({ "valid": scopes }),
            Some(TokenStatus::Expired) => json!("expired"),
            Some(TokenStatus::Unknown) => json!("unknown"),
        };
        FakeResponse::json(201, &json!({ "path": request.path, "token": token }))
            .with_header("x-fake", "recorded")
            .with_header("x-fake", "twice")
    }
}

/// A running sandbox of the test providers with a client to talk to it.
pub struct Harness {
    pub running: RunningSandbox,
    pub http: reqwest::Client,
    /// The fake mounted at `/rotor/`.
    pub rotor_fake: Arc<RecordingFake>,
    /// The fake mounted at `/keyed/`.
    pub keyed_fake: Arc<RecordingFake>,
    /// The fake mounted at `/paired/`.
    pub paired_fake: Arc<RecordingFake>,
}

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce(seed: &str) -> Pkce {
    let verifier = format!("{seed}-{}", "v".repeat(50));
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    Pkce {
        challenge: URL_SAFE_NO_PAD.encode(digest),
        verifier,
    }
}

/// What the client sends to the token endpoint as client authentication.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    Basic(&'a str, &'a str),
    Body(&'a str, &'a str),
    Nothing,
}

pub const GOOD_BASIC: ClientAuth<'static> = ClientAuth::Basic(CLIENT_ID, CLIENT_SECRET);
pub const GOOD_BODY: ClientAuth<'static> = ClientAuth::Body(CLIENT_ID, CLIENT_SECRET);

/// The answer of a token-endpoint call.
#[derive(Debug)]
pub struct TokenAnswer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TokenAnswer {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn access_token(&self) -> String {
        self.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token in {}", self.body))
            .to_owned()
    }

    pub fn refresh_token(&self) -> String {
        self.body["refresh_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no refresh token in {}", self.body))
            .to_owned()
    }
}

/// Where a redirect went and the query parameters it carried.
#[derive(Debug)]
pub struct Redirect {
    pub location: url::Url,
    pub params: Vec<(String, String)>,
}

impl Redirect {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

pub async fn start() -> Harness {
    start_with(SandboxConfig::default()).await
}

pub async fn start_with(config: SandboxConfig) -> Harness {
    let rotor_fake = RecordingFake::new(ROTATING);
    let keyed_fake = RecordingFake::new(API_KEY);
    let paired_fake = RecordingFake::listed(
        KEY_PAIR,
        CatalogEntry::default()
            .credential("client_id", PAIR_ID)
            .credential("client_secret", PAIR_SECRET),
    );
    let sandbox = Sandbox::with_providers(
        config,
        specs(),
        vec![rotor_fake.clone(), keyed_fake.clone(), paired_fake.clone()],
    );
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let running = junction_sandbox::spawn_sandbox(sandbox, bind)
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Harness {
        running,
        http,
        rotor_fake,
        keyed_fake,
        paired_fake,
    }
}

impl Harness {
    pub fn url(&self, path: &str) -> url::Url {
        self.running.url.join(path.trim_start_matches('/')).unwrap()
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.running.sandbox
    }

    /// The authorize URL of a provider with these parameters.
    pub fn authorize_url(&self, provider: &str, params: &[(&str, &str)]) -> url::Url {
        let mut url = self.url(&format!("/oauth/{provider}/authorize"));
        url.query_pairs_mut().extend_pairs(params);
        url
    }

    /// GETs a URL without following redirects.
    pub async fn get(&self, url: url::Url) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// GETs an authorize URL and expects a redirect.
    pub async fn redirect_of(&self, url: url::Url) -> Redirect {
        let response = self.get(url).await;
        assert_eq!(response.status(), 302, "expected a redirect");
        redirect_from(&response)
    }

    /// Approves an authorization for the standard parameters and returns the code.
    pub async fn code(&self, provider: &str, scope: &str, challenge: Option<&str>) -> String {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope),
            ("state", "st4te"),
            ("decision", "approve"),
        ];
        if let Some(challenge) = challenge {
            params.push(("code_challenge", challenge));
            params.push(("code_challenge_method", "S256"));
        }
        let redirect = self
            .redirect_of(self.authorize_url(provider, &params))
            .await;
        assert_eq!(redirect.get("state"), Some("st4te"), "{redirect:?}");
        redirect
            .get("code")
            .unwrap_or_else(|| panic!("no code in {redirect:?}"))
            .to_owned()
    }

    /// POSTs a form to the token endpoint.
    pub async fn token(
        &self,
        provider: &str,
        auth: ClientAuth<'_>,
        form: &[(&str, &str)],
    ) -> TokenAnswer {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let mut request = self
            .http
            .post(self.url(&format!("/oauth/{provider}/token")));
        match auth {
            ClientAuth::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
            ClientAuth::Body(id, secret) => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
            }
            ClientAuth::Nothing => {}
        }
        let response = request.form(&form).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        TokenAnswer {
            status,
            body,
            headers,
        }
    }

    /// Exchanges a code with the standard redirect URI.
    pub async fn exchange(
        &self,
        provider: &str,
        auth: ClientAuth<'_>,
        code: &str,
        verifier: Option<&str>,
    ) -> TokenAnswer {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ];
        if let Some(verifier) = verifier {
            form.push(("code_verifier", verifier));
        }
        self.token(provider, auth, &form).await
    }

    /// A refresh-token grant.
    pub async fn refresh(
        &self,
        provider: &str,
        auth: ClientAuth<'_>,
        refresh_token: &str,
    ) -> TokenAnswer {
        self.token(
            provider,
            auth,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// A full authorization of the rotating PKCE provider: its token answer.
    pub async fn rotor_tokens(&self) -> TokenAnswer {
        let pkce = pkce("rotor");
        let code = self
            .code(ROTATING, "read write", Some(&pkce.challenge))
            .await;
        let answer = self
            .exchange(ROTATING, GOOD_BASIC, &code, Some(&pkce.verifier))
            .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer
    }

    /// A full authorization of the stable provider: its token answer.
    pub async fn steady_tokens(&self) -> TokenAnswer {
        let code = self.code(STABLE, "ads_read,ads_management", None).await;
        let answer = self.exchange(STABLE, GOOD_BODY, &code, None).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer
    }

    /// POSTs JSON to a control endpoint.
    pub async fn control(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// A request to a provider's fake with a bearer token.
    pub async fn call_fake(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn stop(self) {
        self.running.handle.stop(true).await;
    }
}

/// The Location of a redirect response, parsed.
pub fn redirect_from(response: &reqwest::Response) -> Redirect {
    let location = response
        .headers()
        .get("location")
        .expect("no Location header")
        .to_str()
        .unwrap();
    let location = url::Url::parse(location).unwrap();
    let params = location.query_pairs().into_owned().collect();
    Redirect { location, params }
}

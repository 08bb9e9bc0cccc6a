//! junction-conformance: what every provider crate's tests share.
//!
//! - [`FakeServer`] serves a provider's [`ProviderFake`] through wiremock the way
//!   junction-sandbox does (mounted under `/{provider_id}/`, bearer tokens checked
//!   against a fixed token table, faults armed one request at a time).
//! - [`Suite`] is the conformance suite: the checks every adapter must pass against
//!   its fake — a consistent spec, a working health check, every stream read to the
//!   end with unique non-empty record ids, the same data on a second full read, and
//!   each injected fault classified the way the worker's retry policy needs.
//!
//! It is test support: checks panic with a message naming the provider and the
//! broken rule, so a provider's test reads `Suite::new(...).run(&server).await`.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use junction_core::{
    Adapter, AdapterError, Connection, Context, ReadRequest, Record,
    fake::{FakeContext, FakeRequest, Fault, ProviderFake, TokenAuthority, TokenStatus},
};
use url::Url;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path_regex};

/// A fixed table of access tokens, as the sandbox's OAuth server would know them.
#[derive(Debug, Default, Clone)]
pub struct TokenTable(HashMap<String, TokenStatus>);

impl TokenTable {
    /// Adds a token.
    pub fn with(mut self, token: &str, status: TokenStatus) -> Self {
        self.0.insert(token.to_owned(), status);
        self
    }
}

impl TokenAuthority for TokenTable {
    fn check(&self, _provider: &str, access_token: &str) -> TokenStatus {
        self.0
            .get(access_token)
            .cloned()
            .unwrap_or(TokenStatus::Unknown)
    }
}

struct Responder {
    fake: Arc<dyn ProviderFake>,
    tokens: Arc<TokenTable>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    mount: String,
}

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let below_mount = request
            .url
            .path()
            .strip_prefix(&self.mount)
            .unwrap_or_default();
        let fake_request = FakeRequest {
            method: request.method.clone(),
            path: below_mount.to_owned(),
            query: request.url.query().unwrap_or_default().to_owned(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let fault = self
            .faults
            .lock()
            .ok()
            .and_then(|mut faults| faults.pop_front());
        let ctx = FakeContext {
            tokens: self.tokens.as_ref(),
            fault,
            now: chrono::Utc::now(),
        };
        let response = self.fake.handle(&fake_request, &ctx);
        let content_type = response
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| "application/octet-stream".into());
        response
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-type"))
            .fold(
                ResponseTemplate::new(response.status)
                    .set_body_raw(response.body.clone(), &content_type),
                |template, (name, value)| template.insert_header(name.as_str(), value.as_str()),
            )
    }
}

/// A provider fake served on a local port.
pub struct FakeServer {
    server: MockServer,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    provider_id: &'static str,
}

impl FakeServer {
    /// Serves `fake` under `/{provider_id}/`, checking bearer tokens against `tokens`.
    pub async fn start(fake: Arc<dyn ProviderFake>, tokens: TokenTable) -> Self {
        let provider_id = fake.provider_id();
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let server = MockServer::start().await;
        Mock::given(path_regex(format!("^/{provider_id}(/|$)")))
            .respond_with(Responder {
                fake,
                tokens: Arc::new(tokens),
                faults: faults.clone(),
                mount: format!("/{provider_id}"),
            })
            .mount(&server)
            .await;
        Self {
            server,
            faults,
            provider_id,
        }
    }

    /// The base URL adapters should call (the sandbox layout: `{server}/{provider}/`).
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("{}/{}/", self.server.uri(), self.provider_id))
            .unwrap_or_else(|e| panic!("fake server URL: {e}"))
    }

    /// A context pointing the adapter at this server.
    pub fn context(&self) -> Context {
        Context::new(reqwest::Client::new()).with_base_url(self.base_url())
    }

    /// Arms a fault for the next request.
    pub fn arm(&self, fault: Fault) {
        if let Ok(mut faults) = self.faults.lock() {
            faults.push_back(fault);
        }
    }

    /// Requests the server received so far.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }
}

/// The conformance suite of one adapter.
pub struct Suite {
    adapter: Arc<dyn Adapter>,
    /// A connection the fake accepts.
    connection: Connection,
    /// A connection whose credentials the fake rejects (expired token, wrong key).
    rejected: Connection,
    /// Whether a rejected credential can be fixed by refreshing (OAuth access tokens).
    refreshable: bool,
    /// Most pages read per stream before the suite calls the stream endless.
    max_pages: usize,
}

impl Suite {
    pub fn new(
        adapter: Arc<dyn Adapter>,
        connection: Connection,
        rejected: Connection,
        refreshable: bool,
    ) -> Self {
        Self {
            adapter,
            connection,
            rejected,
            refreshable,
            max_pages: 500,
        }
    }

    fn fail(&self, rule: &str, detail: impl std::fmt::Display) -> ! {
        panic!("conformance: {}: {rule}: {detail}", self.adapter.spec().id)
    }

    /// Runs every check against the fake.
    pub async fn run(&self, server: &FakeServer) {
        self.spec_is_consistent();
        let ctx = server.context();
        if let Err(error) = self.adapter.check(&ctx, &self.connection).await {
            self.fail("check() must pass with good credentials", error);
        }
        match self.adapter.check(&ctx, &self.rejected).await {
            Err(AdapterError::Unauthorized { refreshable, .. })
                if refreshable == self.refreshable => {}
            other => self.fail(
                &format!(
                    "check() with rejected credentials must be Unauthorized {{ refreshable: {} }}",
                    self.refreshable
                ),
                format!("{other:?}"),
            ),
        }
        for stream in &self.adapter.spec().streams {
            let first = self.read_all(&ctx, stream.name).await;
            let second = self.read_all(&ctx, stream.name).await;
            if first != second {
                self.fail(
                    "reading a stream twice must give the same records",
                    stream.name,
                );
            }
        }
        self.faults_are_classified(server).await;
    }

    fn spec_is_consistent(&self) {
        let spec = self.adapter.spec();
        if junction_core::ProviderId::parse(spec.id).is_err() {
            self.fail("the id must be a valid provider id", spec.id);
        }
        if spec.streams.is_empty() {
            self.fail("a provider must have at least one stream", "none");
        }
        let mut names = BTreeSet::new();
        for field in spec.all_fields() {
            if !names.insert(field.name) {
                self.fail("field names must be unique", field.name);
            }
        }
        let mut streams = BTreeSet::new();
        for stream in &spec.streams {
            if !streams.insert(stream.name) || stream.primary_key.is_empty() {
                self.fail("streams need unique names and a primary key", stream.name);
            }
        }
        for action in &spec.actions {
            if action.input_schema.get("type").and_then(|t| t.as_str()) != Some("object") {
                self.fail(
                    "an action's input schema must be a JSON Schema object",
                    action.name,
                );
            }
        }
        if !spec.docs_url.starts_with("https://") {
            self.fail("docs_url must be an https link", spec.docs_url);
        }
    }

    /// Reads a stream from scratch to its end; returns its records by id.
    async fn read_all(&self, ctx: &Context, stream: &str) -> BTreeMap<String, Record> {
        let mut cursor = None;
        let mut records = BTreeMap::new();
        for _ in 0..self.max_pages {
            let request = ReadRequest {
                stream: stream.to_owned(),
                cursor: cursor.clone(),
                page_size: Some(25),
            };
            let page = match self.adapter.read(ctx, &self.connection, &request).await {
                Ok(page) => page,
                Err(error) => self.fail(&format!("reading stream `{stream}` must succeed"), error),
            };
            for record in page.records {
                if record.external_id.is_empty() {
                    self.fail("records need a non-empty external id", stream);
                }
                let id = record.external_id.clone();
                if records.insert(id.clone(), record).is_some() {
                    self.fail(
                        "a record must appear once in a full read (paging overlaps)",
                        format!("{stream}/{id}"),
                    );
                }
            }
            for point in &page.kpis {
                if !point.value.is_finite() {
                    self.fail("KPI values must be finite", &point.metric);
                }
            }
            if !page.has_more {
                return records;
            }
            if page.next_cursor.is_none() || page.next_cursor == cursor {
                self.fail("a page with more to come must move the cursor", stream);
            }
            cursor = page.next_cursor;
        }
        self.fail("a stream must end within the page limit", stream)
    }

    async fn faults_are_classified(&self, server: &FakeServer) {
        /// A fault, the check its error must pass, and that check's name.
        type FaultCase = (Fault, fn(&AdapterError) -> bool, &'static str);
        let ctx = server.context();
        let cases: [FaultCase; 3] = [
            (
                Fault::ServerError,
                |e| matches!(e, AdapterError::Unavailable { .. }),
                "Unavailable",
            ),
            (
                Fault::RateLimited {
                    retry_after_secs: 2,
                },
                |e| {
                    matches!(
                        e,
                        AdapterError::RateLimited { .. } | AdapterError::QuotaExhausted { .. }
                    )
                },
                "RateLimited or QuotaExhausted",
            ),
            (
                Fault::MalformedBody,
                |e| matches!(e, AdapterError::Unavailable { .. }),
                "Unavailable",
            ),
        ];
        for (fault, expected, name) in cases {
            server.arm(fault);
            match self.adapter.check(&ctx, &self.connection).await {
                Err(error) if expected(&error) => {}
                other => self.fail(
                    &format!("fault {fault:?} must be classified {name}"),
                    format!("{other:?}"),
                ),
            }
        }
        server.arm(Fault::ExpiredToken);
        match self.adapter.check(&ctx, &self.connection).await {
            Err(AdapterError::Unauthorized { .. }) => {}
            other => self.fail(
                "fault ExpiredToken must be classified Unauthorized",
                format!("{other:?}"),
            ),
        }
    }
}

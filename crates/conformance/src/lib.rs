//! junction-conformance: what every provider crate's tests share.
//!
//! - [`FakeServer`] serves a provider's [`ProviderFake`] through wiremock the way
//!   junction-sandbox does (mounted under `/{provider_id}/`, bearer tokens checked
//!   against a fixed token table, faults armed one request at a time).
//! - [`Suite`] is the conformance suite: the checks every adapter must pass against
//!   its fake — a consistent spec, a working health check, every stream read to the
//!   end with unique non-empty record ids and KPI points of declared metrics (money
//!   ones with their currency), the same data on a second full read, and
//!   each injected fault classified the way the worker's retry policy needs.
//! - [`Description`] adds the table-driven checks generated from the provider's
//!   toolkit description (`HttpApi`, `Paging`s, the spec's webhook scheme), given to
//!   the suite with [`Suite::with_description`]:
//!   - **errors**: each `ErrorRule` of the `ErrorTable` gets a refusal built in the
//!     provider's envelope (its code at the envelope's code path — each code of a
//!     list, both ends of a range —, its message, what the rule's `when` asks for,
//!     at the rule's status or a status no earlier rule takes; bare statuses that
//!     stand for a code; HTTP 200 bodies for GraphQL APIs; a refusal without a
//!     message for rules with a fallback), served by wiremock and classified by the
//!     toolkit `Client` as at runtime (core's `classify`, then the table). It must
//!     be taken by that rule and no earlier one, and become what the rule documents
//!     (the class, the wait the rate-limit signals give, the quota's reset, the
//!     field, the provider's words or the fallback in the message). Then each fault
//!     the fake can inject is requested through the description: the fake's own
//!     refusals must classify as the fault means (a table that documents a quota
//!     must take the fake's quota refusal as one), and the envelope must find their
//!     message and (in one of them at least) their code;
//!   - **paging**: each `Paging` walks a synthetic list (7 items, pages of 3) that
//!     wiremock serves in its style to the end, every item once and no request after
//!     the last page, and resumes from a token taken mid-way; with a [`FakeList`] it
//!     also walks that list of the provider's fake (several pages, none larger than
//!     asked, every item once) and resumes it;
//!   - **auth**: for each `AuthMode`, a request of the toolkit `Client` for a
//!     connection in that mode carries exactly the credential the mode describes
//!     (header and template, query parameter, or Basic) and none of the other modes'
//!     credentials or placements; with a list of the fake to ask, the fake accepts
//!     the mode's credential sent that way;
//!   - **webhooks**: a spec with a `WebhookSpec` must be given its provider's
//!     official signature vectors ([`vectors`]); each verifies through the toolkit's
//!     dispatch from the spec's scheme (and the documented tolerance holds), and a
//!     tampered body is refused — by the toolkit and by the adapter.
//!
//! It is test support: checks panic with a message naming the provider and the
//! broken rule, so a provider's test reads `Suite::new(...).run(&server).await`.
//! [`Description::check`] returns the [`Failure`] instead, for tests of the checks
//! themselves.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
    sync::{Arc, Mutex},
};

use junction_core::{
    Adapter, AdapterError, Connection, Context, ReadRequest, Record,
    fake::{
        CatalogEntry, FakeContext, FakeRequest, Fault, ProviderFake, TokenAuthority, TokenStatus,
    },
};
use url::Url;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path_regex};

mod auth;
mod common;
mod description;
mod errors;
mod paging;
pub mod vectors;
mod webhooks;

pub use common::{Failure, FakeList, Report};
pub use description::Description;

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

impl TokenTable {
    /// A token the table holds as valid (the first by name), if any.
    fn valid(&self) -> Option<String> {
        let mut valid: Vec<&String> = self
            .0
            .iter()
            .filter(|(_, status)| matches!(status, TokenStatus::Valid { .. }))
            .map(|(token, _)| token)
            .collect();
        valid.sort();
        valid.first().map(|token| (*token).clone())
    }
}

/// A response the fake served, with the fault it was asked to inject.
#[derive(Debug, Clone)]
pub(crate) struct Served {
    pub status: u16,
    pub body: Vec<u8>,
    pub fault: Option<Fault>,
}

struct Responder {
    fake: Arc<dyn ProviderFake>,
    tokens: Arc<TokenTable>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    served: Arc<Mutex<Vec<Served>>>,
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
        if let Ok(mut served) = self.served.lock() {
            served.push(Served {
                status: response.status,
                body: response.body.clone(),
                fault,
            });
        }
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
    fake: Arc<dyn ProviderFake>,
    tokens: Arc<TokenTable>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    served: Arc<Mutex<Vec<Served>>>,
    provider_id: &'static str,
}

impl FakeServer {
    /// Serves `fake` under `/{provider_id}/`, checking bearer tokens against `tokens`.
    pub async fn start(fake: Arc<dyn ProviderFake>, tokens: TokenTable) -> Self {
        let provider_id = fake.provider_id();
        let faults = Arc::new(Mutex::new(VecDeque::new()));
        let served = Arc::new(Mutex::new(Vec::new()));
        let tokens = Arc::new(tokens);
        let server = MockServer::start().await;
        Mock::given(path_regex(format!("^/{provider_id}(/|$)")))
            .respond_with(Responder {
                fake: fake.clone(),
                tokens: tokens.clone(),
                faults: faults.clone(),
                served: served.clone(),
                mount: format!("/{provider_id}"),
            })
            .mount(&server)
            .await;
        Self {
            server,
            fake,
            tokens,
            faults,
            served,
            provider_id,
        }
    }

    /// What the fake says connects its provider entry (the values it accepts).
    pub fn catalog(&self) -> CatalogEntry {
        self.fake.catalog()
    }

    /// A token the server's table holds as valid, if any.
    pub(crate) fn valid_token(&self) -> Option<String> {
        self.tokens.valid()
    }

    /// The last response the fake served.
    pub(crate) fn last_served(&self) -> Option<Served> {
        self.served
            .lock()
            .ok()
            .and_then(|served| served.last().cloned())
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
    /// The provider's toolkit description, for the table-driven checks.
    description: Option<Description>,
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
            description: None,
        }
    }

    /// The suite with the table-driven checks generated from the provider's
    /// description (see [`Description`]), run after the others.
    pub fn with_description(mut self, description: Description) -> Self {
        self.description = Some(description);
        self
    }

    fn fail(&self, rule: &str, detail: impl std::fmt::Display) -> ! {
        panic!("conformance: {}: {rule}: {detail}", self.adapter.spec().id)
    }

    /// Runs every check against the fake; what the description checks covered comes
    /// back (all zero without a description).
    pub async fn run(&self, server: &FakeServer) -> Report {
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
        let Some(description) = &self.description else {
            return Report::default();
        };
        let spec = self.adapter.spec();
        match description
            .check(spec, &self.connection, server, Some(self.adapter.as_ref()))
            .await
        {
            Ok(report) => {
                eprintln!("conformance: {}: description checks: {report}", spec.id);
                report
            }
            Err(failure) => self.fail(&failure.check, &failure.detail),
        }
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
                // A metric nothing declares cannot be aggregated; a money point
                // without its currency would be added across currencies.
                if let Some(problem) = self.adapter.spec().point_problem(point) {
                    self.fail(
                        "KPI points must name a declared metric, money ones their currency",
                        problem,
                    );
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

#[cfg(test)]
mod tests;

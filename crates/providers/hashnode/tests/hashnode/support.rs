//! Shared fixtures: connections holding the token a test gives them, a context at a
//! fixed time, and a fake that loses the answer to the first mutation that creates.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{Connection, Context, FixedClock, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use url::Url;

/// A connection with the token `token` and the default publication `publication`.
pub fn connection_to(token: &str, publication: Option<&str>) -> Connection {
    let mut config = Map::new();
    if let Some(id) = publication {
        config.insert("publication_id".into(), json!(id));
    }
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config,
        secrets: [(
            "personal_access_token".to_owned(),
            SecretString::from(token.to_owned()),
        )]
        .into(),
        access_token: None,
        token_expires_at: None,
    }
}

/// A connection with the token `token` and no default publication.
pub fn connection(token: &str) -> Connection {
    connection_to(token, None)
}

pub fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

/// A context pointed at `base` at `now`.
pub fn context(base: &str, now: DateTime<Utc>) -> Context {
    Context::new(reqwest::Client::new())
        .with_base_url(Url::parse(base).unwrap())
        .with_clock(Arc::new(FixedClock(now)))
}

/// The GraphQL operation a request names.
pub fn operation(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|b| b["operationName"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(feature = "sandbox")]
pub use lossy::LosesFirst;

#[cfg(feature = "sandbox")]
mod lossy {
    use std::sync::atomic::{AtomicBool, Ordering};

    use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};

    use super::operation;

    /// A fake whose first request of the operation `lose` takes effect but whose
    /// answer is lost on the way back (a 502 from a proxy after Hashnode created
    /// the post).
    pub struct LosesFirst<F> {
        pub inner: F,
        lose: &'static str,
        lost: AtomicBool,
    }

    impl<F> LosesFirst<F> {
        pub fn new(inner: F, lose: &'static str) -> Self {
            Self {
                inner,
                lose,
                lost: AtomicBool::new(false),
            }
        }
    }

    impl<F: ProviderFake> ProviderFake for LosesFirst<F> {
        fn provider_id(&self) -> &'static str {
            self.inner.provider_id()
        }

        fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
            let answer = self.inner.handle(request, ctx);
            if operation(&request.body) == self.lose && !self.lost.swap(true, Ordering::SeqCst) {
                return FakeResponse {
                    status: 502,
                    headers: vec![("content-type".into(), "text/html".into())],
                    body: b"<html><body>502 Bad Gateway</body></html>".to_vec(),
                };
            }
            answer
        }

        fn catalog(&self) -> CatalogEntry {
            self.inner.catalog()
        }
    }
}

//! Shared fixtures: connections holding the key a test gives them, a context at a
//! fixed time, and a fake that loses the answer to the first article it creates.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use chrono::{DateTime, TimeZone, Utc};
use junction_core::{Connection, Context, FixedClock, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use url::Url;

/// A connection with the API key `key`.
pub fn connection(key: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: serde_json::Map::new(),
        secrets: [("api_key".to_owned(), SecretString::from(key.to_owned()))].into(),
        access_token: None,
        token_expires_at: None,
    }
}

/// A connection with a made-up key (wiremock takes any).
pub fn any() -> Connection {
    connection("test_key")
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

#[cfg(feature = "sandbox")]
pub use lossy::LosesFirstCreate;

#[cfg(feature = "sandbox")]
mod lossy {
    use super::*;
    use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};

    /// A fake whose first `POST` takes effect but whose answer is lost on the way
    /// back (a 502 from a proxy after the platform created the article).
    pub struct LosesFirstCreate<F> {
        pub inner: F,
        lost: AtomicBool,
    }

    impl<F> LosesFirstCreate<F> {
        pub fn new(inner: F) -> Self {
            Self {
                inner,
                lost: AtomicBool::new(false),
            }
        }
    }

    impl<F: ProviderFake> ProviderFake for LosesFirstCreate<F> {
        fn provider_id(&self) -> &'static str {
            self.inner.provider_id()
        }

        fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
            let answer = self.inner.handle(request, ctx);
            if request.method == http::Method::POST && !self.lost.swap(true, Ordering::SeqCst) {
                return FakeResponse::json(
                    502,
                    &serde_json::json!({"error": "Bad Gateway", "status": 502}),
                );
            }
            answer
        }

        fn catalog(&self) -> CatalogEntry {
            self.inner.catalog()
        }
    }
}

//! Shared fixtures: connections holding the token a test gives them, a context, and
//! a fake that loses the answer to the first post it creates.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use junction_core::{Connection, Context, FixedClock, IntegrationId, WorkspaceId};
use secrecy::SecretString;
use url::Url;

/// A connection with the integration token `token`.
pub fn connection(token: &str) -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: serde_json::Map::new(),
        secrets: [(
            "integration_token".to_owned(),
            SecretString::from(token.to_owned()),
        )]
        .into(),
        access_token: None,
        token_expires_at: None,
    }
}

pub fn any() -> Connection {
    connection("181d415f34379af07b2c11d144dfbe35d")
}

/// A context pointed at `base`, with `http` as its client.
pub fn context_with(base: &str, http: reqwest::Client) -> Context {
    let now = Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap();
    Context::new(http)
        .with_base_url(Url::parse(base).unwrap())
        .with_clock(Arc::new(FixedClock(now)))
}

pub fn context(base: &str) -> Context {
    context_with(base, reqwest::Client::new())
}

#[cfg(feature = "sandbox")]
pub use lossy::LosesFirstPost;

#[cfg(feature = "sandbox")]
mod lossy {
    use std::sync::atomic::{AtomicBool, Ordering};

    use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};

    /// A fake whose first `POST` takes effect but whose answer is lost: a gateway's
    /// 502 after Medium created the post.
    pub struct LosesFirstPost<F> {
        pub inner: F,
        lost: AtomicBool,
    }

    impl<F> LosesFirstPost<F> {
        pub fn new(inner: F) -> Self {
            Self {
                inner,
                lost: AtomicBool::new(false),
            }
        }
    }

    impl<F: ProviderFake> ProviderFake for LosesFirstPost<F> {
        fn provider_id(&self) -> &'static str {
            self.inner.provider_id()
        }

        fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
            let answer = self.inner.handle(request, ctx);
            if request.method == http::Method::POST && !self.lost.swap(true, Ordering::SeqCst) {
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

//! The adapter against the crate's own GA4 fake, served through wiremock the way the
//! sandbox serves it (under `/google-analytics/`): checks, full syncs, determinism,
//! auth failures and every injectable fault.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use junction_core::{
    Adapter, AdapterError, Connection, Context, Page, Record,
    fake::{FakeContext, FakeRequest, Fault, ProviderFake, TokenAuthority, TokenStatus},
};
use junction_google_analytics::{GoogleAnalytics, READONLY_SCOPE, sandbox::Ga4Fake};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path_regex};

use crate::support::*;

/// Tokens the sandbox's OAuth server would know.
#[derive(Default)]
struct Tokens(HashMap<String, TokenStatus>);

impl TokenAuthority for Tokens {
    fn check(&self, provider: &str, access_token: &str) -> TokenStatus {
        if provider != "google-analytics" {
            return TokenStatus::Unknown;
        }
        self.0
            .get(access_token)
            .cloned()
            .unwrap_or(TokenStatus::Unknown)
    }
}

/// Serves [`Ga4Fake`] through wiremock: wiremock's request becomes a [`FakeRequest`]
/// below the mount point, the [`FakeResponse`](junction_core::fake::FakeResponse) a
/// response template. A fault armed with [`Sandbox::arm`] applies to the next request.
struct FakeResponder {
    tokens: Arc<Tokens>,
    fault: Arc<Mutex<Option<Fault>>>,
}

impl Respond for FakeResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let below_mount = request
            .url
            .path()
            .strip_prefix("/google-analytics")
            .unwrap_or_default();
        let fake_request = FakeRequest {
            method: request.method.clone(),
            path: below_mount.to_owned(),
            query: request.url.query().unwrap_or_default().to_owned(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        let fault = self.fault.lock().unwrap().take();
        let ctx = FakeContext {
            tokens: self.tokens.as_ref(),
            fault,
            now: now(),
        };
        let response = Ga4Fake.handle(&fake_request, &ctx);
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

/// The fake mounted on a mock server, with its known tokens.
struct Sandbox {
    server: MockServer,
    fault: Arc<Mutex<Option<Fault>>>,
}

/// A token the OAuth server issued with the read-only scope.
const GOOD: &str = "ya29.sandbox-good";
/// A token that expired.
const EXPIRED: &str = "ya29.sandbox-expired";
/// A token granted without any Analytics scope.
const NO_SCOPE: &str = "ya29.sandbox-openid-only";

impl Sandbox {
    async fn start() -> Self {
        let tokens = Tokens(HashMap::from([
            (
                GOOD.to_owned(),
                TokenStatus::Valid {
                    scopes: vec!["openid".into(), READONLY_SCOPE.into()],
                },
            ),
            (EXPIRED.to_owned(), TokenStatus::Expired),
            (
                NO_SCOPE.to_owned(),
                TokenStatus::Valid {
                    scopes: vec!["openid".into()],
                },
            ),
        ]));
        let fault = Arc::new(Mutex::new(None));
        let server = MockServer::start().await;
        Mock::given(path_regex("^/google-analytics/"))
            .respond_with(FakeResponder {
                tokens: Arc::new(tokens),
                fault: fault.clone(),
            })
            .mount(&server)
            .await;
        Self { server, fault }
    }

    fn context(&self) -> Context {
        context(&self.server)
    }

    fn arm(&self, fault: Fault) {
        *self.fault.lock().unwrap() = Some(fault);
    }
}

/// A connection to `property` with `token`.
fn conn(property: &str, token: &str, extra: Value) -> Connection {
    let mut conn = property_connection(extra);
    conn.config.insert("property_id".into(), json!(property));
    conn.access_token = Some(token.to_owned().into());
    conn
}

/// Reads pages from `cursor` until the window is done.
async fn sync(
    ctx: &Context,
    conn: &Connection,
    cursor: Option<Value>,
    page_size: u32,
) -> (Vec<Page>, Option<Value>) {
    let mut pages = Vec::new();
    let mut cursor = cursor;
    loop {
        let page = read(ctx, conn, cursor.clone(), Some(page_size))
            .await
            .unwrap();
        cursor = page.next_cursor.clone();
        let more = page.has_more;
        pages.push(page);
        if !more {
            return (pages, cursor);
        }
        assert!(pages.len() < 1_000, "the sync does not end");
    }
}

fn records(pages: &[Page]) -> Vec<Record> {
    pages.iter().flat_map(|p| p.records.clone()).collect()
}

#[tokio::test]
async fn check_reports_the_property_and_its_quota() {
    let sandbox = Sandbox::start().await;
    let health = GoogleAnalytics
        .check(&sandbox.context(), &conn("987654", GOOD, json!({})))
        .await
        .unwrap();
    assert_eq!(health.account.as_deref(), Some("GA4 property 987654"));
    assert_eq!(health.details["tokensPerHour"]["consumed"], 1);
    assert_eq!(health.details["tokensPerHour"]["remaining"], 39_999);
    assert_eq!(health.details["concurrentRequests"]["remaining"], 10);
}

#[tokio::test]
async fn a_full_sync_reads_every_day_once_and_is_deterministic() {
    let sandbox = Sandbox::start().await;
    let ctx = sandbox.context();
    let connection = conn("987654", GOOD, json!({}));

    let (pages, cursor) = sync(&ctx, &connection, None, 7).await;
    // 2026-02-13 ..= 2026-03-15: 31 days in pages of 7.
    assert_eq!(pages.len(), 5);
    let days: Vec<String> = records(&pages).into_iter().map(|r| r.external_id).collect();
    let expected: Vec<String> = (0..=30)
        .map(|back| {
            (now().date_naive() - chrono::Duration::days(back))
                .format("%Y%m%d")
                .to_string()
        })
        .rev()
        .collect();
    assert_eq!(days, expected, "every date exactly once, in order");
    let kpi_count: usize = pages.iter().map(|p| p.kpis.len()).sum();
    assert_eq!(kpi_count, 31 * 7);
    for record in records(&pages) {
        let rate = record.data["engagementRate"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&rate), "{record:?}");
        let sessions = record.data["sessions"].as_i64().unwrap();
        assert!((100..=10_000).contains(&sessions), "{record:?}");
    }
    assert_eq!(
        cursor,
        Some(json!({"start": "2026-03-12", "offset": 0, "dimensions": []}))
    );

    let (again, _) = sync(&ctx, &connection, None, 7).await;
    assert_eq!(pages, again, "the same sync gives the same pages");
    let (one_page, _) = sync(&ctx, &connection, None, 100).await;
    assert_eq!(
        records(&one_page),
        records(&pages),
        "page size does not change the data"
    );

    // The next sync re-reads the revisable days, with the same values.
    let (next, _) = sync(&ctx, &connection, cursor, 7).await;
    let reread = records(&next);
    assert_eq!(reread.len(), 4);
    assert_eq!(reread[..], records(&pages)[27..]);
}

#[tokio::test]
async fn breakdowns_sync_every_combination_once_and_add_up() {
    let sandbox = Sandbox::start().await;
    let ctx = sandbox.context();
    let by_country = conn(
        "555",
        GOOD,
        json!({"dimensions": "country", "lookback_days": 6}),
    );
    let (pages, _) = sync(&ctx, &by_country, None, 5).await;
    let rows = records(&pages);
    let ids: BTreeSet<&str> = rows.iter().map(|r| r.external_id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "no combination twice");
    assert_eq!(rows.len(), 7 * 8, "7 days × 8 countries");

    let mut sessions_by_day: BTreeMap<String, i64> = BTreeMap::new();
    for row in &rows {
        *sessions_by_day
            .entry(row.data["date"].as_str().unwrap().to_owned())
            .or_default() += row.data["sessions"].as_i64().unwrap();
    }
    let (totals, _) = sync(
        &ctx,
        &conn("555", GOOD, json!({"lookback_days": 6})),
        None,
        100,
    )
    .await;
    for row in records(&totals) {
        assert_eq!(
            sessions_by_day[row.data["date"].as_str().unwrap()],
            row.data["sessions"].as_i64().unwrap(),
            "{row:?}"
        );
    }
    let point = pages[0]
        .kpis
        .iter()
        .find(|p| p.metric == "total_revenue")
        .unwrap();
    assert!(point.dimensions.contains_key("country"));
}

#[tokio::test]
async fn auth_failures_are_classified() {
    let sandbox = Sandbox::start().await;
    let ctx = sandbox.context();
    let check = |token: &'static str, property: &'static str| {
        let ctx = ctx.clone();
        async move {
            GoogleAnalytics
                .check(&ctx, &conn(property, token, json!({})))
                .await
                .unwrap_err()
        }
    };
    let refreshable = |err: &AdapterError| match err {
        AdapterError::Unauthorized { refreshable, .. } => *refreshable,
        other => panic!("{other:?}"),
    };
    assert!(refreshable(&check(EXPIRED, "1").await));
    assert!(refreshable(&check("ya29.never-issued", "1").await));
    assert!(!refreshable(&check(NO_SCOPE, "1").await));
    let forbidden = check(GOOD, "403").await;
    assert!(!refreshable(&forbidden));
    assert!(
        forbidden.to_string().contains("GA4 property 403"),
        "{forbidden}"
    );

    let err = read(
        &ctx,
        &conn("1", GOOD, json!({"dimensions": "city"})),
        None,
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Invalid { field: Some(f), .. } if f == "dimensions"),
        "{err:?}"
    );
}

#[tokio::test]
async fn injected_faults_are_classified() {
    let sandbox = Sandbox::start().await;
    let ctx = sandbox.context();
    let connection = conn("1", GOOD, json!({}));
    let fault_error = async |fault: Fault| {
        sandbox.arm(fault);
        read(&ctx, &connection, None, None).await.unwrap_err()
    };

    assert_eq!(
        fault_error(Fault::RateLimited {
            retry_after_secs: 5
        })
        .await,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(5))
        }
    );
    assert_eq!(
        fault_error(Fault::QuotaExhausted).await,
        AdapterError::QuotaExhausted {
            resets_at: Some("2026-03-15T13:00:00Z".parse().unwrap())
        }
    );
    assert!(matches!(
        fault_error(Fault::ServerError).await,
        AdapterError::Unavailable { .. }
    ));
    assert!(matches!(
        fault_error(Fault::ExpiredToken).await,
        AdapterError::Unauthorized {
            refreshable: true,
            ..
        }
    ));
    assert!(matches!(
        fault_error(Fault::MalformedBody).await,
        AdapterError::Unavailable { .. }
    ));

    // A fault is one-shot: the next read works.
    read(&ctx, &connection, None, None).await.unwrap();
}

#[tokio::test]
async fn other_paths_are_not_found_in_googles_shape() {
    let sandbox = Sandbox::start().await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}/google-analytics/v1beta/properties/1:runPivotReport",
            sandbox.server.uri()
        ))
        .bearer_auth(GOOD)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "NOT_FOUND");
}

//! The description checks against a small fake of a made-up provider: its right
//! description passes every check, and each deliberately wrong description fails the
//! check about the part that is wrong.

use std::{sync::Arc, time::Duration};

use junction_core::{
    Connection, IntegrationId, WorkspaceId,
    fake::{FakeContext, FakeRequest, FakeResponse, Fault, ProviderFake, TokenStatus},
    spec::{
        AuthSpec, Category, ConfigField, ProviderSpec, RateBudget, StreamSpec, WebhookScheme,
        WebhookSecret, WebhookSpec,
    },
};
use junction_toolkit::{
    AuthMode, BaseUrl, CursorAt, Envelope, ErrorRule, ErrorTable, HttpApi, More, OnStall, PageSize,
    Paging, RateLimitSignals, Resets, Style, When,
};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::{
    Description, Failure, FakeList, FakeServer, Report, TokenTable, errors,
    vectors::{self, SignatureVector},
};

/// The key the fake accepts.
const KEY: &str = "sk_good_example";

/// The access token the fake's table holds as valid.
const TOKEN: &str = "tok_good_example";

/// Items of the fake's list.
const ITEMS: usize = 7;

/// A made-up provider's API, the way its fake answers: Graph-style error objects
/// (`{"error": {"code", "message", "subcode", "is_transient"}}`, throttling under
/// HTTP 400), a key in `X-Example-Key` or an OAuth bearer token, and
/// `starting_after` / `limit` / `has_more` paging of `GET /v1/items`.
struct ExampleFake;

fn error(status: u16, code: i64, message: &str) -> FakeResponse {
    FakeResponse::json(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

impl ProviderFake for ExampleFake {
    fn provider_id(&self) -> &'static str {
        "example"
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        if ctx.fault == Some(Fault::ServerError) {
            return FakeResponse::json(
                500,
                &json!({"error": {"code": 2, "message": "Please retry later", "is_transient": true}}),
            );
        }
        let key = request.header("x-example-key") == Some(KEY);
        let token = request.bearer().is_some_and(|token| {
            matches!(
                ctx.tokens.check("example", token),
                TokenStatus::Valid { .. }
            )
        });
        if !(key || token) || ctx.fault == Some(Fault::ExpiredToken) {
            return error(
                401,
                190,
                "Error validating access token: the session has expired",
            );
        }
        match ctx.fault {
            Some(Fault::RateLimited { retry_after_secs }) => {
                return error(400, 17, "User request limit reached")
                    .with_header("retry-after", &retry_after_secs.to_string());
            }
            Some(Fault::QuotaExhausted) => {
                return error(400, 4, "Application request limit reached");
            }
            _ => {}
        }
        if request.path != "/v1/items" {
            return error(404, 803, "Unknown path");
        }
        let limit = request
            .query_param("limit")
            .and_then(|limit| limit.parse::<usize>().ok())
            .unwrap_or(10);
        let start = match request.query_param("starting_after") {
            None => 0,
            Some(after) => match after
                .strip_prefix("it_")
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(n) => n + 1,
                None => return error(400, 100, "Invalid parameter starting_after"),
            },
        };
        let end = (start + limit).min(ITEMS);
        let data: Vec<Value> = (start.min(end)..end)
            .map(|i| json!({"id": format!("it_{i}"), "object": "item"}))
            .collect();
        FakeResponse::json(200, &json!({"data": data, "has_more": end < ITEMS}))
    }
}

/// The provider entry: a key entry with an `account` setting and Stripe-signed
/// webhooks (`scheme` replaced in the webhook tests).
fn spec(scheme: Option<WebhookScheme>) -> ProviderSpec {
    ProviderSpec {
        id: "example",
        name: "Example",
        category: Category::Analytics,
        auth: AuthSpec::ApiKey {
            fields: vec![ConfigField::secret("api_key", "API key", "")],
        },
        config: vec![ConfigField::string("account", "Account", "")],
        streams: vec![StreamSpec {
            name: "items",
            description: "Items",
            primary_key: vec!["id"],
            cursor_field: None,
            webhook_only: false,
            default_schedule: Duration::from_secs(3600),
            metrics: vec![],
        }],
        actions: vec![],
        webhook: scheme.map(|scheme| WebhookSpec {
            scheme,
            events: vec![],
            secret: WebhookSecret::Field("webhook_secret"),
            verify_token_field: None,
        }),
        rate_limit: RateBudget {
            requests: 100,
            per: Duration::from_secs(1),
            concurrency: None,
        },
        docs_url: "https://example.test/docs",
    }
}

const STRIPE_SCHEME: WebhookScheme = WebhookScheme::Stripe {
    tolerance_secs: 300,
};

fn connection() -> Connection {
    Connection {
        workspace_id: WorkspaceId::new(),
        integration_id: IntegrationId::new(),
        config: json!({"account": "acc_1"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        secrets: [("api_key".to_owned(), SecretString::from(KEY))]
            .into_iter()
            .collect(),
        access_token: None,
        token_expires_at: None,
    }
}

const ENVELOPE: Envelope = Envelope {
    code: &["/error/code"],
    message: &["/error/message"],
    ..Envelope::GENERIC
};

const RULES: &[ErrorRule] = &[
    ErrorRule::code("17").rate_limited(),
    ErrorRule::code("4").quota_exhausted(Resets::NextHour),
    ErrorRule::code("190")
        .unauthorized(false)
        .message("reconnect {account}: {message}")
        .fallback("the token was refused"),
    ErrorRule::code("100")
        .when(When::Equals("/error/subcode", "33"))
        .invalid_field("account"),
    ErrorRule::code("100")
        .when(When::Contains("/error/message", "starting_after"))
        .invalid_field("starting_after"),
    ErrorRule::code("100").invalid(),
    ErrorRule::codes(&["1", "2"]).unavailable(),
    ErrorRule::code_range(80_000, 80_014).rate_limited(),
    ErrorRule::any()
        .when(When::Equals("/error/is_transient", "true"))
        .unavailable(),
    ErrorRule::code("368").on_status(400).keep(),
];

/// The right description of the example API.
const API: HttpApi = HttpApi {
    base: BaseUrl::fixed("https://api.example.test").with_prefix("v1"),
    auth: &[
        AuthMode::OAUTH_BEARER,
        AuthMode::api_key_header("api_key", "X-Example-Key", "{key}"),
    ],
    headers: &[("accept", "application/json")],
    verification: None,
    errors: ErrorTable {
        envelope: ENVELOPE,
        rules: RULES,
        in_success_body: None,
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// The right paging of `GET /v1/items`.
const PAGING: Paging = Paging {
    style: Style::Cursor {
        param: "starting_after",
        at: CursorAt::LastItem("id"),
        more: More::Flag("/has_more"),
    },
    items: "/data",
    size_param: "limit",
    size: PageSize {
        default: 10,
        max: 100,
    },
    on_stall: OnStall::Fail,
};

/// Every other style, walked over the synthetic list only.
const STYLES: [Paging; 8] = [
    Paging {
        style: Style::Cursor {
            param: "after",
            at: CursorAt::Body("/paging/cursors/after"),
            more: More::Present("/paging/next"),
        },
        on_stall: OnStall::End,
        ..PAGING
    },
    Paging {
        style: Style::Cursor {
            param: "cursor",
            at: CursorAt::Header("x-next-cursor"),
            more: More::HasCursor,
        },
        items: "",
        ..PAGING
    },
    Paging {
        style: Style::Offset {
            param: "offset",
            total: Some("/rowCount"),
        },
        items: "/rows",
        ..PAGING
    },
    Paging {
        style: Style::Offset {
            param: "offset",
            total: None,
        },
        ..PAGING
    },
    Paging {
        style: Style::PageNumber {
            param: "page",
            first: 1,
            total_pages: Some("/meta/total_pages"),
        },
        size_param: "per_page",
        ..PAGING
    },
    Paging {
        style: Style::PageNumber {
            param: "page",
            first: 0,
            total_pages: None,
        },
        size: PageSize { default: 1, max: 1 },
        ..PAGING
    },
    Paging {
        style: Style::Link,
        items: "",
        size_param: "per_page",
        ..PAGING
    },
    Paging {
        style: Style::GraphQl {
            page_info: "/data/items/pageInfo",
            variable: "after",
        },
        items: "/data/items/nodes",
        size_param: "first",
        ..PAGING
    },
];

fn items() -> FakeList {
    FakeList::get("items").size(3)
}

async fn server() -> FakeServer {
    FakeServer::start(
        Arc::new(ExampleFake),
        TokenTable::default()
            .with(TOKEN, TokenStatus::Valid { scopes: vec![] })
            .with("tok_expired", TokenStatus::Expired),
    )
    .await
}

/// Runs the checks of `description` for the example entry.
async fn check(description: Description, scheme: Option<WebhookScheme>) -> Result<Report, Failure> {
    let server = server().await;
    description
        .check(&spec(scheme), &connection(), &server, None)
        .await
}

/// The right description, with `api` in place of the right API.
fn described(api: &HttpApi) -> Description {
    Description::new(api)
        .paging_on(&PAGING, items())
        .webhook_vector(vectors::STRIPE)
}

/// Asserts `result` failed a check whose name contains `check` with a detail that
/// contains `detail`.
fn assert_fails(result: Result<Report, Failure>, check: &str, detail: &str) -> Failure {
    match result {
        Ok(report) => panic!("the wrong description passed: {report}"),
        Err(failure) => {
            assert!(
                failure.check.contains(check) && failure.detail.contains(detail),
                "expected a failure of `{check}` saying `{detail}`, got: {failure}"
            );
            failure
        }
    }
}

#[tokio::test]
async fn the_right_description_passes_every_check() {
    let description = STYLES.iter().fold(described(&API), |description, paging| {
        description.paging(paging)
    });
    let report = check(description, Some(STRIPE_SCHEME)).await.unwrap();
    assert_eq!(
        report,
        Report {
            error_rules: RULES.len(),
            // One per code (two for 1|2 and for the range), a fallback variant for
            // 190, and no bare statuses.
            error_cases: 13,
            fake_refusals: 4,
            paging_styles: 9,
            fake_lists: 1,
            auth_modes: 2,
            auth_modes_accepted: 2,
            webhook_vectors: 1,
        }
    );
}

#[tokio::test]
async fn graphql_errors_in_ok_bodies_and_bare_statuses_classify_as_documented() {
    const GRAPHQL: HttpApi = HttpApi {
        errors: ErrorTable {
            envelope: Envelope {
                code: &["/errors/0/extensions/code"],
                message: &["/errors/0/message"],
                code_for_status: &[(401, "UNAUTHENTICATED"), (429, "THROTTLED")],
                ..Envelope::GENERIC
            },
            rules: &[
                ErrorRule::code("THROTTLED").rate_limited(),
                ErrorRule::code("UNAUTHENTICATED").unauthorized(true),
                ErrorRule::code("BAD_USER_INPUT").class(junction_toolkit::Class::Invalid(Some(
                    junction_toolkit::FieldName::At("/errors/0/extensions/field"),
                ))),
                ErrorRule::code("FORBIDDEN").on_status(403).keep(),
            ],
            in_success_body: Some("/errors"),
        },
        ..API
    };
    let spec = spec(None);
    let cases = errors::rules(&GRAPHQL, &spec, &connection()).await.unwrap();
    // Three rules at a status and in a 200 body, one at its status only, two bare
    // statuses.
    assert_eq!(cases, 3 * 2 + 1 + 2);
}

// The error table.

#[tokio::test]
async fn an_envelope_whose_code_path_points_elsewhere_fails() {
    // Self-consistent (each rule's sample puts its code at `/error/type`), but the
    // provider's refusals carry their code at `/error/code`: its throttling is not
    // recognised.
    const WRONG: HttpApi = HttpApi {
        errors: ErrorTable {
            envelope: Envelope {
                code: &["/error/type"],
                ..ENVELOPE
            },
            ..API.errors
        },
        ..API
    };
    let failure = assert_fails(
        check(described(&WRONG), Some(STRIPE_SCHEME)).await,
        "errors: the fake's RateLimited",
        "classifies as Provider",
    );
    assert!(failure.detail.contains("\"code\":17"), "{failure}");
}

#[tokio::test]
async fn a_rule_shadowed_by_an_earlier_one_fails() {
    const SHADOWED: &[ErrorRule] = &[
        ErrorRule::code("100").invalid(),
        ErrorRule::code("100")
            .when(When::Equals("/error/subcode", "33"))
            .invalid_field("account"),
    ];
    const WRONG: HttpApi = HttpApi {
        errors: ErrorTable {
            rules: SHADOWED,
            ..API.errors
        },
        ..API
    };
    assert_fails(
        check(described(&WRONG), Some(STRIPE_SCHEME)).await,
        "errors: rule 1 (code 100, /error/subcode = 33 → Invalid naming `account`)",
        "rule 0 (code 100 → Invalid) takes it first",
    );
}

#[tokio::test]
async fn a_rule_that_contradicts_itself_is_unreachable() {
    const CONTRADICTION: &[ErrorRule] = &[ErrorRule::code("17")
        .when(When::Equals("/error/code", "4"))
        .rate_limited()];
    const WRONG: HttpApi = HttpApi {
        errors: ErrorTable {
            rules: CONTRADICTION,
            ..API.errors
        },
        ..API
    };
    assert_fails(
        errors::rules(&WRONG, &spec(None), &connection())
            .await
            .map(|_| Report::default()),
        "errors: rule 0",
        "unreachable",
    );
}

#[tokio::test]
async fn a_rule_documenting_the_wrong_class_fails_on_the_fakes_refusal() {
    const WRONG_CLASS: &[ErrorRule] = &[ErrorRule::code("17").unavailable()];
    const WRONG: HttpApi = HttpApi {
        errors: ErrorTable {
            rules: WRONG_CLASS,
            ..API.errors
        },
        ..API
    };
    assert_fails(
        check(described(&WRONG), Some(STRIPE_SCHEME)).await,
        "errors: the fake's RateLimited refusal",
        "classifies as Unavailable",
    );
}

#[tokio::test]
async fn a_table_documenting_a_quota_must_recognise_the_fakes_quota_refusal() {
    // The quota is documented under a code the provider does not send: its quota
    // refusal (code 4) is taken as a rate limit, and the sync would retry in vain
    // until the reset.
    const MISPLACED: &[ErrorRule] = &[
        ErrorRule::codes(&["17", "4"]).rate_limited(),
        ErrorRule::code("44").quota_exhausted(Resets::NextHour),
        ErrorRule::code("190").unauthorized(false),
        ErrorRule::code("2").unavailable(),
    ];
    const WRONG: HttpApi = HttpApi {
        errors: ErrorTable {
            rules: MISPLACED,
            ..API.errors
        },
        ..API
    };
    assert_fails(
        check(described(&WRONG), Some(STRIPE_SCHEME)).await,
        "errors: the fake's QuotaExhausted refusal",
        "must be QuotaExhausted",
    );
}

#[tokio::test]
async fn an_envelope_whose_message_path_points_elsewhere_fails() {
    const WRONG: HttpApi = HttpApi {
        errors: ErrorTable {
            envelope: Envelope {
                message: &["/error/error_user_msg"],
                ..ENVELOPE
            },
            ..API.errors
        },
        ..API
    };
    assert_fails(
        check(described(&WRONG), Some(STRIPE_SCHEME)).await,
        "errors: the fake's",
        "message paths [\"/error/error_user_msg\"] find nothing",
    );
}

#[tokio::test]
async fn a_message_naming_an_unknown_setting_fails() {
    const UNKNOWN: &[ErrorRule] = &[ErrorRule::code("190")
        .unauthorized(false)
        .message("reconnect {acount}: {message}")];
    const WRONG: HttpApi = HttpApi {
        errors: ErrorTable {
            rules: UNKNOWN,
            ..API.errors
        },
        ..API
    };
    assert_fails(
        check(described(&WRONG), Some(STRIPE_SCHEME)).await,
        "errors: rule 0",
        "names {acount}",
    );
}

// Paging.

#[tokio::test]
async fn a_wrong_items_path_fails_on_the_fakes_list() {
    const WRONG: Paging = Paging {
        items: "/items",
        ..PAGING
    };
    assert_fails(
        check(
            Description::new(&API)
                .paging_on(&WRONG, items())
                .webhook_vector(vectors::STRIPE),
            Some(STRIPE_SCHEME),
        )
        .await,
        "paging",
        "0 items at `/items`",
    );
}

#[tokio::test]
async fn a_wrong_size_parameter_fails_on_the_fakes_list() {
    const WRONG: Paging = Paging {
        size_param: "count",
        ..PAGING
    };
    assert_fails(
        check(
            Description::new(&API)
                .paging_on(&WRONG, items())
                .webhook_vector(vectors::STRIPE),
            Some(STRIPE_SCHEME),
        )
        .await,
        "on the fake's `items`",
        "more than the 3 asked",
    );
}

#[tokio::test]
async fn a_wrong_cursor_parameter_fails_on_the_fakes_list() {
    // The fake ignores `after`: the second page is the first again.
    const WRONG: Paging = Paging {
        style: Style::Cursor {
            param: "after",
            at: CursorAt::LastItem("id"),
            more: More::Flag("/has_more"),
        },
        ..PAGING
    };
    assert_fails(
        check(
            Description::new(&API)
                .paging_on(&WRONG, items())
                .webhook_vector(vectors::STRIPE),
            Some(STRIPE_SCHEME),
        )
        .await,
        "on the fake's `items`",
        "no new cursor",
    );
}

#[tokio::test]
async fn a_style_that_cannot_describe_a_page_fails_on_the_synthetic_list() {
    // The body is the list itself, yet the flag is said to sit in it.
    const WRONG: Paging = Paging {
        items: "",
        ..PAGING
    };
    assert_fails(
        check(described(&API).paging(&WRONG), Some(STRIPE_SCHEME)).await,
        "paging (cursor `starting_after`",
        "cannot be served",
    );
    // The cursor and the page size under one name.
    const CLASH: Paging = Paging {
        size_param: "starting_after",
        ..PAGING
    };
    assert_fails(
        check(described(&API).paging(&CLASH), Some(STRIPE_SCHEME)).await,
        "paging (cursor `starting_after`",
        "is no item of the list",
    );
}

// Auth.

#[tokio::test]
async fn a_mode_sending_the_key_in_another_header_fails() {
    const WRONG: HttpApi = HttpApi {
        auth: &[
            AuthMode::OAUTH_BEARER,
            AuthMode::api_key_header("api_key", "X-Api-Key", "{key}"),
        ],
        ..API
    };
    // The request carries what the mode describes, but the fake wants the key in
    // `X-Example-Key`.
    assert_fails(
        check(described(&WRONG), Some(STRIPE_SCHEME)).await,
        "auth: mode 1 (API key `api_key` in header `X-Api-Key: {key}`)",
        "the fake refuses",
    );
}

#[tokio::test]
async fn a_mode_that_is_never_selected_fails() {
    const WRONG: HttpApi = HttpApi {
        auth: &[
            AuthMode::api_key_header("api_key", "X-Example-Key", "{key}"),
            AuthMode::api_key_query("api_key", "key"),
        ],
        ..API
    };
    let server = server().await;
    let failure = auth_only(&WRONG, &server).await.unwrap_err();
    assert!(
        failure.check.contains("auth: mode 1") && failure.detail.contains("never used"),
        "{failure}"
    );
}

/// The auth checks alone, probing the fake's list.
async fn auth_only(api: &HttpApi, server: &FakeServer) -> Result<(usize, usize), Failure> {
    let list = items();
    crate::auth::modes(
        api,
        &spec(None),
        &connection(),
        server,
        Some((&PAGING, &list)),
    )
    .await
}

#[tokio::test]
async fn every_mode_is_sent_as_described_and_accepted() {
    let server = server().await;
    assert_eq!(auth_only(&API, &server).await.unwrap(), (2, 2));
}

// Webhooks.

#[tokio::test]
async fn the_vectors_fail_under_another_scheme_or_tolerance_or_when_missing() {
    assert_fails(
        check(
            described(&API),
            Some(WebhookScheme::Svix {
                tolerance_secs: 300,
            }),
        )
        .await,
        "webhooks: the vector `stripe_computed`",
        "does not verify",
    );
    assert_fails(
        check(
            described(&API),
            Some(WebhookScheme::Stripe { tolerance_secs: 30 }),
        )
        .await,
        "webhooks",
        "within the provider's documented 300s",
    );
    assert_fails(
        check(
            Description::new(&API).paging_on(&PAGING, items()),
            Some(STRIPE_SCHEME),
        )
        .await,
        "webhooks",
        "give the description",
    );
    let svix_for_meta: SignatureVector = vectors::SVIX;
    assert_fails(
        check(
            Description::new(&API)
                .paging_on(&PAGING, items())
                .webhook_vector(svix_for_meta),
            Some(WebhookScheme::MetaHubSignature256),
        )
        .await,
        "webhooks",
        "does not verify",
    );
}

#[tokio::test]
async fn every_official_vector_verifies_under_its_scheme() {
    for (vector, scheme) in [
        (vectors::STRIPE, STRIPE_SCHEME),
        (
            vectors::SVIX,
            WebhookScheme::Svix {
                tolerance_secs: 300,
            },
        ),
        (vectors::META, WebhookScheme::MetaHubSignature256),
        (
            vectors::HUBSPOT_V3,
            WebhookScheme::HubSpotV3 {
                tolerance_secs: 300,
            },
        ),
    ] {
        let result = crate::webhooks::vectors(&spec(Some(scheme)), None, &[vector]);
        assert_eq!(result, Ok(1), "{vector:?}");
    }
}

// The description itself.

#[tokio::test]
async fn an_invalid_description_fails_before_anything_is_sent() {
    const WRONG: HttpApi = HttpApi {
        auth: &[AuthMode::api_key_header(
            "api_key",
            "X-Example-Key",
            "Bearer",
        )],
        ..API
    };
    assert_fails(
        check(described(&WRONG), Some(STRIPE_SCHEME)).await,
        "HttpApi::validate",
        "lacks {key}",
    );
}

/// An adapter that calls no provider: `check` accepts the fake's key, and its one
/// stream reads one page holding `points`.
struct PointsAdapter {
    spec: ProviderSpec,
    points: Vec<junction_core::KpiPoint>,
}

#[async_trait::async_trait]
impl junction_core::Adapter for PointsAdapter {
    fn spec(&self) -> &ProviderSpec {
        &self.spec
    }

    async fn check(
        &self,
        _ctx: &junction_core::Context,
        conn: &Connection,
    ) -> Result<junction_core::Health, junction_core::AdapterError> {
        use secrecy::ExposeSecret;
        match conn.secrets.get("api_key") {
            Some(key) if key.expose_secret() == KEY => Ok(junction_core::Health {
                account: None,
                details: Value::Null,
            }),
            _ => Err(junction_core::AdapterError::Unauthorized {
                refreshable: false,
                message: "bad key".into(),
            }),
        }
    }

    async fn proxy_target(
        &self,
        ctx: &junction_core::Context,
        conn: &Connection,
    ) -> Result<junction_core::ProxyTarget, junction_core::AdapterError> {
        Ok(junction_core::ProxyTarget::bearer(
            ctx.url("https://example.test", "")?,
            conn.secret("api_key")?,
        ))
    }

    async fn read(
        &self,
        _ctx: &junction_core::Context,
        _conn: &Connection,
        _request: &junction_core::ReadRequest,
    ) -> Result<junction_core::Page, junction_core::AdapterError> {
        Ok(junction_core::Page {
            records: Vec::new(),
            kpis: self.points.clone(),
            next_cursor: None,
            has_more: false,
        })
    }
}

/// Runs the suite on an adapter whose `items` stream declares `revenue` (money)
/// and reads `points`.
async fn read_points(points: Vec<junction_core::KpiPoint>) {
    use junction_core::spec::{MetricSpec, Unit};
    let mut spec = spec(None);
    spec.streams[0].metrics = vec![MetricSpec::sum("revenue", Unit::Money, "Sales.")];
    let adapter = Arc::new(PointsAdapter { spec, points });
    let mut rejected = connection();
    rejected.secrets = [("api_key".to_owned(), SecretString::from("sk_wrong"))]
        .into_iter()
        .collect();
    let suite = crate::Suite::new(adapter, connection(), rejected, false);
    // Reading passes or panics before the fault checks, which this adapter (it
    // calls nothing) cannot pass: they end the run here.
    let server = server().await;
    let ran = tokio::spawn(async move { suite.run(&server).await }).await;
    if let Err(panic) = ran {
        let message = panic
            .into_panic()
            .downcast::<String>()
            .map(|m| *m)
            .unwrap_or_default();
        if !message.contains("fault") {
            panic!("{message}");
        }
    }
}

fn day() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()
}

#[tokio::test]
async fn kpi_points_of_declared_metrics_with_their_currency_pass() {
    read_points(vec![
        junction_core::KpiPoint::total("revenue", day(), 12.5).with_dimension("currency", "EUR"),
    ])
    .await;
}

#[tokio::test]
#[should_panic(
    expected = "KPI points must name a declared metric, money ones their currency: \
                           money KPI point `revenue`"
)]
async fn a_money_point_without_its_currency_fails_the_suite() {
    read_points(vec![junction_core::KpiPoint::total("revenue", day(), 12.5)]).await;
}

#[tokio::test]
#[should_panic(expected = "KPI point `refunds` names no metric example declares")]
async fn a_point_of_an_undeclared_metric_fails_the_suite() {
    read_points(vec![junction_core::KpiPoint::total("refunds", day(), 1.0)]).await;
}

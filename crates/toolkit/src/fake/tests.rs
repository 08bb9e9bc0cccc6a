//! The scaffolding against the toolkit's own walker and classification: every
//! paging style walked to its end and resumed from each token, every refusal and
//! fault through the service's one order.

use chrono::{TimeZone, Utc};
use http::{HeaderMap, HeaderName, HeaderValue};
use junction_core::{
    fake::{FakeContext, FakeRequest, FakeResponse, Fault, TokenAuthority, TokenStatus},
    http::ResponsePolicy,
};
use serde_json::{Value, json};

use super::*;
use crate::{
    AuthMode, CursorAt, ErrorRule, ErrorTable, More, OnStall, PageSize, PageToken, Paging,
    RateLimitSignals, Resets, Style,
};

fn paging(style: Style, items: &'static str) -> Paging {
    Paging {
        style,
        items,
        size_param: "limit",
        size: PageSize { default: 3, max: 3 },
        on_stall: OnStall::Fail,
    }
}

/// Every style, with the pager options that style calls for.
fn pagers() -> Vec<Pager> {
    let cursor = |at, more| {
        paging(
            Style::Cursor {
                param: "after",
                at,
                more,
            },
            "/data",
        )
    };
    vec![
        Pager::new(cursor(
            CursorAt::Body("/paging/cursors/after"),
            More::Present("/paging/next"),
        )),
        Pager::new(cursor(
            CursorAt::Body("/pagination/end_cursor"),
            More::Flag("/pagination/has_next_page"),
        ))
        .cursor(Cursor::Key("id")),
        Pager::new(cursor(CursorAt::Body("/next"), More::HasCursor)),
        Pager::new(cursor(CursorAt::Header("x-next-cursor"), More::HasCursor)),
        Pager::new(cursor(CursorAt::LastItem("id"), More::Flag("/has_more"))).backward("before"),
        Pager::new(paging(
            Style::Offset {
                param: "offset",
                total: Some("/total_items"),
            },
            "/members",
        )),
        Pager::new(paging(
            Style::Offset {
                param: "offset",
                total: None,
            },
            "",
        )),
        Pager::new(paging(
            Style::PageNumber {
                param: "page",
                first: 1,
                total_pages: Some("/meta/pages"),
            },
            "/data",
        )),
        Pager::new(paging(
            Style::PageNumber {
                param: "page",
                first: 0,
                total_pages: None,
            },
            "/data",
        )),
        Pager::new(paging(Style::Link, "/data")),
        Pager::new(paging(
            Style::GraphQl {
                page_info: "/data/posts/pageInfo",
                variable: "after",
            },
            "/data/posts/edges",
        )),
    ]
}

fn items(total: usize) -> Vec<Value> {
    (0..total)
        .map(|i| json!({"id": format!("it_{i:02}")}))
        .collect()
}

/// The request the adapter makes for the page at `token`.
fn request_for(pager: &Pager, token: &PageToken, size: u32) -> FakeRequest {
    let (path, query, body) = match (&pager.paging.style, token) {
        (Style::GraphQl { .. }, _) => (
            "/graphql".to_owned(),
            String::new(),
            json!({"query": "…", "variables": pager.paging.variables(token, size)}).to_string(),
        ),
        (_, PageToken::Url(url)) => {
            let (path, query) = url.split_once('?').unwrap_or((url, ""));
            (path.to_owned(), query.to_owned(), String::new())
        }
        _ => {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pager.paging.query(token, size))
                .finish();
            ("/v1/items".to_owned(), query, String::new())
        }
    };
    FakeRequest {
        method: http::Method::GET,
        path,
        query,
        headers: HeaderMap::new(),
        body: body.into_bytes(),
    }
}

/// Walks `total` items from `start` with the toolkit's walker over the pager's pages:
/// the ids read and every token on the way.
fn walk(pager: &Pager, total: usize, start: PageToken) -> (Vec<String>, Vec<PageToken>) {
    let (size, mut token) = (3, start);
    let (mut read, mut tokens) = (Vec::new(), vec![token.clone()]);
    for _ in 0..50 {
        let page = pager
            .page(&request_for(pager, &token, size), items(total))
            .unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in &page.headers {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let list = if pager.paging.items.is_empty() {
            Some(&page.body)
        } else {
            page.body.pointer(pager.paging.items)
        };
        read.extend(
            list.and_then(Value::as_array)
                .unwrap()
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_owned()),
        );
        match pager
            .paging
            .next(&token, size, &headers, &page.body)
            .unwrap()
        {
            Some(next) => {
                tokens.push(next.clone());
                token = next;
            }
            None => return (read, tokens),
        }
    }
    panic!("the walk did not end: {pager:?}")
}

fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("it_{i:02}")).collect()
}

#[test]
fn every_style_walks_to_the_end_and_resumes_from_any_token() {
    for pager in pagers() {
        for total in [0, 1, 3, 7, 9] {
            let (read, tokens) = walk(&pager, total, PageToken::First);
            assert_eq!(read, ids(0..total), "{pager:?} of {total}");
            for (i, token) in tokens.iter().enumerate().skip(1) {
                let (rest, _) = walk(&pager, total, token.clone());
                assert_eq!(
                    rest,
                    ids((3 * i).min(total)..total),
                    "{pager:?} from {token:?}"
                );
            }
        }
    }
}

fn get(query: &str) -> FakeRequest {
    FakeRequest {
        method: http::Method::GET,
        path: "/v1/items".into(),
        query: query.into(),
        headers: HeaderMap::new(),
        body: Vec::new(),
    }
}

#[test]
fn id_cursors_page_backward_and_from_anchors_that_are_not_kept() {
    let pager = pagers()[4];
    let page = pager.page(&get("before=it_05&limit=2"), items(9)).unwrap();
    assert_eq!(page.body["data"], json!([{"id": "it_03"}, {"id": "it_04"}]));
    assert_eq!(page.body["has_more"], true);
    let first = pager.page(&get("before=it_01"), items(9)).unwrap();
    assert_eq!(
        (first.count, first.body["has_more"].clone()),
        (1, json!(false))
    );
    // Kept: even ids only; `it_03` is not kept but still anchors.
    let even = |item: &Value| {
        item["id"]
            .as_str()
            .unwrap()
            .ends_with(['0', '2', '4', '6', '8'])
    };
    let page = pager
        .page_where(&get("after=it_03"), items(9), even)
        .unwrap();
    assert_eq!(
        page.body["data"],
        json!([{"id": "it_04"}, {"id": "it_06"}, {"id": "it_08"}])
    );
    assert_eq!(
        pager.page(&get("after=it_99"), items(9)),
        Err(PageError::Cursor {
            param: "after",
            value: "it_99".into()
        })
    );
    assert_eq!(
        pager.page(&get("after=it_01&before=it_05"), items(9)),
        Err(PageError::BothDirections)
    );
}

#[test]
fn sizes_are_refused_capped_or_read_leniently() {
    let strict = pagers()[4].size(10, 100);
    assert_eq!(strict.page(&get(""), items(50)).unwrap().count, 10);
    for (query, integer) in [("limit=101", true), ("limit=0", true), ("limit=ten", false)] {
        assert_eq!(
            strict.page(&get(query), items(50)),
            Err(PageError::Size {
                param: "limit",
                value: query[6..].into(),
                integer
            })
        );
    }
    let cap = strict.sizes(Sizes::Cap);
    assert_eq!(cap.page(&get("limit=500"), items(150)).unwrap().count, 100);
    assert!(cap.page(&get("limit=x"), items(5)).is_err());
    let lenient = strict.sizes(Sizes::Lenient);
    assert_eq!(lenient.page(&get("limit=x"), items(50)).unwrap().count, 10);
    assert_eq!(lenient.page(&get("limit=0"), items(50)).unwrap().count, 1);
    let all = strict.everything_by_default();
    assert_eq!(all.page(&get(""), items(150)).unwrap().count, 150);
    let offsets = pagers()[5];
    assert_eq!(
        offsets.page(&get("offset=x"), items(5)),
        Err(PageError::Position {
            param: "offset",
            value: "x".into()
        })
    );
    let body = Pager::new(paging(
        Style::Offset {
            param: "offset",
            total: Some("/rowCount"),
        },
        "/rows",
    ))
    .params(Params::Body);
    let mut report = get("");
    report.body = br#"{"offset": 2, "limit": 2}"#.to_vec();
    let page = body.page(&report, items(5)).unwrap();
    assert_eq!(
        (page.start, page.count, page.body["rowCount"].clone()),
        (2, 2, json!(5))
    );
}

#[test]
fn opaque_cursors_say_where_pages_start_and_end() {
    let meta = pagers()[0];
    let page = meta.page(&get("limit=2"), items(5)).unwrap();
    assert_eq!(
        (page.first.as_deref(), page.last.as_deref()),
        (Some("MA=="), Some("MQ=="))
    );
    assert_eq!(page.body["paging"]["next"], "?after=MQ==");
    assert!(!page.resumed);
    assert!(meta.page(&get("after=MQ=="), items(5)).unwrap().resumed);
    assert!(matches!(
        meta.page(&get("after=%%%"), items(5)),
        Err(PageError::Cursor { .. })
    ));
    let kit = pagers()[1];
    let page = kit.page(&get("limit=2"), items(5)).unwrap();
    // base64 of `["it_01"]`.
    assert_eq!(page.last.as_deref(), Some("WyJpdF8wMSJd"));
    let empty = meta.page(&get(""), Vec::new()).unwrap();
    assert_eq!(empty.body, json!({"data": []}));
}

// The service: one order for every fake.

const MODES: &[AuthMode] = &[
    AuthMode::api_key_header("api_key", "X-Api-Key", "{key}"),
    AuthMode::OAUTH_BEARER,
];

static WORDS: Data = Data::new(
    r#"{"errors": {
        "missing": [401, "Missing", "refused"],
        "unknown": [401, "Unknown", "refused {credential}"],
        "expired": [401, "Expired", "refused"],
        "insufficient": [403, "Insufficient", "refused"],
        "server_error": [500, null, "Internal server error"],
        "rate_limited": {"status": 429, "code": "slow_down", "message": "Too many requests",
            "headers": {"retry-after": "{secs}", "x-minutes": "{minutes}"}},
        "quota_exhausted": [429, "quota", "Quota used up"],
        "not_found": [404, "not_found", "No {method} {path}"],
        "wrong_method": [405, "method", "Not allowed: {allow}"]
    }}"#,
);

const ERRORS: ErrorShape =
    ErrorShape::new(Some("/error/code"), "/error/message").catalogue(&WORDS, "/errors");

fn list(count: &mut u32, call: &Call<'_>) -> FakeResponse {
    *count += 1;
    Pager::new(paging(
        Style::Offset {
            param: "offset",
            total: None,
        },
        "/data",
    ))
    .page(call.request, items(5))
    .map_or_else(|e| ERRORS.reply(400, None, &format!("{e:?}")), Page::reply)
}

fn write(count: &mut u32, call: &Call<'_>) -> FakeResponse {
    *count += 1;
    FakeResponse::json(
        201,
        &json!({"by": call.credential(), "id": call.param("id")}),
    )
}

fn download(_: &mut u32, _: &Call<'_>) -> FakeResponse {
    FakeResponse::text(200, "archive")
}

const TABLE: ErrorTable = ErrorTable {
    envelope: crate::Envelope {
        code: &["/error/code"],
        message: &["/error/message"],
        ..crate::Envelope::GENERIC
    },
    rules: &[
        ErrorRule::code("slow_down").rate_limited(),
        ErrorRule::code("quota").quota_exhausted(Resets::FromHeaders),
    ],
    in_success_body: None,
};

const SERVICE: Service<u32> = Service::new(
    "v1",
    &[
        Route::get("items", list),
        Route::post("items/{id}", write).needs(&["write"]),
        Route::get("/files/{name}", download).public(),
    ],
    Auth::new(MODES, "p")
        .keys(&[Key::full("k_full"), Key::with("k_read", &["read"])])
        .needs(&["read", "write"]),
    ERRORS,
);

fn service() -> Service<u32> {
    SERVICE
}

struct Tokens;

impl TokenAuthority for Tokens {
    fn check(&self, _: &str, token: &str) -> TokenStatus {
        match token {
            "scoped" => TokenStatus::Valid {
                scopes: vec!["read".into()],
            },
            "bare" => TokenStatus::Valid { scopes: vec![] },
            _ => TokenStatus::Unknown,
        }
    }
}

fn call(
    service: &Service<u32>,
    count: &mut u32,
    method: http::Method,
    path: &str,
    credential: Option<(&'static str, &str)>,
    fault: Option<Fault>,
) -> (u16, Value, FakeResponse) {
    let mut request = get("");
    request.method = method;
    request.path = path.into();
    if let Some((name, value)) = credential {
        request.headers.insert(name, value.parse().unwrap());
    }
    let ctx = FakeContext {
        tokens: &Tokens,
        fault,
        now: Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap(),
    };
    let response = service.serve(count, &request, &ctx);
    let body = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    (response.status, body, response)
}

const KEY: Option<(&str, &str)> = Some(("x-api-key", "k_full"));

#[test]
fn requests_are_routed_checked_and_answered_in_one_order() {
    let service = service();
    let mut count = 0;
    let get = http::Method::GET;
    let post = http::Method::POST;
    let (status, body, _) = call(&service, &mut count, get.clone(), "/v1/items", KEY, None);
    assert_eq!(
        (status, body["data"].as_array().map(Vec::len)),
        (200, Some(3))
    );
    let (status, body, _) = call(
        &service,
        &mut count,
        post.clone(),
        "/v1/items/i_7",
        KEY,
        None,
    );
    assert_eq!((status, body), (201, json!({"by": "k_full", "id": "i_7"})));
    for (credential, why) in [
        (None, "Missing"),
        (Some(("x-api-key", "k_other")), "Unknown"),
        (Some(("authorization", "Bearer nobody")), "Unknown"),
        (Some(("authorization", "Bearer bare")), "Insufficient"),
    ] {
        let (_, body, _) = call(
            &service,
            &mut count,
            get.clone(),
            "/v1/items",
            credential,
            None,
        );
        assert_eq!(body["error"]["code"], why, "{credential:?}");
    }
    // A read-only key or token reads, and may not write.
    let read = Some(("x-api-key", "k_read"));
    assert_eq!(
        call(&service, &mut count, get.clone(), "/v1/items", read, None).0,
        200
    );
    let scoped = Some(("authorization", "Bearer scoped"));
    assert_eq!(
        call(&service, &mut count, get.clone(), "/v1/items", scoped, None).0,
        200
    );
    let (status, body, _) = call(
        &service,
        &mut count,
        post.clone(),
        "/v1/items/i_1",
        read,
        None,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Insufficient"))
    );
    // Unknown paths are 404 in the provider's shape, known ones 405 with Allow; both
    // only once the caller is known.
    let (status, body, _) = call(&service, &mut count, get.clone(), "/v1/nothing", KEY, None);
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (404, Some("No GET /v1/nothing"))
    );
    let (status, _, response) = call(
        &service,
        &mut count,
        get.clone(),
        "/v1/items/i_1",
        KEY,
        None,
    );
    assert_eq!(status, 405);
    assert!(response.headers.contains(&("allow".into(), "POST".into())));
    assert_eq!(
        call(&service, &mut count, get.clone(), "/v1/nothing", None, None).0,
        401
    );
    let first = service.routes_first();
    assert_eq!(
        call(&first, &mut count, get.clone(), "/v1/nothing", None, None).0,
        404
    );
    // A public route answers anyone, whatever the fault.
    let (status, _, response) = call(
        &service,
        &mut count,
        get.clone(),
        "/files/a.tar.gz",
        None,
        Some(Fault::ServerError),
    );
    assert_eq!(
        (status, response.body.as_slice()),
        (200, b"archive".as_slice())
    );
    assert_eq!(count, 4);
}

#[test]
fn each_fault_is_answered_where_it_belongs() {
    let service = service();
    let mut count = 0;
    let get = http::Method::GET;
    let ask = |count: &mut u32, credential, fault| {
        call(
            &service,
            count,
            get.clone(),
            "/v1/items",
            credential,
            Some(fault),
        )
    };
    assert_eq!(ask(&mut count, None, Fault::ServerError).0, 500);
    // Expired: the credential check's verdict, for any credential presented.
    for credential in [KEY, Some(("x-api-key", "k_other"))] {
        let (status, body, _) = ask(&mut count, credential, Fault::ExpiredToken);
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("Expired"))
        );
    }
    // Limits once the caller is known.
    assert_eq!(ask(&mut count, None, Fault::QuotaExhausted).0, 401);
    let limited = Fault::RateLimited {
        retry_after_secs: 7,
    };
    let (status, body, response) = ask(&mut count, KEY, limited);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("slow_down"))
    );
    assert!(
        response
            .headers
            .contains(&("retry-after".into(), "7".into()))
    );
    let (status, body, _) = ask(&mut count, KEY, Fault::QuotaExhausted);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("quota"))
    );
    assert_eq!(count, 0, "no fault so far reached the handler");
    // A malformed body: the request took effect, its answer is cut off.
    let (status, body, response) = ask(&mut count, KEY, Fault::MalformedBody);
    assert_eq!((status, body), (200, Value::Null));
    assert!(!response.body.is_empty());
    assert_eq!(count, 1);
}

#[test]
fn fault_answers_are_checked_against_the_adapters_table() {
    let api = crate::HttpApi {
        base: crate::BaseUrl::fixed("https://api.example.test"),
        auth: MODES,
        headers: &[],
        verification: None,
        errors: TABLE,
        rate_limits: RateLimitSignals::STANDARD,
    };
    assert_eq!(
        faults::check(&ERRORS, &api, &ResponsePolicy::API_KEY),
        Ok(())
    );
    // A description that reads the fake's rate limit as something else is caught.
    const WRONG_RULES: &[ErrorRule] = &[ErrorRule::code("slow_down").invalid()];
    let wrong = crate::HttpApi {
        errors: ErrorTable {
            rules: WRONG_RULES,
            ..TABLE
        },
        ..api
    };
    let problems = faults::check(&ERRORS, &wrong, &ResponsePolicy::API_KEY).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("the fake's answer to a rate limit"));
    // Without catalogue entries, the defaults still read right.
    let bare = ErrorShape::new(Some("/error/code"), "/error/message");
    let generic = crate::HttpApi {
        errors: ErrorTable::GENERIC,
        ..api
    };
    assert_eq!(
        faults::check(&bare, &generic, &ResponsePolicy::API_KEY),
        Ok(())
    );
}

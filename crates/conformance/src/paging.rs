//! The paging checks: a description's paging walks a synthetic list served in its
//! style, and a list of the provider's fake, to the end, and resumes mid-way.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use http::Method;
use junction_core::{AdapterError, Connection, Context, spec::ProviderSpec};
use junction_toolkit::{Client, CursorAt, HttpApi, More, PageToken, Paging, Style};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::path_regex};

use crate::{
    FakeServer,
    common::{Failure, FakeList, client, cut, failure, put, scalar, shape},
};

/// Items in the synthetic list.
const TOTAL: usize = 7;

/// The page size the synthetic walk asks for (within the description's bounds).
const SIZE: u32 = 3;

/// The path of the synthetic list, below the API's prefix.
const LIST_PATH: &str = "conformance/list";

/// The query parameter of the synthetic server's `Link` URLs.
const LINK_START: &str = "conformance_start";

/// Most pages a walk reads before the check calls it endless.
const MAX_PAGES: usize = 200;

/// A paging described for failure messages.
pub(crate) fn describe(paging: &Paging) -> String {
    let style = match paging.style {
        Style::Cursor { param, at, more } => {
            let at = match at {
                CursorAt::Body(pointer) => format!("body {pointer}"),
                CursorAt::Header(name) => format!("header {name}"),
                CursorAt::LastItem(field) => format!("the last item's {field}"),
            };
            let more = match more {
                More::Flag(pointer) => format!("more when {pointer} is true"),
                More::Present(pointer) => format!("more while {pointer} is set"),
                More::HasCursor => "more while a cursor comes".into(),
            };
            format!("cursor `{param}` from {at}, {more}")
        }
        Style::Offset { param, total } => format!("offset `{param}`, total at {total:?}"),
        Style::PageNumber {
            param,
            first,
            total_pages,
        } => format!("page `{param}` from {first}, pages at {total_pages:?}"),
        Style::Link => "Link rel=next".into(),
        Style::GraphQl {
            page_info,
            variable,
        } => format!("GraphQL pageInfo at {page_info}, variable `{variable}`"),
    };
    format!(
        "paging ({style}; items at `{}`, size `{}`)",
        paging.items, paging.size_param
    )
}

/// One page of the synthetic list.
struct Page {
    headers: Vec<(String, String)>,
    body: Value,
}

/// The synthetic list, served in a paging's style.
struct Synthetic {
    paging: Paging,
    /// What the server could not make of a request or of the description.
    problems: Arc<Mutex<Vec<String>>>,
}

/// The synthetic item `i`: its id is `item-{i}`, and so is the field a cursor is
/// read from.
fn item(paging: &Paging, i: usize) -> Value {
    let id = format!("item-{i}");
    let mut item = json!({ "id": id });
    if let Style::Cursor {
        at: CursorAt::LastItem(field),
        ..
    } = paging.style
    {
        item[field] = Value::String(id);
    }
    item
}

/// The opaque cursor of the position `n`.
fn cursor(n: usize) -> String {
    format!("cursor-{n}")
}

fn position(cursor: &str) -> Result<usize, String> {
    cursor
        .strip_prefix("cursor-")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("the cursor {cursor:?} is not one the list gave"))
}

impl Synthetic {
    /// The first item and the size a request asks for.
    fn asked(&self, request: &Request) -> Result<(usize, u32), String> {
        let paging = &self.paging;
        let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
        let one = |name: &str| -> Result<Option<String>, String> {
            let values: Vec<&String> = query
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, value)| value)
                .collect();
            match values.as_slice() {
                [] => Ok(None),
                [value] => Ok(Some((*value).clone())),
                _ => Err(format!(
                    "`{name}` came {} times in one request ({})",
                    values.len(),
                    request.url.query().unwrap_or_default()
                )),
            }
        };
        let number = |name: &str, text: &str| {
            text.parse::<u64>()
                .map_err(|_| format!("`{name}` = {text:?} is not a number"))
        };
        if let Style::GraphQl { variable, .. } = paging.style {
            let body: Value = serde_json::from_slice(&request.body)
                .map_err(|_| "a GraphQL page request without a JSON body".to_owned())?;
            let variables = &body["variables"];
            let size = variables[paging.size_param]
                .as_u64()
                .ok_or_else(|| format!("no page size in the variable `{}`", paging.size_param))?;
            let start = match &variables[variable] {
                Value::Null => 0,
                Value::String(cursor) => position(cursor)?,
                other => return Err(format!("the variable `{variable}` is {other}")),
            };
            return Ok((start, u32::try_from(size).unwrap_or(u32::MAX)));
        }
        let size = match one(paging.size_param)? {
            Some(size) => number(paging.size_param, &size)?,
            None => {
                return Err(format!(
                    "no page size in `{}` ({})",
                    paging.size_param,
                    request.url.query().unwrap_or_default()
                ));
            }
        };
        let size = u32::try_from(size).unwrap_or(u32::MAX).max(1);
        let start = match paging.style {
            Style::Cursor { param, at, .. } => match (one(param)?, at) {
                (None, _) => 0,
                (Some(last), CursorAt::LastItem(_)) => {
                    let at = (0..TOTAL)
                        .find(|i| format!("item-{i}") == last)
                        .ok_or_else(|| format!("`{param}` = {last:?} is no item of the list"))?;
                    at + 1
                }
                (Some(cursor), _) => position(&cursor)?,
            },
            Style::Offset { param, .. } => match one(param)? {
                None => 0,
                Some(offset) => usize::try_from(number(param, &offset)?).unwrap_or(usize::MAX),
            },
            Style::PageNumber { param, first, .. } => {
                let page = match one(param)? {
                    None => first,
                    Some(page) => number(param, &page)?,
                };
                let index = page
                    .checked_sub(first)
                    .ok_or_else(|| format!("page {page} is before the first page {first}"))?;
                usize::try_from(index.saturating_mul(u64::from(size))).unwrap_or(usize::MAX)
            }
            Style::Link => match one(LINK_START)? {
                None => 0,
                Some(start) => usize::try_from(number(LINK_START, &start)?).unwrap_or(usize::MAX),
            },
            Style::GraphQl { .. } => 0,
        };
        Ok((start, size))
    }

    /// The page from `start` with `size` items, in the style; `url` is the request's
    /// (for `Link` and `Present` URLs).
    fn page(&self, start: usize, size: u32, url: &url::Url) -> Result<Page, String> {
        let paging = &self.paging;
        let end = start.saturating_add(size as usize).min(TOTAL);
        let items: Vec<Value> = (start.min(end)..end).map(|i| item(paging, i)).collect();
        let more = end < TOTAL;
        let mut body = Value::Null;
        let mut headers = Vec::new();
        let place = |body: &mut Value, pointer: &str, value: Value, what: &str| {
            put(body, pointer, value, true).map_err(|problem| {
                format!("the {what} cannot go into a page where the items are: {problem}")
            })
        };
        place(&mut body, paging.items, Value::Array(items), "items")?;
        // Relative to the server (RFC 8288 allows it), whatever host name the
        // request arrived under.
        let next_url = format!(
            "{}?{}",
            url.path(),
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair(LINK_START, &end.to_string())
                .append_pair(paging.size_param, &size.to_string())
                .finish()
        );
        match paging.style {
            Style::Cursor {
                at, more: signal, ..
            } => {
                let show = match signal {
                    More::HasCursor => more,
                    More::Flag(_) | More::Present(_) => true,
                };
                if show {
                    match at {
                        CursorAt::Body(pointer) => {
                            place(&mut body, pointer, Value::String(cursor(end)), "cursor")?;
                        }
                        CursorAt::Header(name) => headers.push((name.to_owned(), cursor(end))),
                        CursorAt::LastItem(_) => {}
                    }
                }
                match signal {
                    More::Flag(pointer) => place(&mut body, pointer, Value::Bool(more), "flag")?,
                    More::Present(pointer) => {
                        let next = if more {
                            Value::String(next_url.clone())
                        } else {
                            Value::Null
                        };
                        place(&mut body, pointer, next, "next-page marker")?;
                    }
                    More::HasCursor => {}
                }
            }
            Style::Offset { total, .. } => {
                if let Some(pointer) = total {
                    place(&mut body, pointer, json!(TOTAL), "total")?;
                }
            }
            Style::PageNumber { total_pages, .. } => {
                if let Some(pointer) = total_pages {
                    let pages = TOTAL.div_ceil((size as usize).max(1));
                    place(&mut body, pointer, json!(pages), "page count")?;
                }
            }
            Style::Link => {
                if more {
                    headers.push(("link".to_owned(), format!("<{next_url}>; rel=\"next\"")));
                }
            }
            Style::GraphQl { page_info, .. } => {
                let info = json!({"hasNextPage": more, "endCursor": cursor(end)});
                place(&mut body, page_info, info, "pageInfo")?;
            }
        }
        Ok(Page { headers, body })
    }
}

impl Respond for Synthetic {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let page = self
            .asked(request)
            .and_then(|(start, size)| self.page(start, size, &request.url));
        match page {
            Ok(page) => page.headers.iter().fold(
                ResponseTemplate::new(200).set_body_json(page.body),
                |template, (name, value)| template.insert_header(name.as_str(), value.as_str()),
            ),
            Err(problem) => {
                if let Ok(mut problems) = self.problems.lock() {
                    problems.push(problem.clone());
                }
                ResponseTemplate::new(400).set_body_json(json!({ "conformance": problem }))
            }
        }
    }
}

/// One page a walk read.
struct Read {
    token: PageToken,
    ids: Vec<String>,
    items: usize,
    body: Value,
}

/// The request of the page at `token` of the synthetic list.
fn synthetic_request(
    client: &Client<'_>,
    paging: &Paging,
    token: &PageToken,
    size: u32,
) -> Result<reqwest::RequestBuilder, AdapterError> {
    if matches!(paging.style, Style::GraphQl { .. }) {
        let body = json!({"query": "conformance", "variables": paging.variables(token, size)});
        return Ok(client.request(Method::POST, LIST_PATH)?.json(&body));
    }
    client.page_request(Method::GET, LIST_PATH, paging, token, size)
}

/// The request of the page at `token` of a list of the fake.
pub(crate) fn fake_request(
    client: &Client<'_>,
    paging: &Paging,
    list: &FakeList,
    token: &PageToken,
    size: u32,
) -> Result<reqwest::RequestBuilder, AdapterError> {
    let graphql = matches!(paging.style, Style::GraphQl { .. });
    if graphql || list.paging_in_body {
        let mut body = list.body.clone().unwrap_or_else(|| json!({}));
        if graphql {
            let variables = paging.variables(token, size);
            if let (Some(into), Some(from)) = (
                body.as_object_mut()
                    .map(|b| b.entry("variables").or_insert_with(|| json!({}))),
                variables.as_object(),
            ) && let Some(into) = into.as_object_mut()
            {
                into.extend(from.clone());
            }
        } else if let Some(object) = body.as_object_mut() {
            for (name, value) in paging.query(token, size) {
                object.insert(name.to_owned(), crate::common::typed(&value));
            }
        }
        return Ok(client
            .request(list.method.clone(), &list.path)?
            .query(&list.query)
            .json(&body));
    }
    let mut request = client.page_request(list.method.clone(), &list.path, paging, token, size)?;
    if !matches!(token, PageToken::Url(_)) {
        request = request.query(&list.query);
    }
    if let Some(body) = &list.body {
        request = request.json(body);
    }
    Ok(request)
}

/// Walks a list from `start` to its end: each page's token, item ids and body.
async fn walk<F>(
    check: &str,
    paging: &Paging,
    id: Option<&str>,
    start: PageToken,
    size: u32,
    client: &Client<'_>,
    request: F,
) -> Result<Vec<Read>, Failure>
where
    F: Fn(&PageToken) -> Result<reqwest::RequestBuilder, AdapterError>,
{
    let mut token = start;
    let mut pages: Vec<Read> = Vec::new();
    for _ in 0..MAX_PAGES {
        let n = pages.len();
        let built = request(&token)
            .map_err(|e| failure(check, format!("page {n}: the request cannot be built: {e}")))?;
        let fetched = client
            .fetch(built)
            .await
            .map_err(|e| failure(check, format!("page {n} (at {token:?}) failed: {e}")))?;
        let list = if paging.items.is_empty() {
            Some(&fetched.body)
        } else {
            fetched.body.pointer(paging.items)
        };
        let items = list.and_then(Value::as_array).cloned().unwrap_or_default();
        let ids = items
            .iter()
            .map(|item| match id {
                Some(pointer) => scalar(Some(item), pointer).unwrap_or_default(),
                None => item.to_string(),
            })
            .collect();
        let next = paging
            .next(&token, size, &fetched.headers, &fetched.body)
            .map_err(|e| {
                failure(
                    check,
                    format!(
                        "page {n} (at {token:?}, {} items at `{}`, the body {}): the next \
                         page's token: {e}",
                        items.len(),
                        paging.items,
                        shape(&fetched.body)
                    ),
                )
            })?;
        pages.push(Read {
            token: token.clone(),
            ids,
            items: items.len(),
            body: fetched.body,
        });
        match next {
            Some(next) => token = next,
            None => return Ok(pages),
        }
    }
    Err(failure(
        check,
        format!("the walk did not end within {MAX_PAGES} pages"),
    ))
}

/// Every id once; the first id read twice otherwise, with its pages.
fn once(pages: &[Read]) -> Result<Vec<String>, String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ids = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        for id in &page.ids {
            if let Some(first) = seen.insert(id.as_str(), n) {
                return Err(format!(
                    "the item {} was read twice (pages {first} and {n})",
                    cut(id, 120)
                ));
            }
            ids.push(id.clone());
        }
    }
    Ok(ids)
}

/// Resumes the walk from the token of a page mid-way: it must read exactly the
/// pages from there on.
async fn resume<F>(
    check: &str,
    paging: &Paging,
    id: Option<&str>,
    pages: &[Read],
    size: u32,
    client: &Client<'_>,
    request: F,
) -> Result<(), Failure>
where
    F: Fn(&PageToken) -> Result<reqwest::RequestBuilder, AdapterError>,
{
    let from = pages.len() / 2;
    let Some(page) = pages.get(from) else {
        return Ok(());
    };
    let resumed = walk(check, paging, id, page.token.clone(), size, client, request).await?;
    let expected: Vec<&String> = pages[from..].iter().flat_map(|p| &p.ids).collect();
    let got: Vec<&String> = resumed.iter().flat_map(|p| &p.ids).collect();
    if got != expected {
        return Err(failure(
            check,
            format!(
                "resumed from page {from}'s token {:?}, the walk read {} items ({}), not the {} \
                 from there on ({})",
                page.token,
                got.len(),
                cut(&format!("{got:?}"), 200),
                expected.len(),
                cut(&format!("{expected:?}"), 200)
            ),
        ));
    }
    Ok(())
}

/// Walks a synthetic list served in `paging`'s style to its end and resumes it.
pub(crate) async fn synthetic(
    api: &HttpApi,
    spec: &ProviderSpec,
    conn: &Connection,
    paging: &Paging,
) -> Result<(), Failure> {
    let check = format!("paging: {}", describe(paging));
    let size = paging.size.pick(Some(SIZE));
    let problems = Arc::new(Mutex::new(Vec::new()));
    let synthetic = Synthetic {
        paging: *paging,
        problems: problems.clone(),
    };
    // A description that cannot describe a page fails before anything is sent.
    let probe = url::Url::parse("http://conformance.invalid/list")
        .map_err(|e| failure(&check, format!("a URL: {e}")))?;
    synthetic
        .page(0, size, &probe)
        .map_err(|problem| failure(&check, format!("the style cannot be served: {problem}")))?;
    let server = MockServer::start().await;
    Mock::given(path_regex(format!("/{LIST_PATH}$")))
        .respond_with(synthetic)
        .mount(&server)
        .await;
    let base = url::Url::parse(&format!("{}/", server.uri()))
        .map_err(|e| failure(&check, format!("the mock server's URL: {e}")))?;
    let ctx = Context::new(reqwest::Client::new()).with_base_url(base);
    let client = client(&ctx, spec, api, conn).map_err(|e| {
        failure(
            &check,
            format!("the toolkit client cannot be built for the suite's connection: {e}"),
        )
    })?;
    let request = |token: &PageToken| synthetic_request(&client, paging, token, size);
    let with_problems = |failed: Failure| {
        let problems = problems.lock().map(|p| p.join("; ")).unwrap_or_default();
        if problems.is_empty() {
            failed
        } else {
            Failure {
                detail: format!("{} (the synthetic list: {problems})", failed.detail),
                ..failed
            }
        }
    };
    let pages = walk(
        &check,
        paging,
        Some("/id"),
        PageToken::First,
        size,
        &client,
        request,
    )
    .await
    .map_err(with_problems)?;
    let ids = once(&pages).map_err(|detail| failure(&check, detail))?;
    let all: Vec<String> = (0..TOTAL).map(|i| format!("item-{i}")).collect();
    if ids != all {
        return Err(failure(
            &check,
            format!(
                "a walk of {TOTAL} items in pages of {size} read {} items ({}) in {} pages",
                ids.len(),
                cut(&ids.join(", "), 200),
                pages.len()
            ),
        ));
    }
    let needed = TOTAL.div_ceil(size as usize);
    // Without a total or a flag, a last page that is full needs one more request.
    let open_ended = matches!(
        paging.style,
        Style::Offset { total: None, .. }
            | Style::PageNumber {
                total_pages: None,
                ..
            }
    ) && TOTAL.is_multiple_of(size as usize);
    let expected = needed + usize::from(open_ended);
    if pages.len() != expected {
        return Err(failure(
            &check,
            format!(
                "the walk took {} requests for {TOTAL} items in pages of {size}, not {expected}: \
                 it must stop after the last page",
                pages.len()
            ),
        ));
    }
    resume(&check, paging, Some("/id"), &pages, size, &client, request)
        .await
        .map_err(with_problems)
}

/// Walks `list` of the fake with `paging` to its end and resumes it: several pages,
/// none larger than asked, every item once.
pub(crate) async fn on_fake(
    api: &HttpApi,
    spec: &ProviderSpec,
    conn: &Connection,
    server: &FakeServer,
    paging: &Paging,
    list: &FakeList,
) -> Result<(), Failure> {
    let check = format!("paging: {} on the fake's `{}`", describe(paging), list.path);
    let size = list.size;
    if paging.size.pick(Some(size)) != size {
        return Err(failure(
            &check,
            format!(
                "the list is walked in pages of {size}, outside the description's 1..={}",
                paging.size.max
            ),
        ));
    }
    let ctx = server.context();
    let client = client(&ctx, spec, api, conn).map_err(|e| {
        failure(
            &check,
            format!("the toolkit client cannot be built for the suite's connection: {e}"),
        )
    })?;
    let request = |token: &PageToken| fake_request(&client, paging, list, token, size);
    let pages = walk(
        &check,
        paging,
        list.id,
        PageToken::First,
        size,
        &client,
        request,
    )
    .await?;
    let Some(first) = pages.first() else {
        return Err(failure(&check, "the walk read no page"));
    };
    if first.items == 0 {
        let at = if paging.items.is_empty() {
            "the body itself".to_owned()
        } else {
            format!("`{}`", paging.items)
        };
        return Err(failure(
            &check,
            format!(
                "the first page has no items at {at}: the fake answered {}",
                shape(&first.body)
            ),
        ));
    }
    if let Some((n, page)) = pages
        .iter()
        .enumerate()
        .find(|(_, page)| page.items > size as usize)
    {
        return Err(failure(
            &check,
            format!(
                "page {n} holds {} items, more than the {size} asked: the fake does not read \
                 the page size from `{}`",
                page.items, paging.size_param
            ),
        ));
    }
    if pages.len() < 2 {
        return Err(failure(
            &check,
            format!(
                "the list fits in one page of {size} ({} items), so the walk proves nothing: \
                 walk it in smaller pages",
                first.items
            ),
        ));
    }
    if let Some(id) = list.id
        && let Some(page) = pages.iter().find(|p| p.ids.iter().any(String::is_empty))
    {
        return Err(failure(
            &check,
            format!(
                "an item at {:?} has no id at `{id}`: {}",
                page.token,
                shape(&page.body)
            ),
        ));
    }
    once(&pages).map_err(|detail| failure(&check, detail))?;
    resume(&check, paging, list.id, &pages, size, &client, request).await
}

//! Paging responders: a list served the way the adapter's [`Paging`] walks it.
//!
//! A [`Pager`] is built from the adapter's own `Paging` const, so the fake reads the
//! same parameters and writes the page's items, cursor, flags, totals and links at
//! the same pointers and headers the walker reads them from, in each [`Style`]:
//! cursors in the body or a header (opaque cursors naming a position or an item's
//! key), cursors that are the last item's id (`starting_after`, with backward
//! paging), offset/limit, page numbers, `Link` headers and GraphQL connections. The
//! provider's own page sizes (its default and maximum, which are not the adapter's)
//! and how it treats a bad size are the fake's to say.
//!
//! The [`Page`] comes back as a body the fake adds its provider's other fields to
//! (`"object": "list"`, a `url`), with what it knows about the page (cursors of its
//! first and last items, whether more follow), and wrong parameters come back as a
//! [`PageError`] the fake words as its provider does.

use base64::Engine as _;
use junction_core::fake::{FakeRequest, FakeResponse};
use serde_json::{Map, Value, json};

use crate::{
    errors::scalar_at,
    fake::reply::set,
    paging::{CursorAt, More, PageSize, Paging, Style},
};

/// How a provider treats a page size it does not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizes {
    /// Refuses anything but a number in `1..=max`.
    Strict,
    /// Refuses anything but a number; takes at most `max`.
    Cap,
    /// Reads anything else as the default; clamps into `1..=max`.
    Lenient,
}

/// What an opaque cursor (in a body, a header, a GraphQL connection) encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The position of the page's last item: base64 of the number.
    Position,
    /// The value of the last item's field (its id), so the walk survives items
    /// added in front of it: base64 of `[value]` as JSON.
    Key(&'static str),
}

/// Where the paging parameters are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Params {
    Query,
    /// Top-level fields of a JSON body (a report or search request).
    Body,
}

/// The query parameter of a `Link` header's next page: the page number.
pub const LINK_PAGE: &str = "page";

/// Serves lists as a [`Paging`] walks them.
#[derive(Debug, Clone, Copy)]
pub struct Pager {
    pub paging: Paging,
    /// The provider's own page sizes.
    pub size: PageSize,
    pub sizes: Sizes,
    /// The parameter of backward paging (`ending_before`, `before`), for cursors
    /// that are the last item's id.
    pub backward: Option<&'static str>,
    pub cursor: Cursor,
    /// Without a size: every item (else the default size).
    pub everything_by_default: bool,
    pub params: Params,
}

/// A wrong paging parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// A size that is no number (`integer: false`) or out of range.
    Size {
        param: &'static str,
        value: String,
        integer: bool,
    },
    /// A cursor that names nothing the list has.
    Cursor { param: &'static str, value: String },
    /// An offset or page number that is no number.
    Position { param: &'static str, value: String },
    /// Both directions of a backward-paging list at once.
    BothDirections,
}

/// One page, and what the fake may want to say about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// The items, cursors, flags and totals at the paging's pointers.
    pub body: Value,
    pub headers: Vec<(String, String)>,
    /// The page size used.
    pub size: usize,
    /// Items on the page.
    pub count: usize,
    /// Items in the (kept) list.
    pub total: usize,
    /// The position of the page's first item in the kept list.
    pub start: usize,
    /// Whether items follow the page.
    pub more: bool,
    /// Whether the request named a position (a cursor, an offset past 0, a page).
    pub resumed: bool,
    /// The opaque cursors of the page's first and last items.
    pub first: Option<String>,
    pub last: Option<String>,
}

impl Page {
    /// The page with `value` at `pointer`.
    pub fn with(mut self, pointer: &str, value: Value) -> Self {
        set(&mut self.body, pointer, value);
        self
    }

    /// The page as a 200.
    pub fn reply(self) -> FakeResponse {
        self.headers.iter().fold(
            FakeResponse::json(200, &self.body),
            |response, (name, value)| response.with_header(name, value),
        )
    }
}

impl Pager {
    /// Pages as `paging` says, with its sizes, refusing sizes it does not take.
    pub const fn new(paging: Paging) -> Self {
        Self {
            paging,
            size: paging.size,
            sizes: Sizes::Strict,
            backward: None,
            cursor: Cursor::Position,
            everything_by_default: false,
            params: Params::Query,
        }
    }

    pub const fn size(self, default: u32, max: u32) -> Self {
        Self {
            size: PageSize { default, max },
            ..self
        }
    }

    pub const fn sizes(self, sizes: Sizes) -> Self {
        Self { sizes, ..self }
    }

    pub const fn backward(self, param: &'static str) -> Self {
        Self {
            backward: Some(param),
            ..self
        }
    }

    pub const fn cursor(self, cursor: Cursor) -> Self {
        Self { cursor, ..self }
    }

    pub const fn everything_by_default(self) -> Self {
        Self {
            everything_by_default: true,
            ..self
        }
    }

    pub const fn params(self, params: Params) -> Self {
        Self { params, ..self }
    }

    /// The page of `items` (in the list's order) that `request` asks for.
    pub fn page(&self, request: &FakeRequest, items: Vec<Value>) -> Result<Page, PageError> {
        self.page_where(request, items, |_| true)
    }

    /// The page of the items `keep` keeps. Cursors naming an item are looked up among
    /// all of `items`, so a cursor stays good when its item is not kept (Stripe pages
    /// from an anchor whatever the filters); positions count kept items.
    pub fn page_where(
        &self,
        request: &FakeRequest,
        items: Vec<Value>,
        keep: impl Fn(&Value) -> bool,
    ) -> Result<Page, PageError> {
        let params = self.read_params(request);
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let size = self.size_of(get(self.paging.size_param))?;
        let kept: Vec<usize> = (0..items.len()).filter(|&i| keep(&items[i])).collect();
        let total = kept.len();
        let cap = |start: usize| size.map_or(total, |size| start.saturating_add(size).min(total));
        // The page as positions in `kept`.
        let (start, end) = match self.paging.style {
            Style::Cursor {
                param,
                at: CursorAt::LastItem(field),
                ..
            } => {
                let after = get(param);
                let before = self
                    .backward
                    .and_then(|param| get(param).map(|v| (param, v)));
                // The anchor's place among all items, as kept positions: before it and
                // through it.
                let anchor = |param: &'static str, value: String| {
                    let at = items
                        .iter()
                        .position(|item| {
                            scalar_at(Some(item), &format!("/{field}")).as_ref() == Some(&value)
                        })
                        .ok_or(PageError::Cursor { param, value })?;
                    Ok((
                        kept.partition_point(|&i| i < at),
                        kept.partition_point(|&i| i <= at),
                    ))
                };
                match (after, before) {
                    (Some(_), Some(_)) => return Err(PageError::BothDirections),
                    (Some(after), None) => {
                        let (_, start) = anchor(param, after)?;
                        (start, cap(start))
                    }
                    (None, Some((param, before))) => {
                        let (end, _) = anchor(param, before)?;
                        (end.saturating_sub(size.unwrap_or(end)), end)
                    }
                    (None, None) => (0, cap(0)),
                }
            }
            Style::Cursor { param, .. }
            | Style::GraphQl {
                variable: param, ..
            } => {
                let start = match get(param) {
                    None => 0,
                    Some(cursor) => {
                        self.decode(&cursor, &items, &kept)
                            .ok_or(PageError::Cursor {
                                param,
                                value: cursor,
                            })?
                    }
                };
                (start.min(total), cap(start.min(total)))
            }
            Style::Offset { param, .. } => {
                let start = position(param, get(param), 0)?.min(total);
                (start, cap(start))
            }
            Style::PageNumber { param, first, .. } => {
                let page = position(param, get(param), first as usize)?;
                let start = page
                    .saturating_sub(first as usize)
                    .saturating_mul(size.unwrap_or(total))
                    .min(total);
                (start, cap(start))
            }
            Style::Link => {
                let page = position(LINK_PAGE, get(LINK_PAGE), 1)?;
                let start = page
                    .saturating_sub(1)
                    .saturating_mul(size.unwrap_or(total))
                    .min(total);
                (start, cap(start))
            }
        };
        // Backward pages say whether more precede them.
        let more = if self.backward.and_then(get).is_some() {
            start > 0
        } else {
            end < total
        };
        let cursor = |at: usize| self.encode(&items[kept[at]], at);
        let mut page = Page {
            body: Value::Object(Map::new()),
            headers: Vec::new(),
            size: size.unwrap_or(total),
            count: end - start,
            total,
            start,
            more,
            resumed: start > 0 || self.cursor_param().and_then(get).is_some(),
            first: (end > start).then(|| cursor(start)),
            last: (end > start).then(|| cursor(end - 1)),
        };
        let list: Vec<Value> = kept[start..end].iter().map(|&i| items[i].clone()).collect();
        if self.paging.items.is_empty() {
            page.body = Value::Array(list);
        } else {
            set(&mut page.body, self.paging.items, Value::Array(list));
        }
        self.write(&mut page, request, end);
        Ok(page)
    }

    /// What the paging says about the page, where it says it.
    fn write(&self, page: &mut Page, request: &FakeRequest, end: usize) {
        let next = page.last.clone().filter(|_| page.more);
        match self.paging.style {
            Style::Cursor { param, at, more } => {
                match at {
                    CursorAt::Body(pointer) => {
                        let cursor = match more {
                            More::HasCursor => next.clone(),
                            _ => page.last.clone(),
                        };
                        if let Some(cursor) = cursor {
                            set(&mut page.body, pointer, Value::String(cursor));
                        }
                    }
                    CursorAt::Header(name) => {
                        if let Some(cursor) = &next {
                            page.headers.push((name.to_owned(), cursor.clone()));
                        }
                    }
                    CursorAt::LastItem(_) => {}
                }
                match more {
                    More::Flag(pointer) => set(&mut page.body, pointer, Value::Bool(page.more)),
                    More::Present(pointer) => {
                        if let Some(cursor) = &next {
                            let link = format!("?{param}={cursor}");
                            set(&mut page.body, pointer, Value::String(link));
                        }
                    }
                    More::HasCursor => {}
                }
            }
            Style::Offset { total, .. } => {
                if let Some(pointer) = total {
                    set(&mut page.body, pointer, json!(page.total));
                }
            }
            Style::PageNumber { total_pages, .. } => {
                if let Some(pointer) = total_pages {
                    set(
                        &mut page.body,
                        pointer,
                        json!(page.total.div_ceil(page.size.max(1))),
                    );
                }
            }
            Style::Link => {
                if page.more {
                    let next_page = end.div_ceil(page.size.max(1)) + 1;
                    let mut query = url::form_urlencoded::Serializer::new(String::new());
                    for (key, value) in request.query_pairs() {
                        if key != LINK_PAGE {
                            query.append_pair(&key, &value);
                        }
                    }
                    query.append_pair(LINK_PAGE, &next_page.to_string());
                    let link = format!("<{}?{}>; rel=\"next\"", request.path, query.finish());
                    page.headers.push(("link".into(), link));
                }
            }
            Style::GraphQl { page_info, .. } => {
                let info = json!({"hasNextPage": page.more, "endCursor": page.last});
                set(&mut page.body, page_info, info);
            }
        }
    }

    /// The parameter an opaque or id cursor comes in.
    fn cursor_param(&self) -> Option<&str> {
        match self.paging.style {
            Style::Cursor { param, .. }
            | Style::GraphQl {
                variable: param, ..
            } => Some(param),
            _ => None,
        }
    }

    /// The request's paging parameters as text.
    fn read_params(&self, request: &FakeRequest) -> Vec<(String, String)> {
        let object = match (self.paging.style, self.params) {
            (Style::GraphQl { .. }, _) => request
                .json::<Value>()
                .ok()
                .and_then(|body| body.get("variables").cloned()),
            (_, Params::Body) => request.json::<Value>().ok(),
            (_, Params::Query) => return request.query_pairs(),
        };
        object
            .and_then(|o| o.as_object().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| scalar_at(Some(&v), "").map(|v| (k, v)))
            .collect()
    }

    /// The page size asked for, `None` for everything.
    fn size_of(&self, asked: Option<String>) -> Result<Option<usize>, PageError> {
        let param = self.paging.size_param;
        let max = self.size.max as usize;
        let Some(text) = asked else {
            return Ok((!self.everything_by_default).then_some(self.size.default as usize));
        };
        let number = text.trim().parse::<i64>();
        let refuse = |integer| PageError::Size {
            param,
            value: text.clone(),
            integer,
        };
        Ok(Some(match (self.sizes, number) {
            (Sizes::Lenient, Ok(n)) => n.clamp(1, max as i64) as usize,
            (Sizes::Lenient, Err(_)) => (self.size.default as usize).clamp(1, max),
            (Sizes::Cap, Ok(n)) if n >= 0 => (n as usize).min(max),
            (Sizes::Strict, Ok(n)) if (1..=max as i64).contains(&n) => n as usize,
            (_, Ok(_)) => return Err(refuse(true)),
            (_, Err(_)) => return Err(refuse(false)),
        }))
    }

    /// The opaque cursor of `item`, at position `at` of the kept list.
    fn encode(&self, item: &Value, at: usize) -> String {
        let plain = match self.cursor {
            Cursor::Position => at.to_string(),
            Cursor::Key(field) => json!([item.get(field)]).to_string(),
        };
        base64::engine::general_purpose::STANDARD.encode(plain)
    }

    /// The kept position after the item a cursor names.
    fn decode(&self, cursor: &str, items: &[Value], kept: &[usize]) -> Option<usize> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cursor.trim())
            .ok()?;
        let plain = String::from_utf8(bytes).ok()?;
        match self.cursor {
            Cursor::Position => plain.parse::<usize>().ok().map(|at| at + 1),
            Cursor::Key(field) => {
                let key = serde_json::from_str::<Value>(&plain)
                    .ok()?
                    .get(0)
                    .cloned()?;
                let at = items
                    .iter()
                    .position(|item| item.get(field) == Some(&key))?;
                Some(kept.partition_point(|&i| i <= at))
            }
        }
    }
}

/// An offset or page number, `default` when absent.
fn position(
    param: &'static str,
    value: Option<String>,
    default: usize,
) -> Result<usize, PageError> {
    match value {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| PageError::Position { param, value: text }),
    }
}

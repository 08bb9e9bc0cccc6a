//! Paging styles and the walker that steps through them.
//!
//! A [`Paging`] says how a provider's lists page: where the items are, the page-size
//! parameter, and the [`Style`] — a cursor in the body or a header, offset/limit,
//! page numbers, RFC 8288 `Link` headers or GraphQL connections. Where a walk stands
//! is a [`PageToken`], which adapters keep in their stored cursors. From a response,
//! [`Paging::next`] gives the token of the next page, or `None` at the end.
//!
//! A walk never loops: an empty page ends offset and page-number walks, and a
//! cursor that does not move ends the walk or fails it ([`OnStall`]).

use http::HeaderMap;
use junction_core::AdapterError;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::errors::scalar_at;

/// Where a walk stands: what asks for the next page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageToken {
    /// The first page.
    #[default]
    First,
    Cursor(String),
    Offset(u64),
    Page(u64),
    /// The next page's whole URL (from a `Link` header).
    Url(String),
}

impl PageToken {
    /// The offset of an offset walk: the token's own, 0 for the first page (and for
    /// tokens of other styles), as an adapter's stored cursor keeps it.
    pub fn offset(&self) -> u64 {
        offset_of(self)
    }

    /// A stored cursor of a cursor walk as its token: the first page without one.
    pub fn from_cursor(cursor: Option<String>) -> Self {
        cursor.map_or(Self::First, Self::Cursor)
    }

    /// The cursor of a cursor walk, as an adapter's stored cursor keeps it (none for
    /// the first page and for tokens of other styles).
    pub fn into_cursor(self) -> Option<String> {
        match self {
            Self::Cursor(cursor) => Some(cursor),
            _ => None,
        }
    }
}

/// How a provider pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// An opaque cursor the response carries, sent back as `param`.
    Cursor {
        param: &'static str,
        at: CursorAt,
        more: More,
    },
    /// `param` is the first item's offset; `total` points at the number of items in
    /// the whole list (without it, a full page means more may follow).
    Offset {
        param: &'static str,
        total: Option<&'static str>,
    },
    /// `param` is the page number, counted from `first`; `total_pages` points at the
    /// number of pages (without it, a full page means more may follow).
    PageNumber {
        param: &'static str,
        first: u64,
        total_pages: Option<&'static str>,
    },
    /// `Link: <url>; rel="next"` (RFC 8288) names the next page.
    Link,
    /// A GraphQL connection: `pageInfo { hasNextPage endCursor }` at `page_info`,
    /// the cursor sent back in the variable `variable`.
    GraphQl {
        page_info: &'static str,
        variable: &'static str,
    },
}

/// Where a cursor is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorAt {
    /// At a JSON pointer of the body (`/paging/cursors/after`).
    Body(&'static str),
    /// In a response header.
    Header(&'static str),
    /// A field of the page's last item (Stripe's `starting_after` is the last id).
    LastItem(&'static str),
}

/// What says another page follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum More {
    /// A boolean at a pointer (`/has_more`).
    Flag(&'static str),
    /// Anything but null at a pointer (Meta's `/paging/next`).
    Present(&'static str),
    /// A cursor in the response.
    HasCursor,
}

/// What a walk does when the provider says more follows but gives no new cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStall {
    /// Ends the walk (the provider's last page repeats its cursor).
    End,
    /// Fails as `Unavailable`: a retry may get a sane answer.
    Fail,
}

/// A page-size wish clamped to what the provider allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize {
    pub default: u32,
    pub max: u32,
}

impl PageSize {
    /// The caller's wish, else the default, within `1..=max`.
    pub fn pick(&self, wish: Option<u32>) -> u32 {
        wish.unwrap_or(self.default).clamp(1, self.max.max(1))
    }
}

/// A provider's paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub style: Style,
    /// The pointer to the page's list (`/data`); empty when the body is the list.
    pub items: &'static str,
    /// The page-size parameter (`limit`, `per_page`, `count`; `first` in GraphQL).
    pub size_param: &'static str,
    pub size: PageSize,
    pub on_stall: OnStall,
}

/// What one response says about paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Items on the page.
    pub items: usize,
    pub total: Option<u64>,
    pub more: Option<bool>,
    pub cursor: Option<String>,
    pub next_url: Option<String>,
}

impl Paging {
    /// The query asking for the page at `token` with `size` items (nothing but the
    /// next URL itself for [`PageToken::Url`]; the size alone for GraphQL, whose
    /// cursor travels in [`Paging::variables`]).
    pub fn query(&self, token: &PageToken, size: u32) -> Vec<(&'static str, String)> {
        if matches!(token, PageToken::Url(_)) {
            return Vec::new();
        }
        let mut query = Vec::with_capacity(2);
        match (self.style, token) {
            (Style::Cursor { param, .. }, PageToken::Cursor(cursor)) => {
                query.push((param, cursor.clone()));
            }
            (Style::Offset { param, .. }, token) => {
                query.push((param, offset_of(token).to_string()));
            }
            (Style::PageNumber { param, first, .. }, token) => {
                query.push((param, page_of(token, first).to_string()));
            }
            (Style::GraphQl { .. }, _) => return Vec::new(),
            _ => {}
        }
        query.push((self.size_param, size.to_string()));
        query
    }

    /// The GraphQL variables of the page at `token`: `{size_param: size, variable:
    /// cursor | null}`.
    pub fn variables(&self, token: &PageToken, size: u32) -> Value {
        let variable = match self.style {
            Style::GraphQl { variable, .. } => variable,
            _ => "after",
        };
        let cursor = match token {
            PageToken::Cursor(cursor) => Value::String(cursor.clone()),
            _ => Value::Null,
        };
        json!({ self.size_param: size, variable: cursor })
    }

    /// Reads what a response says about paging.
    pub fn observe(&self, headers: &HeaderMap, body: &Value) -> Observed {
        let list = if self.items.is_empty() {
            Some(body)
        } else {
            body.pointer(self.items)
        };
        let items = list.and_then(Value::as_array);
        let mut seen = Observed {
            items: items.map_or(0, Vec::len),
            ..Observed::default()
        };
        match self.style {
            Style::Cursor { at, more, .. } => {
                seen.cursor = match at {
                    CursorAt::Body(pointer) => scalar_at(Some(body), pointer),
                    CursorAt::Header(name) => headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(|v| v.trim().to_owned())
                        .filter(|v| !v.is_empty()),
                    CursorAt::LastItem(field) => {
                        scalar_at(items.and_then(|i| i.last()), &format!("/{field}"))
                    }
                };
                seen.more = match more {
                    More::Flag(pointer) => Some(body.pointer(pointer) == Some(&Value::Bool(true))),
                    More::Present(pointer) => {
                        Some(body.pointer(pointer).is_some_and(|v| !v.is_null()))
                    }
                    More::HasCursor => Some(seen.cursor.is_some()),
                };
            }
            Style::Offset { total, .. } => seen.total = total.and_then(|p| count_at(body, p)),
            Style::PageNumber { total_pages, .. } => {
                seen.total = total_pages.and_then(|p| count_at(body, p));
            }
            Style::Link => seen.next_url = next_link(headers),
            Style::GraphQl { page_info, .. } => {
                let info = body.pointer(page_info);
                seen.more =
                    Some(info.and_then(|i| i.get("hasNextPage")) == Some(&Value::Bool(true)));
                seen.cursor = scalar_at(info, "/endCursor");
            }
        }
        seen
    }

    /// The token after the page at `token` (asked with `size` items) that showed
    /// `seen`, or `None` at the end of the list.
    pub fn advance(
        &self,
        token: &PageToken,
        size: u32,
        seen: &Observed,
    ) -> Result<Option<PageToken>, AdapterError> {
        let full_page = seen.items >= size as usize;
        match self.style {
            Style::Cursor { .. } | Style::GraphQl { .. } => {
                if seen.more != Some(true) {
                    return Ok(None);
                }
                let current = match token {
                    PageToken::Cursor(cursor) => Some(cursor.as_str()),
                    _ => None,
                };
                match seen.cursor.as_deref() {
                    Some(next) if Some(next) != current => Ok(Some(PageToken::Cursor(next.into()))),
                    _ => self.stalled(),
                }
            }
            Style::Offset { .. } => {
                // An empty page ends the walk whatever the total says: a confused
                // response must not make a sync loop forever.
                let next = offset_of(token).saturating_add(seen.items as u64);
                let more = seen.items > 0 && seen.total.map_or(full_page, |total| next < total);
                Ok(more.then_some(PageToken::Offset(next)))
            }
            Style::PageNumber { first, .. } => {
                let page = page_of(token, first);
                let read = page.saturating_sub(first).saturating_add(1);
                let more = seen.items > 0 && seen.total.map_or(full_page, |pages| read < pages);
                Ok(more.then_some(PageToken::Page(page.saturating_add(1))))
            }
            Style::Link => match (&seen.next_url, token) {
                (None, _) => Ok(None),
                (Some(next), PageToken::Url(current)) if next == current => self.stalled(),
                (Some(next), _) => Ok(Some(PageToken::Url(next.clone()))),
            },
        }
    }

    /// [`Paging::advance`] over what the response says.
    pub fn next(
        &self,
        token: &PageToken,
        size: u32,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Option<PageToken>, AdapterError> {
        self.advance(token, size, &self.observe(headers, body))
    }

    fn stalled(&self) -> Result<Option<PageToken>, AdapterError> {
        match self.on_stall {
            OnStall::End => Ok(None),
            OnStall::Fail => Err(AdapterError::unavailable(
                "the provider said another page follows but gave no new cursor",
            )),
        }
    }
}

/// Reads a whole list from its first page: `page` fetches the page at a token and
/// gives its content and the next token. At most `max_pages` pages: a provider that
/// keeps paging is `Unavailable` (better to come back later than to loop).
pub async fn walk<T, F, Fut>(max_pages: usize, mut page: F) -> Result<Vec<T>, AdapterError>
where
    F: FnMut(PageToken) -> Fut,
    Fut: Future<Output = Result<(T, Option<PageToken>), AdapterError>>,
{
    let mut token = PageToken::First;
    let mut pages = Vec::new();
    for _ in 0..max_pages {
        let (content, next) = page(token).await?;
        pages.push(content);
        match next {
            Some(next) => token = next,
            None => return Ok(pages),
        }
    }
    Err(AdapterError::unavailable(format!(
        "the provider was still paging after {max_pages} pages; giving up this time"
    )))
}

fn offset_of(token: &PageToken) -> u64 {
    match token {
        PageToken::Offset(offset) => *offset,
        _ => 0,
    }
}

fn page_of(token: &PageToken, first: u64) -> u64 {
    match token {
        PageToken::Page(page) => *page,
        _ => first,
    }
}

/// A count at `pointer`: a number, or a number written as a string (proto3 int64).
fn count_at(body: &Value, pointer: &str) -> Option<u64> {
    scalar_at(Some(body), pointer).and_then(|text| text.parse().ok())
}

/// The `rel="next"` target of the response's `Link` headers, as written.
fn next_link(headers: &HeaderMap) -> Option<String> {
    let joined = headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    if joined.is_empty() {
        return None;
    }
    let links = parse_link_header::parse_with_rel(&joined).ok()?;
    links.get("next").map(|link| link.raw_uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn tokens_as_stored_cursors_keep_them() {
        assert_eq!(PageToken::Offset(20).offset(), 20);
        assert_eq!(PageToken::First.offset(), 0);
        assert_eq!(PageToken::Cursor("c".into()).offset(), 0);
        assert_eq!(PageToken::from_cursor(None), PageToken::First);
        let after = PageToken::from_cursor(Some("NDMZD".into()));
        assert_eq!(after, PageToken::Cursor("NDMZD".into()));
        assert_eq!(after.into_cursor().as_deref(), Some("NDMZD"));
        assert_eq!(PageToken::First.into_cursor(), None);
        assert_eq!(PageToken::Offset(3).into_cursor(), None);
    }

    /// Serves `total` numbered items the way `paging` pages them, and walks them
    /// from `start`, returning the items read and every token seen.
    fn walk(paging: &Paging, total: u64, start: PageToken) -> (Vec<u64>, Vec<PageToken>) {
        let size = 3_u32;
        let mut token = start;
        let mut read = Vec::new();
        let mut tokens = vec![token.clone()];
        for _ in 0..100 {
            let (headers, body) = serve(paging, total, &token, size);
            let items: Vec<u64> = body
                .pointer(paging.items)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|i| i["id"].as_u64()).collect())
                .unwrap_or_default();
            read.extend(items);
            match paging.next(&token, size, &headers, &body).unwrap() {
                Some(next) => {
                    tokens.push(next.clone());
                    token = next;
                }
                None => return (read, tokens),
            }
        }
        panic!("the walk did not end")
    }

    /// A provider of `total` items, page of `size` at `token`, in `paging`'s style.
    fn serve(paging: &Paging, total: u64, token: &PageToken, size: u32) -> (HeaderMap, Value) {
        let start = match token {
            PageToken::First => 0,
            PageToken::Cursor(c) => c.trim_start_matches("c").parse::<u64>().unwrap() + 1,
            PageToken::Offset(o) => *o,
            PageToken::Page(p) => (p - 1) * u64::from(size),
            PageToken::Url(u) => u.rsplit('=').next().unwrap().parse().unwrap(),
        };
        let end = (start + u64::from(size)).min(total);
        let items: Vec<Value> = (start..end).map(|id| json!({"id": id})).collect();
        let more = end < total;
        let last = format!("c{}", end.saturating_sub(1));
        let mut headers = HeaderMap::new();
        let body = match paging.style {
            Style::Cursor {
                at: CursorAt::Header(name),
                ..
            } => {
                if more {
                    headers.insert(name, HeaderValue::from_str(&last).unwrap());
                }
                json!({"data": items})
            }
            Style::Cursor {
                at: CursorAt::LastItem(_),
                ..
            } => {
                json!({"data": items.iter().map(|i| json!({"id": format!("c{}", i["id"])})).collect::<Vec<_>>(), "has_more": more})
            }
            Style::Cursor { .. } => {
                json!({"data": items, "paging": {"after": last, "next": more.then_some("x")}})
            }
            Style::Offset { .. } => json!({"data": items, "total_items": total}),
            Style::PageNumber { .. } => json!({"data": items}),
            Style::Link => {
                if more {
                    let link = format!(
                        "<https://api.example.test/v1/items?since={end}>; rel=\"next\", <https://api.example.test/v1/items?since=0>; rel=\"first\""
                    );
                    headers.insert(http::header::LINK, HeaderValue::from_str(&link).unwrap());
                }
                json!({"data": items})
            }
            Style::GraphQl { .. } => json!({"data": {"posts": {"edges": items,
                "pageInfo": {"hasNextPage": more, "endCursor": last}}}}),
        };
        (headers, body)
    }

    fn paging(style: Style, items: &'static str) -> Paging {
        Paging {
            style,
            items,
            size_param: "limit",
            size: PageSize { default: 3, max: 3 },
            on_stall: OnStall::Fail,
        }
    }

    fn styles() -> Vec<Paging> {
        vec![
            paging(
                Style::Cursor {
                    param: "after",
                    at: CursorAt::Body("/paging/after"),
                    more: More::Present("/paging/next"),
                },
                "/data",
            ),
            paging(
                Style::Cursor {
                    param: "cursor",
                    at: CursorAt::Header("x-next-cursor"),
                    more: More::HasCursor,
                },
                "/data",
            ),
            paging(
                Style::Offset {
                    param: "offset",
                    total: Some("/total_items"),
                },
                "/data",
            ),
            paging(
                Style::PageNumber {
                    param: "page",
                    first: 1,
                    total_pages: None,
                },
                "/data",
            ),
            paging(Style::Link, "/data"),
            paging(
                Style::GraphQl {
                    page_info: "/data/posts/pageInfo",
                    variable: "after",
                },
                "/data/posts/edges",
            ),
        ]
    }

    #[test]
    fn each_style_walks_to_the_end_and_resumes_from_a_cursor() {
        for paging in styles() {
            for total in [0_u64, 2, 3, 7, 9] {
                let (read, tokens) = walk(&paging, total, PageToken::First);
                assert_eq!(read, (0..total).collect::<Vec<_>>(), "{paging:?} {total}");
                // Resuming from any token read along the way gives the rest.
                for (i, token) in tokens.iter().enumerate().skip(1) {
                    let (rest, _) = walk(&paging, total, token.clone());
                    assert_eq!(
                        rest,
                        (i as u64 * 3..total).collect::<Vec<_>>(),
                        "{paging:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn last_item_cursors_and_queries() {
        let stripe = paging(
            Style::Cursor {
                param: "starting_after",
                at: CursorAt::LastItem("id"),
                more: More::Flag("/has_more"),
            },
            "/data",
        );
        let body = json!({"data": [{"id": "ch_1"}, {"id": "ch_2"}], "has_more": true});
        assert_eq!(
            stripe
                .next(&PageToken::First, 2, &HeaderMap::new(), &body)
                .unwrap(),
            Some(PageToken::Cursor("ch_2".into()))
        );
        let token = PageToken::Cursor("ch_2".into());
        assert_eq!(
            stripe.query(&token, 2),
            [
                ("starting_after", "ch_2".to_owned()),
                ("limit", "2".to_owned())
            ]
        );
        let done = json!({"data": [{"id": "ch_3"}], "has_more": false});
        assert_eq!(
            stripe.next(&token, 2, &HeaderMap::new(), &done).unwrap(),
            None
        );
        let offset = &styles()[2];
        assert_eq!(
            offset.query(&PageToken::First, 3),
            [("offset", "0".to_owned()), ("limit", "3".to_owned())]
        );
        assert_eq!(
            styles()[5].variables(&PageToken::Cursor("c2".into()), 3),
            json!({"limit": 3, "after": "c2"})
        );
        assert!(styles()[4].query(&PageToken::Url("u".into()), 3).is_empty());
    }

    #[test]
    fn stalls_end_or_fail_and_empty_pages_end() {
        let mut meta = styles()[0];
        let stuck = json!({"data": [{"id": 1}], "paging": {"after": "A", "next": "x"}});
        let token = PageToken::Cursor("A".into());
        assert!(meta.next(&token, 3, &HeaderMap::new(), &stuck).is_err());
        meta.on_stall = OnStall::End;
        assert_eq!(
            meta.next(&token, 3, &HeaderMap::new(), &stuck).unwrap(),
            None
        );
        let offset = styles()[2];
        let empty = json!({"data": [], "total_items": 50});
        assert_eq!(
            offset
                .next(&PageToken::Offset(3), 3, &HeaderMap::new(), &empty)
                .unwrap(),
            None
        );
        assert_eq!(
            PageSize {
                default: 100,
                max: 500
            }
            .pick(Some(0)),
            1
        );
        assert_eq!(
            PageSize {
                default: 100,
                max: 500
            }
            .pick(None),
            100
        );
        assert_eq!(
            PageSize {
                default: 100,
                max: 500
            }
            .pick(Some(9_999)),
            500
        );
    }

    #[tokio::test]
    async fn walks_collect_every_page_and_give_up_on_endless_lists() {
        let paging = styles()[2];
        let pages = super::walk(10, |token| async move {
            let (headers, body) = serve(&paging, 7, &token, 3);
            let next = paging.next(&token, 3, &headers, &body)?;
            Ok((body["data"].as_array().map_or(0, Vec::len), next))
        })
        .await
        .unwrap();
        assert_eq!(pages, [3, 3, 1]);
        let endless = super::walk(2, |_| async {
            Ok::<_, AdapterError>(((), Some(PageToken::Page(1))))
        })
        .await;
        assert!(matches!(endless, Err(AdapterError::Unavailable { .. })));
    }

    #[test]
    fn tokens_serialize_plainly() {
        assert_eq!(
            serde_json::to_value(PageToken::Cursor("x".into())).unwrap(),
            json!({"cursor": "x"})
        );
        assert_eq!(
            serde_json::to_value(PageToken::First).unwrap(),
            json!("first")
        );
    }
}

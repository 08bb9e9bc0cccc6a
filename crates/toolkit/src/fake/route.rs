//! The route table: method and path pattern to handler, with named segments.
//!
//! A pattern is matched segment by segment against the request's path (each segment
//! percent-decoded, a trailing `/` ignored). A segment of a pattern is literal text,
//! or holds one `{name}` between literal text (`act_{account}`,
//! `{property}:runReport`), optionally limited to some values
//! (`{kind:charges|refunds}`); a named segment never matches empty text. A literal
//! pattern that matches shadows patterns with named segments. A pattern
//! without a leading `/` is below the API's prefix (`v1`, from the adapter's
//! [`crate::BaseUrl`]); with one it is from the fake's mount (`/oauth2/metadata`).

use chrono::{DateTime, Utc};
use junction_core::fake::{FakeContext, FakeRequest, FakeResponse, Fault, TokenAuthority};
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;

use crate::fake::auth::Principal;

/// What a handler answers with: the fake's state and the call.
pub type Handler<S> = fn(&mut S, &Call<'_>) -> FakeResponse;

/// One line of a route table.
#[derive(Debug)]
pub struct Route<S: 'static> {
    pub method: &'static str,
    pub pattern: &'static str,
    pub handler: Handler<S>,
    /// Grants a credential needs for this route (any one of them); `None`: what the
    /// fake's [`crate::fake::Auth`] asks of every request.
    pub needs: Option<&'static [&'static str]>,
    /// Served without credentials, faults or grants (a pre-signed download link).
    pub public: bool,
}

// Not derived: a derive would ask `S: Clone`, and the state never is copied.
impl<S> Clone for Route<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Route<S> {}

impl<S> Route<S> {
    pub const fn new(method: &'static str, pattern: &'static str, handler: Handler<S>) -> Self {
        Self {
            method,
            pattern,
            handler,
            needs: None,
            public: false,
        }
    }

    pub const fn get(pattern: &'static str, handler: Handler<S>) -> Self {
        Self::new("GET", pattern, handler)
    }

    pub const fn post(pattern: &'static str, handler: Handler<S>) -> Self {
        Self::new("POST", pattern, handler)
    }

    pub const fn put(pattern: &'static str, handler: Handler<S>) -> Self {
        Self::new("PUT", pattern, handler)
    }

    pub const fn delete(pattern: &'static str, handler: Handler<S>) -> Self {
        Self::new("DELETE", pattern, handler)
    }

    /// The same route asking for any of `grants` instead of the fake's default.
    pub const fn needs(self, grants: &'static [&'static str]) -> Self {
        Self {
            needs: Some(grants),
            ..self
        }
    }

    /// The same route served to anyone, whatever fault is armed.
    pub const fn public(self) -> Self {
        Self {
            public: true,
            ..self
        }
    }
}

/// The values of a route's named segments.
type Params = Vec<(&'static str, String)>;

/// What the table says about a request.
#[derive(Debug)]
pub enum Found<'r, S: 'static> {
    /// The route and the values of its named segments.
    Route(&'r Route<S>, Vec<(&'static str, String)>),
    /// The path is known, not with this method: the methods it takes.
    Method(Vec<&'static str>),
    None,
}

/// Finds the first route of `routes` for `method` and `path`, patterns without a
/// leading `/` being below `prefix`.
pub fn find<'r, S>(routes: &'r [Route<S>], prefix: &str, method: &str, path: &str) -> Found<'r, S> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let below: Option<&[String]> = if prefix.is_empty() {
        Some(&segments)
    } else {
        let prefix: Vec<&str> = prefix.split('/').collect();
        (segments.len() > prefix.len() && segments.iter().zip(&prefix).all(|(s, p)| s == p))
            .then(|| &segments[prefix.len()..])
    };
    let matching: Vec<(&Route<S>, Params)> = routes
        .iter()
        .filter_map(|route| {
            let params = match route.pattern.strip_prefix('/') {
                Some(absolute) => matches(absolute, &segments),
                None => below.and_then(|below| matches(route.pattern, below)),
            }?;
            Some((route, params))
        })
        .collect();
    // A literal path shadows patterns with named segments (`emails/batch` is not the
    // email `batch`), whatever the method.
    let literal = matching
        .iter()
        .any(|(route, _)| !route.pattern.contains('{'));
    let mut allowed = Vec::new();
    for (route, params) in matching {
        if literal && route.pattern.contains('{') {
            continue;
        }
        if route.method.eq_ignore_ascii_case(method) {
            return Found::Route(route, params);
        }
        if !allowed.contains(&route.method) {
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() {
        Found::None
    } else {
        Found::Method(allowed)
    }
}

/// The named values when `pattern` matches `segments`.
fn matches(pattern: &'static str, segments: &[String]) -> Option<Vec<(&'static str, String)>> {
    let parts: Vec<&'static str> = pattern.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.into_iter().zip(segments) {
        match part.split_once('{').zip(part.split_once('}')) {
            None if part == segment => {}
            None => return None,
            Some(((before, rest), (_, after))) => {
                let inner = rest.split_once('}').map_or(rest, |(inner, _)| inner);
                let value = segment.strip_prefix(before)?.strip_suffix(after)?;
                let (name, choices) = inner.split_once(':').unwrap_or((inner, ""));
                if value.is_empty()
                    || !(choices.is_empty() || choices.split('|').any(|c| c == value))
                {
                    return None;
                }
                params.push((name, value.to_owned()));
            }
        }
    }
    Some(params)
}

/// A request as a handler sees it.
pub struct Call<'a> {
    pub request: &'a FakeRequest,
    pub now: DateTime<Utc>,
    /// The fault armed for this request (handlers of public routes and of their own
    /// auth schemes render it themselves).
    pub fault: Option<Fault>,
    pub tokens: &'a dyn TokenAuthority,
    /// Who called, when the route is not public.
    pub principal: Option<Principal>,
    pub params: Vec<(&'static str, String)>,
}

impl std::fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the principal: it holds the presented credential.
        f.debug_struct("Call")
            .field("method", &self.request.method)
            .field("path", &self.request.path)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<'a> Call<'a> {
    /// A call of `request` in `ctx`, before routing and auth.
    pub fn new(request: &'a FakeRequest, ctx: &'a FakeContext<'a>) -> Self {
        Self {
            request,
            now: ctx.now,
            fault: ctx.fault,
            tokens: ctx.tokens,
            principal: None,
            params: Vec::new(),
        }
    }

    /// The value of the named segment `name` (empty when the route has none).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// A query parameter, unless absent or empty.
    pub fn query(&self, name: &str) -> Option<String> {
        self.request.query_param(name).filter(|v| !v.is_empty())
    }

    /// The body as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        self.request.json()
    }

    /// The credential the call was made with (empty for public routes).
    pub fn credential(&self) -> &str {
        self.principal
            .as_ref()
            .map_or("", |p| p.credential.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &mut (), _: &Call<'_>) -> FakeResponse {
        FakeResponse::text(200, "ok")
    }

    const ROUTES: &[Route<()>] = &[
        Route::get("{kind:charges|refunds}", ok),
        Route::get("{kind:charges|refunds}/{id}", ok),
        Route::post("customers", ok),
        Route::get("act_{account}/insights", ok),
        Route::post("properties/{property}:runReport", ok),
        Route::get("/oauth2/metadata", ok).public(),
        Route::post("emails/batch", ok),
        Route::get("emails/{id}", ok),
    ];

    fn params(found: Found<'_, ()>) -> Vec<(&'static str, String)> {
        match found {
            Found::Route(_, params) => params,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn patterns_match_named_segments_below_the_prefix() {
        assert_eq!(
            params(find(ROUTES, "v1", "GET", "/v1/charges/ch_1/")),
            [("kind", "charges".to_owned()), ("id", "ch_1".to_owned())]
        );
        assert!(matches!(
            find(ROUTES, "v1", "GET", "/v1/nothing"),
            Found::None
        ));
        assert!(matches!(
            find(ROUTES, "v1", "GET", "/v2/charges"),
            Found::None
        ));
        assert!(matches!(
            find(ROUTES, "v1", "GET", "/v1/charges/"),
            Found::Route(..)
        ));
        assert_eq!(
            params(find(ROUTES, "v1", "GET", "/v1/act_42/insights")),
            [("account", "42".to_owned())]
        );
        assert!(matches!(
            find(ROUTES, "v1", "GET", "/v1/act_/insights"),
            Found::None
        ));
        assert_eq!(
            params(find(ROUTES, "v1", "POST", "/v1/properties/123%3ArunReport")),
            [("property", "123".to_owned())]
        );
        assert!(matches!(
            find(ROUTES, "v1", "GET", "/oauth2/metadata"),
            Found::Route(route, _) if route.public
        ));
        assert!(matches!(
            find(ROUTES, "v1", "GET", "/v1/emails/e_1"),
            Found::Route(..)
        ));
        assert!(matches!(
            find(ROUTES, "v1", "GET", "/v1/emails/batch"),
            Found::Method(allowed) if allowed == ["POST"]
        ));
        match find(ROUTES, "v1", "DELETE", "/v1/customers") {
            Found::Method(allowed) => assert_eq!(allowed, ["POST"]),
            other => panic!("{other:?}"),
        }
    }
}

//! Hashnode's GraphQL API as the provider toolkit runs it, and the one call every
//! operation goes through.
//!
//! Every request is `POST https://gql.hashnode.com/` with `{operationName, query,
//! variables}` and the personal access token as the whole `Authorization` header
//! (no `Bearer`), as Hashnode documents. GraphQL reports most failures with HTTP 200
//! and `{"errors": [{"message", "extensions": {"code"}}]}`; [`API`]'s table reads
//! the first error's code wherever it arrives:
//!
//! - `UNAUTHENTICATED`: the token is wrong or revoked; it stays refused (the user
//!   makes a new one);
//! - `FORBIDDEN`: the user may not do this on that publication or post: `Invalid`
//!   (the actions name the input), a retry fails the same way;
//! - `NOT_FOUND`, `BAD_USER_INPUT`: `Invalid`, the input's fault;
//! - `GRAPHQL_VALIDATION_FAILED`, `GRAPHQL_PARSE_FAILED`: Hashnode refused Junction's
//!   own query (its schema changed): `Invalid`, no retry helps;
//! - `INTERNAL_SERVER_ERROR`: `Unavailable`, a retry may work;
//! - HTTP 429 (Hashnode's per-minute limits): `RateLimited`, waiting per
//!   `Retry-After` when sent.

use http::Method;
use junction_core::{
    AdapterError, Connection, Context,
    http::{Refusal, classify},
};
use junction_toolkit::{
    AuthMode, BaseUrl, Client, Envelope, ErrorRule, ErrorTable, HttpApi, OnStall, PageSize,
    PageToken, Paging, RateLimitSignals, Style,
};
use serde_json::{Value, json};

use crate::{
    operations::Operation,
    spec::{self, DEFAULT_BASE, TOKEN_FIELD},
};

/// Hashnode's GraphQL API.
pub const API: HttpApi = HttpApi {
    base: BaseUrl::fixed(DEFAULT_BASE),
    auth: &[AuthMode::api_key_header(
        TOKEN_FIELD,
        "authorization",
        "{key}",
    )],
    headers: &[("accept", "application/json")],
    // GraphQL needs a body: `check` sends the `Me` query itself.
    verification: None,
    errors: ErrorTable {
        envelope: Envelope {
            code: &["/errors/0/extensions/code"],
            message: &["/errors/0/message"],
            ..Envelope::GENERIC
        },
        rules: &[
            ErrorRule::code("UNAUTHENTICATED")
                .unauthorized(false)
                .message(
                    "Hashnode refused the personal access token (wrong or revoked): {message}",
                ),
            ErrorRule::code("FORBIDDEN")
                .invalid()
                .message("Hashnode does not let this user do that: {message}"),
            ErrorRule::codes(&["NOT_FOUND", "BAD_USER_INPUT"]).invalid(),
            ErrorRule::codes(&["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"])
                .invalid()
                .message("Hashnode refused Junction's query (has its schema changed?): {message}"),
            ErrorRule::code("INTERNAL_SERVER_ERROR").unavailable(),
            ErrorRule::status(429).rate_limited(),
        ],
        in_success_body: Some("/errors"),
    },
    rate_limits: RateLimitSignals::STANDARD,
};

/// A publication's posts: `first` (at most 20) after `after`.
pub const POSTS_PAGING: Paging = connection(
    "/data/publication/posts/edges",
    "/data/publication/posts/pageInfo",
);

/// The user's publications.
pub const PUBLICATIONS_PAGING: Paging = connection(
    "/data/me/publications/edges",
    "/data/me/publications/pageInfo",
);

/// A publication's drafts (the user's own), read when looking for an earlier try.
pub const DRAFTS_PAGING: Paging = connection(
    "/data/publication/drafts/edges",
    "/data/publication/drafts/pageInfo",
);

/// A GraphQL connection: its `edges` the items, its `pageInfo` the walk.
const fn connection(edges: &'static str, page_info: &'static str) -> Paging {
    Paging {
        style: Style::GraphQl {
            page_info,
            variable: "after",
        },
        items: edges,
        size_param: "first",
        size: PageSize {
            default: 20,
            max: 20,
        },
        on_stall: OnStall::Fail,
    }
}

/// The Hashnode client of a connection.
pub(crate) fn client<'a>(
    ctx: &'a Context,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    Client::new(ctx, spec::spec(), &API, conn)
}

/// Runs `operation` with `variables`: its `data`, or the refusal classified by the
/// table and then by `refine`, given the first error's code (an action knows which
/// input a `NOT_FOUND` is about).
pub(crate) async fn call(
    client: &Client<'_>,
    operation: &Operation,
    variables: Value,
    refine: impl Fn(Option<&str>, AdapterError) -> AdapterError,
) -> Result<Value, AdapterError> {
    let body = json!({
        "operationName": operation.name,
        "query": operation.query,
        "variables": variables,
    });
    let request = client.request(Method::POST, "")?.json(&body);
    let response = client
        .send_with(request, |err, refusal| {
            refine(code_in(refusal.body).as_deref(), err)
        })
        .await?;
    let (status, headers) = (response.status(), response.headers().clone());
    let mut body: Value = junction_core::http::json(response).await?;
    if API.errors.success_body_fails(&body) {
        let bytes = body.to_string().into_bytes();
        let now = client.context().now();
        let base = classify(status, &headers, &bytes, now, &client.policy());
        let refusal = Refusal {
            status,
            headers: &headers,
            body: &bytes,
            now,
        };
        return Err(refine(
            code_in(&bytes).as_deref(),
            client.classify(base, &refusal),
        ));
    }
    Ok(body.get_mut("data").map(Value::take).unwrap_or(Value::Null))
}

/// One page of the connection `paging` of `operation`: the whole body (`{"data":
/// ...}`), its edges and the next page's token.
pub(crate) async fn page(
    client: &Client<'_>,
    operation: &Operation,
    paging: &Paging,
    mut variables: Value,
    token: &PageToken,
    size: u32,
) -> Result<(Value, Vec<Value>, Option<PageToken>), AdapterError> {
    if let (Some(vars), Some(paged)) = (
        variables.as_object_mut(),
        paging.variables(token, size).as_object(),
    ) {
        vars.extend(paged.clone());
    }
    let data = call(client, operation, variables, |_, err| err).await?;
    // The pointers are of the whole body: put `data` back where they look.
    let body = json!({ "data": data });
    let next = paging.next(token, size, &http::HeaderMap::new(), &body)?;
    let edges = match body.pointer(paging.items) {
        Some(Value::Array(edges)) => edges.clone(),
        _ => Vec::new(),
    };
    Ok((body, edges, next))
}

/// The first error's code in a GraphQL body.
fn code_in(body: &[u8]) -> Option<String> {
    let body: Value = serde_json::from_slice(body).ok()?;
    body.pointer("/errors/0/extensions/code")?
        .as_str()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_is_sound() {
        assert_eq!(API.validate(), Ok(()));
        assert_eq!(POSTS_PAGING.items, "/data/publication/posts/edges");
        assert_eq!(
            DRAFTS_PAGING.style,
            Style::GraphQl {
                page_info: "/data/publication/drafts/pageInfo",
                variable: "after"
            }
        );
    }
}

//! GraphQL over HTTP: one `POST` of `{"query", "variables"}`, the answer's `data`.
//!
//! What stays the same for every GraphQL provider (Buffer, Hashnode): the request
//! body, errors listed with HTTP 200 (the description's
//! [`ErrorTable::in_success_body`](crate::ErrorTable::in_success_body), so they go
//! through the same error table as any refusal), the `data` of a successful answer,
//! the nodes of a Relay connection, and a union member's `__typename`. Paging a
//! connection is [`crate::Style::GraphQl`] with [`crate::Paging::variables`]. What a
//! provider's mutation unions mean stays in its crate.
//!
//! ```no_run
//! # async fn demo(client: &junction_toolkit::Client<'_>) -> Result<(), junction_core::AdapterError> {
//! use junction_toolkit::graphql;
//! let data = graphql::execute(client, "", "query Account { account { id } }", serde_json::json!({})).await?;
//! let id = data.pointer("/account/id");
//! # Ok(()) }
//! ```

use http::Method;
use junction_core::AdapterError;
use serde_json::{Value, json};

use crate::client::Client;

/// The body of a GraphQL request.
pub fn body(document: &str, variables: Value) -> Value {
    json!({"query": document, "variables": variables})
}

/// Sends `document` with `variables` to `path` (below the API's prefix; `""` for an
/// API at its root) and returns the answer's `data`. Errors listed in the answer are
/// refusals classified by the API's error table (when it names `in_success_body`);
/// an answer without `data` is `Unavailable`.
pub async fn execute(
    client: &Client<'_>,
    path: &str,
    document: &str,
    variables: Value,
) -> Result<Value, AdapterError> {
    let request = client
        .request(Method::POST, path)?
        .json(&body(document, variables));
    let mut fetched = client.fetch(request).await?;
    match fetched.body.get_mut("data").map(Value::take) {
        Some(data) if data.is_object() => Ok(data),
        _ => Err(AdapterError::unavailable(
            "malformed response body: a GraphQL answer without `data`",
        )),
    }
}

/// The nodes of a Relay connection (`{"edges": [{"node": ...}]}`), in order; edges
/// without a node are left out.
pub fn nodes(connection: &Value) -> Vec<&Value> {
    connection
        .get("edges")
        .and_then(Value::as_array)
        .map(|edges| {
            edges
                .iter()
                .filter_map(|edge| edge.get("node").filter(|node| node.is_object()))
                .collect()
        })
        .unwrap_or_default()
}

/// The `__typename` of a union or interface member (select it in every mutation
/// payload to tell its success from its errors).
pub fn typename(member: &Value) -> Option<&str> {
    member.get("__typename").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_give_their_nodes_and_members_their_type() {
        let connection = json!({"edges": [{"node": {"id": "a"}}, {"cursor": "x"}, {"node": {"id": "b"}}],
            "pageInfo": {"hasNextPage": false}});
        let ids: Vec<_> = nodes(&connection).iter().map(|n| n["id"].clone()).collect();
        assert_eq!(ids, [json!("a"), json!("b")]);
        assert!(nodes(&json!({})).is_empty());
        assert_eq!(
            typename(&json!({"__typename": "PostActionSuccess"})),
            Some("PostActionSuccess")
        );
        assert_eq!(typename(&json!({"message": "x"})), None);
        assert_eq!(
            body("query A { a }", json!({"x": 1})),
            json!({"query": "query A { a }", "variables": {"x": 1}})
        );
    }
}

//! What the description checks share: how a check fails, what a run counted, the
//! lists a provider names on its fake, the toolkit client of a description, and JSON
//! pointer helpers.

use std::fmt;

use http::Method;
use junction_core::{AdapterError, Connection, Context, spec::ProviderSpec};
use junction_toolkit::{Client, HttpApi, VarSource};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

/// A description check that failed: which rule of the description broke, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check and the part of the description it was about (`errors: rule 3
    /// (code 17 → RateLimited)`).
    pub check: String,
    /// What was expected and what happened instead.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check, self.detail)
    }
}

impl std::error::Error for Failure {}

/// A failed check.
pub(crate) fn failure(check: impl Into<String>, detail: impl fmt::Display) -> Failure {
    Failure {
        check: check.into(),
        detail: detail.to_string(),
    }
}

/// What a run of the description checks covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Rules of the error table replayed.
    pub error_rules: usize,
    /// Refusals classified for them (each code of a rule, its status, bare statuses
    /// standing for a code, GraphQL 200 bodies, fallback messages).
    pub error_cases: usize,
    /// The fake's own refusals (armed faults) read through the envelope and table.
    pub fake_refusals: usize,
    /// Paging styles walked over a synthetic list, and resumed.
    pub paging_styles: usize,
    /// Lists of the fake walked to their end with the description's paging, and
    /// resumed.
    pub fake_lists: usize,
    /// Auth modes whose requests were inspected.
    pub auth_modes: usize,
    /// Auth modes whose credential the fake accepted as the description sends it.
    pub auth_modes_accepted: usize,
    /// Official webhook signature vectors verified (and tampered copies refused).
    pub webhook_vectors: usize,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} error rules in {} refusals, {} fake refusals, {} paging styles, {} fake lists, \
             {} auth modes ({} accepted by the fake), {} webhook vectors",
            self.error_rules,
            self.error_cases,
            self.fake_refusals,
            self.paging_styles,
            self.fake_lists,
            self.auth_modes,
            self.auth_modes_accepted,
            self.webhook_vectors
        )
    }
}

/// A list the provider's fake serves, walked with a paging of the description: the
/// request of its first page, what identifies an item, and the page size to walk it
/// with (small, so the walk spans several pages).
#[derive(Debug, Clone)]
pub struct FakeList {
    pub method: Method,
    /// Below the API's prefix, e.g. `customers` or `properties/123:runReport`.
    pub path: String,
    /// Query parameters every page carries besides the paging's own.
    pub query: Vec<(String, String)>,
    /// A JSON body every page carries.
    pub body: Option<Value>,
    /// Whether the paging parameters go into the JSON body (GA4's `runReport`)
    /// rather than the query. GraphQL variables always go into `variables`.
    pub paging_in_body: bool,
    /// The JSON pointer of an item's id within the item (`/id`); `None` when the
    /// whole item is its identity (report rows).
    pub id: Option<&'static str>,
    /// The page size asked for.
    pub size: u32,
}

impl FakeList {
    /// `GET path`, items identified by `/id`, pages of 2.
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            paging_in_body: false,
            id: Some("/id"),
            size: 2,
        }
    }

    /// `POST path` with `body`, paging in the body, whole items as identities.
    pub fn post(path: impl Into<String>, body: Value) -> Self {
        Self {
            method: Method::POST,
            body: Some(body),
            paging_in_body: true,
            id: None,
            ..Self::get(path)
        }
    }

    /// One more query parameter on every page.
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// Items identified by the value at `pointer` (`None`: the whole item).
    pub fn id(mut self, pointer: Option<&'static str>) -> Self {
        self.id = pointer;
        self
    }

    /// Pages of `size` items.
    pub fn size(mut self, size: u32) -> Self {
        self.size = size;
        self
    }
}

/// The toolkit client of `conn` for `api`, as an adapter makes it. Host
/// placeholders the adapter gives in code ([`VarSource::Given`]), and those derived
/// from a credential the connection does not hold in a derivable form (an OAuth
/// connection of an entry whose key carries the data center), are filled with a
/// placeholder label: the context's base URL replaces the host anyway.
pub(crate) fn client<'a>(
    ctx: &'a Context,
    spec: &'a ProviderSpec,
    api: &'a HttpApi,
    conn: &'a Connection,
) -> Result<Client<'a>, AdapterError> {
    let held = |field: &str| {
        conn.secrets
            .get(field)
            .map(|secret| secret.expose_secret().trim().to_owned())
            .or_else(|| {
                conn.config
                    .get(field)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
    };
    let given: Vec<(&str, String)> = api
        .base
        .vars
        .iter()
        .filter(|var| match var.source {
            VarSource::Given => true,
            VarSource::Derived { field, derive, .. } => {
                held(field).and_then(|value| derive(&value)).is_none()
            }
            VarSource::Region { .. } => false,
        })
        .map(|var| (var.name, "conformance".to_owned()))
        .collect();
    Client::build(ctx, spec, api, conn, &given)
}

/// A string, number or boolean at `pointer`, as non-empty trimmed text: how the
/// toolkit reads codes, messages and cursors.
pub(crate) fn scalar(body: Option<&Value>, pointer: &str) -> Option<String> {
    match body?.pointer(pointer)? {
        Value::String(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Text as the JSON a provider would write it: booleans and integers as themselves.
pub(crate) fn typed(text: &str) -> Value {
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.to_owned())),
    }
}

/// The reference tokens of a JSON pointer, unescaped.
fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|token| token.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Sets `pointer` in `body` to `value`, creating objects on the way (arrays where
/// the next token is an index). With `exclusive`, a pointer that another part of the
/// description already set, or that runs through a value that is no object or
/// array, is an error naming both: two parts of a description that point at the
/// same place cannot both be true of one response.
pub(crate) fn put(
    body: &mut Value,
    pointer: &str,
    value: Value,
    exclusive: bool,
) -> Result<(), String> {
    let tokens = tokens(pointer);
    if tokens.is_empty() {
        if exclusive && !body.is_null() {
            return Err(format!("`{pointer}` (the whole body) is already {body}"));
        }
        *body = value;
        return Ok(());
    }
    let mut at = body;
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        let index = token.parse::<usize>().ok();
        if at.is_null() {
            *at = if index.is_some() {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            };
        }
        let slot = match (at, index) {
            (Value::Array(items), Some(index)) => {
                while items.len() <= index {
                    items.push(Value::Null);
                }
                &mut items[index]
            }
            (Value::Object(map), _) => map.entry(token.clone()).or_insert(Value::Null),
            (other, _) => {
                return Err(format!(
                    "`{pointer}` runs through {other}, which cannot hold `{token}`"
                ));
            }
        };
        if last {
            if exclusive && !slot.is_null() {
                return Err(format!("`{pointer}` is already {slot}"));
            }
            *slot = value;
            return Ok(());
        }
        at = slot;
    }
    Ok(())
}

/// The keys of an object, for messages about a pointer that found nothing.
pub(crate) fn shape(body: &Value) -> String {
    match body {
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            format!("an object with keys [{}]", keys.join(", "))
        }
        Value::Array(items) => format!("a list of {}", items.len()),
        other => format!("{other}"),
    }
}

/// `text` cut to `max` characters, for quoting bodies in failures.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max).collect::<String>() + "…"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_are_set_and_collisions_named() {
        let mut body = Value::Null;
        put(&mut body, "/data", json!([1]), true).unwrap();
        put(&mut body, "/errors/0/extensions/code", json!("X"), true).unwrap();
        put(&mut body, "/a~1b", json!(true), true).unwrap();
        assert_eq!(
            body,
            json!({"data": [1], "errors": [{"extensions": {"code": "X"}}], "a/b": true})
        );
        assert!(
            put(&mut body, "/data", json!([]), true)
                .unwrap_err()
                .contains("already")
        );
        assert!(
            put(&mut body, "/data/x", json!(1), true)
                .unwrap_err()
                .contains("cannot hold")
        );
        put(&mut body, "/data", json!([2]), false).unwrap();
        assert_eq!(body["data"], json!([2]));
        let mut list = json!([1, 2]);
        assert!(put(&mut list, "/has_more", json!(true), true).is_err());
        assert_eq!(typed("17"), json!(17));
        assert_eq!(typed("true"), json!(true));
        assert_eq!(typed("act_"), json!("act_"));
        assert_eq!(scalar(Some(&json!({"a": 5})), "/a").as_deref(), Some("5"));
        assert_eq!(cut("abcdef", 3), "abc…");
    }
}

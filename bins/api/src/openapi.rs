//! The OpenAPI 3.1 document.
//!
//! Its operations come from mounting the routes ([`crate::routes::mount`]:
//! utoipa-actix-web collects each handler's annotations as it mounts it), its frame
//! (info, tags, the security scheme) from [`ApiDoc`]. [`complete`] then declares
//! what the machinery around the handlers answers for every operation alike, so no
//! handler has to repeat it and none can forget it:
//!
//! - every problem answer as `application/problem+json` with the `Problem` schema;
//! - 401 where an API key is required (the `Auth` extractor);
//! - 400 and 422 where there is input to refuse (the extractors: malformed query
//!   strings and bodies, text Postgres cannot store), 413 where there is a body;
//! - on every POST below `/v1` (but those whose answer holds a secret shown once,
//!   [`crate::NOT_REPLAYED`]), the `Idempotency-Key` header and its 400 and 409 (the
//!   idempotency middleware);
//! - 404 where a path names a resource (a malformed id is no resource either);
//! - 500 and 503 (`database_unavailable`, with `Retry-After`) wherever a request
//!   reaches the database;
//! - for the authenticated proxy, that every answer may be the provider's own, in
//!   whatever content type it chose (`*/*` beside the problem type), and that its
//!   request body may be left out;
//! - that no text a request carries may hold a NUL character (U+0000), which the
//!   extractors refuse and Postgres could not store: every free string of a
//!   parameter or body gets a pattern that says so, and free-form JSON (a config,
//!   an action's input) is the `Json` schema, which says it of every string and key.
//!
//! Methods a path does not declare are answered 405 with `Allow`
//! ([`middleware::allowed_methods`], which reads the paths from this document). The committed copy (docs/openapi.json) is checked against
//! [`document`] by `cargo xtask openapi --check` and by a test.

use actix_web::App;
use serde_json::{Value, json};
use utoipa::{
    Modify, OpenApi,
    openapi::{
        ContentBuilder, HeaderBuilder, ObjectBuilder, PathItem, Ref, RefOr, Required,
        ResponseBuilder, Type,
        path::{Operation, ParameterBuilder, ParameterIn},
        security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};
use utoipa_actix_web::AppExt;

use crate::{
    middleware::{self, METHODS},
    routes,
};

/// The document's frame; the operations are added by mounting the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Junction API",
        description = "Connect workspaces to outside providers, keep the connections alive, read their data. \
                       Authenticate with a workspace API key: `Authorization: Bearer jct_...`. Errors are \
                       `application/problem+json` with a stable `code` (see docs/errors.md); a method a path \
                       does not take is 405 with `Allow`.",
    ),
    modifiers(&ApiKeyAuth),
    tags(
        (name = "providers", description = "The catalog of providers"),
        (name = "integrations", description = "Connections of the workspace to providers"),
        (name = "connect", description = "OAuth 2.0 connection flows"),
        (name = "syncs", description = "Sync runs"),
        (name = "data", description = "Records and KPI series produced by syncs"),
        (name = "jobs", description = "Dead letters and queue statistics"),
        (name = "webhooks", description = "Inbound provider webhooks and the stored events"),
        (name = "actions", description = "Provider actions (send an email, refund a charge) and their runs"),
        (name = "cross-posts", description = "One article published to several blog integrations, each pointing to its canonical URL, and edited where the platform allows"),
        (name = "alerts", description = "KPI alert rules and the notifications sent"),
        (name = "outbound", description = "Outbound webhooks: the client app's endpoints, the events sent to them and every delivery attempt"),
        (name = "notifications", description = "Who hears of failures and how, the weekly KPI report, and the email suppression list"),
        (name = "proxy", description = "Calls to the provider's own API with an integration's credentials"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("jct_...")
                    .description(Some("A workspace API key from `junction workspace create` or `junction api-key create`"))
                    .build(),
            ),
        );
    }
}

/// The frame the mounted routes are added to.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The API's document: the routes as [`crate::spawn`] mounts them, completed.
pub fn build() -> Value {
    let (_, document) = App::new()
        .into_utoipa_app()
        .openapi(base())
        .configure(routes::mount)
        .split_for_parts();
    complete(document)
}

/// The document as pretty JSON (what docs/openapi.json holds).
pub fn document() -> String {
    serde_json::to_string_pretty(&build()).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n"
}

/// The tag of the operational endpoints, which declare their own answers.
const OPERATIONS_TAG: &str = "operations";
const PROBLEM_JSON: &str = "application/problem+json";
/// The tag of the authenticated proxy, whose answers are the provider's.
const PROXY_TAG: &str = "proxy";
/// Whatever content type a provider answers with.
const ANY_MEDIA_TYPE: &str = "*/*";

/// Adds what every operation shares (see the module documentation).
pub fn complete(mut document: utoipa::openapi::OpenApi) -> Value {
    for (path, item) in document.paths.paths.iter_mut() {
        for (method, operation) in operations_mut(item) {
            let Some(operation) = operation.as_mut() else {
                continue;
            };
            complete_operation(path, method, operation);
        }
    }
    // The rest is about JSON Schema keywords utoipa's types do not all carry
    // (`propertyNames`), so it works on the document as JSON.
    let mut document = serde_json::to_value(&document).unwrap_or(Value::Null);
    storable_inputs(&mut document);
    document
}

/// Refuses NUL, as a pattern: no string it matches holds one.
const NO_NUL: &str = "^[^\\x00]*$";

/// Declares, for every parameter and request body, that its text may hold no NUL.
fn storable_inputs(document: &mut Value) {
    let mut referenced = Vec::new();
    if let Some(paths) = document["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for method in METHODS {
                let Some(operation) = item.get_mut(method) else {
                    continue;
                };
                // `get_mut`, not indexing: indexing a JSON object inserts what it misses.
                let parameters = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten();
                for schema in parameters.filter_map(|p| p.get_mut("schema")) {
                    storable(schema, &mut referenced);
                }
                let bodies = operation
                    .get_mut("requestBody")
                    .and_then(|body| body.get_mut("content"))
                    .and_then(Value::as_object_mut)
                    .into_iter()
                    .flat_map(|content| content.values_mut());
                for schema in bodies.filter_map(|media| media.get_mut("schema")) {
                    storable(schema, &mut referenced);
                }
            }
        }
    }
    // Components the inputs name, and the ones those name in turn.
    let mut done = std::collections::BTreeSet::new();
    while let Some(name) = referenced.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = document
            .pointer_mut("/components/schemas")
            .and_then(|schemas| schemas.get_mut(&name))
        {
            storable(schema, &mut referenced);
        }
    }
    document["components"]["schemas"]["Json"] = json!({
        "description": "Any JSON value whose strings and object keys hold no NUL character (U+0000).",
        "type": ["null", "boolean", "number", "string", "array", "object"],
        "pattern": NO_NUL,
        "items": {"$ref": "#/components/schemas/Json"},
        "propertyNames": {"pattern": NO_NUL},
        "additionalProperties": {"$ref": "#/components/schemas/Json"},
    });
}

/// Makes one input schema say its text holds no NUL; collects the components it
/// names.
fn storable(schema: &mut Value, referenced: &mut Vec<String>) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        if let Some(name) = reference.strip_prefix("#/components/schemas/") {
            referenced.push(name.to_owned());
        }
        return;
    }
    if object.is_empty() {
        // Any JSON at all (an action's input).
        *schema = json!({"$ref": "#/components/schemas/Json"});
        return;
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = object.get_mut(key).and_then(Value::as_array_mut) {
            for branch in branches {
                storable(branch, referenced);
            }
        }
    }
    let types: Vec<String> = match object.get("type") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let has = |name: &str| types.iter().any(|t| t == name);
    if has("string")
        && !object.contains_key("pattern")
        && !object.contains_key("format")
        && !object.contains_key("enum")
    {
        object.insert("pattern".into(), NO_NUL.into());
    }
    if has("array")
        && let Some(items) = object.get_mut("items")
    {
        storable(items, referenced);
    }
    if has("object") {
        if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
            for property in properties.values_mut() {
                storable(property, referenced);
            }
        }
        match object.get_mut("additionalProperties") {
            Some(Value::Bool(false)) => {}
            Some(Value::Object(extra)) if !extra.is_empty() => {
                if let Some(extra) = object.get_mut("additionalProperties") {
                    storable(extra, referenced);
                }
            }
            // Free-form: any keys, any values.
            _ => {
                object.insert("propertyNames".into(), json!({"pattern": NO_NUL}));
                object.insert(
                    "additionalProperties".into(),
                    json!({"$ref": "#/components/schemas/Json"}),
                );
            }
        }
    }
}

fn complete_operation(path: &str, method: &str, operation: &mut Operation) {
    problem_content_type(operation);
    // Handler names repeat across modules (`list`, `get`); an operation id must not.
    operation.operation_id = Some(operation_id(method, path));
    if tagged(operation, OPERATIONS_TAG) {
        return;
    }
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_path = parameters
        .iter()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path));
    let has_body = operation.request_body.is_some();
    let has_input = !parameters.is_empty() || has_body;
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());

    if secured {
        add_problem(
            operation,
            "401",
            "No valid API key: `unauthenticated`, or `api_key_revoked`.",
        );
    }
    if has_input {
        add_problem(
            operation,
            "400",
            "A malformed request: `invalid_request` (a query parameter of the wrong type, \
             a body that is not `application/json`), `invalid_json`.",
        );
        add_problem(
            operation,
            "422",
            "`validation_failed`: `errors` names each field at fault, text holding a NUL \
             character (U+0000) or invalid UTF-8 included.",
        );
    }
    if has_body {
        add_problem(operation, "413", "`payload_too_large`.");
    }
    if method == "post" && path.starts_with("/v1/") && !crate::NOT_REPLAYED.contains(&path) {
        idempotency_key(operation);
        add_problem(
            operation,
            "409",
            "`idempotency_key_reused` (the key came with another request) or \
             `idempotency_key_in_flight` (its first request still runs).",
        );
    }
    if in_path {
        add_problem(
            operation,
            "404",
            "No such resource in the workspace (a malformed id is none either): \
             `not_found` or a more specific `*_not_found`.",
        );
    }
    add_problem(
        operation,
        "500",
        "`internal`: a bug; the server log has the cause.",
    );
    add_unavailable(operation);
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = default_description(status).to_owned();
        }
    }
    if tagged(operation, PROXY_TAG) {
        passed_through(operation);
    }
}

fn tagged(operation: &Operation, tag: &str) -> bool {
    operation
        .tags
        .as_ref()
        .is_some_and(|tags| tags.iter().any(|t| t == tag))
}

/// The proxy hands the provider's answer back as it came: any status (the route
/// declares `default`), and for the statuses Junction answers itself too, the
/// provider's body in the provider's content type — but 401, which stays the
/// caller's own (a provider's 401 is a refresh, then `provider_unauthorized`). Its
/// body goes on as sent, whatever its bytes (no schema), and a request without one
/// (a GET) is as good.
fn passed_through(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && status != "401"
        {
            response
                .content
                .entry(ANY_MEDIA_TYPE.to_owned())
                .or_insert_with(|| RefOr::T(ContentBuilder::new().build()));
        }
    }
    if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
        body.required = Some(Required::False);
        for content in body.content.values_mut() {
            if let RefOr::T(content) = content {
                content.schema = None;
            }
        }
    }
}

/// `get /v1/integrations/{id}` → `get_v1_integrations_id`.
fn operation_id(method: &str, path: &str) -> String {
    let words: Vec<&str> = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    format!("{method}_{}", words.join("_"))
}

/// What a response a route declared without a description says.
fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "OK.",
        "201" => "Created.",
        "202" => "Accepted: the work goes on in the background.",
        "204" => "Done; nothing to answer.",
        "400" => "A malformed request (see `code`).",
        "403" => "`forbidden`.",
        "404" => "No such resource in the workspace (see `code`).",
        "409" => "The request conflicts with the current state (see `code`).",
        "422" => "`validation_failed`: `errors` names each field at fault.",
        "502" => "A provider failed or refused (`provider_*`).",
        "503" => "A dependency is down: retry after `Retry-After` seconds.",
        _ => "See `code`.",
    }
}

/// The operations of a path item, by method name.
fn operations_mut(item: &mut PathItem) -> [(&'static str, &mut Option<Operation>); 8] {
    [
        ("get", &mut item.get),
        ("put", &mut item.put),
        ("post", &mut item.post),
        ("delete", &mut item.delete),
        ("options", &mut item.options),
        ("head", &mut item.head),
        ("patch", &mut item.patch),
        ("trace", &mut item.trace),
    ]
}

/// Problem answers declared with `body = Problem` are `application/problem+json`.
fn problem_content_type(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_problem = response.content.get("application/json").is_some_and(|content| {
            matches!(content, RefOr::T(content) if matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem")))
        });
        if is_problem && let Some(content) = response.content.shift_remove("application/json") {
            response.content.insert(PROBLEM_JSON.to_owned(), content);
        }
    }
}

fn problem_body() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build()
}

/// Declares a problem answer, unless the operation declares the status itself.
fn add_problem(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(PROBLEM_JSON, problem_body())
                .into()
        });
}

/// 503 `database_unavailable` (or the queue's, where a route declared it), with
/// `Retry-After`.
fn add_unavailable(operation: &mut Operation) {
    let retry_after = HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        ))
        .description(Some("Seconds to wait before trying again."))
        .build();
    let entry = operation
        .responses
        .responses
        .entry("503".to_owned())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description("`database_unavailable`: retry after `Retry-After` seconds.")
                .content(PROBLEM_JSON, problem_body())
                .into()
        });
    if let RefOr::T(response) = entry {
        response
            .headers
            .insert("Retry-After".to_owned(), retry_after.into());
    }
}

/// The `Idempotency-Key` header of a POST, as the middleware checks it.
fn idempotency_key(operation: &mut Operation) {
    let parameter = ParameterBuilder::new()
        .name(middleware::IDEMPOTENCY_KEY_HEADER)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Replays the first answer for the same key and request instead of doing the \
             work twice (remembered for 24 hours; answers of 5xx are not).",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(middleware::IDEMPOTENCY_KEY_MAX_LEN))
                .pattern(Some(middleware::IDEMPOTENCY_KEY_PATTERN)),
        ))
        .build();
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.retain(|p| {
        !matches!(p, RefOr::T(p) if p.name.eq_ignore_ascii_case(middleware::IDEMPOTENCY_KEY_HEADER))
    });
    parameters.push(parameter.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(document: &Value) -> Vec<(String, &'static str, &Value)> {
        let mut found = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    found.push((path.clone(), method, operation));
                }
            }
        }
        found
    }

    #[test]
    fn every_operation_declares_what_the_machinery_answers() {
        let document = build();
        let mut ids = std::collections::BTreeSet::new();
        for (path, method, operation) in operations(&document) {
            assert!(
                ids.insert(operation["operationId"].to_string()),
                "{method} {path}"
            );
            let responses = operation["responses"].as_object().unwrap();
            if operation.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path}");
                assert!(responses.contains_key("503"), "{method} {path}");
            }
            // The proxy's answers may be the provider's own, in its content type.
            let proxied = path.contains("/proxy/");
            for (status, response) in responses {
                assert!(!response["description"].as_str().unwrap().is_empty());
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"].as_object();
                    assert!(
                        content.is_none_or(|c| c
                            .keys()
                            .all(|k| k == PROBLEM_JSON || (proxied && k == ANY_MEDIA_TYPE))),
                        "{method} {path} {status}: problems are problem+json"
                    );
                }
            }
        }
    }

    /// The proxy passes on whatever the provider answers, and whatever body the
    /// client sends, or none.
    #[test]
    fn the_proxy_declares_the_providers_answers_and_any_body() {
        let document = build();
        let mut seen = 0;
        for (path, method, operation) in operations(&document) {
            if !path.contains("/proxy/") {
                continue;
            }
            seen += 1;
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.contains_key("default"), "{method}");
            for (status, response) in responses {
                let content = response["content"].as_object().unwrap();
                assert_eq!(
                    content.contains_key(ANY_MEDIA_TYPE),
                    status != "401",
                    "{method} {status}"
                );
            }
            let body = &operation["requestBody"];
            assert_eq!(body["required"], false, "{method}");
            assert_eq!(body["content"][ANY_MEDIA_TYPE], json!({}), "{method}");
        }
        assert_eq!(seen, 5);
    }

    /// Every pattern of an input refuses text holding a NUL, so the document says
    /// what the extractors do.
    #[test]
    fn no_input_pattern_admits_a_nul() {
        fn patterns(value: &Value, found: &mut Vec<String>) {
            match value {
                Value::Object(object) => {
                    for (key, value) in object {
                        match (key.as_str(), value) {
                            ("pattern", Value::String(pattern)) => found.push(pattern.clone()),
                            _ => patterns(value, found),
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| patterns(item, found)),
                _ => {}
            }
        }
        let document = build();
        let mut found = Vec::new();
        for (_, _, operation) in operations(&document) {
            patterns(&operation["parameters"], &mut found);
            patterns(&operation["requestBody"], &mut found);
        }
        patterns(&document["components"]["schemas"], &mut found);
        assert!(found.len() > 10);
        for pattern in found {
            let regex = regex::Regex::new(&pattern).unwrap();
            assert!(!regex.is_match("a\u{0}b"), "{pattern}");
        }
        let json = &document["components"]["schemas"]["Json"];
        assert_eq!(json["pattern"], NO_NUL);
    }
}

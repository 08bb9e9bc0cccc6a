//! Every operation of the API — the list comes from the OpenAPI document the API
//! serves, which is generated from its router, so a new route is covered the day it
//! is mounted — driven with hostile input: NUL and other control characters, invalid
//! UTF-8 and encoded surrogates in percent-escapes, lone surrogates escaped in JSON,
//! overlong strings, huge and malformed numbers and wrong types, in path parameters,
//! query parameters and JSON bodies (one hostile value at a time, the rest of the
//! request valid, so each reaches as deep as it can). No answer may be a 5xx, every
//! 4xx is problem+json, and every status is one the document declares for the
//! operation.
//!
//! The one exception is what the API reports about a provider it called: a 502
//! carrying a `provider_*` code is Junction telling the truth about the provider's
//! answer (a refund of a charge the provider does not know), and the proxy hands the
//! provider's own answers back as they are.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    support::TestApp,
    webhooks::{connect_stripe, post_stripe, stripe_event},
};

/// Hostile text, percent-encoded into URLs and written as JSON strings into bodies.
fn hostile_strings() -> Vec<String> {
    vec![
        "\u{0}".into(),
        "a\u{0}b".into(),
        "\u{1}\u{8}\u{1b}\u{1f}\u{7f}".into(),
        "\r\n\t".into(),
        "\u{fffe}\u{ffff}".into(),
        "x".repeat(5_000),
        "99999999999999999999999999999".into(),
        "-9223372036854775809".into(),
        "1e400".into(),
        "-1".into(),
        "0".into(),
        "NaN".into(),
        "true".into(),
        "null".into(),
        "[]".into(),
        "{}".into(),
        "+262143-12-31".into(),
        "-262144-01-01T00:00:00Z".into(),
        "0000-00-00".into(),
        "../..".into(),
        " ".into(),
        String::new(),
    ]
}

/// Percent-escapes no Rust string can carry: invalid UTF-8, an encoded surrogate, an
/// overlong NUL, broken escapes.
const RAW_ESCAPES: [&str; 7] = [
    "%FF%FE",
    "%ED%A0%80",
    "%C0%80",
    "%",
    "%zz",
    "%00",
    "a%00%FFb",
];

/// Hostile JSON values for one field of a body.
fn hostile_values() -> Vec<Value> {
    let mut values: Vec<Value> = hostile_strings().into_iter().map(Value::String).collect();
    values.extend([
        json!(true),
        json!(null),
        json!([]),
        json!({}),
        json!({"\u{0}": "\u{0}"}),
        json!(["\u{0}"]),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(-1e308),
        json!(1e308),
    ]);
    values
}

/// Whole bodies that are hostile as text: what serde_json would never write.
const RAW_BODIES: [&[u8]; 10] = [
    br#"{"x": "\ud800"}"#,
    br#""\udfff""#,
    br#"{"x": 1e400}"#,
    br#"{"x": -1e400}"#,
    b"{\"x\": \"\xff\xfe\"}",
    b"\xef\xbb\xbf{}",
    br#"{"x": 123456789012345678901234567890123456789}"#,
    br#"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"#,
    b"null",
    b"\"\\u0000\"",
];

/// Encodes `text` for a URL path segment or query value.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Real resources of the test's workspace, so requests reach past the lookups.
struct Fixtures {
    stripe: Uuid,
    ga4: Uuid,
    alert: String,
    run: String,
    webhook_event: String,
}

impl Fixtures {
    async fn create(app: &TestApp) -> Self {
        let ga4 = app.connect_ga4("123").await;
        let stripe = connect_stripe(app).await;
        let alert: Value = app
            .post("/v1/alerts")
            .json(&json!({
                "name": "Sessions", "integration_id": ga4, "metric": "sessions",
                "condition": "below", "threshold": 10, "recipients": ["ops@acme.example"]
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let run: Value = app
            .post(&format!("/v1/integrations/{ga4}/sync"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let body = stripe_event("evt_hostile", "invoice.paid", json!({"id": "in_1"}));
        let delivered = post_stripe(
            app,
            stripe,
            &body,
            "whsec_junctionsandbox",
            Utc::now().timestamp(),
        )
        .await;
        assert_eq!(delivered.status(), 200);
        let events: Value = app
            .get("/v1/webhook-events")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            stripe,
            ga4,
            alert: alert["id"].as_str().unwrap().to_owned(),
            run: run["run_id"].as_str().unwrap().to_owned(),
            webhook_event: events["data"][0]["id"].as_str().unwrap().to_owned(),
        }
    }

    /// A valid value of a path parameter of `path`.
    fn path_value(&self, path: &str, name: &str) -> String {
        match name {
            "provider" => "stripe".into(),
            "action" => "refund".into(),
            "path" => "v1/charges".into(),
            "integration_id" => self.stripe.to_string(),
            _ if path.starts_with("/v1/integrations/") => self.stripe.to_string(),
            _ if path.starts_with("/v1/alerts/") => self.alert.clone(),
            _ if path.starts_with("/v1/runs/") => self.run.clone(),
            _ if path.starts_with("/v1/webhook-events/") => self.webhook_event.clone(),
            _ => Uuid::new_v4().to_string(),
        }
    }

    /// A valid value of a query parameter, from its schema.
    fn query_value(&self, name: &str, schema: &Value) -> Option<String> {
        if let Some(first) = schema["enum"].get(0).and_then(Value::as_str) {
            return Some(first.to_owned());
        }
        Some(match (name, schema["format"].as_str()) {
            ("metric", _) => "sessions".into(),
            ("stream", _) => "daily_report".into(),
            (_, Some("uuid")) => self.ga4.to_string(),
            (_, Some("date")) => "2026-01-01".into(),
            (_, Some("date-time")) => "2026-01-01T00:00:00Z".into(),
            _ => match schema["type"].as_str() {
                Some("integer") => "1".into(),
                Some("boolean") => "true".into(),
                // Optional free text (a cursor, a filter) is best left out.
                _ => return None,
            },
        })
    }

    /// A valid body of an operation, so that one hostile field at a time reaches the
    /// use case; `{}` where every field is optional.
    fn body(&self, method: &str, path: &str) -> Value {
        match (method, path) {
            ("post", "/v1/alerts") => json!({
                "name": "Sessions", "integration_id": self.ga4, "metric": "sessions",
                "condition": "below", "threshold": 10, "recipients": ["ops@acme.example"]
            }),
            ("post", "/v1/integrations") => json!({
                "provider": "stripe", "credentials": {"secret_key": "sk_test_sandbox"}
            }),
            ("post", "/v1/connect/{provider}") => json!({"config": {"property_id": "1"}}),
            ("post", "/v1/integrations/{id}/actions/{action}") => {
                json!({"charge": "ch_missing", "reason": "requested_by_customer"})
            }
            _ => json!({}),
        }
    }
}

/// One request of the sweep.
struct Probe {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    what: String,
    /// The statuses the document declares for the operation.
    declared: Vec<String>,
}

/// Resolves a `$ref` into the document's components.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn probes(doc: &Value, fixtures: &Fixtures) -> Vec<Probe> {
    let mut probes = Vec::new();
    let paths = doc["paths"].as_object().expect("the document lists paths");
    for (template, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut path_params = BTreeMap::new();
            let mut query = Vec::new();
            let mut query_params = Vec::new();
            for parameter in &parameters {
                let name = parameter["name"].as_str().unwrap().to_owned();
                match parameter["in"].as_str() {
                    Some("path") => {
                        path_params.insert(
                            name.clone(),
                            encode_path(&fixtures.path_value(template, &name)),
                        );
                    }
                    Some("query") => {
                        if let Some(value) = fixtures.query_value(&name, &parameter["schema"]) {
                            query.push((name.clone(), encode(&value)));
                        }
                        query_params.push(name);
                    }
                    _ => {}
                }
            }
            let fill = |params: &BTreeMap<String, String>| {
                params.iter().fold(template.clone(), |path, (name, value)| {
                    path.replace(&format!("{{{name}}}"), value)
                })
            };
            let json_body = operation["requestBody"]["content"]
                .as_object()
                .is_some_and(|content| content.contains_key("application/json"));
            let base_body = fixtures.body(method, template);
            let body_bytes = |body: &Value| json_body.then(|| serde_json::to_vec(body).unwrap());
            let declared: Vec<String> = operation["responses"]
                .as_object()
                .map(|responses| responses.keys().cloned().collect())
                .unwrap_or_default();
            let mut hostile_fragments: Vec<String> =
                hostile_strings().iter().map(|s| encode(s)).collect();
            hostile_fragments.extend(RAW_ESCAPES.iter().map(|s| (*s).to_owned()));

            for name in path_params.keys() {
                for fragment in &hostile_fragments {
                    let mut params = path_params.clone();
                    params.insert(name.clone(), fragment.clone());
                    probes.push(Probe {
                        method: method.clone(),
                        path: fill(&params),
                        query: query.clone(),
                        body: body_bytes(&base_body),
                        declared: declared.clone(),
                        what: format!("path parameter `{name}` = {fragment:.40}"),
                    });
                }
            }
            for name in &query_params {
                for fragment in &hostile_fragments {
                    let mut hostile_query: Vec<(String, String)> =
                        query.iter().filter(|(n, _)| n != name).cloned().collect();
                    hostile_query.push((name.clone(), fragment.clone()));
                    probes.push(Probe {
                        method: method.clone(),
                        path: fill(&path_params),
                        query: hostile_query,
                        body: body_bytes(&base_body),
                        declared: declared.clone(),
                        what: format!("query parameter `{name}` = {fragment:.40}"),
                    });
                }
            }
            let schema = resolve(
                doc,
                &operation["requestBody"]["content"]["application/json"]["schema"],
            );
            let mut fields: Vec<String> = schema["properties"]
                .as_object()
                .map(|properties| properties.keys().cloned().collect())
                .unwrap_or_default();
            if json_body && fields.is_empty() {
                // A free-form body (an action's input): its own fields and a made-up one.
                fields = base_body
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                fields.push("extra".into());
            }
            for field in &fields {
                for value in hostile_values() {
                    let mut body = base_body.clone();
                    body[field.as_str()] = value.clone();
                    probes.push(Probe {
                        method: method.clone(),
                        path: fill(&path_params),
                        query: query.clone(),
                        body: Some(serde_json::to_vec(&body).unwrap()),
                        declared: declared.clone(),
                        what: format!("body field `{field}` = {:.40}", value.to_string()),
                    });
                }
            }
            if operation.get("requestBody").is_some() {
                for raw in RAW_BODIES {
                    probes.push(Probe {
                        method: method.clone(),
                        path: fill(&path_params),
                        query: query.clone(),
                        body: Some(raw.to_vec()),
                        declared: declared.clone(),
                        what: format!("raw body {:.40}", String::from_utf8_lossy(raw)),
                    });
                }
            }
        }
    }
    probes
}

/// Encodes a path parameter (slashes of the proxy's path stay path separators).
fn encode_path(value: &str) -> String {
    value.split('/').map(encode).collect::<Vec<_>>().join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_answers_hostile_input_with_a_server_error() {
    let app = TestApp::spawn().await;
    let fixtures = Fixtures::create(&app).await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let probes = probes(&doc, &fixtures);
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert!(operations >= 47, "the document lists every operation");
    assert!(probes.len() > 3_000, "{} probes", probes.len());

    let mut failures = Vec::new();
    for probe in &probes {
        let query: String = probe
            .query
            .iter()
            .map(|(name, value)| format!("{}={value}", encode(name)))
            .collect::<Vec<_>>()
            .join("&");
        let url = if query.is_empty() {
            format!("{}{}", app.url, probe.path)
        } else {
            format!("{}{}?{query}", app.url, probe.path)
        };
        let mut request = app
            .client
            .request(probe.method.to_uppercase().parse().unwrap(), &url)
            .bearer_auth(&app.api_key);
        if let Some(body) = &probe.body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.clone());
        }
        let label = format!(
            "{} {} — {}",
            probe.method.to_uppercase(),
            probe.path,
            probe.what
        );
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                failures.push(format!("{label}: no answer ({error})"));
                continue;
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().await.unwrap_or_default();
        let problem: Option<Value> = serde_json::from_str(&text).ok();
        let code = problem
            .as_ref()
            .and_then(|p| p["code"].as_str())
            .unwrap_or_default()
            .to_owned();
        let proxied = probe.path.contains("/proxy/") && content_type != "application/problem+json";
        if status >= 500 && !(status == 502 && code.starts_with("provider_")) && !proxied {
            failures.push(format!("{label}: {status} {text:.300}"));
        } else if (400..500).contains(&status)
            && !proxied
            && (content_type != "application/problem+json" || code.is_empty())
        {
            failures.push(format!("{label}: {status} as {content_type}: {text:.200}"));
        }
        if !proxied && !probe.declared.contains(&status.to_string()) {
            failures.push(format!("{label}: {status} is not declared: {text:.200}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests failed:\n{}",
        failures.len(),
        probes.len(),
        failures.join("\n")
    );
}

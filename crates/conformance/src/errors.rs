//! The error checks: each rule of a description's error table replayed through the
//! toolkit client, and the fake's own refusals read through the envelope and table.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use junction_core::{
    AdapterError, Connection, Context, FixedClock, fake::Fault, http::classify, spec::ProviderSpec,
};
use junction_toolkit::{
    Class, Code, Envelope, ErrorRule, FieldName, HttpApi, RateLimitHeaders, Resets, When,
    errors::{next_hour, next_midnight},
};
use serde_json::Value;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path_regex};

use crate::{
    FakeServer,
    common::{Failure, FakeList, client, cut, failure, put, scalar, shape, typed},
    paging,
};

/// What the provider "said" in every sample refusal. It must not contain any text a
/// rule's `when` looks for, so that only the texts a sample puts in on purpose match.
const SAID: &str = "a sample refusal from the conformance suite";

/// The wait every sample announces, in the signals' retry-after header.
const WAIT_SECS: u64 = 7;

/// Statuses tried, in order, for a rule that names none: the first at which no
/// earlier rule takes the refusal is used.
const STATUSES: [u16; 9] = [400, 422, 409, 404, 403, 401, 429, 500, 503];

/// The moment every sample is classified at.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_768_480_496, 0).unwrap_or_default()
}

/// One refusal to serve and what it checks.
struct Case {
    label: String,
    /// The rule the refusal is built for (`None`: a bare status, whichever rule
    /// takes it).
    rule: Option<usize>,
    status: u16,
    body: Value,
    /// Whether the envelope's message is left out (the rule's fallback is checked).
    without_message: bool,
}

/// How the table describes rule `i`, for failure messages.
fn describe(i: usize, rule: &ErrorRule) -> String {
    let mut parts = Vec::new();
    if let Some(status) = rule.status {
        parts.push(format!("HTTP {status}"));
    }
    match rule.code {
        Code::Any => {}
        Code::Is(code) => parts.push(format!("code {code}")),
        Code::OneOf(codes) => parts.push(format!("codes {}", codes.join("|"))),
        Code::Range(from, to) => parts.push(format!("codes {from}..={to}")),
    }
    match rule.when {
        When::Always => {}
        When::Equals(pointer, text) => parts.push(format!("{pointer} = {text}")),
        When::Contains(pointer, text) => parts.push(format!("{pointer} contains {text:?}")),
    }
    if parts.is_empty() {
        parts.push("any refusal".into());
    }
    let class = match rule.class {
        Class::Keep => "the generic class".to_owned(),
        Class::RateLimited => "RateLimited".to_owned(),
        Class::QuotaExhausted(resets) => format!("QuotaExhausted ({resets:?})"),
        Class::Unauthorized { refreshable } => {
            format!("Unauthorized {{ refreshable: {refreshable} }}")
        }
        Class::Invalid(Some(FieldName::Fixed(field))) => format!("Invalid naming `{field}`"),
        Class::Invalid(Some(FieldName::At(pointer))) => {
            format!("Invalid naming the field at {pointer}")
        }
        Class::Invalid(None) => "Invalid".to_owned(),
        Class::Unavailable => "Unavailable".to_owned(),
        Class::Custom(_) => "the provider's function".to_owned(),
    };
    format!("rule {i} ({} → {class})", parts.join(", "))
}

/// The codes a rule is about: each of a list, both ends of a range, none for any.
fn codes_of(rule: &ErrorRule) -> Vec<Option<String>> {
    match rule.code {
        Code::Any => vec![None],
        Code::Is(code) => vec![Some(code.to_owned())],
        Code::OneOf(codes) => codes.iter().map(|c| Some((*c).to_owned())).collect(),
        Code::Range(from, to) if from == to => vec![Some(from.to_string())],
        Code::Range(from, to) => vec![Some(from.to_string()), Some(to.to_string())],
    }
}

/// The refusal `rule` is about, in the envelope's shape: the code at the first code
/// path, the provider's words at the last message path (unless `without_message`),
/// what the `when` asks for, a field name where the class reads one from the body,
/// and for GraphQL APIs a non-empty error list.
fn sample(
    envelope: &Envelope,
    in_success_body: Option<&str>,
    rule: &ErrorRule,
    code: Option<&str>,
    without_message: bool,
) -> Value {
    let mut body = Value::Null;
    // Overwriting is allowed here: a `when` on the code or message path is meant to
    // replace it (and a rule that contradicts itself shows as unreachable).
    if let (Some(code), Some(pointer)) = (code, envelope.code.first()) {
        set(&mut body, pointer, typed(code));
    }
    if !without_message && let Some(pointer) = envelope.message.last() {
        set(&mut body, pointer, Value::String(SAID.to_owned()));
    }
    match rule.when {
        When::Always => {}
        When::Equals(pointer, text) => set(&mut body, pointer, typed(text)),
        When::Contains(pointer, text) => {
            set(&mut body, pointer, Value::String(format!("{SAID}: {text}")));
        }
    }
    if let Class::Invalid(Some(FieldName::At(pointer))) = rule.class {
        set(
            &mut body,
            pointer,
            Value::String("conformance_field".into()),
        );
    }
    if let Some(list) = in_success_body {
        let listed = body
            .pointer(list)
            .and_then(Value::as_array)
            .is_some_and(|errors| !errors.is_empty());
        if !listed {
            set(&mut body, list, serde_json::json!([{ "message": SAID }]));
        }
    }
    if body.is_null() {
        body = Value::Object(serde_json::Map::new());
    }
    body
}

/// Sets `pointer` in `body`, replacing what is there.
fn set(body: &mut Value, pointer: &str, value: Value) {
    // Replacing never fails but where a path runs through a scalar the sample put
    // there itself; the rule then shows as unreachable, which names the clash.
    let _ = put(body, pointer, value, false);
}

/// The code the toolkit reads from a refusal (the envelope's paths, else the
/// generic code, else the code the status stands for).
fn code_of(envelope: &Envelope, body: &Value, base: &AdapterError, status: u16) -> Option<String> {
    let code = if envelope.code.is_empty() {
        match base {
            AdapterError::Provider { code, .. } => code.clone(),
            _ => None,
        }
    } else {
        envelope
            .code
            .iter()
            .find_map(|pointer| scalar(Some(body), pointer))
    };
    code.or_else(|| {
        envelope
            .code_for_status
            .iter()
            .find(|(s, _)| *s == status)
            .map(|(_, code)| (*code).to_owned())
    })
}

/// The provider's words in `body` as the envelope reads them, one line.
fn said(envelope: &Envelope, body: &Value) -> Option<String> {
    envelope
        .message
        .iter()
        .find_map(|pointer| scalar(Some(body), pointer))
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Headers every sample carries: the wait, under the name the signals read it from.
fn wait_headers(api: &HttpApi) -> Vec<(&'static str, String)> {
    let name = match api.rate_limits.headers {
        RateLimitHeaders::Standard => Some("retry-after"),
        RateLimitHeaders::Named { retry_after, .. } => retry_after,
        RateLimitHeaders::Custom(_) => None,
    };
    name.map(|name| vec![(name, WAIT_SECS.to_string())])
        .unwrap_or_default()
}

/// The generic classification of a refusal, as core's HTTP layer makes it.
fn generic(
    status: u16,
    headers: &[(&'static str, String)],
    body: &[u8],
    policy: &junction_core::http::ResponsePolicy,
) -> AdapterError {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.insert(*name, value);
        }
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    classify(status, &map, body, now(), policy)
}

/// The first rule that takes a refusal.
fn first_match(
    api: &HttpApi,
    status: u16,
    body: &Value,
    base: &AdapterError,
) -> (Option<usize>, Option<String>) {
    let code = code_of(&api.errors.envelope, body, base, status);
    let first = api
        .errors
        .rules
        .iter()
        .position(|rule| rule.matches(status, code.as_deref(), Some(body)));
    (first, code)
}

/// The placeholders of a rule's message must be `{message}` or config fields of the
/// spec that are not secret (they are filled from the connection's config).
fn placeholders(api: &HttpApi, spec: &ProviderSpec) -> Result<(), Failure> {
    for (i, rule) in api.errors.rules.iter().enumerate() {
        let mut rest = rule.message;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(len) = after.find('}') else { break };
            let name = &after[..len];
            let known = name == "message"
                || spec
                    .config
                    .iter()
                    .any(|field| field.name == name && !field.secret);
            if !known {
                return Err(failure(
                    format!("errors: {}", describe(i, rule)),
                    format!(
                        "its message names {{{name}}}, which is neither {{message}} nor a \
                         non-secret config field of the spec, so it would reach users unfilled"
                    ),
                ));
            }
            rest = &after[len + 1..];
        }
    }
    Ok(())
}

/// Builds the cases of every rule, and of every status that stands for a code.
fn cases(
    api: &HttpApi,
    policy: &junction_core::http::ResponsePolicy,
) -> Result<Vec<Case>, Failure> {
    let errors = &api.errors;
    let envelope = &errors.envelope;
    let headers = wait_headers(api);
    let mut cases = Vec::new();
    for (i, rule) in errors.rules.iter().enumerate() {
        let check = || format!("errors: {}", describe(i, rule));
        let mut variants = vec![false];
        let when_on_message = match rule.when {
            When::Equals(pointer, _) | When::Contains(pointer, _) => {
                envelope.message.contains(&pointer)
            }
            When::Always => false,
        };
        if rule.message.contains("{message}")
            && !rule.fallback.is_empty()
            && !envelope.message.is_empty()
            && !when_on_message
        {
            variants.push(true);
        }
        for code in codes_of(rule) {
            for &without_message in &variants {
                let body = sample(envelope, None, rule, code.as_deref(), without_message);
                let bytes = body.to_string().into_bytes();
                let candidates: Vec<u16> = match rule.status {
                    Some(status) => vec![status],
                    None => STATUSES.to_vec(),
                };
                let mut taken = Vec::new();
                let status = candidates.iter().copied().find(|&status| {
                    let base = generic(status, &headers, &bytes, policy);
                    match first_match(api, status, &body, &base) {
                        (Some(first), _) if first == i => true,
                        (other, code) => {
                            taken.push((status, other, code));
                            false
                        }
                    }
                });
                let Some(status) = status else {
                    let (status, other, read) = taken.first().cloned().unwrap_or((400, None, None));
                    let by = match other {
                        Some(j) => format!("{} takes it first", describe(j, &errors.rules[j])),
                        None => "no rule takes it".to_owned(),
                    };
                    return Err(failure(
                        check(),
                        format!(
                            "the rule is unreachable: its refusal {} at HTTP {status} (code read: \
                             {read:?}) is never classified by it — {by}",
                            cut(&body.to_string(), 300)
                        ),
                    ));
                };
                let what = match &code {
                    Some(code) => format!("code {code}"),
                    None => "its refusal".to_owned(),
                };
                let variant = if without_message {
                    ", without a message"
                } else {
                    ""
                };
                cases.push(Case {
                    label: format!("{what} at HTTP {status}{variant}"),
                    rule: Some(i),
                    status,
                    body,
                    without_message,
                });
                if errors.in_success_body.is_some() && rule.status.is_none_or(|s| s == 200) {
                    let body = sample(
                        envelope,
                        errors.in_success_body,
                        rule,
                        code.as_deref(),
                        without_message,
                    );
                    cases.push(Case {
                        label: format!("{what} in an HTTP 200 body{variant}"),
                        rule: Some(i),
                        status: 200,
                        body,
                        without_message,
                    });
                }
            }
        }
    }
    for (status, code) in envelope.code_for_status {
        let mut body = Value::Null;
        if let Some(pointer) = envelope.message.last() {
            set(&mut body, pointer, Value::String(SAID.to_owned()));
        }
        if body.is_null() {
            body = Value::Object(serde_json::Map::new());
        }
        cases.push(Case {
            label: format!("a bare HTTP {status} (standing for {code})"),
            rule: None,
            status: *status,
            body,
            without_message: false,
        });
    }
    Ok(cases)
}

/// Checks that `actual` is what rule `rule` (or, without one, the generic class)
/// documents for a refusal with `body`.
fn expect(
    api: &HttpApi,
    rule: Option<&ErrorRule>,
    body: &Value,
    without_message: bool,
    base: &AdapterError,
    actual: &AdapterError,
) -> Result<(), String> {
    let Some(rule) = rule else {
        return if actual == base {
            Ok(())
        } else {
            Err(format!(
                "no rule takes it, so it must keep the generic class {base:?}"
            ))
        };
    };
    let wait = (!wait_headers(api).is_empty()).then_some(Duration::from_secs(WAIT_SECS));
    let message_of = |error: &AdapterError| match error {
        AdapterError::Unauthorized { message, .. }
        | AdapterError::Invalid { message, .. }
        | AdapterError::Unavailable { message } => Some(message.clone()),
        _ => None,
    };
    let class_ok = match (rule.class, actual) {
        (Class::Keep, _) => actual == base,
        (Class::RateLimited, AdapterError::RateLimited { retry_after }) => {
            wait.is_none() || *retry_after == wait
        }
        (Class::QuotaExhausted(resets), AdapterError::QuotaExhausted { resets_at }) => match resets
        {
            Resets::FromHeaders => {
                wait.is_none()
                    || *resets_at
                        == wait
                            .and_then(|w| chrono::Duration::from_std(w).ok())
                            .map(|w| now() + w)
            }
            Resets::NextHour => *resets_at == Some(next_hour(now())),
            Resets::NextMidnight(zone) => *resets_at == Some(next_midnight(zone, now())),
        },
        (
            Class::Unauthorized { refreshable },
            AdapterError::Unauthorized {
                refreshable: got, ..
            },
        ) => refreshable == *got,
        (Class::Invalid(field), AdapterError::Invalid { field: got, .. }) => {
            let wanted = match field {
                None => None,
                Some(FieldName::Fixed(name)) => Some(name.to_owned()),
                Some(FieldName::At(pointer)) => scalar(Some(body), pointer),
            };
            *got == wanted
        }
        (Class::Unavailable, AdapterError::Unavailable { .. }) => true,
        (Class::Custom(_), _) => true,
        _ => false,
    };
    if !class_ok {
        return Err(format!(
            "classified as {actual:?}, not as the rule documents{}",
            if matches!(rule.class, Class::Keep) {
                format!(" (the generic class {base:?})")
            } else {
                String::new()
            }
        ));
    }
    let templated = matches!(
        rule.class,
        Class::Unauthorized { .. } | Class::Invalid(_) | Class::Unavailable
    ) && rule.message.contains("{message}");
    if templated && let Some(message) = message_of(actual) {
        if without_message {
            if !message.contains(rule.fallback) {
                return Err(format!(
                    "without a message in the body, the error's message {message:?} must \
                     carry the rule's fallback {:?}",
                    rule.fallback
                ));
            }
        } else if let Some(said) = said(&api.errors.envelope, body)
            && !message.contains(&said)
        {
            return Err(format!(
                "the error's message {message:?} must carry the provider's words {said:?} \
                 (read at the envelope's message paths {:?})",
                api.errors.envelope.message
            ));
        }
    }
    Ok(())
}

/// Replays every rule of `api`'s error table (see the crate docs); the number of
/// refusals classified.
pub(crate) async fn rules(
    api: &HttpApi,
    spec: &ProviderSpec,
    conn: &Connection,
) -> Result<usize, Failure> {
    placeholders(api, spec)?;
    let server = MockServer::start().await;
    let ctx = Context::new(reqwest::Client::new())
        .with_base_url(
            url::Url::parse(&format!("{}/", server.uri()))
                .map_err(|e| failure("errors", format!("the mock server's URL: {e}")))?,
        )
        .with_clock(Arc::new(FixedClock(now())));
    let client = client(&ctx, spec, api, conn).map_err(|e| {
        failure(
            "errors",
            format!("the toolkit client cannot be built for the suite's connection: {e}"),
        )
    })?;
    let policy = client.policy();
    let cases = cases(api, &policy)?;
    let headers = wait_headers(api);
    for (n, case) in cases.iter().enumerate() {
        let mut template = ResponseTemplate::new(case.status)
            .set_body_raw(case.body.to_string().into_bytes(), "application/json");
        for (name, value) in &headers {
            template = template.insert_header(*name, value.as_str());
        }
        Mock::given(path_regex(format!("/conformance/refusal/{n}$")))
            .respond_with(template)
            .mount(&server)
            .await;
    }
    for (n, case) in cases.iter().enumerate() {
        let check = match case.rule {
            Some(i) => format!("errors: {}", describe(i, &api.errors.rules[i])),
            None => "errors: envelope.code_for_status".to_owned(),
        };
        let request = client
            .request(http::Method::GET, &format!("conformance/refusal/{n}"))
            .map_err(|e| failure(&check, format!("the request cannot be built: {e}")))?;
        let bytes = case.body.to_string().into_bytes();
        let actual = match client.fetch(request).await {
            Ok(_) => {
                return Err(failure(
                    check,
                    format!(
                        "{}: the client took {} as a success",
                        case.label,
                        cut(&case.body.to_string(), 300)
                    ),
                ));
            }
            Err(error) => error,
        };
        let base = generic(case.status, &headers, &bytes, &policy);
        let (first, code) = first_match(api, case.status, &case.body, &base);
        if let Some(i) = case.rule
            && first != Some(i)
        {
            let by = match first {
                Some(j) => format!("{} takes it first", describe(j, &api.errors.rules[j])),
                None => "no rule takes it".to_owned(),
            };
            return Err(failure(
                check,
                format!(
                    "{}: the refusal {} (code read: {code:?}) is not classified by this rule: \
                     {by}",
                    case.label,
                    cut(&case.body.to_string(), 300)
                ),
            ));
        }
        let rule = first.map(|j| &api.errors.rules[j]);
        expect(api, rule, &case.body, case.without_message, &base, &actual).map_err(|detail| {
            failure(
                check,
                format!(
                    "{}: the refusal {} {detail}",
                    case.label,
                    cut(&case.body.to_string(), 300)
                ),
            )
        })?;
    }
    Ok(cases.len())
}

/// Whether `error` is what the fault `fault` means to the retry policy. A provider
/// whose table documents a quota must recognise its own quota refusal as one; other
/// providers may answer a used-up quota as a rate limit.
fn means(fault: Fault, error: &AdapterError, documents_quota: bool) -> bool {
    match fault {
        Fault::QuotaExhausted if documents_quota => {
            matches!(error, AdapterError::QuotaExhausted { .. })
        }
        Fault::RateLimited { .. } | Fault::QuotaExhausted => matches!(
            error,
            AdapterError::RateLimited { .. } | AdapterError::QuotaExhausted { .. }
        ),
        Fault::ServerError => matches!(error, AdapterError::Unavailable { .. }),
        Fault::ExpiredToken => matches!(error, AdapterError::Unauthorized { .. }),
        Fault::MalformedBody => matches!(error, AdapterError::Unavailable { .. }),
    }
}

/// Asks the fake for the first page of `list` with each fault it can inject armed,
/// through the description: every refusal of the fake's must classify as the fault
/// means, the envelope must find its message, and its code in one of them at least.
/// The number of refusals read.
pub(crate) async fn fake_refusals(
    api: &HttpApi,
    spec: &ProviderSpec,
    conn: &Connection,
    server: &FakeServer,
    list: &FakeList,
    paging: &junction_toolkit::Paging,
) -> Result<usize, Failure> {
    let envelope = &api.errors.envelope;
    let ctx = server.context();
    let client = client(&ctx, spec, api, conn).map_err(|e| {
        failure(
            "errors: the fake's refusals",
            format!("the toolkit client cannot be built for the suite's connection: {e}"),
        )
    })?;
    let documents_quota = api
        .errors
        .rules
        .iter()
        .any(|rule| matches!(rule.class, Class::QuotaExhausted(_)));
    let mut read = 0;
    let mut codes = Vec::new();
    let mut bodies = Vec::new();
    for fault in [
        Fault::RateLimited {
            retry_after_secs: 2,
        },
        Fault::QuotaExhausted,
        Fault::ServerError,
        Fault::ExpiredToken,
    ] {
        let name = match fault {
            Fault::RateLimited { .. } => "RateLimited",
            Fault::QuotaExhausted => "QuotaExhausted",
            Fault::ServerError => "ServerError",
            Fault::ExpiredToken => "ExpiredToken",
            Fault::MalformedBody => "MalformedBody",
        };
        let check = format!("errors: the fake's {name} refusal");
        server.arm(fault);
        let request = paging::fake_request(
            &client,
            paging,
            list,
            &junction_toolkit::PageToken::First,
            list.size,
        )
        .map_err(|e| failure(&check, format!("the request cannot be built: {e}")))?;
        let result = client.fetch(request).await;
        let served = server.last_served();
        let Some(served) = served.filter(|s| s.fault == Some(fault)) else {
            return Err(failure(check, "the fake served nothing for the request"));
        };
        if (200..300).contains(&served.status) {
            // The fake does not inject this fault on this request.
            continue;
        }
        read += 1;
        let text = String::from_utf8_lossy(&served.body).into_owned();
        let error = match result {
            Ok(_) => {
                return Err(failure(
                    check,
                    format!("HTTP {} was taken as a success", served.status),
                ));
            }
            Err(error) => error,
        };
        if !means(fault, &error, documents_quota) {
            return Err(failure(
                check,
                format!(
                    "the fake's refusal (HTTP {}: {}) classifies as {error:?} through the \
                     description, which is not what {name} means to the retry policy{}: does \
                     the envelope (code at {:?}) read where the provider puts its code, and \
                     does a rule take it?",
                    served.status,
                    cut(&text, 400),
                    if documents_quota && fault == Fault::QuotaExhausted {
                        " (the table documents a quota, so its own quota refusal must be \
                         QuotaExhausted)"
                    } else {
                        ""
                    },
                    envelope.code
                ),
            ));
        }
        let Ok(body) = serde_json::from_slice::<Value>(&served.body) else {
            continue;
        };
        if !envelope.message.is_empty() && said(envelope, &body).is_none() {
            return Err(failure(
                check,
                format!(
                    "the envelope's message paths {:?} find nothing in the fake's refusal \
                     (HTTP {}: {}, {})",
                    envelope.message,
                    served.status,
                    cut(&text, 400),
                    shape(&body)
                ),
            ));
        }
        codes.extend(
            envelope
                .code
                .iter()
                .filter_map(|pointer| scalar(Some(&body), pointer)),
        );
        bodies.push(cut(&text, 200));
    }
    if !envelope.code.is_empty() && !bodies.is_empty() && codes.is_empty() {
        return Err(failure(
            "errors: the envelope's code paths",
            format!(
                "{:?} find no code in any of the fake's refusals: {}",
                envelope.code,
                bodies.join(" | ")
            ),
        ));
    }
    Ok(read)
}

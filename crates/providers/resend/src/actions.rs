//! The actions: `send_email` (`POST /emails`), `send_batch` (`POST /emails/batch`) and
//! `get_email` (`GET /emails/{id}`).
//!
//! Input is checked against the action's schema here, before anything is sent, and
//! every problem is reported as `Invalid` naming the field (`to`, `emails[3].subject`).
//! Beyond the schema, addresses must look like addresses and nothing that ends up in
//! a mail header (subject, custom headers, addresses) may contain a line break, so
//! input cannot smuggle extra headers into the message. The idempotency key travels
//! as Resend's `Idempotency-Key` header: Resend keeps a key for 24 hours and answers a
//! repeat of the same request with the first response instead of sending again.

use junction_core::{ActionOutcome, AdapterError, Connection, Context};
use serde_json::{Map, Value, json};

use crate::{
    api,
    spec::{self, MAX_BATCH, MAX_IDEMPOTENCY_KEY_CHARS, MAX_RECIPIENTS},
    wire::{BatchResponse, SendEmailResponse},
};

/// The fields an email may carry.
const EMAIL_FIELDS: [&str; 11] = [
    "from",
    "to",
    "subject",
    "html",
    "text",
    "cc",
    "bcc",
    "reply_to",
    "headers",
    "tags",
    "scheduled_at",
];

/// Runs `send_email`.
pub(crate) async fn send_email(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let body = validate_email(input, "", default_from(conn)?, true)?;
    let key = checked_idempotency_key(idempotency_key)?;
    let mut request = api::request(ctx, conn, reqwest::Method::POST, "emails")?.json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let sent: SendEmailResponse = api::call(ctx, spec::spec(), request).await?;
    Ok(ActionOutcome {
        output: json!({"id": sent.id}),
        external_id: Some(sent.id),
    })
}

/// Runs `send_batch`.
pub(crate) async fn send_batch(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let input = object(input, "input")?;
    if let Some(unknown) = input.keys().find(|key| *key != "emails") {
        return Err(AdapterError::invalid_field(
            unknown.as_str(),
            "is not a field of this action",
        ));
    }
    let Some(emails) = input.get("emails").and_then(Value::as_array) else {
        return Err(AdapterError::invalid_field(
            "emails",
            "is required: an array of emails",
        ));
    };
    if emails.is_empty() || emails.len() > MAX_BATCH {
        return Err(AdapterError::invalid_field(
            "emails",
            format!("must hold 1 to {MAX_BATCH} emails"),
        ));
    }
    let from = default_from(conn)?;
    let body = emails
        .iter()
        .enumerate()
        .map(|(i, email)| validate_email(email, &format!("emails[{i}]."), from, false))
        .map(|email| email.map(Value::Object))
        .collect::<Result<Vec<_>, _>>()?;
    let key = checked_idempotency_key(idempotency_key)?;
    let mut request = api::request(ctx, conn, reqwest::Method::POST, "emails/batch")?.json(&body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let sent: BatchResponse = api::call(ctx, spec::spec(), request).await?;
    if sent.data.len() != body.len() {
        // Strict batches are all-or-nothing; a short answer means the response was
        // cut or garbled, not that some emails were refused.
        return Err(AdapterError::unavailable(format!(
            "malformed response body: {} ids for {} emails",
            sent.data.len(),
            body.len()
        )));
    }
    let ids: Vec<String> = sent.data.into_iter().map(|email| email.id).collect();
    Ok(ActionOutcome {
        external_id: None,
        output: json!({"ids": ids}),
    })
}

/// Runs `get_email`.
pub(crate) async fn get_email(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let input = object(input, "input")?;
    if let Some(unknown) = input.keys().find(|key| *key != "email_id") {
        return Err(AdapterError::invalid_field(
            unknown.as_str(),
            "is not a field of this action",
        ));
    }
    let id = input
        .get("email_id")
        .and_then(Value::as_str)
        .filter(|id| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .ok_or_else(|| {
            AdapterError::invalid_field("email_id", "is required: the id Resend gave the email")
        })?;
    let request = api::request(ctx, conn, reqwest::Method::GET, &format!("emails/{id}"))?;
    let mut email: Value = api::call(ctx, spec::spec(), request).await?;
    if let Some(map) = email.as_object_mut() {
        map.remove("html");
        map.remove("text");
    }
    Ok(ActionOutcome {
        external_id: Some(id.to_owned()),
        output: email,
    })
}

/// The connection's default sender, when configured.
fn default_from(conn: &Connection) -> Result<Option<&str>, AdapterError> {
    match conn.config.get("from") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(from)) if from.trim().is_empty() => Ok(None),
        Some(Value::String(from)) if valid_mailbox(from) => Ok(Some(from.as_str())),
        Some(_) => Err(AdapterError::invalid_field(
            "from",
            "the connection's default sender is not an email address",
        )),
    }
}

/// The idempotency key, checked against Resend's limit (1 to 256 characters).
fn checked_idempotency_key(key: Option<&str>) -> Result<Option<&str>, AdapterError> {
    match key {
        None => Ok(None),
        Some(key)
            if !key.is_empty()
                && key.chars().count() <= MAX_IDEMPOTENCY_KEY_CHARS
                && key.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
        {
            Ok(Some(key))
        }
        Some(_) => Err(AdapterError::invalid_field(
            "idempotency_key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"),
        )),
    }
}

fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>, AdapterError> {
    value
        .as_object()
        .ok_or_else(|| AdapterError::invalid_field(field, "must be a JSON object"))
}

/// Checks one email against the action schema and returns Resend's request body.
/// `prefix` is prepended to field names in errors (`emails[2].`).
pub(crate) fn validate_email(
    input: &Value,
    prefix: &str,
    default_from: Option<&str>,
    allow_schedule: bool,
) -> Result<Map<String, Value>, AdapterError> {
    let field = |name: &str| format!("{prefix}{name}");
    let invalid = |name: &str, message: &str| AdapterError::invalid_field(field(name), message);
    let input = object(
        input,
        if prefix.is_empty() {
            "input"
        } else {
            prefix.trim_end_matches('.')
        },
    )?;
    for key in input.keys() {
        let known = EMAIL_FIELDS.contains(&key.as_str());
        if !known || (key == "scheduled_at" && !allow_schedule) {
            let why = if known {
                "is not supported in a batch"
            } else {
                "is not a field of this action"
            };
            return Err(invalid(key, why));
        }
    }
    let mut body = Map::new();

    let from = match input.get("from") {
        None | Some(Value::Null) => default_from.ok_or_else(|| {
            invalid(
                "from",
                "is required: the connection has no default sender configured",
            )
        })?,
        Some(Value::String(from)) if valid_mailbox(from) => from.as_str(),
        Some(_) => {
            return Err(invalid(
                "from",
                "must be an address like `alerts@example.com` or `Name <alerts@example.com>`",
            ));
        }
    };
    body.insert("from".into(), json!(from));

    let to = addresses(input.get("to"), &field("to"))?
        .ok_or_else(|| invalid("to", "is required: one address or an array of addresses"))?;
    if to.len() > MAX_RECIPIENTS {
        return Err(invalid(
            "to",
            &format!("may hold at most {MAX_RECIPIENTS} addresses"),
        ));
    }
    body.insert("to".into(), input.get("to").cloned().unwrap_or(Value::Null));

    match input.get("subject") {
        Some(Value::String(subject)) if !subject.trim().is_empty() && !has_line_break(subject) => {
            body.insert("subject".into(), json!(subject));
        }
        Some(Value::String(subject)) if has_line_break(subject) => {
            return Err(invalid("subject", "must be one line"));
        }
        _ => return Err(invalid("subject", "is required: a non-empty string")),
    }

    for part in ["html", "text"] {
        match input.get(part) {
            None | Some(Value::Null) => {}
            Some(Value::String(content)) => {
                body.insert(part.into(), json!(content));
            }
            Some(_) => return Err(invalid(part, "must be a string")),
        }
    }
    if !body.contains_key("html") && !body.contains_key("text") {
        return Err(invalid("html", "either `html` or `text` is required"));
    }

    for list in ["cc", "bcc", "reply_to"] {
        if addresses(input.get(list), &field(list))?.is_some() {
            body.insert(list.into(), input.get(list).cloned().unwrap_or(Value::Null));
        }
    }

    if let Some(headers) = input.get("headers").filter(|h| !h.is_null()) {
        let Some(map) = headers.as_object() else {
            return Err(invalid(
                "headers",
                "must be an object of header names to values",
            ));
        };
        for (name, value) in map {
            let name_ok =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            let value_ok = value.as_str().is_some_and(|v| !has_line_break(v));
            if !name_ok || !value_ok {
                return Err(AdapterError::invalid_field(
                    format!("{}.{name}", field("headers")),
                    "header names must be visible ASCII without `:`, values one-line strings",
                ));
            }
        }
        body.insert("headers".into(), headers.clone());
    }

    if let Some(tags) = input.get("tags").filter(|t| !t.is_null()) {
        let Some(items) = tags.as_array() else {
            return Err(invalid("tags", "must be an array of {name, value}"));
        };
        for (i, tag) in items.iter().enumerate() {
            let ok = tag.as_object().is_some_and(|tag| {
                tag.len() == 2
                    && ["name", "value"].iter().all(|key| {
                        tag.get(*key)
                            .and_then(Value::as_str)
                            .is_some_and(valid_tag_part)
                    })
            });
            if !ok {
                return Err(AdapterError::invalid_field(
                    format!("{}[{i}]", field("tags")),
                    "must be {name, value} of 1 to 256 ASCII letters, digits, `_` or `-`",
                ));
            }
        }
        body.insert("tags".into(), tags.clone());
    }

    if let Some(when) = input.get("scheduled_at").filter(|s| !s.is_null()) {
        match when.as_str() {
            Some(text) if !text.trim().is_empty() && !has_line_break(text) => {
                body.insert("scheduled_at".into(), when.clone());
            }
            _ => {
                return Err(invalid(
                    "scheduled_at",
                    "must be an ISO 8601 time or a phrase like `in 1 hour`",
                ));
            }
        }
    }
    Ok(body)
}

/// Reads an address field: absent is `None`; a string or a non-empty array of
/// strings, each a valid mailbox, is the list of addresses.
fn addresses<'a>(
    value: Option<&'a Value>,
    field: &str,
) -> Result<Option<Vec<&'a str>>, AdapterError> {
    let list: Vec<&Value> = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(_)) => value.into_iter().collect(),
        Some(Value::Array(items)) if !items.is_empty() => items.iter().collect(),
        Some(_) => {
            return Err(AdapterError::invalid_field(
                field,
                "must be an address or a non-empty array of addresses",
            ));
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str().filter(|a| valid_mailbox(a)).ok_or_else(|| {
                let at = if value.is_some_and(Value::is_array) {
                    format!("{field}[{i}]")
                } else {
                    field.to_owned()
                };
                AdapterError::invalid_field(at, "is not an email address")
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// Whether `text` is `user@domain.tld` or `Display Name <user@domain.tld>`, on one line.
pub(crate) fn valid_mailbox(text: &str) -> bool {
    let text = text.trim();
    if text.is_empty() || has_line_break(text) {
        return false;
    }
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => {
            let name = &text[..open];
            if name.contains(['<', '>']) {
                return false;
            }
            &inner[open + 1..]
        }
        (None, None) => text,
        _ => return false,
    };
    valid_address(address)
}

/// Whether `address` is a plain `local@domain.tld`.
fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let clean = |part: &str| {
        !part.is_empty()
            && !part
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
    };
    clean(local)
        && !local.contains('@')
        && clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn valid_tag_part(part: &str) -> bool {
    (1..=256).contains(&part.len())
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn has_line_break(text: &str) -> bool {
    text.contains(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: AdapterError) -> String {
        match err {
            AdapterError::Invalid { field: Some(f), .. } => f,
            other => panic!("{other:?}"),
        }
    }

    fn email() -> Value {
        json!({"to": "ops@acme.example", "subject": "Hi", "text": "Hello"})
    }

    #[test]
    fn mailboxes() {
        for good in [
            "a@b.co",
            "Acme Alerts <alerts@acme.example>",
            "\"Acme, Inc\" <alerts@acme.example>",
            "first.last+tag@sub.acme.example",
            "<bare@acme.example>",
        ] {
            assert!(valid_mailbox(good), "{good}");
        }
        for bad in [
            "",
            "alerts",
            "alerts@localhost",
            "a@b.co\r\nBcc: evil@x.example",
            "Name <a@b.co",
            "Name a@b.co>",
            "a b@c.example",
            "a@b..example",
            "a@.example",
            "Na<me <a@b.co>",
            "a@b@c.example",
        ] {
            assert!(!valid_mailbox(bad), "{bad}");
        }
    }

    #[test]
    fn a_minimal_email_takes_the_default_sender() {
        let body = validate_email(&email(), "", Some("Junction <j@acme.example>"), true).unwrap();
        assert_eq!(
            Value::Object(body),
            json!({"from": "Junction <j@acme.example>", "to": "ops@acme.example",
                   "subject": "Hi", "text": "Hello"})
        );
    }

    #[test]
    fn every_field_passes_through() {
        let input = json!({
            "from": "a@acme.example", "to": ["b@acme.example", "c@acme.example"],
            "subject": "S", "html": "<p>x</p>", "text": "x", "cc": "d@acme.example",
            "bcc": ["e@acme.example"], "reply_to": "f@acme.example",
            "headers": {"X-Entity-Ref-ID": "123"},
            "tags": [{"name": "category", "value": "kpi_alert"}],
            "scheduled_at": "in 1 hour"
        });
        let body = validate_email(&input, "", None, true).unwrap();
        assert_eq!(Value::Object(body), input);
    }

    #[test]
    fn problems_name_their_field() {
        let cases: Vec<(Value, &str)> = vec![
            (
                json!({"to": "x@acme.example", "subject": "S", "text": "t"}),
                "from",
            ),
            (
                json!({"from": "nope", "to": "x@acme.example", "subject": "S", "text": "t"}),
                "from",
            ),
            (
                json!({"from": "a@acme.example", "subject": "S", "text": "t"}),
                "to",
            ),
            (
                json!({"from": "a@acme.example", "to": [], "subject": "S", "text": "t"}),
                "to",
            ),
            (
                json!({"from": "a@acme.example", "to": ["x@acme.example", "bad"], "subject": "S", "text": "t"}),
                "to[1]",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "text": "t"}),
                "subject",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S\nBcc: y@z.example", "text": "t"}),
                "subject",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S"}),
                "html",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S", "text": 5}),
                "text",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S", "text": "t", "cc": "nobody"}),
                "cc",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S", "text": "t", "headers": {"X-A": "1\r\nBcc: y@z.example"}}),
                "headers.X-A",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S", "text": "t", "tags": [{"name": "a b", "value": "c"}]}),
                "tags[0]",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S", "text": "t", "attachments": []}),
                "attachments",
            ),
            (
                json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S", "text": "t", "scheduled_at": ""}),
                "scheduled_at",
            ),
        ];
        for (input, field) in cases {
            let err = validate_email(&input, "", None, true).unwrap_err();
            assert_eq!(field_of(err), field, "{input}");
        }
        let many: Vec<String> = (0..51).map(|i| format!("u{i}@acme.example")).collect();
        let err = validate_email(
            &json!({"from": "a@acme.example", "to": many, "subject": "S", "text": "t"}),
            "",
            None,
            true,
        )
        .unwrap_err();
        assert_eq!(field_of(err), "to");
    }

    #[test]
    fn batch_items_are_prefixed_and_cannot_schedule() {
        let mut item = email();
        item["scheduled_at"] = json!("in 1 hour");
        let err = validate_email(&item, "emails[4].", Some("a@acme.example"), false).unwrap_err();
        assert_eq!(field_of(err), "emails[4].scheduled_at");
        let err = validate_email(&json!("text"), "emails[0].", None, false).unwrap_err();
        assert_eq!(field_of(err), "emails[0]");
    }

    #[test]
    fn idempotency_keys_follow_resends_limits() {
        assert_eq!(checked_idempotency_key(None), Ok(None));
        assert_eq!(
            checked_idempotency_key(Some("welcome/123")),
            Ok(Some("welcome/123"))
        );
        let longest = "k".repeat(256);
        assert!(checked_idempotency_key(Some(&longest)).is_ok());
        for bad in [
            String::new(),
            "k".repeat(257),
            "line\nbreak".into(),
            "é".into(),
        ] {
            let err = checked_idempotency_key(Some(&bad)).unwrap_err();
            assert_eq!(field_of(err), "idempotency_key");
        }
    }
}

//! The actions: `send_email` (`POST /emails`), `send_batch` (`POST /emails/batch`) and
//! `get_email` (`GET /emails/{id}`).
//!
//! Input is checked against the action's schema here, before anything is sent, and
//! every problem is reported as `Invalid` naming the field (`to`, `emails[3].subject`).
//! Beyond the schema, addresses must look like addresses and nothing that ends up in
//! a mail header (subject, custom headers, addresses) may contain a line break, so
//! input cannot smuggle extra headers into the message. The idempotency key travels
//! as Resend's `Idempotency-Key` header (see `api::IDEMPOTENCY`).

use http::Method;
use junction_core::{ActionOutcome, AdapterError, Connection, Context};
use junction_toolkit::input::{Input, is_email};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    api::{self, IDEMPOTENCY},
    spec::{MAX_BATCH, MAX_RECIPIENTS},
    wire,
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

/// `POST /emails` → `{"id"}`; `POST /emails/batch` → `{"data": [{"id"}]}`.
#[derive(Debug, Deserialize)]
struct Sent {
    id: String,
}

#[derive(Debug, Deserialize)]
struct SentBatch {
    data: Vec<Sent>,
}

/// Runs `send_email`.
pub(crate) async fn send_email(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let body = validate_email(input, "", default_from(conn)?, true)?;
    let client = api::client(ctx, conn)?;
    let request = client.request(Method::POST, "emails")?.json(&body);
    let sent: Sent = client
        .json(IDEMPOTENCY.apply(request, idempotency_key)?)
        .await?;
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
    let input = Input::new(input)?;
    input.only(&["emails"])?;
    let Some(emails) = input.get("emails").and_then(Value::as_array) else {
        return Err(input.invalid("emails", "is required: an array of emails"));
    };
    if emails.is_empty() || emails.len() > MAX_BATCH {
        let message = format!("must hold 1 to {MAX_BATCH} emails");
        return Err(input.invalid("emails", message));
    }
    let from = default_from(conn)?;
    let body = emails
        .iter()
        .enumerate()
        .map(|(i, email)| validate_email(email, &format!("emails[{i}]."), from, false))
        .map(|email| email.map(Value::Object))
        .collect::<Result<Vec<_>, _>>()?;
    let client = api::client(ctx, conn)?;
    let request = client.request(Method::POST, "emails/batch")?.json(&body);
    let sent: SentBatch = client
        .json(IDEMPOTENCY.apply(request, idempotency_key)?)
        .await?;
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
    let input = Input::new(input)?;
    input.only(&["email_id"])?;
    // An id goes into the path: Resend's ids are UUIDs, nothing else gets through.
    let id = input
        .get("email_id")
        .and_then(Value::as_str)
        .filter(|id| {
            !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .ok_or_else(|| input.invalid("email_id", "is required: the id Resend gave the email"))?;
    let email: Value = api::client(ctx, conn)?
        .get(&format!("emails/{id}"), &[])
        .await?;
    Ok(ActionOutcome {
        external_id: Some(id.to_owned()),
        output: wire::without_bodies(email),
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

/// Checks one email against the action schema and returns Resend's request body: the
/// input without its nulls, `from` defaulted. `prefix` is prepended to field names in
/// errors (`emails[2].`).
pub(crate) fn validate_email(
    input: &Value,
    prefix: &str,
    default_from: Option<&str>,
    allow_schedule: bool,
) -> Result<Map<String, Value>, AdapterError> {
    let Some(map) = input.as_object() else {
        let whole = prefix.strip_suffix('.').unwrap_or("input");
        return Err(AdapterError::invalid_field(whole, "must be a JSON object"));
    };
    let input = Input::nested(map, prefix);
    if !allow_schedule && map.contains_key("scheduled_at") {
        return Err(input.invalid("scheduled_at", "is not supported in a batch"));
    }
    input.only(&EMAIL_FIELDS)?;

    let from = match input.get("from") {
        None => default_from.ok_or_else(|| {
            input.invalid(
                "from",
                "is required: the connection has no default sender configured",
            )
        })?,
        Some(Value::String(from)) if valid_mailbox(from) => from,
        Some(_) => {
            return Err(input.invalid(
                "from",
                "must be an address like `alerts@example.com` or `Name <alerts@example.com>`",
            ));
        }
    };
    match addresses(&input, "to")? {
        None => {
            let message = "is required: one address or an array of addresses";
            return Err(input.invalid("to", message));
        }
        Some(count) if count > MAX_RECIPIENTS => {
            let message = format!("may hold at most {MAX_RECIPIENTS} addresses");
            return Err(input.invalid("to", message));
        }
        Some(_) => {}
    }
    match input.get("subject") {
        Some(Value::String(subject)) if has_line_break(subject) => {
            return Err(input.invalid("subject", "must be one line"));
        }
        Some(Value::String(subject)) if !subject.trim().is_empty() => {}
        _ => return Err(input.invalid("subject", "is required: a non-empty string")),
    }
    let (html, text) = (input.string("html")?, input.string("text")?);
    if html.is_none() && text.is_none() {
        return Err(input.invalid("html", "either `html` or `text` is required"));
    }
    for list in ["cc", "bcc", "reply_to"] {
        addresses(&input, list)?;
    }

    if let Some(headers) = input.get("headers") {
        let Some(headers) = headers.as_object() else {
            let message = "must be an object of header names to values";
            return Err(input.invalid("headers", message));
        };
        for (name, value) in headers {
            let name_ok =
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
            let value_ok = value.as_str().is_some_and(|v| !has_line_break(v));
            if !name_ok || !value_ok {
                return Err(input.invalid(
                    &format!("headers.{name}"),
                    "header names must be visible ASCII without `:`, values one-line strings",
                ));
            }
        }
    }
    if let Some(tags) = input.get("tags") {
        let Some(tags) = tags.as_array() else {
            return Err(input.invalid("tags", "must be an array of {name, value}"));
        };
        for (i, tag) in tags.iter().enumerate() {
            let part = |key: &str| {
                tag.get(key)
                    .and_then(Value::as_str)
                    .is_some_and(valid_tag_part)
            };
            if !(tag.as_object().is_some_and(|tag| tag.len() == 2) && part("name") && part("value"))
            {
                return Err(input.invalid(
                    &format!("tags[{i}]"),
                    "must be {name, value} of 1 to 256 ASCII letters, digits, `_` or `-`",
                ));
            }
        }
    }
    if let Some(when) = input.get("scheduled_at")
        && !when
            .as_str()
            .is_some_and(|t| !t.trim().is_empty() && !has_line_break(t))
    {
        return Err(input.invalid(
            "scheduled_at",
            "must be an ISO 8601 time or a phrase like `in 1 hour`",
        ));
    }

    let mut body: Map<String, Value> = map
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    body.insert("from".into(), json!(from));
    Ok(body)
}

/// Checks an address field: a string or a non-empty array of strings, each a valid
/// mailbox; the number of addresses, `None` when the field is absent.
fn addresses(input: &Input<'_>, name: &str) -> Result<Option<usize>, AdapterError> {
    let not_an_address = |at: &str| input.invalid(at, "is not an email address");
    match input.get(name) {
        None => Ok(None),
        Some(Value::String(one)) if valid_mailbox(one) => Ok(Some(1)),
        Some(Value::String(_)) => Err(not_an_address(name)),
        Some(Value::Array(many)) if !many.is_empty() => {
            match many
                .iter()
                .position(|a| !a.as_str().is_some_and(valid_mailbox))
            {
                Some(i) => Err(not_an_address(&format!("{name}[{i}]"))),
                None => Ok(Some(many.len())),
            }
        }
        Some(_) => Err(input.invalid(name, "must be an address or a non-empty array of addresses")),
    }
}

/// Whether `text` is `user@domain.tld` or `Display Name <user@domain.tld>`, on one line.
pub(crate) fn valid_mailbox(text: &str) -> bool {
    let text = text.trim();
    if text.is_empty() || has_line_break(text) {
        return false;
    }
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) if !text[..open].contains(['<', '>']) => &inner[open + 1..],
        (None, None) => text,
        _ => return false,
    };
    // What could end or split a header's list of addresses is refused too, and so
    // are empty labels in the domain.
    is_email(address)
        && !address.contains(['<', '>', ',', ';'])
        && address
            .rsplit_once('@')
            .is_some_and(|(_, domain)| !domain.contains(".."))
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
}

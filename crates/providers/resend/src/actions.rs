//! The actions: `send_email` (`POST /emails`), `send_batch` (`POST /emails/batch`) and
//! `get_email` (`GET /emails/{id}`), described in `actions.json`.
//!
//! An input is checked before anything is sent, and every problem is `Invalid`
//! naming the field (`to`, `emails[3].subject`). First against the action's JSON
//! Schema: the API's own check, made again for direct and queued calls. Its patterns
//! keep line breaks out of whatever ends up in a mail header (subject, custom headers,
//! the schedule), so input cannot smuggle extra headers into the message, and keep an
//! email id to an id's characters. Then for what a schema cannot say: addresses must
//! look like addresses (on one line too), and the sender defaults to the connection's.
//! The idempotency key travels as Resend's `Idempotency-Key` header (see
//! `api::IDEMPOTENCY`).

use http::Method;
use junction_core::{ActionOutcome, AdapterError, Connection, Context};
use junction_toolkit::input::{self, Input};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// A sender or recipient: `user@domain.tld` or `Display Name <user@domain.tld>`, on one
/// line (the fake checks senders with it too).
pub(crate) use junction_toolkit::input::is_mailbox as valid_mailbox;

use crate::{
    api::{self, IDEMPOTENCY},
    spec::{self, FROM, GET_EMAIL, SEND_BATCH, SEND_EMAIL},
    wire,
};

const NO_SENDER: &str = "is required: the connection has no default sender configured";
const NOT_A_SENDER: &str =
    "must be an address like `alerts@example.com` or `Name <alerts@example.com>`";

/// `POST /emails` answers `{"id"}`, `POST /emails/batch` `{"data": [{"id"}]}`.
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
    let body = checked_email(input, FROM.read(conn)?.as_deref())?;
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
    let body = checked_batch(input, FROM.read(conn)?.as_deref())?;
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
    #[derive(Deserialize)]
    struct Get {
        email_id: String,
    }
    // The id goes into the path: the schema lets only an id's characters through.
    let Get { email_id: id } = input::checked(spec::spec(), GET_EMAIL, input)?;
    let email: Value = api::client(ctx, conn)?
        .get(&format!("emails/{id}"), &[])
        .await?;
    Ok(ActionOutcome {
        external_id: Some(id),
        output: wire::without_bodies(email),
    })
}

/// `send_email`'s input, checked, as Resend's request body.
pub(crate) fn checked_email(
    input: &Value,
    default_from: Option<&str>,
) -> Result<Map<String, Value>, AdapterError> {
    named_first(input, "")?;
    let email = input::checked(spec::spec(), SEND_EMAIL, input)?;
    email_body(email, "", default_from)
}

/// `send_batch`'s input, checked, as Resend's request body: its emails.
fn checked_batch(input: &Value, default_from: Option<&str>) -> Result<Vec<Value>, AdapterError> {
    #[derive(Deserialize)]
    struct Batch {
        emails: Vec<Map<String, Value>>,
    }
    let prefix = |i: usize| format!("emails[{i}].");
    let emails = input["emails"].as_array().map(Vec::as_slice);
    for (i, email) in emails.unwrap_or_default().iter().enumerate() {
        named_first(email, &prefix(i))?;
    }
    let batch: Batch = input::checked(spec::spec(), SEND_BATCH, input)?;
    batch
        .emails
        .into_iter()
        .enumerate()
        .map(|(i, email)| email_body(email, &prefix(i), default_from).map(Value::Object))
        .collect()
}

/// What the schema names less precisely is checked before it: an email with neither
/// `html` nor `text` names `html` (the schema's `anyOf` names only the email).
fn named_first(email: &Value, prefix: &str) -> Result<(), AdapterError> {
    let Some(map) = email.as_object() else {
        // Not an email at all: the schema says so.
        return Ok(());
    };
    let email = Input::nested(map, prefix);
    if email.get("html").is_none() && email.get("text").is_none() {
        return Err(email.invalid("html", "either `html` or `text` is required"));
    }
    Ok(())
}

/// Checks what the schema cannot say of one of its emails and returns Resend's
/// request body: the email with `from` defaulted.
fn email_body(
    mut email: Map<String, Value>,
    prefix: &str,
    default_from: Option<&str>,
) -> Result<Map<String, Value>, AdapterError> {
    let input = Input::nested(&email, prefix);
    // The input's sender, else the connection's: either is checked here.
    let from = input
        .string("from")?
        .or(default_from)
        .ok_or_else(|| input.invalid("from", NO_SENDER))?;
    if !valid_mailbox(from) {
        return Err(input.invalid("from", NOT_A_SENDER));
    }
    for list in ["to", "cc", "bcc", "reply_to"] {
        let bad = match input.get(list) {
            Some(Value::String(one)) => (!valid_mailbox(one)).then(|| list.to_owned()),
            Some(Value::Array(many)) => many
                .iter()
                .position(|address| !address.as_str().is_some_and(valid_mailbox))
                .map(|i| format!("{list}[{i}]")),
            _ => None,
        };
        if let Some(at) = bad {
            return Err(input.invalid(&at, "is not an email address"));
        }
    }
    let from = from.to_owned();
    email.insert("from".into(), json!(from));
    Ok(email)
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
        let body = checked_email(&email(), Some("Junction <j@acme.example>")).unwrap();
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
        let body = checked_email(&input, None).unwrap();
        assert_eq!(Value::Object(body), input);
    }

    #[test]
    fn problems_name_their_field() {
        let mut cases: Vec<(Value, &str)> = vec![
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
                "tags[0].name",
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
        let ok =
            json!({"from": "a@acme.example", "to": "x@acme.example", "subject": "S", "text": "t"});
        for (key, value, field) in [
            ("subject", json!(" "), "subject"),
            ("headers", json!({"Bcc: y@z.example": "1"}), "headers"),
            ("scheduled_at", json!("in 1 hour\nBcc: y"), "scheduled_at"),
        ] {
            let mut input = ok.clone();
            input[key] = value;
            cases.push((input, field));
        }
        for (input, field) in cases {
            let err = checked_email(&input, None).unwrap_err();
            assert_eq!(field_of(err), field, "{input}");
        }
        let many: Vec<String> = (0..51).map(|i| format!("u{i}@acme.example")).collect();
        let err = checked_email(
            &json!({"from": "a@acme.example", "to": many, "subject": "S", "text": "t"}),
            None,
        )
        .unwrap_err();
        assert_eq!(field_of(err), "to");
    }

    #[test]
    fn an_email_id_is_only_an_id() {
        let checked =
            |id| input::checked::<Value>(spec::spec(), GET_EMAIL, &json!({"email_id": id}));
        assert!(checked("4ef9a417-02e9-4d39-ad75-9611e0fcc33c").is_ok());
        for bad in ["", "../domains", "a/b", "a?b"] {
            assert_eq!(field_of(checked(bad).unwrap_err()), "email_id", "{bad}");
        }
    }

    #[test]
    fn batch_items_are_prefixed_and_cannot_schedule() {
        let mut item = email();
        item["scheduled_at"] = json!("in 1 hour");
        let batch = json!({"emails": [email(), email(), email(), email(), item]});
        let err = checked_batch(&batch, Some("a@acme.example")).unwrap_err();
        assert_eq!(field_of(err), "emails[4].scheduled_at");
        let err = checked_batch(&json!({"emails": ["text"]}), None).unwrap_err();
        assert_eq!(field_of(err), "emails[0]");
    }
}

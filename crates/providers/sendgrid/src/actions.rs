//! The actions: `send_mail` (`POST /v3/mail/send`), `upsert_contacts` and
//! `add_to_list` (`PUT /v3/marketing/contacts`, an import job polled to its end),
//! described in `actions.json`.
//!
//! Inputs are checked against the action's JSON Schema first (the API's own check,
//! made again for queued calls; its patterns keep line breaks out of the subject and
//! the categories), then for what a schema cannot say: addresses must be mailboxes
//! (`a@b.example` or `Name <a@b.example>`), the sender defaults to the connection's,
//! content is text/HTML or a dynamic template, and `send_at` is at most 72 hours
//! ahead. Every problem is `Invalid` naming its field.
//!
//! SendGrid takes no idempotency key and does not deduplicate sends. Junction's key
//! travels in `custom_args.junction_idempotency_key` (every event of the message
//! carries it), and a send whose answer was lost after the request left — a timeout,
//! a broken response — is reported as a permanent `send_outcome_unknown` instead of
//! being retried: SendGrid may have accepted it, and a retry could mail twice.
//! Refusals SendGrid answered (4xx, 429, 5xx) mean nothing was sent and keep their
//! classes.
//!
//! Contact upserts are idempotent by email: a retried job updates the same contacts.

use chrono::Duration as Days;
use http::Method;
use junction_core::{ActionOutcome, AdapterError, Connection, Context};
use junction_toolkit::{
    Client,
    input::{self, Input, bare_address, is_mailbox},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    api,
    marketing::{MAX_POLL_WAIT, poll, poll_delays},
    spec::{self, ADD_TO_LIST, FROM, SEND_MAIL, UPSERT_CONTACTS},
};

/// The `custom_args` key carrying Junction's idempotency key.
pub const IDEMPOTENCY_ARG: &str = "junction_idempotency_key";

/// How far ahead SendGrid schedules (`send_at`).
pub const MAX_SCHEDULE_HOURS: i64 = 72;

/// The largest error file of an import job read.
const MAX_ERRORS_BYTES: usize = 16 << 20;

/// The most per-contact errors an outcome lists.
const MAX_REPORTED_ERRORS: usize = 1000;

const NO_SENDER: &str = "is required: the connection has no default sender configured";

/// Runs `send_mail`.
pub(crate) async fn send_mail(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let body = mail_body(input, FROM.read(conn)?.as_deref(), idempotency_key, ctx)?;
    let client = api::client(ctx, conn)?;
    let request = client.request(Method::POST, "mail/send")?.json(&body);
    let response = client.send(request).await.map_err(outcome_unknown)?;
    let message_id = response
        .headers()
        .get("x-message-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    Ok(ActionOutcome {
        output: json!({"status": "accepted", "message_id": message_id}),
        external_id: message_id,
    })
}

/// A transport failure after the send left: SendGrid may have accepted it, and it
/// takes no idempotency key, so this is not retried.
fn outcome_unknown(error: AdapterError) -> AdapterError {
    match error {
        // Core's words for a transport failure once the request was on its way
        // (not "could not connect", which never reached SendGrid).
        AdapterError::Unavailable { message }
            if [
                "request timed out",
                "request or response body failed",
                "response could not be decoded",
                "request failed",
            ]
            .iter()
            .any(|kind| message.starts_with(kind)) =>
        {
            AdapterError::Provider {
                status: 0,
                code: Some("send_outcome_unknown".into()),
                message: format!(
                    "the answer to the send was lost ({message}); SendGrid may have accepted \
                     the email and takes no idempotency key, so Junction does not send it \
                     again: check the message's events before sending anew"
                ),
            }
        }
        other => other,
    }
}

/// `send_mail`'s input, checked, as SendGrid's request body.
pub(crate) fn mail_body(
    input: &Value,
    default_from: Option<&str>,
    idempotency_key: Option<&str>,
    ctx: &Context,
) -> Result<Value, AdapterError> {
    let _: Value = input::checked(spec::spec(), SEND_MAIL, input)?;
    let fields = Input::new(input)?;
    let from = fields
        .string("from")?
        .or(default_from)
        .ok_or_else(|| fields.invalid("from", NO_SENDER))?;
    let from = mailbox(from).ok_or_else(|| fields.invalid("from", "is not an email address"))?;
    let templated = fields.get("template_id").is_some();
    if !templated && fields.get("text").is_none() && fields.get("html").is_none() {
        return Err(fields.invalid("text", "`text`, `html` or a `template_id` is required"));
    }
    let latest = ctx.now() + Days::hours(MAX_SCHEDULE_HOURS);
    let check_send_at = |at: Option<&Value>, field: &str| match at.and_then(Value::as_i64) {
        Some(at) if at > latest.timestamp() => Err(fields.invalid(
            field,
            format!("is more than {MAX_SCHEDULE_HOURS} hours ahead"),
        )),
        _ => Ok(()),
    };
    check_send_at(fields.get("send_at"), "send_at")?;
    let default_data = fields.get("dynamic_template_data");
    let personalizations: Vec<Value> = match fields.get("personalizations") {
        Some(Value::Array(given)) => given
            .iter()
            .enumerate()
            .map(|(i, one)| {
                let prefix = format!("personalizations[{i}].");
                let map = one.as_object().cloned().unwrap_or_default();
                let nested = Input::nested(&map, &prefix);
                if !templated && nested.get("subject").is_none() && fields.get("subject").is_none()
                {
                    return Err(nested.invalid("subject", "is required without a template"));
                }
                check_send_at(nested.get("send_at"), &format!("{prefix}send_at"))?;
                personalization(&nested, true, default_data)
            })
            .collect::<Result<_, _>>()?,
        _ => {
            if !templated && fields.get("subject").is_none() {
                return Err(fields.invalid("subject", "is required without a template"));
            }
            vec![personalization(&fields, false, default_data)?]
        }
    };
    let mut body = Map::new();
    body.insert("personalizations".into(), Value::Array(personalizations));
    body.insert("from".into(), from);
    if let Some(reply_to) = fields.string("reply_to")? {
        let reply_to = mailbox(reply_to)
            .ok_or_else(|| fields.invalid("reply_to", "is not an email address"))?;
        body.insert("reply_to".into(), reply_to);
    }
    for (name, value) in ["subject", "template_id", "categories", "send_at"]
        .iter()
        .filter_map(|name| Some((*name, fields.get(name)?.clone())))
    {
        body.insert(name.into(), value);
    }
    // SendGrid wants text/plain before text/html.
    let content: Vec<Value> = [("text", "text/plain"), ("html", "text/html")]
        .iter()
        .filter_map(|(field, kind)| Some(json!({"type": kind, "value": fields.get(field)?})))
        .collect();
    if !content.is_empty() {
        body.insert("content".into(), Value::Array(content));
    }
    let mut custom_args = fields
        .get("custom_args")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(key) = idempotency_key {
        custom_args.insert(IDEMPOTENCY_ARG.into(), json!(key));
    }
    if !custom_args.is_empty() {
        body.insert("custom_args".into(), Value::Object(custom_args));
    }
    Ok(Value::Object(body))
}

/// One personalization: `to`, `cc` and `bcc` as SendGrid's address lists; for an
/// entry of `personalizations` (`own`), also its own `subject`, `custom_args` and
/// `send_at`; and the template data (the entry's own, else the message's). In the
/// simple form the message's subject, arguments and schedule stay at the top level.
fn personalization(
    input: &Input<'_>,
    own: bool,
    default_data: Option<&Value>,
) -> Result<Value, AdapterError> {
    let mut out = Map::new();
    for list in ["to", "cc", "bcc"] {
        let (addresses, indexed): (Vec<&Value>, bool) = match input.get(list) {
            None => continue,
            Some(Value::Array(many)) => (many.iter().collect(), true),
            Some(one) => (vec![one], false),
        };
        let mut emails = Vec::with_capacity(addresses.len());
        for (i, address) in addresses.into_iter().enumerate() {
            let field = if indexed {
                format!("{list}[{i}]")
            } else {
                list.to_owned()
            };
            let parsed = address.as_str().and_then(mailbox);
            emails.push(parsed.ok_or_else(|| input.invalid(&field, "is not an email address"))?);
        }
        out.insert(list.into(), Value::Array(emails));
    }
    if own {
        for name in ["subject", "custom_args", "send_at"] {
            if let Some(value) = input.get(name) {
                out.insert(name.into(), value.clone());
            }
        }
    }
    let data = if own {
        input.get("dynamic_template_data").or(default_data)
    } else {
        default_data
    };
    if let Some(data) = data {
        out.insert("dynamic_template_data".into(), data.clone());
    }
    Ok(Value::Object(out))
}

/// A mailbox as SendGrid's `{"email", "name"}`.
fn mailbox(text: &str) -> Option<Value> {
    if !is_mailbox(text) {
        return None;
    }
    let email = bare_address(text)?;
    let name = text
        .split_once('<')
        .map(|(name, _)| name.trim().trim_matches('"').trim())
        .filter(|name| !name.is_empty());
    Some(match name {
        Some(name) => json!({"email": email, "name": name}),
        None => json!({"email": email}),
    })
}

/// A contact of `upsert_contacts`.
#[derive(Debug, Deserialize)]
struct Upsert {
    #[serde(default)]
    list_ids: Vec<String>,
    contacts: Vec<Map<String, Value>>,
}

/// Runs `upsert_contacts`.
pub(crate) async fn upsert_contacts(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let Upsert {
        list_ids,
        mut contacts,
    } = input::checked(spec::spec(), UPSERT_CONTACTS, input)?;
    for (i, contact) in contacts.iter_mut().enumerate() {
        let email = contact
            .get("email")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !input::is_email(email.trim()) {
            return Err(AdapterError::invalid_field(
                format!("contacts[{i}].email"),
                "is not an email address",
            ));
        }
        // SendGrid stores emails in lower case.
        let email = email.trim().to_lowercase();
        contact.insert("email".into(), json!(email));
    }
    import(ctx, conn, &list_ids, contacts).await
}

/// Runs `add_to_list`.
pub(crate) async fn add_to_list(
    ctx: &Context,
    conn: &Connection,
    input: &Value,
) -> Result<ActionOutcome, AdapterError> {
    #[derive(Deserialize)]
    struct Add {
        list_id: String,
        emails: Vec<String>,
    }
    let Add { list_id, emails } = input::checked(spec::spec(), ADD_TO_LIST, input)?;
    let mut contacts = Vec::with_capacity(emails.len());
    for (i, email) in emails.iter().enumerate() {
        if !input::is_email(email.trim()) {
            return Err(AdapterError::invalid_field(
                format!("emails[{i}]"),
                "is not an email address",
            ));
        }
        let mut contact = Map::new();
        contact.insert("email".into(), json!(email.trim().to_lowercase()));
        contacts.push(contact);
    }
    import(ctx, conn, &[list_id], contacts).await
}

fn import_done(job: &Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("completed" | "errored" | "failed")
    )
}

/// `PUT /v3/marketing/contacts`, then the import job polled to its end, with the
/// per-contact errors of its error file.
async fn import(
    ctx: &Context,
    conn: &Connection,
    list_ids: &[String],
    contacts: Vec<Map<String, Value>>,
) -> Result<ActionOutcome, AdapterError> {
    let client = api::client(ctx, conn)?;
    let mut body = json!({"contacts": contacts});
    if !list_ids.is_empty() {
        body["list_ids"] = json!(list_ids);
    }
    let request = client
        .request(Method::PUT, "marketing/contacts")?
        .json(&body);
    let queued: Value = client.json(request).await?;
    let job_id = queued["job_id"]
        .as_str()
        .filter(|id| {
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .filter(|id| !id.is_empty())
        .ok_or_else(|| AdapterError::unavailable("malformed response body: no `job_id`"))?
        .to_owned();
    let path = format!("marketing/contacts/imports/{job_id}");
    let job = poll(
        &client,
        &path,
        json!({"id": job_id, "status": "pending"}),
        import_done,
        poll_delays(),
        MAX_POLL_WAIT,
    )
    .await?;
    report(&client, &job_id, &job).await
}

/// What an import job did: its status and counts, and once it ended with errors,
/// each contact's error from its `errors_url` file.
async fn report(
    client: &Client<'_>,
    job_id: &str,
    job: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let status = job["status"].as_str().unwrap_or("pending");
    let results = &job["results"];
    let mut output = json!({
        "job_id": job_id,
        "status": status,
        "finished": import_done(job),
        "requested_count": results["requested_count"],
        "created_count": results["created_count"],
        "updated_count": results["updated_count"],
        "errored_count": results["errored_count"],
        "errors": [],
    });
    if !import_done(job) {
        output["note"] = json!(
            "the import job was still running when Junction stopped waiting; SendGrid goes on with it"
        );
    }
    if let Some(url) = results["errors_url"].as_str().filter(|u| !u.is_empty()) {
        let file = client.download(url, MAX_ERRORS_BYTES).await?;
        output["errors"] = Value::Array(contact_errors(&file));
    }
    if status == "failed" && output["errors"].as_array().is_none_or(Vec::is_empty) {
        return Err(AdapterError::Provider {
            status: 200,
            code: Some("import_failed".into()),
            message: format!("SendGrid's import job {job_id} failed without naming a contact"),
        });
    }
    Ok(ActionOutcome {
        external_id: Some(job_id.to_owned()),
        output,
    })
}

/// The per-contact errors of an import job's error file: a JSON array or lines of
/// objects, or CSV with a header row naming `email` and `error`/`message`. Each
/// becomes `{"email", "error"}`.
pub(crate) fn contact_errors(file: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(file);
    let from_object = |item: &Value| {
        let pick = |names: &[&str]| {
            item.as_object().and_then(|map| {
                map.iter()
                    .find(|(key, _)| names.contains(&key.to_lowercase().as_str()))
                    .and_then(|(_, value)| value.as_str())
                    .map(str::to_owned)
            })
        };
        json!({"email": pick(&["email", "contact", "identifier"]), "error": pick(&["error", "message", "reason"])})
    };
    let errors: Vec<Value> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => items.iter().map(from_object).collect(),
        Ok(other) => other
            .get("errors")
            .and_then(Value::as_array)
            .map(|items| items.iter().map(from_object).collect())
            .unwrap_or_default(),
        Err(_) => {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            if lines
                .iter()
                .all(|l| serde_json::from_str::<Value>(l).is_ok())
            {
                lines
                    .iter()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .map(|item| from_object(&item))
                    .collect()
            } else {
                csv_errors(&lines)
            }
        }
    };
    errors.into_iter().take(MAX_REPORTED_ERRORS).collect()
}

fn csv_errors(lines: &[&str]) -> Vec<Value> {
    let Some((header, rows)) = lines.split_first() else {
        return Vec::new();
    };
    let columns: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_lowercase())
        .collect();
    let at = |names: &[&str]| columns.iter().position(|c| names.contains(&c.as_str()));
    let (email, error) = (
        at(&["email", "contact", "identifier"]),
        at(&["error", "message", "reason"]),
    );
    rows.iter()
        .map(|row| {
            // The error text is the last column and may hold commas.
            let cells: Vec<&str> = row.splitn(columns.len().max(1), ',').collect();
            let cell = |i: Option<usize>| {
                i.and_then(|i| cells.get(i))
                    .map(|c| c.trim().trim_matches('"').to_owned())
            };
            json!({"email": cell(email), "error": cell(error)})
        })
        .collect()
}

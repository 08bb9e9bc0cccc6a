//! The contact actions: `upsert_contact`, `bulk_sync_contacts` and `get_batch`.
//!
//! - `upsert_contact` PUTs the member at its subscriber hash (MD5 of the lower-cased
//!   address: "add or update" in one idempotent call), then adds its tags with
//!   `POST .../tags` (also idempotent: adding an active tag twice changes nothing).
//!   Mailchimp has no idempotency keys; both calls are safe to repeat, so a retried
//!   action has its effect once without one.
//! - `bulk_sync_contacts` sends the same calls as one `POST /batches`, polls
//!   `GET /batches/{id}` with a growing pause until it is `finished` (for at most
//!   [`MAX_POLL_WAIT`]), then reads the results archive and reports every contact
//!   whose upsert or tagging failed. A batch that outlasts the wait is reported as
//!   still running, with its id for `get_batch`; it is never submitted twice by the
//!   action itself.
//! - `get_batch` reports one batch the same way.
//!
//! Inputs are checked against the actions' JSON Schemas in the spec again (the API
//! did before queueing them; a queued one may predate a stricter schema), read with
//! serde, and then checked for what a schema cannot say: a plausible address, merge
//! tags with names, tags that are not blank, no address twice in one batch. Every
//! failure names the input field. Refused writes name the field too
//! ([`crate::api::contact_write`]).
//!
//! Results archives are read with [`crate::archive`]: Mailchimp serves a gzipped tar
//! of JSON arrays; a plain JSON array or JSON lines (an unpacked copy) are read too.
//! The archive URL is pre-signed storage, fetched without the API key.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use http::Method;
use junction_core::{ActionOutcome, AdapterError};
use junction_toolkit::{Client, data, input};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    api::{MAX_MESSAGE_CHARS, contact_write},
    archive,
    spec::{self, BULK_SYNC_CONTACTS, GET_BATCH, UPSERT_CONTACT},
    subscriber_hash,
    wire::{
        Batch, BatchOperation, BatchRequest, MemberUpsert, OperationResult, Problem, TagChange,
        TagsUpdate,
    },
};

/// The longest a `bulk_sync_contacts` waits for its batch.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(10 * 60);

/// Pauses between polls: short at first (small batches finish in seconds), then
/// every 15 seconds.
fn poll_delays() -> impl Iterator<Item = Duration> {
    [500u64, 1_000, 2_000, 4_000, 8_000]
        .into_iter()
        .chain(std::iter::repeat(15_000))
        .map(Duration::from_millis)
}

/// Largest results archive downloaded, and largest it may inflate to.
const MAX_ARCHIVE_BYTES: usize = 64 << 20;
const MAX_RESULTS_BYTES: usize = 256 << 20;

/// Operation ids name the operation and the address: `upsert:ada@example.com`.
const UPSERT_OP: &str = "upsert";
const TAGS_OP: &str = "tags";

// ---------------------------------------------------------------------------------
// Input: the action's JSON Schema (in the spec) checks the shape, serde reads it, and
// the code below checks what a schema cannot say.

/// One contact to write (the schema requires its address).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct Contact {
    pub email_address: String,
    /// Empty when the input leaves it to the action's default.
    pub status_if_new: String,
    pub status: Option<String>,
    pub merge_fields: Map<String, Value>,
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct UpsertInput {
    audience_id: String,
    #[serde(flatten)]
    contact: Contact,
}

#[derive(Deserialize)]
struct BulkInput {
    audience_id: String,
    status_if_new: Option<String>,
    contacts: Vec<Contact>,
}

#[derive(Deserialize)]
struct GetBatchInput {
    batch_id: String,
}

impl Contact {
    /// The contact at `prefix` (`""` for `upsert_contact`, `contacts[3].` in bulk),
    /// trimmed and checked beyond its schema: a plausible address, named merge
    /// fields, non-blank tags (each once).
    fn checked(mut self, prefix: &str, default_status: &str) -> Result<Self, AdapterError> {
        let invalid =
            |name: &str, message| AdapterError::invalid_field(format!("{prefix}{name}"), message);
        self.email_address = self.email_address.trim().to_owned();
        if !is_plausible_email(&self.email_address) {
            return Err(invalid("email_address", "is not a valid email address"));
        }
        if let Some(tag) = self.merge_fields.keys().find(|tag| tag.trim().is_empty()) {
            let field = format!("merge_fields.{tag}");
            return Err(invalid(&field, "needs a merge tag name"));
        }
        let mut tags: Vec<String> = Vec::with_capacity(self.tags.len());
        for (index, tag) in self.tags.iter().enumerate() {
            let tag = tag.trim();
            if tag.is_empty() {
                let field = format!("tags[{index}]");
                return Err(invalid(&field, "must be a non-empty string"));
            }
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        self.tags = tags;
        if self.status_if_new.is_empty() {
            default_status.clone_into(&mut self.status_if_new);
        }
        Ok(self)
    }

    fn upsert_body(&self) -> MemberUpsert {
        MemberUpsert {
            email_address: self.email_address.clone(),
            status_if_new: self.status_if_new.clone(),
            status: self.status.clone(),
            merge_fields: self.merge_fields.clone(),
        }
    }

    fn tags_body(&self) -> TagsUpdate {
        TagsUpdate {
            tags: self
                .tags
                .iter()
                .map(|name| TagChange {
                    name: name.clone(),
                    status: "active".into(),
                })
                .collect(),
        }
    }
}

/// Whether `address` is a plausible email address: one `@`, a local part of at most
/// 64 characters, a dotted domain of letters, digits and hyphens, no spaces.
/// Mailchimp checks further and its refusal names the field.
pub(crate) fn is_plausible_email(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let domain_ok = domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || !b.is_ascii())
        });
    address.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && !address.chars().any(char::is_whitespace)
        && domain_ok
}

/// The input of `upsert_contact` (both entries declare the same actions).
pub(crate) fn parse_upsert(input: &Value) -> Result<(String, Contact), AdapterError> {
    let read: UpsertInput = input::checked(&spec::SPEC, UPSERT_CONTACT, input)?;
    Ok((read.audience_id, read.contact.checked("", "subscribed")?))
}

/// The input of `bulk_sync_contacts`.
pub(crate) fn parse_bulk(input: &Value) -> Result<(String, Vec<Contact>), AdapterError> {
    let read: BulkInput = input::checked(&spec::SPEC, BULK_SYNC_CONTACTS, input)?;
    let default_status = read.status_if_new.as_deref().unwrap_or("subscribed");
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut contacts = Vec::with_capacity(read.contacts.len());
    for (index, contact) in read.contacts.into_iter().enumerate() {
        let prefix = format!("contacts[{index}].");
        let contact = contact.checked(&prefix, default_status)?;
        // Two operations on one member could run in either order.
        if let Some(first) = seen.insert(contact.email_address.to_lowercase(), index) {
            return Err(AdapterError::invalid_field(
                format!("{prefix}email_address"),
                format!("repeats contacts[{first}]"),
            ));
        }
        contacts.push(contact);
    }
    Ok((read.audience_id, contacts))
}

/// The input of `get_batch`.
pub(crate) fn parse_get_batch(input: &Value) -> Result<String, AdapterError> {
    let read: GetBatchInput = input::checked(&spec::SPEC, GET_BATCH, input)?;
    Ok(read.batch_id)
}

// ---------------------------------------------------------------------------------
// upsert_contact

pub(crate) async fn upsert_contact(
    client: &Client<'_>,
    audience: &str,
    contact: &Contact,
) -> Result<ActionOutcome, AdapterError> {
    let hash = subscriber_hash(&contact.email_address);
    let member_path = format!("lists/{audience}/members/{hash}");
    let request = client.request(Method::PUT, &member_path)?;
    let member = client
        .fetch_with(request.json(&contact.upsert_body()), contact_write)
        .await?
        .body;
    if !contact.tags.is_empty() {
        let request = client.request(Method::POST, &format!("{member_path}/tags"))?;
        client
            .send_with(request.json(&contact.tags_body()), contact_write)
            .await?;
    }
    let id = member["id"].as_str().unwrap_or(&hash).to_owned();
    Ok(ActionOutcome {
        external_id: Some(id.clone()),
        output: json!({
            "id": id,
            "audience_id": audience,
            "email_address": member["email_address"],
            "status": member["status"],
            "unique_email_id": member["unique_email_id"],
            "merge_fields": member["merge_fields"],
            "tags_added": contact.tags,
        }),
    })
}

// ---------------------------------------------------------------------------------
// bulk_sync_contacts and get_batch

/// The batch operations that upsert and tag `contacts`.
pub(crate) fn batch_operations(
    audience: &str,
    contacts: &[Contact],
) -> Result<Vec<BatchOperation>, AdapterError> {
    let mut operations = Vec::with_capacity(contacts.len() * 2);
    for contact in contacts {
        let member_path = format!(
            "/lists/{audience}/members/{}",
            subscriber_hash(&contact.email_address)
        );
        operations.push(BatchOperation {
            method: "PUT".into(),
            path: member_path.clone(),
            body: Some(encode(&contact.upsert_body())?),
            operation_id: Some(format!("{UPSERT_OP}:{}", contact.email_address)),
        });
        if !contact.tags.is_empty() {
            operations.push(BatchOperation {
                method: "POST".into(),
                path: format!("{member_path}/tags"),
                body: Some(encode(&contact.tags_body())?),
                operation_id: Some(format!("{TAGS_OP}:{}", contact.email_address)),
            });
        }
    }
    Ok(operations)
}

/// A batch operation's body: the JSON request body as a string.
fn encode<T: serde::Serialize>(body: &T) -> Result<String, AdapterError> {
    serde_json::to_string(body)
        .map_err(|err| AdapterError::invalid(format!("operation body not serializable: {err}")))
}

pub(crate) async fn bulk_sync_contacts(
    client: &Client<'_>,
    audience: &str,
    contacts: &[Contact],
) -> Result<ActionOutcome, AdapterError> {
    let request = BatchRequest {
        operations: batch_operations(audience, contacts)?,
    };
    let submitted: Batch = client
        .json(client.request(Method::POST, "batches")?.json(&request))
        .await?;
    tracing::info!(
        batch = %submitted.id,
        operations = request.operations.len(),
        "Mailchimp batch submitted"
    );
    let batch = poll_batch(client, submitted, poll_delays(), MAX_POLL_WAIT).await?;
    let mut outcome = report(client, &batch).await?;
    let output = &mut outcome.output;
    let failures = output["failures"].as_array().into_iter().flatten();
    let failed: HashSet<String> = failures
        .filter_map(|failure| failure["email_address"].as_str())
        .map(str::to_lowercase)
        .collect();
    output["audience_id"] = json!(audience);
    output["contacts"] = json!(contacts.len());
    if batch.is_finished() && output.get("results_error").is_none() {
        output["succeeded"] = json!(contacts.len() - failed.len());
    }
    Ok(outcome)
}

pub(crate) async fn get_batch(
    client: &Client<'_>,
    batch_id: &str,
) -> Result<ActionOutcome, AdapterError> {
    let no_such_batch = |err: AdapterError| match err {
        AdapterError::Provider { status: 404, .. } => {
            AdapterError::invalid_field("batch_id", "Mailchimp has no such batch operation")
        }
        other => other,
    };
    let batch = fetch_batch(client, batch_id).await.map_err(no_such_batch)?;
    report(client, &batch).await
}

async fn fetch_batch(client: &Client<'_>, batch_id: &str) -> Result<Batch, AdapterError> {
    client.get(&format!("batches/{batch_id}"), &[]).await
}

/// Polls until the batch is finished or `max_wait` has passed in pauses; transient
/// failures of a poll (429, 5xx) only cost that poll. Returns the last status seen.
pub(crate) async fn poll_batch(
    client: &Client<'_>,
    mut batch: Batch,
    delays: impl Iterator<Item = Duration>,
    max_wait: Duration,
) -> Result<Batch, AdapterError> {
    let mut waited = Duration::ZERO;
    for delay in delays {
        if batch.is_finished() || waited >= max_wait {
            break;
        }
        let delay = delay.min(max_wait - waited);
        tokio::time::sleep(delay).await;
        waited += delay;
        match fetch_batch(client, &batch.id).await {
            Ok(latest) => batch = latest,
            Err(err) if err.is_retryable() => {
                tracing::debug!(batch = %batch.id, error = %err, "polling a Mailchimp batch failed; polling on");
            }
            Err(err) => return Err(err),
        }
    }
    Ok(batch)
}

/// What a batch did: its counts, and once finished every failed operation.
async fn report(client: &Client<'_>, batch: &Batch) -> Result<ActionOutcome, AdapterError> {
    let mut output = json!({
        "batch_id": batch.id,
        "status": batch.status,
        "finished": batch.is_finished(),
        "total_operations": batch.total_operations,
        "finished_operations": batch.finished_operations,
        "errored_operations": batch.errored_operations,
        "submitted_at": batch.submitted_at,
        "completed_at": batch.completed_at,
        "failures": [],
    });
    if !batch.is_finished() {
        output["note"] = json!(format!(
            "the batch is still running at Mailchimp; call get_batch with batch_id {} later",
            batch.id
        ));
    } else if batch.errored_operations > 0 {
        match results(client, batch).await {
            Ok(results) => output["failures"] = Value::Array(failures(&results)),
            // The batch ran; only its details are unreadable. Running it again would
            // not make them readable, so the counts are reported as they are.
            Err(err) => {
                tracing::warn!(batch = %batch.id, error = %err, "Mailchimp batch results unreadable");
                output["results_error"] = json!(err.to_string());
            }
        }
    }
    Ok(ActionOutcome {
        external_id: Some(batch.id.clone()),
        output,
    })
}

/// The failed operations, one entry each, with Mailchimp's explanation.
pub(crate) fn failures(results: &[OperationResult]) -> Vec<Value> {
    results
        .iter()
        .filter(|result| !(200..300).contains(&result.status_code))
        .map(|result| {
            let operation_id = result.operation_id.as_deref().unwrap_or_default();
            let (operation, email) = operation_id.split_once(':').unwrap_or_default();
            let problem: Problem = serde_json::from_str(&result.response).unwrap_or_default();
            // A response that is no problem document is quoted as it is.
            let said = if problem == Problem::default() {
                result.response.clone()
            } else {
                problem.describe()
            };
            let detail = data::one_line(&said, MAX_MESSAGE_CHARS);
            json!({
                "operation_id": operation_id,
                "operation": operation,
                "email_address": email,
                "status_code": result.status_code,
                "title": problem.title,
                "detail": detail,
                "errors": problem.errors,
            })
        })
        .collect()
}

/// Downloads and decodes the batch's results archive: pre-signed storage, fetched
/// without the credential (a relative link, as the sandbox gives, is under the API).
async fn results(client: &Client<'_>, batch: &Batch) -> Result<Vec<OperationResult>, AdapterError> {
    let link = batch.response_body_url.as_deref().unwrap_or_default();
    if link.is_empty() {
        return Err(AdapterError::unavailable(
            "the finished batch has no results URL",
        ));
    }
    let body = client.download(link, MAX_ARCHIVE_BYTES).await?;
    decode_results(&body).map_err(|message| {
        AdapterError::unavailable(format!("the batch results could not be read: {message}"))
    })
}

/// Decodes a results archive: a gzipped tar of JSON arrays (what Mailchimp serves),
/// or, unpacked, a JSON array or JSON lines.
pub fn decode_results(body: &[u8]) -> Result<Vec<OperationResult>, String> {
    let body = if archive::is_gzip(body) {
        archive::gunzip(body, MAX_RESULTS_BYTES).map_err(|err| err.to_string())?
    } else {
        body.to_vec()
    };
    let is_tar = body.len() >= 512 && body.get(257..262) == Some(b"ustar".as_slice());
    if !is_tar {
        return parse_json_results(&body);
    }
    let mut results = Vec::new();
    for entry in archive::untar(&body).map_err(|err| err.to_string())? {
        let trimmed = entry.data.trim_ascii_start();
        if trimmed.is_empty() || !(trimmed.starts_with(b"[") || trimmed.starts_with(b"{")) {
            continue;
        }
        let parsed = parse_json_results(&entry.data)
            .map_err(|message| format!("{}: {message}", entry.name))?;
        results.extend(parsed);
    }
    Ok(results)
}

fn parse_json_results(body: &[u8]) -> Result<Vec<OperationResult>, String> {
    let trimmed = body.trim_ascii();
    if trimmed.starts_with(b"[") {
        return serde_json::from_slice(trimmed)
            .map_err(|err| format!("not an array of operation results (line {})", err.line()));
    }
    trimmed
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(index, line)| {
            serde_json::from_slice(line)
                .map_err(|_| format!("line {} is not an operation result", index + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn polling_stops_at_the_wait_limit() {
        use wiremock::{Mock, MockServer, ResponseTemplate, matchers::path};
        let server = MockServer::start().await;
        let running = json!({"id": "b1", "status": "started", "total_operations": 2});
        Mock::given(path("/mailchimp/3.0/batches/b1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(&running))
            .mount(&server)
            .await;
        let ctx = junction_core::Context::new(reqwest::Client::new())
            .with_base_url(format!("{}/mailchimp/", server.uri()).parse().unwrap());
        let conn = junction_core::Connection {
            workspace_id: junction_core::WorkspaceId::new(),
            integration_id: junction_core::IntegrationId::new(),
            config: Map::new(),
            secrets: [(
                "api_key".to_owned(),
                secrecy::SecretString::from("0123456789abcdef0123456789abcdef-us21"),
            )]
            .into(),
            access_token: None,
            token_expires_at: None,
        };
        let client = Client::new(&ctx, &crate::spec::SPEC, &crate::api::API, &conn).unwrap();
        let submitted: Batch =
            serde_json::from_value(json!({"id": "b1", "status": "pending"})).unwrap();
        let started = std::time::Instant::now();
        let last = poll_batch(
            &client,
            submitted,
            std::iter::repeat(Duration::from_millis(20)),
            Duration::from_millis(100),
        )
        .await
        .unwrap();
        assert_eq!(last.status, "started");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(server.received_requests().await.unwrap().len(), 5);
        // The production schedule is bounded too: it reaches MAX_POLL_WAIT in a
        // finite number of polls.
        let mut total = Duration::ZERO;
        let polls = poll_delays()
            .take_while(|d| {
                total += *d;
                total <= MAX_POLL_WAIT
            })
            .count();
        assert!((40..=50).contains(&polls), "{polls}");
    }

    #[test]
    fn plausible_emails() {
        for good in [
            "a@b.co",
            "Ada.Lovelace+news@Example.com",
            "x@mail.example.org",
        ] {
            assert!(is_plausible_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a@b..co",
            "a b@c.co",
            "a@b.co ",
            "a@-.c@d.co",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn upsert_input_is_validated_field_by_field() {
        let (audience, contact) = parse_upsert(&json!({
            "audience_id": "b1f3a9c2d4",
            "email_address": " Ada@Example.com ",
            "merge_fields": {"FNAME": "Ada", "AGE": 36},
            "tags": ["vip", "vip", "beta"]
        }))
        .unwrap();
        assert_eq!(audience, "b1f3a9c2d4");
        assert_eq!(contact.email_address, "Ada@Example.com");
        assert_eq!(contact.status_if_new, "subscribed");
        assert_eq!(contact.tags, ["vip", "beta"]);

        let field = |input: Value| match parse_upsert(&input).unwrap_err() {
            AdapterError::Invalid { field, .. } => field.unwrap_or_default(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!({"email_address": "a@b.co"})), "audience_id");
        assert_eq!(
            field(json!({"audience_id": "../x", "email_address": "a@b.co"})),
            "audience_id"
        );
        assert_eq!(field(json!({"audience_id": "a"})), "email_address");
        assert_eq!(
            field(json!({"audience_id": "a", "email_address": "nope"})),
            "email_address"
        );
        assert_eq!(
            field(json!({"audience_id": "a", "email_address": "a@b.co", "status_if_new": "vip"})),
            "status_if_new"
        );
        assert_eq!(
            field(
                json!({"audience_id": "a", "email_address": "a@b.co", "merge_fields": {"X": [1]}})
            ),
            "merge_fields.X"
        );
        assert_eq!(
            field(json!({"audience_id": "a", "email_address": "a@b.co", "tags": ["ok", ""]})),
            "tags[1]"
        );
        assert_eq!(
            field(json!({"audience_id": "a", "email_address": "a@b.co", "colour": "red"})),
            "colour"
        );
        assert_eq!(field(json!([1])), "input");
    }

    #[test]
    fn bulk_input_names_the_contact() {
        let field = |input: Value| match parse_bulk(&input).unwrap_err() {
            AdapterError::Invalid { field, message } => (field.unwrap_or_default(), message),
            other => panic!("{other:?}"),
        };
        let (name, _) = field(json!({"audience_id": "a", "contacts": []}));
        assert_eq!(name, "contacts");
        let (name, _) = field(
            json!({"audience_id": "a", "contacts": [{"email_address": "a@b.co"}, {"email_address": "bad"}]}),
        );
        assert_eq!(name, "contacts[1].email_address");
        let (name, message) = field(
            json!({"audience_id": "a", "contacts": [{"email_address": "a@b.co"}, {"email_address": "A@B.co"}]}),
        );
        assert_eq!(
            (name.as_str(), message.as_str()),
            ("contacts[1].email_address", "repeats contacts[0]")
        );
        let (name, _) = field(
            json!({"audience_id": "a", "contacts": [{"email_address": "a@b.co", "audience_id": "b"}]}),
        );
        assert_eq!(name, "contacts[0].audience_id");
        let (_, contacts) = parse_bulk(&json!({
            "audience_id": "a",
            "status_if_new": "pending",
            "contacts": [{"email_address": "a@b.co"}, {"email_address": "c@d.co", "status_if_new": "subscribed"}]
        }))
        .unwrap();
        assert_eq!(contacts[0].status_if_new, "pending");
        assert_eq!(contacts[1].status_if_new, "subscribed");
    }

    #[test]
    fn operations_upsert_then_tag() {
        let (audience, contacts) = parse_bulk(&json!({
            "audience_id": "b1f3a9c2d4",
            "contacts": [
                {"email_address": "Urist.McVankab@FreddiesJokes.com", "merge_fields": {"FNAME": "Urist"}, "tags": ["jokes"]},
                {"email_address": "b@example.com"}
            ]
        }))
        .unwrap();
        let operations = batch_operations(&audience, &contacts).unwrap();
        assert_eq!(operations.len(), 3);
        assert_eq!(operations[0].method, "PUT");
        assert_eq!(
            operations[0].path,
            "/lists/b1f3a9c2d4/members/62eeb292278cc15f5817cb78f7790b08"
        );
        let body: Value = serde_json::from_str(operations[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"email_address": "Urist.McVankab@FreddiesJokes.com", "status_if_new": "subscribed", "merge_fields": {"FNAME": "Urist"}})
        );
        assert_eq!(
            operations[0].operation_id.as_deref(),
            Some("upsert:Urist.McVankab@FreddiesJokes.com")
        );
        assert_eq!(operations[1].method, "POST");
        assert!(operations[1].path.ends_with("/tags"));
        let body: Value = serde_json::from_str(operations[1].body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"tags": [{"name": "jokes", "status": "active"}]})
        );
        assert_eq!(
            operations[2].operation_id.as_deref(),
            Some("upsert:b@example.com")
        );
    }

    #[test]
    fn results_decode_from_every_form() {
        let results = json!([
            {"status_code": 200, "operation_id": "upsert:a@b.co", "response": "{}"},
            {"status_code": 400, "operation_id": "upsert:bad@x.invalid", "response": "{\"title\":\"Invalid Resource\",\"status\":400,\"detail\":\"looks fake\"}"}
        ]);
        let text = results.to_string();
        let lines = results
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        let tarred =
            archive::gzip(&archive::tar(&[("b/1.json", text.as_bytes())]).unwrap()).unwrap();
        for body in [text.as_bytes(), lines.as_bytes(), tarred.as_slice()] {
            let decoded = decode_results(body).unwrap();
            assert_eq!(decoded.len(), 2);
            let failed = failures(&decoded);
            assert_eq!(failed.len(), 1);
            assert_eq!(failed[0]["email_address"], "bad@x.invalid");
            assert_eq!(failed[0]["operation"], "upsert");
            assert_eq!(failed[0]["detail"], "looks fake");
        }
        assert!(decode_results(b"<html>").is_err());
        assert!(decode_results(&[0x1f, 0x8b, 1, 2, 3]).is_err());
    }
}

//! Marketing Campaigns: the `lists` and `contacts` streams, and the asynchronous
//! jobs behind them and the contact actions.
//!
//! - `lists`: `GET /v3/marketing/lists?page_size=&page_token=` →
//!   `{"result": [...], "_metadata": {"self", "next"?, "count"}}`. SendGrid names the
//!   next page by its whole URL in `_metadata.next`; the cursor keeps that URL's
//!   `page_token` (never the URL: a page is always read from the connection's host).
//! - `contacts`: SendGrid's contact listing returns at most 50 contacts and no
//!   longer pages, so the whole set is read through an export job: `POST
//!   /v3/marketing/contacts/exports {"file_type": "json"}` → `{"id"}`, polled with
//!   `GET /v3/marketing/contacts/exports/{id}` until `ready` (its `urls`) or
//!   `failure`; each file is one page (a JSON array, or one contact per line). The
//!   cursor is `{"export_id", "file"}`; an export still running when the poll's
//!   patience ends leaves the cursor on it, and the next page polls on.
//! - Import jobs (`PUT /v3/marketing/contacts` → `{"job_id"}`), polled with
//!   `GET /v3/marketing/contacts/imports/{id}` until `completed`, `errored` or
//!   `failed`; see `actions`.

use std::time::Duration;

use http::Method;
use junction_core::{AdapterError, Page, Record};
use junction_toolkit::{Client, cursor, data::Fields};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::spec::{CONTACTS, LISTS};

/// Lists per page: SendGrid's default is 100, its maximum 1000.
pub const LIST_PAGE_SIZE: u32 = 1000;

/// Largest export file read.
const MAX_EXPORT_BYTES: usize = 256 << 20;

/// The longest one read or action waits on a job before giving up for now.
pub const MAX_POLL_WAIT: Duration = Duration::from_secs(5 * 60);

/// Pauses between polls: short at first (small jobs end in seconds), then every
/// ten seconds.
pub(crate) fn poll_delays() -> impl Iterator<Item = Duration> {
    [250u64, 500, 1_000, 2_000, 5_000]
        .into_iter()
        .chain(std::iter::repeat(10_000))
        .map(Duration::from_millis)
}

/// Polls `GET path` until `done` says the job ended or `max_wait` has passed in
/// pauses; a transient failure of a poll (429, 5xx) costs only that poll. The last
/// answer seen.
pub(crate) async fn poll(
    client: &Client<'_>,
    path: &str,
    mut job: Value,
    done: fn(&Value) -> bool,
    delays: impl Iterator<Item = Duration>,
    max_wait: Duration,
) -> Result<Value, AdapterError> {
    let mut waited = Duration::ZERO;
    for delay in delays {
        if done(&job) || waited >= max_wait {
            break;
        }
        let delay = delay.min(max_wait - waited);
        tokio::time::sleep(delay).await;
        waited += delay;
        match client.get::<Value>(path, &[]).await {
            Ok(latest) => job = latest,
            Err(err) if err.is_retryable() => {
                tracing::debug!(error = %err, "polling a SendGrid job failed; polling on");
            }
            Err(err) => return Err(err),
        }
    }
    Ok(job)
}

/// The cursor of `lists`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ListsCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page_token: Option<String>,
}

/// Reads one page of `lists`.
pub(crate) async fn read_lists(
    client: &Client<'_>,
    stored: Option<&Value>,
) -> Result<Page, AdapterError> {
    let cursor: ListsCursor = cursor::read(stored, LISTS)?.unwrap_or_default();
    let mut query = vec![("page_size", LIST_PAGE_SIZE.to_string())];
    if let Some(token) = &cursor.page_token {
        query.push(("page_token", token.clone()));
    }
    let body: Value = client.get("marketing/lists", &query).await?;
    let fields = Fields::new(&body, "SendGrid sent a page of lists");
    let lists = fields
        .list("result")?
        .ok_or_else(|| fields.malformed("result", "is missing"))?;
    let records = lists
        .iter()
        .map(|list| {
            Ok(Record {
                external_id: Fields::new(list, "SendGrid sent a list").text("id")?,
                data: list.clone(),
                modified_at: None,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()?;
    let next = body
        .pointer("/_metadata/next")
        .and_then(Value::as_str)
        .and_then(page_token_of)
        // A next page that names the token just read would loop.
        .filter(|token| Some(token) != cursor.page_token.as_ref() && !lists.is_empty());
    let more = next.is_some();
    cursor::page(records, Vec::new(), &ListsCursor { page_token: next }, more)
}

/// The `page_token` of a `_metadata.next` URL.
pub(crate) fn page_token_of(next: &str) -> Option<String> {
    let url = url::Url::parse(next).ok()?;
    url.query_pairs()
        .find(|(name, _)| name == "page_token")
        .map(|(_, value)| value.into_owned())
        .filter(|token| !token.is_empty())
}

/// The cursor of `contacts`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ContactsCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    export_id: Option<String>,
    #[serde(default)]
    file: usize,
}

fn export_done(export: &Value) -> bool {
    matches!(export["status"].as_str(), Some("ready" | "failure"))
}

/// Reads one page of `contacts`: starts the export when none runs, waits for it, and
/// reads its next file.
pub(crate) async fn read_contacts(
    client: &Client<'_>,
    stored: Option<&Value>,
) -> Result<Page, AdapterError> {
    let cursor: ContactsCursor = cursor::read(stored, CONTACTS)?.unwrap_or_default();
    let export_id = match cursor.export_id.clone() {
        Some(id) => id,
        None => {
            let request = client
                .request(Method::POST, "marketing/contacts/exports")?
                .json(&json!({"file_type": "json"}));
            let started: Value = client.json(request).await?;
            Fields::new(&started, "SendGrid started a contacts export").text("id")?
        }
    };
    // The id goes into a path: only an id's characters.
    if !export_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(AdapterError::unavailable(
            "malformed response body: the export id is not an id",
        ));
    }
    let path = format!("marketing/contacts/exports/{export_id}");
    let first: Value = client.get(&path, &[]).await?;
    let export = poll(
        client,
        &path,
        first,
        export_done,
        poll_delays(),
        MAX_POLL_WAIT,
    )
    .await?;
    match export["status"].as_str() {
        Some("ready") => {}
        Some("failure") => {
            let said = export["message"].as_str().unwrap_or("no reason given");
            return Err(AdapterError::unavailable(format!(
                "SendGrid's contacts export failed: {}",
                junction_toolkit::data::one_line(said, 200)
            )));
        }
        // Still running: poll on from the next page.
        _ => {
            let next = ContactsCursor {
                export_id: Some(export_id),
                file: cursor.file,
            };
            return cursor::page(Vec::new(), Vec::new(), &next, true);
        }
    }
    let urls: Vec<&str> = export["urls"]
        .as_array()
        .map(|urls| urls.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let records = match urls.get(cursor.file) {
        Some(url) => contacts_of(&client.download(url, MAX_EXPORT_BYTES).await?)?,
        None => Vec::new(),
    };
    let more = cursor.file + 1 < urls.len();
    let next = if more {
        ContactsCursor {
            export_id: Some(export_id),
            file: cursor.file + 1,
        }
    } else {
        // The next sync exports anew.
        ContactsCursor::default()
    };
    cursor::page(records, Vec::new(), &next, more)
}

/// The contacts of an export file: a JSON array, or one JSON object per line. The
/// id is the contact's `contact_id` (`CONTACT_ID` in SendGrid's export headers) or
/// `id`.
pub(crate) fn contacts_of(file: &[u8]) -> Result<Vec<Record>, AdapterError> {
    let malformed = || AdapterError::unavailable("malformed export file: not JSON contacts");
    let items: Vec<Value> = match serde_json::from_slice::<Value>(file) {
        Ok(Value::Array(items)) => items,
        Ok(one @ Value::Object(_)) => vec![one],
        Ok(_) => return Err(malformed()),
        Err(_) => file
            .split(|b| *b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(|line| serde_json::from_slice::<Value>(line).map_err(|_| malformed()))
            .collect::<Result<_, _>>()?,
    };
    items
        .into_iter()
        .map(|mut contact| {
            let map = contact.as_object_mut().ok_or_else(malformed)?;
            // Export files name fields in upper case; records use the API's names.
            let lowered: serde_json::Map<String, Value> = std::mem::take(map)
                .into_iter()
                .map(|(key, value)| (key.to_lowercase(), value))
                .collect();
            *map = lowered;
            let id = ["contact_id", "id"]
                .iter()
                .find_map(|key| map.get(*key).and_then(Value::as_str))
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    AdapterError::unavailable("malformed export file: a contact has no id")
                })?;
            map.insert("id".into(), json!(id));
            Ok(Record {
                external_id: id,
                data: contact,
                modified_at: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_come_from_the_next_url() {
        assert_eq!(
            page_token_of(
                "https://api.sendgrid.com/v3/marketing/lists?page_size=1&page_token=abc%3D"
            )
            .as_deref(),
            Some("abc=")
        );
        assert_eq!(
            page_token_of("https://api.sendgrid.com/v3/marketing/lists?page_size=100&page_token="),
            None
        );
        assert_eq!(page_token_of("not a url"), None);
    }

    #[test]
    fn export_files_read_as_arrays_or_lines() {
        let array = br#"[{"CONTACT_ID": "c1", "EMAIL": "a@x.example"}]"#;
        let records = contacts_of(array).unwrap();
        assert_eq!(records[0].external_id, "c1");
        assert_eq!(records[0].data["email"], "a@x.example");
        let lines = b"{\"contact_id\": \"c1\"}\n{\"id\": \"c2\"}\n\n";
        let ids: Vec<_> = contacts_of(lines)
            .unwrap()
            .into_iter()
            .map(|r| r.external_id)
            .collect();
        assert_eq!(ids, ["c1", "c2"]);
        assert!(contacts_of(b"EMAIL,CONTACT_ID\n").is_err());
        assert!(contacts_of(br#"[{"email": "no id"}]"#).is_err());
    }
}

//! Mailchimp Marketing API 3.0 JSON shapes Junction reads and writes (from the
//! official OpenAPI document: `getPing`, `getLists`, `getListsIdMembers`,
//! `putListsIdMembersId`, `postListMemberTags`, `postBatches`, `getBatchesId`, the
//! batch result archive and the RFC 9457 problem document), shared by the adapter
//! and the sandbox fake.
//!
//! Lists and members are kept as JSON values in records, so only the fields Junction
//! interprets are typed; responses are checked for the collection field itself
//! (`lists`, `members`) so that some other JSON object is not taken for an empty page.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `GET /ping`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    pub health_status: String,
}

/// `GET /lists`: one page of audiences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListsPage {
    pub lists: Vec<Value>,
    #[serde(default)]
    pub total_items: u64,
}

/// `GET /lists/{id}/members`: one page of members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MembersPage {
    pub members: Vec<Value>,
    #[serde(default)]
    pub total_items: u64,
}

/// A count-only answer (`fields=total_items`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    pub total_items: u64,
}

/// The body of `PUT /lists/{id}/members/{subscriber_hash}` ("add or update").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberUpsert {
    pub email_address: String,
    pub status_if_new: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub merge_fields: serde_json::Map<String, Value>,
}

/// The body of `POST /lists/{id}/members/{subscriber_hash}/tags`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagsUpdate {
    pub tags: Vec<TagChange>,
}

/// One tag to add (`active`) or remove (`inactive`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagChange {
    pub name: String,
    pub status: String,
}

/// The body of `POST /batches`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub operations: Vec<BatchOperation>,
}

/// One operation of a batch. `body` is the JSON body as a string; `path` is
/// relative to the API root, without `/3.0`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOperation {
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
}

/// A batch operation's status (`POST /batches`, `GET /batches/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    /// `pending`, `preprocessing`, `started`, `finalizing` or `finished`.
    pub status: String,
    #[serde(default)]
    pub total_operations: u64,
    #[serde(default)]
    pub finished_operations: u64,
    #[serde(default)]
    pub errored_operations: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// The results archive, once finished (an empty string before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_body_url: Option<String>,
}

impl Batch {
    /// Whether Mailchimp has run every operation.
    pub fn is_finished(&self) -> bool {
        self.status == "finished"
    }
}

/// One operation's result in the results archive. `response` is the operation's
/// response body as a JSON string (empty for a 204).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationResult {
    pub status_code: u16,
    #[serde(default)]
    pub operation_id: Option<String>,
    #[serde(default)]
    pub response: String,
}

/// An RFC 9457 problem document, as every Mailchimp error is, with the field errors
/// Mailchimp adds to validation failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub instance: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// One invalid field of a validation failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// The `type` of every Mailchimp problem document.
pub const PROBLEM_TYPE: &str = "https://mailchimp.com/developer/marketing/docs/errors/";

impl Problem {
    /// A problem as Mailchimp writes it.
    pub fn new(status: u16, title: &str, detail: &str) -> Self {
        Self {
            problem_type: PROBLEM_TYPE.into(),
            title: title.into(),
            status,
            detail: detail.into(),
            instance: String::new(),
            errors: Vec::new(),
        }
    }

    /// The detail followed by each field error, one line.
    pub fn describe(&self) -> String {
        let mut text = if self.detail.trim().is_empty() {
            self.title.trim().to_owned()
        } else {
            self.detail.trim().to_owned()
        };
        for error in &self.errors {
            let part = match (error.field.is_empty(), error.message.is_empty()) {
                (false, false) => format!("{}: {}", error.field, error.message),
                (true, false) => error.message.clone(),
                (false, true) => error.field.clone(),
                (true, true) => continue,
            };
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(&part);
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collections_are_required() {
        assert!(serde_json::from_value::<ListsPage>(json!({"total_items": 0})).is_err());
        assert!(serde_json::from_value::<MembersPage>(json!({"lists": []})).is_err());
        let page: MembersPage = serde_json::from_value(json!({"members": []})).unwrap();
        assert_eq!(page.total_items, 0);
    }

    #[test]
    fn upsert_body_leaves_out_what_is_unset() {
        let body = MemberUpsert {
            email_address: "a@example.com".into(),
            status_if_new: "subscribed".into(),
            status: None,
            merge_fields: serde_json::Map::new(),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"email_address": "a@example.com", "status_if_new": "subscribed"})
        );
    }

    #[test]
    fn problems_describe_their_field_errors() {
        let problem: Problem = serde_json::from_value(json!({
            "type": PROBLEM_TYPE,
            "title": "Invalid Resource",
            "status": 400,
            "detail": "Your merge fields were invalid.",
            "instance": "x",
            "errors": [{"field": "FNAME", "message": "Please enter a value"}]
        }))
        .unwrap();
        assert_eq!(
            problem.describe(),
            "Your merge fields were invalid.; FNAME: Please enter a value"
        );
        assert_eq!(
            Problem::new(404, "Resource Not Found", "").describe(),
            "Resource Not Found"
        );
    }
}

//! Buffer's actions: `create_post` (to the queue, at a time, as a draft, now or
//! next), `delete_post` and `create_idea`, each input checked against its schema
//! again (a queued input may predate a stricter one) and for what a schema cannot say.
//!
//! A mutation answers with HTTP 200 and a payload union: the success member, or an
//! error member implementing `MutationError { message }` ([`member`]). Every error
//! member is `Invalid` with Buffer's message — `NotFoundError` and
//! `UnauthorizedError` naming the id field they are about — except `UnexpectedError`,
//! Buffer's own failure, which is `Unavailable` (a retry may succeed, and the
//! look-up below keeps it from acting twice).
//!
//! Buffer has no idempotency key: `createPost` and `createIdea` create a duplicate
//! when retried. So when Junction passes its idempotency key (the same for every
//! try of one request), a create first looks for what an earlier try made — the
//! channel's posts created in the last [`DEDUPE_WINDOW`] with the same text, mode and
//! time (the check NOTES.md suggests: `posts` filtered by channel and `createdAt`),
//! or the organization's ideas with the same title and text — and returns it
//! (`"deduplicated": true`) instead of creating another. Deleting is idempotent by
//! nature: a post already gone (`NotFoundError`) counts as deleted.

use chrono::{DateTime, Duration as Span, SecondsFormat, SubsecRound, Utc};
use junction_core::{ActionOutcome, AdapterError, Connection, spec::ProviderSpec};
use junction_toolkit::{
    Client, Fetched, PageToken, Paging, graphql,
    input::{Input, checked},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    account,
    api::{ENDPOINT, IDEAS_PAGING, PAGING},
    ops,
    spec::{CREATE_IDEA, CREATE_POST, DELETE_POST, ORGANIZATION},
};

/// How far back a post or idea counts as an earlier try of a retried create.
pub(crate) const DEDUPE_WINDOW: Span = Span::hours(24);

/// Pages of 100 scanned for an earlier try: far beyond a day's posts of one channel.
const DEDUPE_PAGES: usize = 5;

/// `create_post`'s input.
#[derive(Debug, Deserialize)]
struct NewPost {
    channel_id: String,
    text: String,
    #[serde(default)]
    mode: Mode,
    #[serde(default = "automatic")]
    scheduling_type: String,
    #[serde(default)]
    needs_approval: bool,
    #[serde(default)]
    tag_ids: Vec<String>,
    idea_id: Option<String>,
}

fn automatic() -> String {
    "automatic".into()
}

/// Where a new post goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    #[default]
    Queue,
    Scheduled,
    Draft,
    ShareNow,
    ShareNext,
}

impl Mode {
    /// Buffer's `ShareMode` (a draft is saved from the queue's mode).
    fn share_mode(self) -> &'static str {
        match self {
            Self::Queue | Self::Draft => "addToQueue",
            Self::Scheduled => "customScheduled",
            Self::ShareNow => "shareNow",
            Self::ShareNext => "shareNext",
        }
    }
}

/// Runs `action` of `spec`.
pub(crate) async fn run(
    spec: &ProviderSpec,
    client: &Client<'_>,
    conn: &Connection,
    action: &str,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    match action {
        CREATE_POST => create_post(spec, client, input, idempotency_key).await,
        DELETE_POST => delete_post(spec, client, input).await,
        CREATE_IDEA => create_idea(spec, client, conn, input, idempotency_key).await,
        _ => Err(AdapterError::unknown_action(spec.name, action)),
    }
}

/// A checked `create_post` input: Buffer's `CreatePostInput`, the mode, the time.
#[derive(Debug)]
struct PostInput {
    body: Map<String, Value>,
    mode: Mode,
    due_at: Option<DateTime<Utc>>,
}

/// Buffer's `CreatePostInput` of a checked `create_post` input, and the due time.
fn post_input(spec: &ProviderSpec, input: &Value) -> Result<PostInput, AdapterError> {
    let post: NewPost = checked(spec, CREATE_POST, input)?;
    let fields = Input::new(input)?;
    // Buffer keeps times to the millisecond: the look-up for an earlier try compares
    // at that precision.
    let due_at = fields.date_time("due_at")?.map(|at| at.trunc_subsecs(3));
    match (post.mode, due_at) {
        (Mode::Scheduled, None) => {
            return Err(fields.invalid("due_at", "is required when mode is scheduled"));
        }
        (Mode::Scheduled, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(fields.invalid("due_at", "is only for mode scheduled"));
        }
    }
    if post.text.trim().is_empty() {
        return Err(fields.invalid("text", "must not be blank"));
    }
    let mut body = Map::new();
    body.insert("channelId".into(), json!(post.channel_id));
    body.insert("text".into(), json!(post.text));
    body.insert("schedulingType".into(), json!(post.scheduling_type));
    body.insert("mode".into(), json!(post.mode.share_mode()));
    body.insert("assets".into(), json!([]));
    body.insert("needsApproval".into(), json!(post.needs_approval));
    if let Some(due_at) = due_at {
        body.insert("dueAt".into(), json!(iso(due_at)));
    }
    if post.mode == Mode::Draft {
        body.insert("saveToDraft".into(), json!(true));
    }
    if !post.tag_ids.is_empty() {
        body.insert("tagIds".into(), json!(post.tag_ids));
    }
    if let Some(idea) = post.idea_id {
        body.insert("ideaId".into(), json!(idea));
    }
    Ok(PostInput {
        body,
        mode: post.mode,
        due_at,
    })
}

async fn create_post(
    spec: &ProviderSpec,
    client: &Client<'_>,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    let PostInput { body, mode, due_at } = post_input(spec, input)?;
    if idempotency_key.is_some()
        && let Some(existing) = find_same_post(client, &body, mode, due_at).await?
    {
        return post_outcome(existing, true);
    }
    let data =
        graphql::execute(client, ENDPOINT, ops::CREATE_POST, json!({ "input": body })).await?;
    let payload = data.get("createPost").unwrap_or(&Value::Null);
    let success = member(payload, "PostActionSuccess", "channel_id")?;
    let post = success
        .get("post")
        .filter(|post| post.is_object())
        .cloned()
        .ok_or_else(|| AdapterError::unavailable("malformed response body: no `post`"))?;
    post_outcome(post, false)
}

fn post_outcome(post: Value, deduplicated: bool) -> Result<ActionOutcome, AdapterError> {
    let id = post
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| AdapterError::unavailable("malformed response body: a post without `id`"))?;
    Ok(ActionOutcome {
        external_id: Some(id),
        output: json!({ "post": post, "deduplicated": deduplicated }),
    })
}

/// The post an earlier try of this create made: on the channel, created within the
/// window, with the same text, a draft when a draft is asked for (and not otherwise),
/// due at the asked time for a scheduled post.
async fn find_same_post(
    client: &Client<'_>,
    body: &Map<String, Value>,
    mode: Mode,
    due_at: Option<DateTime<Utc>>,
) -> Result<Option<Value>, AdapterError> {
    let channel = body.get("channelId").cloned().unwrap_or(Value::Null);
    let variables = json!({ "id": channel });
    let data = graphql::execute(client, ENDPOINT, ops::CHANNEL, variables).await?;
    let Some(organization) = data
        .pointer("/channel/organizationId")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Err(AdapterError::unavailable(
            "malformed response body: a channel without `organizationId`",
        ));
    };
    let since = client.context().now() - DEDUPE_WINDOW;
    let input = json!({
        "organizationId": organization,
        "filter": { "channelIds": [channel], "createdAt": { "start": iso(since) } },
        "sort": [{ "field": "createdAt", "direction": "desc" }],
    });
    let same = |post: &Value| {
        let status = post.get("status").and_then(Value::as_str);
        let same_kind = match mode {
            Mode::Draft => status == Some("draft"),
            _ => status != Some("draft"),
        };
        let same_time = match (mode, due_at) {
            (Mode::Scheduled, Some(due_at)) => time(post.get("dueAt")) == Some(due_at),
            _ => true,
        };
        post.get("text") == body.get("text") && same_kind && same_time
    };
    scan(client, ops::POSTS, &PAGING, "posts", input, same).await
}

/// The first node of a connection (walked at most [`DEDUPE_PAGES`] pages of 100)
/// that `same` picks.
async fn scan(
    client: &Client<'_>,
    document: &str,
    paging: &Paging,
    field: &str,
    input: Value,
    same: impl Fn(&Value) -> bool,
) -> Result<Option<Value>, AdapterError> {
    let size = paging.size.max;
    let mut token = PageToken::First;
    for _ in 0..DEDUPE_PAGES {
        let mut variables = paging.variables(&token, size);
        variables["input"] = input.clone();
        let request = client
            .request(http::Method::POST, ENDPOINT)?
            .json(&graphql::body(document, variables));
        let Fetched { headers, body, .. } = client.fetch(request).await?;
        let connection = body
            .pointer(&format!("/data/{field}"))
            .filter(|c| c.is_object())
            .ok_or_else(|| {
                AdapterError::unavailable(format!("malformed response body: no `{field}`"))
            })?;
        if let Some(found) = graphql::nodes(connection)
            .into_iter()
            .find(|node| same(node))
        {
            return Ok(Some(found.clone()));
        }
        match paging.next(&token, size, &headers, &body)? {
            Some(next) => token = next,
            None => return Ok(None),
        }
    }
    Ok(None)
}

async fn delete_post(
    spec: &ProviderSpec,
    client: &Client<'_>,
    input: &Value,
) -> Result<ActionOutcome, AdapterError> {
    #[derive(Deserialize)]
    struct Delete {
        post_id: String,
    }
    let Delete { post_id } = checked(spec, DELETE_POST, input)?;
    let variables = json!({ "input": { "id": post_id } });
    let data = graphql::execute(client, ENDPOINT, ops::DELETE_POST, variables).await?;
    let payload = data.get("deletePost").unwrap_or(&Value::Null);
    // A post already gone is the deletion an earlier try made (or never existed):
    // either way it is not there any more.
    let already_gone = graphql::typename(payload) == Some("NotFoundError");
    if !already_gone {
        member(payload, "DeletePostSuccess", "post_id")?;
    }
    Ok(ActionOutcome {
        external_id: Some(post_id.clone()),
        output: json!({ "id": post_id, "deleted": true, "already_gone": already_gone }),
    })
}

async fn create_idea(
    spec: &ProviderSpec,
    client: &Client<'_>,
    conn: &Connection,
    input: &Value,
    idempotency_key: Option<&str>,
) -> Result<ActionOutcome, AdapterError> {
    #[derive(Deserialize)]
    struct NewIdea {
        organization_id: Option<String>,
        title: Option<String>,
        text: String,
    }
    let idea: NewIdea = checked(spec, CREATE_IDEA, input)?;
    if idea.text.trim().is_empty() {
        return Err(Input::new(input)?.invalid("text", "must not be blank"));
    }
    let organization = match idea.organization_id.or(ORGANIZATION.read(conn)?) {
        Some(organization) => organization,
        None => only_organization(client, conn).await?,
    };
    let mut content = json!({ "text": idea.text });
    if let Some(title) = &idea.title {
        content["title"] = json!(title);
    }
    if idempotency_key.is_some() {
        let since = (client.context().now() - DEDUPE_WINDOW).timestamp();
        let same = |node: &Value| {
            let created = node.get("createdAt").and_then(Value::as_i64);
            node.pointer("/content/text") == content.get("text")
                && node.pointer("/content/title").filter(|t| !t.is_null()) == content.get("title")
                && created.is_some_and(|created| created >= since)
        };
        let input = json!({ "organizationId": organization });
        if let Some(existing) =
            scan(client, ops::IDEAS, &IDEAS_PAGING, "ideas", input, same).await?
        {
            return idea_outcome(existing, true);
        }
    }
    let variables = json!({ "input": { "organizationId": organization, "content": content } });
    let data = graphql::execute(client, ENDPOINT, ops::CREATE_IDEA, variables).await?;
    let payload = data.get("createIdea").unwrap_or(&Value::Null);
    let created = member(payload, "Idea", "organization_id")?.clone();
    idea_outcome(created, false)
}

fn idea_outcome(idea: Value, deduplicated: bool) -> Result<ActionOutcome, AdapterError> {
    let id = idea
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            AdapterError::unavailable("malformed response body: an idea without `id`")
        })?;
    Ok(ActionOutcome {
        external_id: Some(id),
        output: json!({ "idea": idea, "deduplicated": deduplicated }),
    })
}

/// The account's organization when it has exactly one.
async fn only_organization(client: &Client<'_>, conn: &Connection) -> Result<String, AdapterError> {
    let ids = account::ids(&account::organizations(client, conn).await?);
    match ids.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(AdapterError::invalid(
            "the Buffer account has no organization",
        )),
        _ => Err(AdapterError::invalid_field(
            "organization_id",
            "the Buffer account has several organizations: name one",
        )),
    }
}

/// The success member `success` of a mutation's payload union, or its error member
/// as an error: `UnexpectedError` is `Unavailable`; `NotFoundError` and
/// `UnauthorizedError` are `Invalid` naming `id_field`; every other member
/// (`InvalidInputError`, `LimitReachedError`, `RestProxyError`, ...) is `Invalid`.
/// The message is Buffer's.
pub(crate) fn member<'v>(
    payload: &'v Value,
    success: &str,
    id_field: &str,
) -> Result<&'v Value, AdapterError> {
    let typename = graphql::typename(payload);
    if typename == Some(success) {
        return Ok(payload);
    }
    let said = payload
        .get("message")
        .and_then(Value::as_str)
        .map(|m| junction_toolkit::data::one_line(m, 300))
        .filter(|m| !m.is_empty());
    let Some(said) = said else {
        return Err(AdapterError::unavailable(format!(
            "malformed response body: neither `{success}` nor an error with a message"
        )));
    };
    let kind = typename.unwrap_or("MutationError");
    let message = format!("Buffer refused it ({kind}): {said}");
    Err(match kind {
        "UnexpectedError" => AdapterError::Unavailable { message },
        "NotFoundError" | "UnauthorizedError" => AdapterError::Invalid {
            field: Some(id_field.to_owned()),
            message,
        },
        _ => AdapterError::Invalid {
            field: None,
            message,
        },
    })
}

/// Buffer's `DateTime`: ISO-8601 UTC with milliseconds.
pub(crate) fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value?.as_str()?)
        .ok()
        .map(|at| at.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_members_classify_as_documented() {
        let ok = json!({"__typename": "PostActionSuccess", "post": {"id": "p"}});
        assert!(member(&ok, "PostActionSuccess", "channel_id").is_ok());
        let cases = [
            ("InvalidInputError", None, true),
            ("LimitReachedError", None, true),
            ("RestProxyError", None, true),
            ("VoidMutationError", None, true),
            ("NotFoundError", Some("channel_id"), true),
            ("UnauthorizedError", Some("channel_id"), true),
            ("UnexpectedError", None, false),
        ];
        for (kind, field, invalid) in cases {
            let payload = json!({"__typename": kind, "message": "Text is required"});
            match member(&payload, "PostActionSuccess", "channel_id").unwrap_err() {
                AdapterError::Invalid {
                    field: got,
                    message,
                } if invalid => {
                    assert_eq!(got.as_deref(), field, "{kind}");
                    assert!(message.contains("Text is required"), "{message}");
                }
                AdapterError::Unavailable { message } if !invalid => {
                    assert!(message.contains("Text is required"));
                }
                other => panic!("{kind}: {other:?}"),
            }
        }
        // Only `message` selected, no type: still the provider's words, as Invalid.
        let bare = json!({"message": "Channel not found"});
        assert!(matches!(
            member(&bare, "PostActionSuccess", "channel_id"),
            Err(AdapterError::Invalid { field: None, .. })
        ));
        assert!(matches!(
            member(&json!({}), "PostActionSuccess", "channel_id"),
            Err(AdapterError::Unavailable { .. })
        ));
    }

    #[test]
    fn modes_map_to_buffer_inputs() {
        let spec = crate::spec::spec();
        let PostInput { body, mode, .. } = post_input(
            spec,
            &json!({"channel_id": "c", "text": "hi", "mode": "draft"}),
        )
        .unwrap();
        assert_eq!(
            (body["mode"].clone(), body["saveToDraft"].clone()),
            (json!("addToQueue"), json!(true))
        );
        assert_eq!(mode, Mode::Draft);
        let PostInput { body, .. } = post_input(
            spec,
            &json!({"channel_id": "c", "text": "hi", "mode": "scheduled", "due_at": "2026-04-02T10:00:00+02:00"}),
        )
        .unwrap();
        assert_eq!(body["mode"], "customScheduled");
        assert_eq!(body["dueAt"], "2026-04-02T08:00:00.000Z");
        assert_eq!(body["schedulingType"], "automatic");
        assert_eq!(body["assets"], json!([]));
        for (bad, field) in [
            (
                json!({"channel_id": "c", "text": "hi", "mode": "scheduled"}),
                "due_at",
            ),
            (
                json!({"channel_id": "c", "text": "hi", "due_at": "2026-04-02T10:00:00Z"}),
                "due_at",
            ),
            (json!({"channel_id": "c", "text": "  "}), "text"),
            (
                json!({"channel_id": "c", "text": "hi", "mode": "later"}),
                "mode",
            ),
        ] {
            match post_input(spec, &bad) {
                Err(AdapterError::Invalid {
                    field: Some(got), ..
                }) => assert_eq!(got, field, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}

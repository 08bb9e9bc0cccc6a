//! A fake of Buffer's GraphQL API.
//!
//! For the sandbox (demo mode, end-to-end tests) and the conformance suite, built on
//! the toolkit's fake scaffolding from the adapter's own description: one route,
//! `POST /` with `{"query", "variables"}`, the credential read with [`API`]'s auth
//! mode, errors in Buffer's `errors[].extensions.code` shape. It parses no GraphQL:
//! it dispatches on the operation's name (the documents are the adapter's own,
//! [`crate::ops`]) and reads the variables, answering in the documented shapes:
//!
//! - `Account`, `Channels`, `Channel`: the seeded account (two organizations, four
//!   channels, one of them locked), see `seed.json`;
//! - `Posts`, `Ideas`: connections paged with `first`/`after` as [`PAGING`] walks
//!   them, filtered by channel, status, `createdAt` and `dueAt` starts, sorted;
//! - `DailyPostingLimits`: each aliased day (`d0`, `d1`, ...) counted from the posts;
//! - `CreatePost`, `DeletePost`, `CreateIdea`: the payload unions — the success
//!   member, or `InvalidInputError` (no text, a scheduled post without a time or in
//!   the past), `NotFoundError` (an unknown channel, post or organization),
//!   `UnauthorizedError` (the locked channel), `LimitReachedError` (a day at the
//!   channel's cap).
//!
//! It accepts the key [`SANDBOX_API_KEY`]: no key is a 401, another key an HTTP 200
//! with `UNAUTHORIZED` in `errors`. Faults answer as Buffer does: a 500
//! `INTERNAL_SERVER_ERROR`, a 429 `RATE_LIMIT_EXCEEDED` with `Retry-After` and
//! `extensions.retryAfter` (the daily window's a day long for a used-up quota), and a
//! 200 body cut off halfway. Every complete answer carries Buffer's `RateLimit`
//! headers.

mod store;

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, Utc};
use junction_core::fake::{CatalogEntry, FakeContext, FakeRequest, FakeResponse, ProviderFake};
use junction_toolkit::fake::{Auth, Call, ErrorShape, Key, PageError, Pager, Route, Service};
use serde_json::{Map, Value, json};

pub use store::{QUEUED, SENT_DAYS};
use store::{Store, channel, channels, organizations, time};

use crate::{
    api::{API, IDEAS_PAGING, PAGING},
    ops::operation_name,
    spec::{API_KEY_FIELD, LOOKBACK, PROVIDER_ID},
};

/// The API key the fake accepts (the sandbox's catalog lists it).
pub const SANDBOX_API_KEY: &str = "buffer_test_sandbox";

/// The seeded organization most data is in.
pub const MAIN_ORGANIZATION: &str = "org_sandbox_main";

/// The channel whose posts Buffer refuses (`UnauthorizedError`).
pub const LOCKED_CHANNEL: &str = "ch_sandbox_locked";

/// Where the fake writes an error's code and message: where [`API`]'s envelope
/// reads them. Its words are in `seed.json`'s `errors`.
const ERRORS: ErrorShape = ErrorShape::new(Some("/errors/0/extensions/code"), "/errors/0/message")
    .catalogue(&store::SEED, "/errors");

/// Posts, paged as the adapter walks them.
const POSTS_PAGER: Pager = Pager::new(PAGING);
const IDEAS_PAGER: Pager = Pager::new(IDEAS_PAGING);

/// The fake's one route, credentials, errors and faults.
const SERVICE: Service<Store> = Service::new(
    "",
    &[Route::post("", graphql)],
    Auth::new(API.auth, PROVIDER_ID).keys(&[Key::full(SANDBOX_API_KEY)]),
    ERRORS,
)
.decorate(rate_limit_headers);

/// The Buffer fake.
#[derive(Debug, Default)]
pub struct BufferFake {
    store: Mutex<Option<Store>>,
}

impl ProviderFake for BufferFake {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    fn handle(&self, request: &FakeRequest, ctx: &FakeContext<'_>) -> FakeResponse {
        // Every change is one push or one removal: the data stays whole.
        let mut guard = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let store = guard.get_or_insert_with(|| Store::seed(ctx.now));
        SERVICE.serve(store, request, ctx)
    }

    /// What connects the entry here: the key the fake accepts and a lookback that
    /// covers every seeded post; the ids of its data as fixtures.
    fn catalog(&self) -> CatalogEntry {
        CatalogEntry::default()
            .credential(API_KEY_FIELD, SANDBOX_API_KEY)
            .config(LOOKBACK.name, 30)
            .fixture("organization_id", MAIN_ORGANIZATION)
            .fixture("channel_id", "ch_sandbox_x")
            .fixture(
                "oauth",
                "Buffer has announced OAuth 2.0 for third-party apps but not opened it: connect with a personal API key",
            )
            .special_value(
                "channel_id",
                LOCKED_CHANNEL,
                "create_post answers UnauthorizedError (the channel is locked)",
            )
    }
}

/// Buffer's rate-limit headers, on every complete answer.
fn rate_limit_headers(response: FakeResponse) -> FakeResponse {
    response
        .with_header("ratelimit", "\"100-in-15min\";r=99;t=900")
        .with_header("ratelimit-policy", "\"100-in-15min\";q=100;w=900")
}

/// `POST /`: the operation named in the document.
fn graphql(store: &mut Store, call: &Call<'_>) -> FakeResponse {
    let Ok(body) = call.json::<Value>() else {
        return error(
            400,
            "GRAPHQL_PARSE_FAILED",
            "The body must be JSON with a `query`.",
        );
    };
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let variables = body.get("variables").cloned().unwrap_or_else(|| json!({}));
    let vars = |name: &str| variables.get(name).cloned().unwrap_or(Value::Null);
    match operation_name(query) {
        Some("Account") => {
            let mut account = store::SEED.at("/account").clone();
            account["organizations"] = json!(organizations());
            data(json!({ "account": account }))
        }
        Some("Channels") => {
            let org = vars("organizationId");
            if !organizations().iter().any(|o| o["id"] == org) {
                return error(200, "NOT_FOUND", "Organization not found");
            }
            let listed: Vec<Value> = channels()
                .iter()
                .filter(|c| c["organizationId"] == org)
                .map(public_channel)
                .collect();
            data(json!({ "channels": listed }))
        }
        Some("Channel") => match vars("id").as_str().and_then(channel) {
            Some(found) => data(json!({ "channel": public_channel(found) })),
            None => error(200, "NOT_FOUND", "Channel not found"),
        },
        Some("Posts") => posts(store, call, &vars("input")),
        Some("Ideas") => ideas(store, call, &vars("input")),
        Some("DailyPostingLimits") => limits(store, &variables),
        Some("CreatePost") => create_post(store, call.now, &vars("input")),
        Some("DeletePost") => delete_post(store, &vars("input")),
        Some("CreateIdea") => create_idea(store, call.now, &vars("input")),
        _ => error(
            200,
            "GRAPHQL_VALIDATION_FAILED",
            "Cannot query this operation on type Query or Mutation.",
        ),
    }
}

/// A 200 with `data`.
fn data(value: Value) -> FakeResponse {
    FakeResponse::json(200, &json!({ "data": value }))
}

/// An `errors[]` answer with `code` (Buffer answers most of them with HTTP 200).
fn error(status: u16, code: &str, message: &str) -> FakeResponse {
    let mut body = ERRORS.body(status, Some(code), message);
    body["data"] = Value::Null;
    ERRORS.respond(status, &body)
}

/// A channel without the fake's own bookkeeping.
fn public_channel(channel: &Value) -> Value {
    let mut channel = channel.clone();
    if let Some(object) = channel.as_object_mut() {
        object.remove("dailyLimit");
    }
    channel
}

/// A page of a connection, or Buffer's refusal of the paging variables.
fn connection(page: Result<junction_toolkit::fake::Page, PageError>) -> FakeResponse {
    match page {
        Ok(page) => page.reply(),
        Err(PageError::Size { .. }) => {
            error(200, "BAD_USER_INPUT", "`first` must be from 1 to 100")
        }
        Err(_) => error(
            200,
            "BAD_USER_INPUT",
            "`after` is not a cursor of this connection",
        ),
    }
}

/// `posts(first, after, input)`: the organization's posts, filtered and sorted.
fn posts(store: &Store, call: &Call<'_>, input: &Value) -> FakeResponse {
    let org = &input["organizationId"];
    if !organizations().iter().any(|o| &o["id"] == org) {
        return error(200, "NOT_FOUND", "Organization not found");
    }
    let filter = &input["filter"];
    let listed = |field: &str| -> Option<Vec<Value>> { filter.get(field)?.as_array().cloned() };
    let (channel_ids, statuses) = (listed("channelIds"), listed("status"));
    let start = |field: &str| time(filter.pointer(&format!("/{field}/start")));
    let (created_from, due_from) = (start("createdAt"), start("dueAt"));
    let mut kept: Vec<Value> = store
        .posts
        .iter()
        .filter(|post| {
            channel(post["channelId"].as_str().unwrap_or_default())
                .is_some_and(|c| &c["organizationId"] == org)
        })
        .filter(|post| {
            channel_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&post["channelId"]))
        })
        .filter(|post| {
            statuses
                .as_ref()
                .is_none_or(|s| s.contains(&post["status"]))
        })
        .filter(|post| {
            created_from.is_none_or(|from| time(post.get("createdAt")).is_some_and(|at| at >= from))
        })
        .filter(|post| {
            due_from.is_none_or(|from| time(post.get("dueAt")).is_some_and(|at| at >= from))
        })
        .cloned()
        .collect();
    let sort = input.pointer("/sort/0");
    let field = sort
        .and_then(|s| s["field"].as_str())
        .unwrap_or("dueAt")
        .to_owned();
    kept.sort_by_key(|post| {
        (
            time(post.get(&field)),
            post["id"].as_str().map(str::to_owned),
        )
    });
    if sort.and_then(|s| s["direction"].as_str()) == Some("desc") {
        kept.reverse();
    }
    let edges = kept
        .into_iter()
        .map(|node| json!({ "node": node }))
        .collect();
    connection(POSTS_PAGER.page(call.request, edges))
}

/// `ideas(first, after, input)`: the organization's ideas, newest first.
fn ideas(store: &Store, call: &Call<'_>, input: &Value) -> FakeResponse {
    let org = &input["organizationId"];
    let mut kept: Vec<&Value> = store
        .ideas
        .iter()
        .filter(|i| &i["organizationId"] == org)
        .collect();
    kept.sort_by_key(|idea| std::cmp::Reverse(idea["createdAt"].as_i64()));
    let edges = kept
        .into_iter()
        .map(|node| json!({ "node": node }))
        .collect();
    connection(IDEAS_PAGER.page(call.request, edges))
}

/// `dailyPostingLimits` per aliased day: the channels' figures counted from posts.
fn limits(store: &Store, variables: &Value) -> FakeResponse {
    let ids: Vec<&str> = variables["channelIds"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let found: Vec<&Value> = ids.iter().filter_map(|id| channel(id)).collect();
    if found.is_empty() || found.len() != ids.len() {
        return error(200, "NOT_FOUND", "Channel not found");
    }
    if found
        .iter()
        .any(|c| c["organizationId"] != found[0]["organizationId"])
    {
        return error(
            200,
            "BAD_USER_INPUT",
            "All channels must belong to the same organization",
        );
    }
    let mut answer = Map::new();
    for i in 0.. {
        let Some(date) = variables.get(format!("d{i}")) else {
            break;
        };
        let Some(day) = time(Some(date)).map(|at| at.date_naive()) else {
            return error(200, "BAD_USER_INPUT", "`date` must be an ISO date-time");
        };
        let statuses: Vec<Value> = found.iter().map(|c| status(store, c, day)).collect();
        answer.insert(format!("d{i}"), json!(statuses));
    }
    data(Value::Object(answer))
}

fn status(store: &Store, channel: &Value, day: NaiveDate) -> Value {
    let id = channel["id"].as_str().unwrap_or_default();
    let (sent, scheduled) = store.figures(id, day);
    let limit = channel["dailyLimit"].as_u64();
    json!({
        "channelId": id,
        "sent": sent,
        "scheduled": scheduled,
        "limit": limit,
        "isAtLimit": limit.is_some_and(|limit| sent + scheduled >= limit),
    })
}

/// A payload union's error member.
fn refused(field: &str, kind: &str, message: &str) -> FakeResponse {
    data(json!({ field: { "__typename": kind, "message": message } }))
}

/// `createPost`: the post, or the error member Buffer would answer with.
fn create_post(store: &mut Store, now: DateTime<Utc>, input: &Value) -> FakeResponse {
    const FIELD: &str = "createPost";
    let Some(found) = input["channelId"].as_str().and_then(channel) else {
        return refused(FIELD, "NotFoundError", "Channel not found");
    };
    if found["isLocked"] == true {
        return refused(
            FIELD,
            "UnauthorizedError",
            "You do not have permission to post to this channel",
        );
    }
    let text = input["text"].as_str().unwrap_or_default();
    if text.trim().is_empty() {
        return refused(FIELD, "InvalidInputError", "Text is required");
    }
    let draft = input["saveToDraft"] == true;
    let due = match input["mode"].as_str() {
        Some("customScheduled") => match time(input.get("dueAt")) {
            None => {
                return refused(
                    FIELD,
                    "InvalidInputError",
                    "dueAt is required when mode is customScheduled",
                );
            }
            Some(due) if due < now && !draft => {
                return refused(FIELD, "InvalidInputError", "dueAt must be in the future");
            }
            Some(due) => Some(due),
        },
        Some("addToQueue") => {
            let queued = store
                .posts
                .iter()
                .filter(|p| p["channelId"] == found["id"] && p["status"] == "scheduled")
                .count();
            Some(now + chrono::Duration::hours(queued as i64 + 1))
        }
        Some("shareNow") => Some(now),
        Some("shareNext") => Some(now + chrono::Duration::minutes(30)),
        _ => {
            return refused(
                FIELD,
                "InvalidInputError",
                "mode must be addToQueue, shareNow, shareNext or customScheduled",
            );
        }
    };
    let channel_id = found["id"].as_str().unwrap_or_default();
    if !draft && let (Some(due), Some(limit)) = (due, found["dailyLimit"].as_u64()) {
        let (sent, scheduled) = store.figures(channel_id, due.date_naive());
        if sent + scheduled >= limit {
            return refused(
                FIELD,
                "LimitReachedError",
                "You have reached the daily posting limit for this channel",
            );
        }
    }
    let status = if draft {
        "draft"
    } else if input["mode"] == "shareNow" {
        "sending"
    } else {
        "scheduled"
    };
    let service = found["service"].as_str().unwrap_or_default();
    let id = store.add(
        channel_id,
        service,
        status,
        if draft && input["mode"] != "customScheduled" {
            None
        } else {
            due
        },
        now,
        None,
    );
    let Some(post) = store.posts.iter_mut().find(|p| p["id"] == id.as_str()) else {
        return error(
            500,
            "INTERNAL_SERVER_ERROR",
            "Unexpected error. Please try again later.",
        );
    };
    post["text"] = json!(text);
    post["schedulingType"] = input
        .get("schedulingType")
        .cloned()
        .unwrap_or(json!("automatic"));
    post["isCustomScheduled"] = json!(input["mode"] == "customScheduled");
    post["shareMode"] = input["mode"].clone();
    let post = post.clone();
    data(json!({ FIELD: { "__typename": "PostActionSuccess", "post": post } }))
}

/// `deletePost`: the id, or `NotFoundError`.
fn delete_post(store: &mut Store, input: &Value) -> FakeResponse {
    let id = &input["id"];
    match store.posts.iter().position(|p| &p["id"] == id) {
        Some(at) => {
            store.posts.remove(at);
            data(json!({ "deletePost": { "__typename": "DeletePostSuccess", "id": id } }))
        }
        None => refused("deletePost", "NotFoundError", "Post not found"),
    }
}

/// `createIdea`: the idea, or the error member.
fn create_idea(store: &mut Store, now: DateTime<Utc>, input: &Value) -> FakeResponse {
    const FIELD: &str = "createIdea";
    let org = &input["organizationId"];
    if !organizations().iter().any(|o| &o["id"] == org) {
        return refused(FIELD, "NotFoundError", "Organization not found");
    }
    let content = &input["content"];
    if content["text"].as_str().is_none_or(|t| t.trim().is_empty()) {
        return refused(FIELD, "InvalidInputError", "Text is required");
    }
    let id = store.next("idea");
    let idea = json!({
        "id": id,
        "organizationId": org,
        "createdAt": now.timestamp(),
        "updatedAt": now.timestamp(),
        "content": {"title": content.get("title").cloned().unwrap_or(Value::Null), "text": content["text"]},
    });
    store.ideas.push(idea.clone());
    let mut member = idea;
    member["__typename"] = json!("Idea");
    data(json!({ FIELD: member }))
}

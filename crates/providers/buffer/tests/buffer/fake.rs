//! The adapter against its fake (the same GraphQL wire format): actions through the
//! payload unions, retries that never act twice, and the streams' first sync.

use junction_buffer::{
    Buffer, CHANNELS, ORGANIZATIONS, POSTING_LIMITS, POSTS,
    sandbox::{LOCKED_CHANNEL, SANDBOX_API_KEY},
};
use junction_core::{Adapter, AdapterError, Context, Page, ReadRequest};
use serde_json::{Value, json};

use crate::{conformance::server, support::connection};

async fn read_all(ctx: &Context, stream: &str) -> Vec<Page> {
    let conn = connection(SANDBOX_API_KEY);
    let mut cursor = None;
    let mut pages = Vec::new();
    for _ in 0..50 {
        let request = ReadRequest {
            stream: stream.into(),
            cursor: cursor.clone(),
            page_size: Some(5),
        };
        let page = Buffer.read(ctx, &conn, &request).await.unwrap();
        let more = page.has_more;
        cursor = page.next_cursor.clone();
        pages.push(page);
        if !more {
            return pages;
        }
    }
    panic!("`{stream}` did not end");
}

/// The ids of the posts of `channel` with `text`, as the `posts` stream reads them.
async fn posts_with(ctx: &Context, text: &str) -> Vec<String> {
    read_all(ctx, POSTS)
        .await
        .iter()
        .flat_map(|page| &page.records)
        .filter(|record| record.data["text"] == text)
        .map(|record| record.external_id.clone())
        .collect()
}

#[tokio::test]
async fn a_first_sync_reads_every_stream_into_records_and_kpis() {
    let server = server().await;
    let ctx = server.context();
    let organizations = read_all(&ctx, ORGANIZATIONS).await;
    assert_eq!(organizations[0].records.len(), 2);
    assert_eq!(organizations[0].kpis.len(), 2);
    let channels = read_all(&ctx, CHANNELS).await;
    assert_eq!(channels[0].records.len(), 4);
    let posts = read_all(&ctx, POSTS).await;
    assert!(posts.len() > 2, "paged: {}", posts.len());
    let records: usize = posts.iter().map(|p| p.records.len()).sum();
    assert!(records > 30, "{records}");
    let queue: Vec<_> = posts
        .last()
        .unwrap()
        .kpis
        .iter()
        .map(|p| (p.dimensions["channel"].clone(), p.value))
        .collect();
    assert!(queue.contains(&("ch_sandbox_x".into(), 3.0)), "{queue:?}");
    let limits = read_all(&ctx, POSTING_LIMITS).await;
    let sent: f64 = limits
        .iter()
        .flat_map(|p| &p.kpis)
        .filter(|p| p.metric == "posts_sent")
        .map(|p| p.value)
        .sum();
    // Every seeded sent post falls in the 30-day lookback.
    assert_eq!(sent, 30.0);
}

#[tokio::test]
async fn a_retried_create_post_finds_the_first_try_and_posts_once() {
    let server = server().await;
    let ctx = server.context();
    let conn = connection(SANDBOX_API_KEY);
    let due = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let input = json!({"channel_id": "ch_sandbox_li", "text": "Launch day!", "mode": "scheduled", "due_at": due});
    // The first try reaches Buffer; its answer is lost on the way back.
    let first = Buffer
        .act(&ctx, &conn, "create_post", &input, Some("jct-retry-1"))
        .await
        .unwrap();
    assert_eq!(first.output["deduplicated"], false);
    // The worker retries with the same key: the post the first try made comes back.
    let retry = Buffer
        .act(&ctx, &conn, "create_post", &input, Some("jct-retry-1"))
        .await
        .unwrap();
    assert_eq!(retry.external_id, first.external_id);
    assert_eq!(retry.output["deduplicated"], true);
    assert_eq!(
        posts_with(&ctx, "Launch day!").await,
        [first.external_id.clone().unwrap()]
    );
    // A draft of the same text is another post.
    let draft = json!({"channel_id": "ch_sandbox_li", "text": "Launch day!", "mode": "draft"});
    let drafted = Buffer
        .act(&ctx, &conn, "create_post", &draft, Some("jct-retry-2"))
        .await
        .unwrap();
    assert_ne!(drafted.external_id, first.external_id);
    assert_eq!(drafted.output["post"]["status"], "draft");
    assert_eq!(posts_with(&ctx, "Launch day!").await.len(), 2);
}

/// The error `create_post` with `input` ends in.
async fn refused(ctx: &Context, input: Value) -> AdapterError {
    let conn = connection(SANDBOX_API_KEY);
    Buffer
        .act(ctx, &conn, "create_post", &input, None)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn queue_and_share_modes_and_the_unions_of_the_fake() {
    let server = server().await;
    let ctx = server.context();
    let conn = connection(SANDBOX_API_KEY);
    let queued = Buffer
        .act(
            &ctx,
            &conn,
            "create_post",
            &json!({"channel_id": "ch_sandbox_x", "text": "Queued"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(queued.output["post"]["status"], "scheduled");
    match refused(&ctx, json!({"channel_id": LOCKED_CHANNEL, "text": "Hi"})).await {
        AdapterError::Invalid {
            field: Some(field),
            message,
        } => {
            assert_eq!(field, "channel_id");
            assert!(message.contains("UnauthorizedError"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match refused(&ctx, json!({"channel_id": "ch_nope", "text": "Hi"})).await {
        AdapterError::Invalid {
            field: Some(field), ..
        } => assert_eq!(field, "channel_id"),
        other => panic!("{other:?}"),
    }
    let past = json!({"channel_id": "ch_sandbox_x", "text": "Late", "mode": "scheduled", "due_at": "2020-01-01T00:00:00Z"});
    match refused(&ctx, past).await {
        AdapterError::Invalid {
            field: None,
            message,
        } => {
            assert!(
                message.contains("InvalidInputError") && message.contains("future"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn deleting_twice_is_one_deletion_and_ideas_are_created_once() {
    let server = server().await;
    let ctx = server.context();
    let conn = connection(SANDBOX_API_KEY);
    let made = Buffer
        .act(
            &ctx,
            &conn,
            "create_post",
            &json!({"channel_id": "ch_sandbox_x", "text": "Short-lived"}),
            None,
        )
        .await
        .unwrap();
    let input = json!({"post_id": made.external_id.clone().unwrap()});
    let deleted = Buffer
        .act(&ctx, &conn, "delete_post", &input, Some("k"))
        .await
        .unwrap();
    assert_eq!(deleted.output["already_gone"], false);
    let again = Buffer
        .act(&ctx, &conn, "delete_post", &input, Some("k"))
        .await
        .unwrap();
    assert_eq!(again.output["already_gone"], true);
    assert!(posts_with(&ctx, "Short-lived").await.is_empty());

    // The account has two organizations: an idea names one.
    let idea = json!({"title": "Q3", "text": "A series on onboarding"});
    assert!(matches!(
        Buffer.act(&ctx, &conn, "create_idea", &idea, None).await,
        Err(AdapterError::Invalid { field: Some(f), .. }) if f == "organization_id"
    ));
    let idea = json!({"organization_id": "org_sandbox_main", "title": "Q3", "text": "A series on onboarding"});
    let first = Buffer
        .act(&ctx, &conn, "create_idea", &idea, Some("idea-1"))
        .await
        .unwrap();
    let retry = Buffer
        .act(&ctx, &conn, "create_idea", &idea, Some("idea-1"))
        .await
        .unwrap();
    assert_eq!(
        (
            retry.external_id.clone(),
            retry.output["deduplicated"].clone()
        ),
        (first.external_id, json!(true))
    );
    let unknown = json!({"organization_id": "org_nope", "text": "x"});
    assert!(matches!(
        Buffer.act(&ctx, &conn, "create_idea", &unknown, None).await,
        Err(AdapterError::Invalid { field: Some(f), .. }) if f == "organization_id"
    ));
}

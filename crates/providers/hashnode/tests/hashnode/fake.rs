//! The actions and streams against the crate's fake: a publish (and a draft) whose
//! answer is lost after Hashnode created it, retried with the same key, leaves one;
//! updates change the post in place; the posts of both publications are read.

use std::sync::Arc;

use junction_conformance::{FakeServer, TokenTable};
use junction_core::{Adapter, AdapterError, ReadRequest};
use junction_hashnode::{
    Hashnode, POSTS,
    sandbox::{
        HashnodeFake, SANDBOX_PUBLICATION, SANDBOX_TEAM_PUBLICATION, SANDBOX_TOKEN, SEEDED_POSTS,
    },
};
use serde_json::json;

use crate::support::{LosesFirst, connection, connection_to};

#[tokio::test]
async fn a_publish_retried_after_a_lost_answer_creates_one_post() {
    let fake = HashnodeFake::default();
    let server = FakeServer::start(
        Arc::new(LosesFirst::new(fake.clone(), "PublishPost")),
        TokenTable::default(),
    )
    .await;
    let (ctx, conn) = (
        server.context(),
        connection_to(SANDBOX_TOKEN, Some(SANDBOX_PUBLICATION)),
    );
    let input = json!({"title": "Once", "body_markdown": "Everywhere.", "canonical_url": "https://blog.example.com/once"});
    let key = Some("jct-0123456789abcdef");
    let first = Hashnode
        .act(&ctx, &conn, "publish_article", &input, key)
        .await
        .unwrap_err();
    assert!(first.is_retryable(), "{first:?}");
    let retried = Hashnode
        .act(&ctx, &conn, "publish_article", &input, key)
        .await
        .unwrap();
    assert_eq!(retried.output["deduplicated"], true);
    let again = Hashnode
        .act(&ctx, &conn, "publish_article", &input, key)
        .await
        .unwrap();
    assert_eq!(again.external_id, retried.external_id);
    let posts = fake.posts();
    assert_eq!(posts.iter().filter(|p| p["title"] == "Once").count(), 1);
    let post = posts.iter().find(|p| p["title"] == "Once").unwrap();
    assert_eq!(post["canonicalUrl"], "https://blog.example.com/once");
    // Another key is another request: a second post.
    let other = Hashnode
        .act(&ctx, &conn, "publish_article", &input, Some("jct-other"))
        .await
        .unwrap();
    assert_ne!(other.external_id, retried.external_id);
}

#[tokio::test]
async fn a_draft_retried_after_a_lost_answer_is_saved_once() {
    let fake = HashnodeFake::default();
    let server = FakeServer::start(
        Arc::new(LosesFirst::new(fake.clone(), "CreateDraft")),
        TokenTable::default(),
    )
    .await;
    let (ctx, conn) = (server.context(), connection(SANDBOX_TOKEN));
    let input = json!({"title": "Later", "body_markdown": "Draft.", "publication_id": SANDBOX_TEAM_PUBLICATION});
    let key = Some("jct-draft-1");
    Hashnode
        .act(&ctx, &conn, "save_draft", &input, key)
        .await
        .unwrap_err();
    let retried = Hashnode
        .act(&ctx, &conn, "save_draft", &input, key)
        .await
        .unwrap();
    assert_eq!(
        retried.output,
        json!({"id": retried.external_id, "url": null, "published": false, "platform": "hashnode", "deduplicated": true})
    );
    assert_eq!(
        fake.drafts()
            .iter()
            .filter(|d| d["title"] == "Later")
            .count(),
        1
    );
    // publish_article with published: false is the same draft.
    let same = json!({"title": "Later", "body_markdown": "Draft.", "publication_id": SANDBOX_TEAM_PUBLICATION, "published": false});
    let draft = Hashnode
        .act(&ctx, &conn, "publish_article", &same, key)
        .await
        .unwrap();
    assert_eq!(draft.external_id, retried.external_id);
}

#[tokio::test]
async fn updates_change_the_post_and_others_posts_are_refused() {
    let fake = HashnodeFake::default();
    let server = FakeServer::start(Arc::new(fake.clone()), TokenTable::default()).await;
    let (ctx, conn) = (
        server.context(),
        connection_to(SANDBOX_TOKEN, Some(SANDBOX_PUBLICATION)),
    );
    let created = Hashnode
        .act(
            &ctx,
            &conn,
            "publish_article",
            &json!({"title": "V1", "body_markdown": "One"}),
            Some("k1"),
        )
        .await
        .unwrap();
    let id = created.output["id"].clone();
    let updated = Hashnode
        .act(&ctx, &conn, "update_article", &json!({"id": id, "title": "V2", "tags": ["rust"], "canonical_url": "https://blog.example.com/v"}), Some("k2"))
        .await
        .unwrap();
    assert_eq!(
        (
            updated.output["id"] == id,
            updated.output["published"].as_bool()
        ),
        (true, Some(true))
    );
    let post = fake.posts().into_iter().find(|p| p["id"] == id).unwrap();
    assert_eq!(
        (post["title"].as_str(), post["canonicalUrl"].as_str()),
        (Some("V2"), Some("https://blog.example.com/v"))
    );
    let colleague = fake
        .posts()
        .into_iter()
        .find(|p| p["title"] == "A colleague's post")
        .unwrap();
    let error = Hashnode
        .act(
            &ctx,
            &conn,
            "update_article",
            &json!({"id": colleague["id"], "title": "Mine"}),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "id"),
        "{error:?}"
    );
}

#[tokio::test]
async fn posts_reads_both_publications_and_check_labels_the_user() {
    let server = FakeServer::start(Arc::new(HashnodeFake::default()), TokenTable::default()).await;
    let (ctx, conn) = (server.context(), connection(SANDBOX_TOKEN));
    let health = Hashnode.check(&ctx, &conn).await.unwrap();
    assert_eq!(health.account.as_deref(), Some("sandbox-writer"));
    let mut cursor = None;
    let mut ids = Vec::new();
    loop {
        let request = ReadRequest {
            stream: POSTS.into(),
            cursor,
            page_size: Some(3),
        };
        let page = Hashnode.read(&ctx, &conn, &request).await.unwrap();
        ids.extend(page.records.iter().map(|r| r.external_id.clone()));
        cursor = page.next_cursor;
        if !page.has_more {
            break;
        }
    }
    // The seeded posts and the colleague's on the team blog.
    assert_eq!(ids.len(), SEEDED_POSTS + 1);
    let wrong = connection_to(SANDBOX_TOKEN, Some("65f0a1b2c3d4e5f6a7b8c9ff"));
    let error = Hashnode.check(&ctx, &wrong).await.unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "publication_id"),
        "{error:?}"
    );
}

//! `publish_article` against the crate's fake: the posts Medium keeps, a writer's
//! limits, and a lost answer that Junction does not turn into a second post.

use std::sync::Arc;

use junction_conformance::{FakeServer, TokenTable};
use junction_core::{Adapter, AdapterError};
use junction_medium::{
    Medium,
    sandbox::{MediumFake, SANDBOX_EDITED_PUBLICATION, SANDBOX_TOKEN, SANDBOX_WRITER_PUBLICATION},
};
use serde_json::json;

use crate::support::{LosesFirstPost, connection};

#[tokio::test]
async fn a_lost_answer_leaves_one_post_and_is_not_retried() {
    let fake = MediumFake::default();
    let server = FakeServer::start(
        Arc::new(LosesFirstPost::new(fake.clone())),
        TokenTable::default(),
    )
    .await;
    let (ctx, conn) = (server.context(), connection(SANDBOX_TOKEN));
    let input = json!({"title": "Once", "body_markdown": "Everywhere.", "canonical_url": "https://blog.example.com/once"});
    let error = Medium
        .act(&ctx, &conn, "publish_article", &input, Some("jct-1"))
        .await
        .unwrap_err();
    // Medium created it; Junction cannot see it, and its retry policy will not try
    // again: one post.
    assert!(!error.is_retryable(), "{error:?}");
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0]["canonicalUrl"], "https://blog.example.com/once");
}

#[tokio::test]
async fn posts_go_to_the_user_or_a_publication_within_the_users_role() {
    let fake = MediumFake::default();
    let server = FakeServer::start(Arc::new(fake.clone()), TokenTable::default()).await;
    let (ctx, conn) = (server.context(), connection(SANDBOX_TOKEN));
    let mine = Medium
        .act(
            &ctx,
            &conn,
            "publish_article",
            &json!({"title": "Mine", "body_markdown": "Text", "tags": ["a", "b", "c"]}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (
            mine.output["published"].as_bool(),
            mine.output["platform"].as_str()
        ),
        (Some(true), Some("medium"))
    );
    let edited = json!({"title": "Ed", "body_markdown": "T", "publication_id": SANDBOX_EDITED_PUBLICATION, "publish_status": "unlisted"});
    let output = Medium
        .act(&ctx, &conn, "publish_article", &edited, None)
        .await
        .unwrap()
        .output;
    assert_eq!(output["publish_status"], "unlisted");
    // A writer may only submit drafts.
    let public =
        json!({"title": "W", "body_markdown": "T", "publication_id": SANDBOX_WRITER_PUBLICATION});
    let error = Medium
        .act(&ctx, &conn, "publish_article", &public, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "publication_id"),
        "{error:?}"
    );
    let draft = json!({"title": "W", "body_markdown": "T", "publication_id": SANDBOX_WRITER_PUBLICATION, "published": false});
    let output = Medium
        .act(&ctx, &conn, "publish_article", &draft, None)
        .await
        .unwrap()
        .output;
    assert_eq!(output["published"], false);
    let posts = fake.posts();
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[0]["content"], "# Mine\n\nText");
    assert_eq!(posts[2]["publicationId"], SANDBOX_WRITER_PUBLICATION);
    // Medium has no update.
    let error = Medium
        .act(&ctx, &conn, "update_article", &json!({"id": "x"}), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AdapterError::Invalid { field: Some(f), .. } if f == "action"),
        "{error:?}"
    );
}

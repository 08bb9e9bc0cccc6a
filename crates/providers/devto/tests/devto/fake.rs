//! The actions against the crate's fake: a publish whose answer is lost after DEV
//! created the article, retried with the same key, leaves one article; update and
//! unpublish change it in place; the stream reads what the account has.

use std::sync::Arc;

use junction_conformance::{FakeServer, TokenTable};
use junction_core::{Adapter, AdapterError, ReadRequest};
use junction_devto::{
    ARTICLES, Devto,
    sandbox::{DevtoFake, SANDBOX_API_KEY, SEEDED_ARTICLES},
};
use serde_json::json;

use crate::support::{LosesFirstCreate, connection};

#[tokio::test]
async fn a_publish_retried_after_a_lost_answer_creates_one_article() {
    let fake = DevtoFake::default();
    let server = FakeServer::start(
        Arc::new(LosesFirstCreate::new(fake.clone())),
        TokenTable::default(),
    )
    .await;
    let (ctx, conn) = (server.context(), connection(SANDBOX_API_KEY));
    let input = json!({
        "title": "Cross-posted", "body_markdown": "Once, everywhere.",
        "canonical_url": "https://blog.example.com/once", "tags": ["rust"]
    });
    let key = Some("jct-0123456789");
    let first = Devto
        .act(&ctx, &conn, "publish_article", &input, key)
        .await
        .unwrap_err();
    assert!(first.is_retryable(), "{first:?}");
    let retried = Devto
        .act(&ctx, &conn, "publish_article", &input, key)
        .await
        .unwrap();
    assert_eq!(retried.output["deduplicated"], true);
    let again = Devto
        .act(&ctx, &conn, "publish_article", &input, key)
        .await
        .unwrap();
    assert_eq!(again.external_id, retried.external_id);
    let copies = fake
        .articles()
        .into_iter()
        .filter(|a| a["title"] == "Cross-posted")
        .count();
    assert_eq!(copies, 1);
    assert_eq!(fake.articles().len(), SEEDED_ARTICLES + 1);
}

#[tokio::test]
async fn drafts_update_and_unpublish_change_the_article_in_place() {
    let fake = DevtoFake::default();
    let server = FakeServer::start(Arc::new(fake.clone()), TokenTable::default()).await;
    let (ctx, conn) = (server.context(), connection(SANDBOX_API_KEY));
    let draft = json!({"title": "Draft", "body_markdown": "Later.", "published": false});
    let created = Devto
        .act(&ctx, &conn, "publish_article", &draft, Some("k1"))
        .await
        .unwrap();
    assert_eq!(created.output["published"], false);
    let id = created.output["id"].clone();
    let published = Devto
        .act(
            &ctx,
            &conn,
            "update_article",
            &json!({"id": id, "published": true, "title": "Now"}),
            Some("k2"),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            published.output["published"].as_bool(),
            published.output["id"] == id
        ),
        (Some(true), true)
    );
    let unpublished = Devto
        .act(
            &ctx,
            &conn,
            "unpublish_article",
            &json!({"id": id}),
            Some("k3"),
        )
        .await
        .unwrap();
    assert_eq!(unpublished.output["published"], false);
    let article = fake
        .articles()
        .into_iter()
        .find(|a| json!(a["id"].to_string()) == id)
        .unwrap();
    assert_eq!(
        (article["title"].as_str(), article["published"].as_bool()),
        (Some("Now"), Some(false))
    );

    // Forem refuses a second article of the same title and body (422); without a
    // key to look it up by, the refusal still finds the first and returns it.
    let same = json!({"title": "T", "body_markdown": "b"});
    let one = Devto
        .act(&ctx, &conn, "publish_article", &same, None)
        .await
        .unwrap();
    let two = Devto
        .act(&ctx, &conn, "publish_article", &same, None)
        .await
        .unwrap();
    assert_eq!(
        (two.external_id, two.output["deduplicated"].as_bool()),
        (one.external_id, Some(true))
    );
    let error = Devto
        .act(
            &ctx,
            &conn,
            "update_article",
            &json!({"id": "5", "title": "x"}),
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
async fn the_stream_reads_every_seeded_article_with_its_state() {
    let server = FakeServer::start(Arc::new(DevtoFake::default()), TokenTable::default()).await;
    let request = ReadRequest {
        stream: ARTICLES.into(),
        cursor: None,
        page_size: Some(4),
    };
    let ctx = server.context();
    let first = Devto
        .read(&ctx, &connection(SANDBOX_API_KEY), &request)
        .await
        .unwrap();
    assert!(first.has_more);
    let next = ReadRequest {
        cursor: first.next_cursor.clone(),
        ..request
    };
    let second = Devto
        .read(&ctx, &connection(SANDBOX_API_KEY), &next)
        .await
        .unwrap();
    assert!(!second.has_more);
    let mut states: Vec<String> = first
        .records
        .iter()
        .chain(&second.records)
        .map(|r| r.data["state"].as_str().unwrap().to_owned())
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            "published",
            "published",
            "published",
            "published",
            "scheduled",
            "unpublished"
        ]
    );
}

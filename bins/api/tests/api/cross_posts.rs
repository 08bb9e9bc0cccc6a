//! Cross-posting through the API against the sandbox's three blog fakes (DEV,
//! Hashnode, Medium): one post on each with the canonical URL set, also when the
//! request is retried and when one platform fails the first time; a second article
//! of the same URL refused; an edit sent where the platform allows it.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    support::{TestApp, assert_problem},
    webhooks::Worker,
};

/// The three blog integrations, connected from the sandbox's catalog, and
/// Hashnode's publication.
async fn blogs(app: &TestApp) -> (Uuid, Uuid, Uuid, String) {
    let catalog = app.catalog().await;
    let entry = |id: &str| {
        catalog
            .providers
            .iter()
            .find(|entry| entry.provider == id)
            .unwrap_or_else(|| panic!("no {id} in the catalog"))
            .clone()
    };
    let hashnode = entry("hashnode");
    let publication = hashnode.connect.fixtures["publication_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (
        app.connect_from_catalog(&entry("devto")).await,
        app.connect_from_catalog(&hashnode).await,
        app.connect_from_catalog(&entry("medium")).await,
        publication,
    )
}

/// Polls the cross-post until `done` holds of it (or fails after 60 s).
async fn wait_for(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let post: Value = app
            .get(&format!("/v1/cross-posts/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done(&post) {
            return post;
        }
        assert!(Instant::now() < deadline, "still waiting: {post:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// DEV's articles with this canonical URL, as its API lists them (through the
/// authenticated proxy).
async fn devto_articles(app: &TestApp, devto: Uuid, canonical_url: &str) -> Vec<Value> {
    let articles: Vec<Value> = app
        .get(&format!(
            "/v1/integrations/{devto}/proxy/api/articles/me/all?per_page=1000"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    articles
        .into_iter()
        .filter(|article| article["canonical_url"] == canonical_url)
        .collect()
}

fn target<'a>(post: &'a Value, provider: &str) -> &'a Value {
    post["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|target| target["provider"] == provider)
        .unwrap_or_else(|| panic!("no {provider} target in {post:#}"))
}

#[tokio::test]
async fn one_post_per_platform_despite_a_retried_request_and_a_failing_platform() {
    let app = TestApp::spawn().await;
    let (devto, hashnode, medium, publication) = blogs(&app).await;
    let canonical_url = format!("https://blog.example.com/posts/{}", Uuid::new_v4());
    let title = format!("Shipped {}", &canonical_url[canonical_url.len() - 8..]);
    let body = json!({
        "article": {
            "title": title,
            "body_markdown": "# Shipped\n\nWhat we built, and why.",
            "canonical_url": canonical_url,
            "tags": ["rust", "webdev", "opensource", "tools", "release"],
            "description": "What we built, and why."
        },
        "targets": [
            {"integration_id": devto},
            {"integration_id": hashnode, "options": {"publication_id": publication}},
            {"integration_id": medium}
        ]
    });
    // DEV answers its next request with a 500: the first attempt there fails.
    app.sandbox_control(
        "/_sandbox/faults",
        json!({"provider": "devto", "fault": {"kind": "server_error"}, "count": 1}),
    )
    .await;

    let first = app
        .post("/v1/cross-posts")
        .header("Idempotency-Key", "launch-post")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/cross-posts/{id}"));
    assert_eq!(first["status"], "pending");
    assert_eq!(first["canonical_url"], canonical_url);
    let providers: Vec<&str> = first["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["devto", "hashnode", "medium"]);
    for target in first["targets"].as_array().unwrap() {
        assert_eq!(target["publish"]["status"], "queued", "{target}");
    }
    // Each platform took its first few tags, and says what it left out.
    let medium_notes = target(&first, "medium")["notes"].to_string();
    assert!(
        medium_notes.contains("tags beyond the platform's 3 left out: tools, release"),
        "{medium_notes}"
    );
    let devto_notes = target(&first, "devto")["notes"].to_string();
    assert!(
        devto_notes.contains("tags beyond the platform's 4 left out: release"),
        "{devto_notes}"
    );

    // The same request again: the first answer, replayed; nothing new recorded.
    let again = app
        .post("/v1/cross-posts")
        .header("Idempotency-Key", "launch-post")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    // Without the key, the canonical URL still says it is the same article.
    let unkeyed = app
        .post("/v1/cross-posts")
        .json(&body)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(unkeyed, 409, "cross_post_exists").await;
    assert!(
        problem["detail"].as_str().unwrap().contains(&id),
        "{problem}"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM cross_posts").await, 1);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM action_runs WHERE action = 'publish_article'")
            .await,
        3
    );

    let worker = Worker::start(&app).await;
    let done = wait_for(&app, &id, |post| post["status"] != "pending").await;
    assert_eq!(done["status"], "published", "{done:#}");
    // DEV failed once and was tried again on its own; the others once.
    assert_eq!(target(&done, "devto")["publish"]["attempts"], 2, "{done:#}");
    assert_eq!(target(&done, "hashnode")["publish"]["attempts"], 1);
    assert_eq!(target(&done, "medium")["publish"]["attempts"], 1);
    for provider in ["devto", "hashnode", "medium"] {
        let target = target(&done, provider);
        assert!(target["post_id"].is_string(), "{target}");
        assert!(target["url"].is_string(), "{target}");
    }

    // Exactly one article at DEV, pointing home.
    let articles = devto_articles(&app, devto, &canonical_url).await;
    assert_eq!(articles.len(), 1, "{articles:#?}");
    assert_eq!(articles[0]["title"], title);
    // Hashnode and Medium published once each, the canonical URL sent to both.
    for provider in ["hashnode", "medium"] {
        let run = target(&done, provider)["publish"]["run_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let run: Value = app
            .get(&format!("/v1/action-runs/{run}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["input"]["canonical_url"], canonical_url, "{run}");
    }
    worker.stop().await;
}

#[tokio::test]
async fn an_edit_goes_where_the_platform_allows_and_the_rest_say_why_not() {
    let app = TestApp::spawn().await;
    let (devto, hashnode, medium, publication) = blogs(&app).await;
    let canonical_url = format!("https://blog.example.com/posts/{}", Uuid::new_v4());
    let created: Value = app
        .post("/v1/cross-posts")
        .json(&json!({
            "article": {
                "title": "First title",
                "body_markdown": "First body.",
                "canonical_url": canonical_url,
                "tags": ["rust"]
            },
            "targets": [
                {"integration_id": devto},
                {"integration_id": hashnode, "options": {"publication_id": publication}},
                {"integration_id": medium}
            ]
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    // An edit while the publishes wait is refused: they would race.
    let early = app
        .patch(&format!("/v1/cross-posts/{id}"))
        .json(&json!({"title": "Too soon"}))
        .send()
        .await
        .unwrap();
    assert_problem(early, 409, "conflict").await;

    let worker = Worker::start(&app).await;
    wait_for(&app, &id, |post| post["status"] == "published").await;
    let edited = app
        .patch(&format!("/v1/cross-posts/{id}"))
        .json(&json!({"title": "Second title", "body_markdown": "Second body."}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let edited: Value = edited.json().await.unwrap();
    assert_eq!(edited["article"]["title"], "Second title");
    assert_eq!(edited["article"]["canonical_url"], canonical_url);
    assert_eq!(target(&edited, "devto")["edit"]["status"], "queued");
    assert_eq!(target(&edited, "hashnode")["edit"]["status"], "queued");
    let medium_target = target(&edited, "medium");
    assert!(medium_target["edit"].is_null(), "{medium_target}");
    assert!(
        medium_target["notes"][0]
            .as_str()
            .unwrap()
            .contains("does not allow edits through its API"),
        "{medium_target}"
    );

    let done = wait_for(&app, &id, |post| {
        ["devto", "hashnode"]
            .iter()
            .all(|p| target(post, p)["edit"]["status"] == "succeeded")
    })
    .await;
    let articles = devto_articles(&app, devto, &canonical_url).await;
    assert_eq!(articles.len(), 1);
    assert_eq!(articles[0]["title"], "Second title");
    // An edit that changes nothing sends nothing.
    let same = app
        .patch(&format!("/v1/cross-posts/{id}"))
        .json(&json!({"title": "Second title"}))
        .send()
        .await
        .unwrap();
    let same: Value = same.json().await.unwrap();
    assert_eq!(
        target(&same, "devto")["edit"]["run_id"],
        target(&done, "devto")["edit"]["run_id"]
    );
    worker.stop().await;
}

#[tokio::test]
async fn bad_articles_and_targets_are_refused_whole_with_nothing_stored() {
    let app = TestApp::spawn().await;
    let (devto, _, medium, _) = blogs(&app).await;
    let catalog = app.catalog().await;
    let stripe_entry = catalog
        .providers
        .iter()
        .find(|entry| entry.provider == "stripe")
        .unwrap()
        .clone();
    let stripe = app.connect_from_catalog(&stripe_entry).await;
    let article = json!({
        "title": "A title",
        "body_markdown": "A body.",
        "canonical_url": "https://blog.example.com/a"
    });
    let post = |body: Value| {
        let request = app.post("/v1/cross-posts").json(&body);
        async move { request.send().await.unwrap() }
    };

    // A platform's own rules, named under its target: Medium takes titles of up
    // to 100 characters.
    let long_title = json!({
        "article": {"title": "x".repeat(120), "body_markdown": "b", "canonical_url": "https://blog.example.com/b"},
        "targets": [{"integration_id": devto}, {"integration_id": medium}]
    });
    let problem = assert_problem(post(long_title).await, 422, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["targets[1].title"], "{problem}");
    // A provider that cannot publish, an unknown integration, one listed twice.
    assert_problem(
        post(json!({"article": article, "targets": [{"integration_id": stripe}]})).await,
        400,
        "unsupported_operation",
    )
    .await;
    assert_problem(
        post(json!({"article": article, "targets": [{"integration_id": Uuid::new_v4()}]})).await,
        404,
        "integration_not_found",
    )
    .await;
    let twice = post(json!({"article": article, "targets": [
        {"integration_id": devto}, {"integration_id": devto}
    ]}))
    .await;
    let problem = assert_problem(twice, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "targets[1].integration_id");
    // Options may not override the article.
    let clash = post(json!({"article": article, "targets": [
        {"integration_id": devto, "options": {"canonical_url": "https://elsewhere.example"}}
    ]}))
    .await;
    let problem = assert_problem(clash, 422, "validation_failed").await;
    assert_eq!(
        problem["errors"][0]["field"],
        "targets[0].options.canonical_url"
    );

    assert_eq!(app.count("SELECT count(*) AS n FROM cross_posts").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM action_runs").await, 0);
    assert_eq!(app.staged_jobs().await, 0);
}

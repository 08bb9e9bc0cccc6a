//! The streams against wiremock serving Medium's documented shapes, and refusals
//! classified by status.

use std::time::Duration;

use junction_core::{Adapter, AdapterError, ReadRequest};
use junction_medium::{Medium, PROFILE, PUBLICATIONS};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

use crate::support::{any, context};

const USER: &str = "5303d74c64f66366f00cb9b2a94f3251bf5";

async fn me(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/medium/v1/me"))
        .and(header("authorization", "Bearer 181d415f34379af07b2c11d144dfbe35d"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {
            "id": USER, "username": "majelbstoat", "name": "Jamie Talbot",
            "url": "https://medium.com/@majelbstoat", "imageUrl": "https://images.medium.com/0*fkfQiTzT7TlUGGyI.png"
        }})))
        .mount(server)
        .await;
}

fn read(stream: &str) -> ReadRequest {
    ReadRequest {
        stream: stream.into(),
        cursor: None,
        page_size: None,
    }
}

#[tokio::test]
async fn the_profile_and_publications_are_one_page_each() {
    let server = MockServer::start().await;
    me(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/medium/v1/users/{USER}/publications")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"id": "b969ac62a46b", "name": "About Medium", "description": "What is this thing and how does it work?", "url": "https://medium.com/about", "imageUrl": "https://cdn-images-1.medium.com/fit/c/200/200/0*ae1jbP_od0W6EulE.jpeg"},
            {"id": "b45573563f5a", "name": "Developers", "description": "Medium’s Developer resources", "url": "https://medium.com/developers", "imageUrl": "https://cdn-images-1.medium.com/fit/c/200/200/1*ccokMT4VXmDDO1EoQQHkzg@2x.png"}
        ]})))
        .mount(&server)
        .await;
    let ctx = context(&format!("{}/medium/", server.uri()));
    let profile = Medium.read(&ctx, &any(), &read(PROFILE)).await.unwrap();
    assert_eq!(profile.records.len(), 1);
    assert_eq!(
        (profile.records[0].external_id.as_str(), profile.has_more),
        (USER, false)
    );
    assert!(profile.kpis.is_empty());
    let publications = Medium
        .read(&ctx, &any(), &read(PUBLICATIONS))
        .await
        .unwrap();
    let ids: Vec<&str> = publications
        .records
        .iter()
        .map(|r| r.external_id.as_str())
        .collect();
    assert_eq!(ids, ["b969ac62a46b", "b45573563f5a"]);
    let health = Medium.check(&ctx, &any()).await.unwrap();
    assert_eq!(health.account.as_deref(), Some("majelbstoat"));
}

async fn refusal(status: u16, body: Value, retry_after: Option<&str>) -> AdapterError {
    let server = MockServer::start().await;
    let mut answer = ResponseTemplate::new(status).set_body_json(body);
    if let Some(secs) = retry_after {
        answer = answer.insert_header("retry-after", secs);
    }
    Mock::given(path("/medium/v1/me"))
        .respond_with(answer)
        .mount(&server)
        .await;
    let ctx = context(&format!("{}/medium/", server.uri()));
    Medium.read(&ctx, &any(), &read(PROFILE)).await.unwrap_err()
}

#[tokio::test]
async fn refusals_are_classified_as_medium_documents_them() {
    let error = refusal(
        401,
        json!({"errors": [{"message": "Token was invalid.", "code": 6003}]}),
        None,
    )
    .await;
    assert!(
        matches!(&error, AdapterError::Unauthorized { refreshable: false, message } if message.contains("Token was invalid")),
        "{error:?}"
    );
    let error = refusal(
        429,
        json!({"errors": [{"message": "Too many requests.", "code": 6029}]}),
        Some("60"),
    )
    .await;
    assert_eq!(
        error,
        AdapterError::RateLimited {
            retry_after: Some(Duration::from_secs(60))
        }
    );
    let error = refusal(
        500,
        json!({"errors": [{"message": "Internal server error."}]}),
        None,
    )
    .await;
    assert!(
        matches!(error, AdapterError::Unavailable { .. }),
        "{error:?}"
    );
}

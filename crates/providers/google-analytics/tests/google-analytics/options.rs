//! `property_id`'s choices: the Admin API's `accountSummaries` in its documented
//! shape (accounts with `propertySummaries`, paged by `pageToken` /
//! `nextPageToken`), read with the Bearer token under the base URL's prefix; other
//! fields have no choices; Google's refusals classified by the same table.

use junction_core::{Adapter, AdapterError, FieldOption};
use junction_google_analytics::GoogleAnalytics;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param, query_param_is_missing},
};

use crate::support::*;

const SUMMARIES_PATH: &str = "/google-analytics/v1beta/accountSummaries";

#[tokio::test]
async fn properties_of_every_account_and_page_are_the_choices() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SUMMARIES_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param("pageSize", "200"))
        .and(query_param_is_missing("pageToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accountSummaries": [{
                "name": "accountSummaries/1000",
                "account": "accounts/1000",
                "displayName": "Acme",
                "propertySummaries": [
                    {"property": "properties/123456", "displayName": "Acme web",
                     "propertyType": "PROPERTY_TYPE_ORDINARY", "parent": "accounts/1000"},
                    {"property": "properties/123457", "displayName": "",
                     "propertyType": "PROPERTY_TYPE_ORDINARY", "parent": "accounts/1000"}
                ]
            }],
            "nextPageToken": "page-2"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(SUMMARIES_PATH))
        .and(query_param("pageToken", "page-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accountSummaries": [
                {"name": "accountSummaries/2000", "account": "accounts/2000",
                 "displayName": "Empty account"},
                {"name": "accountSummaries/3000", "account": "accounts/3000",
                 "displayName": "Beta", "propertySummaries": [
                    {"property": "properties/999", "displayName": "Beta app",
                     "propertyType": "PROPERTY_TYPE_ORDINARY", "parent": "accounts/3000"}
                 ]}
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;

    // The property is not needed yet: choosing it is what the list is for.
    let options = GoogleAnalytics
        .options(&context(&server), &connection(json!({})), "property_id")
        .await
        .unwrap()
        .unwrap();
    let option = |value: &str, label: &str, description: &str| FieldOption {
        value: value.into(),
        label: label.into(),
        description: Some(description.into()),
    };
    assert_eq!(
        options,
        vec![
            option("123456", "Acme web", "Acme · accounts/1000"),
            // A property without a display name is known by its id.
            option("123457", "123457", "Acme · accounts/1000"),
            option("999", "Beta app", "Beta · accounts/3000"),
        ]
    );
}

#[tokio::test]
async fn other_fields_have_no_choices_and_ask_nothing() {
    let server = MockServer::start().await;
    for field in ["dimensions", "lookback_days", "nothing"] {
        let listed = GoogleAnalytics
            .options(&context(&server), &property_connection(json!({})), field)
            .await
            .unwrap();
        assert_eq!(listed, None, "{field}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn refusals_are_classified_like_the_data_apis() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SUMMARIES_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"code": 401, "message": "Request had invalid authentication credentials.",
                      "status": "UNAUTHENTICATED"}
        })))
        .mount(&server)
        .await;
    let error = GoogleAnalytics
        .options(&context(&server), &connection(json!({})), "property_id")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            AdapterError::Unauthorized {
                refreshable: true,
                ..
            }
        ),
        "{error:?}"
    );
}

//! `ad_account_id`'s choices: `GET /me/adaccounts?fields=id,name,currency,
//! account_status` in the Graph API's documented shape (`data`, cursor paging with
//! `paging.next` while more follow), read with the Bearer token; other fields have
//! no choices; Graph errors classified by the same table.

use junction_core::{Adapter, AdapterError, FieldOption};
use junction_meta_ads::MetaAds;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param, query_param_is_missing},
};

use crate::support::*;

const AD_ACCOUNTS_PATH: &str = "/meta-ads/v25.0/me/adaccounts";

#[tokio::test]
async fn every_page_of_ad_accounts_is_listed_with_currency_and_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(AD_ACCOUNTS_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(query_param("fields", "id,name,currency,account_status"))
        .and(query_param("limit", "100"))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "act_111", "name": "Acme EU", "currency": "EUR", "account_status": 1},
                {"id": "act_222", "name": "Acme old", "currency": "USD", "account_status": 101}
            ],
            "paging": {
                "cursors": {"before": "QVFIUmJl", "after": "QVFIUmFm"},
                "next": "https://graph.facebook.com/v25.0/me/adaccounts?limit=100&after=QVFIUmFm"
            }
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(AD_ACCOUNTS_PATH))
        .and(query_param("after", "QVFIUmFm"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "act_333", "account_status": 9}],
            "paging": {"cursors": {"before": "QVFIUmZz", "after": "QVFIUmZz"}}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let options = MetaAds
        .options(
            &context(&server),
            &connection_with(json!({})),
            "ad_account_id",
        )
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
            option("act_111", "Acme EU", "EUR · ACTIVE"),
            option("act_222", "Acme old", "USD · CLOSED"),
            option("act_333", "act_333", "IN_GRACE_PERIOD"),
        ]
    );
}

#[tokio::test]
async fn other_fields_have_no_choices_and_ask_nothing() {
    let server = MockServer::start().await;
    for field in ["lookback_days", "webhook_verify_token", "nothing"] {
        let listed = MetaAds
            .options(&context(&server), &connection(), field)
            .await
            .unwrap();
        assert_eq!(listed, None, "{field}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_expired_token_is_a_reconnect() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(AD_ACCOUNTS_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"message": "Error validating access token: Session has expired.",
                      "type": "OAuthException", "code": 190, "error_subcode": 463,
                      "fbtrace_id": "AbCdEf"}
        })))
        .mount(&server)
        .await;
    let error = MetaAds
        .options(&context(&server), &connection(), "ad_account_id")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            AdapterError::Unauthorized {
                refreshable: false,
                ..
            }
        ),
        "{error:?}"
    );
}

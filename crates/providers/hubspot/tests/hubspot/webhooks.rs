//! HubSpot's webhooks through the adapter: every vector of HubSpot's official
//! signature file (`crates/conformance/vectors/hubspot-webhook-signatures.json`, a
//! copy of the shared provider spec) — v3 ones verified, tampered, stale and
//! wrong-secret copies refused before the body is read, v1/v2 ones (no timestamp)
//! refused — and verified events applied: the object re-read and upserted, deleted
//! objects marked deleted, other accounts' events left alone.

use std::sync::Arc;

use chrono::DateTime;
use http::{HeaderMap, HeaderName, HeaderValue};
use junction_core::{
    Adapter, Context, FixedClock,
    webhook::{REQUEST_URL_HEADER, WebhookError, WebhookRequest, hubspot},
};
use junction_hubspot::Hubspot;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::support::{account, connection, context, object};

const VECTORS: &str =
    include_str!("../../../../conformance/vectors/hubspot-webhook-signatures.json");

fn at_millis(millis: i64) -> Context {
    Context::new(reqwest::Client::new()).with_clock(Arc::new(FixedClock(
        DateTime::from_timestamp_millis(millis).unwrap(),
    )))
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn verify(
    ctx: &Context,
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<junction_core::webhook::WebhookEvent>, WebhookError> {
    Hubspot::oauth().verify_webhook(
        ctx,
        &SecretString::from(secret.to_owned()),
        &WebhookRequest { headers, body },
    )
}

#[test]
fn every_official_vector_is_verified_or_refused_as_it_should() {
    let file: Value = serde_json::from_str(VECTORS).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 7);
    for vector in vectors {
        let text = |key: &str| vector[key].as_str().unwrap_or_default().to_owned();
        let (secret, body) = (text("client_secret"), text("body"));
        if vector["version"] == "v3" {
            let millis: i64 = text("timestamp").parse().unwrap();
            let signed = headers(&[
                (hubspot::SIGNATURE_HEADER, &text("expected_signature")),
                (hubspot::TIMESTAMP_HEADER, &text("timestamp")),
                (REQUEST_URL_HEADER, &text("uri")),
            ]);
            // The signature holds; the vectors' bodies are no HubSpot event list, so
            // only the parser refuses them.
            assert!(
                matches!(
                    verify(&at_millis(millis), &secret, &signed, body.as_bytes()),
                    Err(WebhookError::InvalidPayload(_))
                ),
                "{}",
                vector["name"]
            );
            let mut tampered = body.clone().into_bytes();
            tampered[1] ^= 1;
            assert_eq!(
                verify(&at_millis(millis), &secret, &signed, &tampered),
                Err(WebhookError::SignatureMismatch)
            );
            assert_eq!(
                verify(&at_millis(millis), "wrong-secret", &signed, body.as_bytes()),
                Err(WebhookError::SignatureMismatch)
            );
            assert_eq!(
                verify(
                    &at_millis(millis + 301_000),
                    &secret,
                    &signed,
                    body.as_bytes()
                ),
                Err(WebhookError::StaleTimestamp)
            );
            assert_eq!(
                verify(
                    &at_millis(millis + 299_000),
                    &secret,
                    &signed,
                    body.as_bytes()
                )
                .map_err(|e| matches!(e, WebhookError::InvalidPayload(_))),
                Err(true)
            );
            let elsewhere = headers(&[
                (hubspot::SIGNATURE_HEADER, &text("expected_signature")),
                (hubspot::TIMESTAMP_HEADER, &text("timestamp")),
                (REQUEST_URL_HEADER, "https://www.example.com/another_uri"),
            ]);
            assert_eq!(
                verify(&at_millis(millis), &secret, &elsewhere, body.as_bytes()),
                Err(WebhookError::SignatureMismatch)
            );
        } else {
            // v1 and v2 sign no time: a delivery carrying only them could be replayed
            // forever, so Junction takes v3 alone.
            let signed = headers(&[
                ("x-hubspot-signature", &text("expected_signature")),
                ("x-hubspot-signature-version", &text("version")),
                (REQUEST_URL_HEADER, "https://www.example.com/webhook_uri"),
            ]);
            assert_eq!(
                verify(
                    &at_millis(1_693_657_560_000),
                    &secret,
                    &signed,
                    body.as_bytes()
                ),
                Err(WebhookError::MissingHeader(hubspot::SIGNATURE_HEADER)),
                "{}",
                vector["name"]
            );
        }
    }
}

/// HubSpot's example delivery body.
const EXAMPLE: &str = r#"[{"eventId":1,"subscriptionId":12345,"portalId":12345678,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321},{"eventId":2,"subscriptionId":12346,"portalId":12345678,"occurredAt":1564113600500,"subscriptionType":"deal.deletion","attemptNumber":0,"objectId":456,"changeSource":"CRM","appId":54321},{"eventId":3,"subscriptionId":12347,"portalId":999,"occurredAt":1564113600600,"subscriptionType":"company.propertyChange","propertyName":"name","propertyValue":"Other","objectId":789,"changeSource":"CRM","appId":54321}]"#;

const URL: &str =
    "https://junction.example/webhooks/hubspot-oauth/0b7f1c9e-2d4a-4f7e-9a51-6c3e8d2b1a00";

fn signed_example(secret: &str, millis: i64) -> HeaderMap {
    let signature = hubspot::sign(
        &SecretString::from(secret.to_owned()),
        "POST",
        URL,
        EXAMPLE.as_bytes(),
        millis,
    );
    headers(&[
        (hubspot::SIGNATURE_HEADER, &signature),
        (hubspot::TIMESTAMP_HEADER, &millis.to_string()),
        (REQUEST_URL_HEADER, URL),
    ])
}

#[tokio::test]
async fn verified_events_apply_object_changes() {
    let millis = 1_774_958_400_000; // the tests' now
    let events = verify(
        &at_millis(millis),
        "app-secret",
        &signed_example("app-secret", millis),
        EXAMPLE.as_bytes(),
    )
    .unwrap();
    assert_eq!(events.len(), 3);
    assert_ne!(events[0].id, events[1].id);
    // Without the URL Junction gave HubSpot there is nothing to check the signature of.
    let mut no_url = signed_example("app-secret", millis);
    no_url.remove(REQUEST_URL_HEADER);
    assert_eq!(
        verify(
            &at_millis(millis),
            "app-secret",
            &no_url,
            EXAMPLE.as_bytes()
        ),
        Err(WebhookError::MissingHeader(REQUEST_URL_HEADER))
    );

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/hubspot/account-info/v3/details"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/objects/contacts/123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(object(
            "123",
            "2026-03-31T11:00:00.000Z",
            json!({"email": "new@example.com"}),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/objects/companies/789"))
        .respond_with(ResponseTemplate::new(200).set_body_json(object(
            "789",
            "2026-03-31T11:00:00.000Z",
            json!({}),
        )))
        .expect(0)
        .mount(&server)
        .await;
    let (ctx, conn) = (context(&server), connection());
    let adapter = Hubspot::private_app();
    let created = adapter
        .apply_webhook(&ctx, &conn, &events[0])
        .await
        .unwrap();
    assert_eq!(created.records.len(), 1);
    assert_eq!(created.records[0].stream, "contacts");
    assert_eq!(
        created.records[0].record.data["properties"]["email"],
        "new@example.com"
    );
    let deleted = adapter
        .apply_webhook(&ctx, &conn, &events[1])
        .await
        .unwrap();
    assert_eq!(deleted.deletions.len(), 1);
    assert_eq!(
        (
            deleted.deletions[0].stream.as_str(),
            deleted.deletions[0].external_id.as_str()
        ),
        ("deals", "456")
    );
    // Another account's event (the same public app) changes nothing here.
    let other = adapter
        .apply_webhook(&ctx, &conn, &events[2])
        .await
        .unwrap();
    assert_eq!(other, Default::default());
}

#[tokio::test]
async fn an_object_gone_since_the_event_is_marked_deleted() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/hubspot/account-info/v3/details"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/hubspot/crm/v3/objects/deals/31"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(crate::support::error(
                "OBJECT_NOT_FOUND",
                "resource not found",
            )),
        )
        .mount(&server)
        .await;
    let body = r#"[{"eventId":9,"subscriptionId":1,"portalId":12345678,"occurredAt":1,"subscriptionType":"object.propertyChange","objectTypeId":"0-3","objectId":31,"propertyName":"amount","propertyValue":"5"}]"#;
    let millis = 1_774_958_400_000;
    let signature = hubspot::sign(
        &SecretString::from("s"),
        "POST",
        URL,
        body.as_bytes(),
        millis,
    );
    let signed = headers(&[
        (hubspot::SIGNATURE_HEADER, &signature),
        (hubspot::TIMESTAMP_HEADER, &millis.to_string()),
        (REQUEST_URL_HEADER, URL),
    ]);
    let events = verify(&at_millis(millis), "s", &signed, body.as_bytes()).unwrap();
    let effects = Hubspot::private_app()
        .apply_webhook(&context(&server), &connection(), &events[0])
        .await
        .unwrap();
    assert!(effects.records.is_empty());
    assert_eq!(effects.deletions[0].external_id, "31");
}

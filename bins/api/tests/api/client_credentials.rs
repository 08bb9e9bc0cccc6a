//! The client-credentials grant end to end, with Hotjar against the sandbox: the
//! access token bought with the user's key pair is renewed once however many calls
//! find it expired at the same moment, a key pair the provider stops accepting
//! moves the integration to `needs_reauth` with a message saying so, and a wrong
//! pair never connects.

use std::{collections::BTreeSet, time::Duration};

use junction_sandbox::{GrantType, TokenFailure};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem};

/// How many calls run at once.
const CONCURRENT: usize = 8;

async fn connect_hotjar(app: &TestApp) -> Uuid {
    let catalog = app.catalog().await;
    let entry = catalog
        .providers
        .iter()
        .find(|entry| entry.provider == "hotjar")
        .unwrap();
    app.connect_from_catalog(entry).await
}

/// Access tokens the sandbox has issued for Hotjar: one per token request served.
fn tokens_issued(app: &TestApp) -> usize {
    app.sandbox.sandbox.snapshot().providers["hotjar"].access_tokens_issued
}

async fn integration(app: &TestApp, id: Uuid) -> Value {
    app.get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Runs `lookup_user` `CONCURRENT` times at once; the statuses and bodies.
async fn concurrent_lookups(app: &TestApp, id: Uuid) -> Vec<(u16, Value)> {
    let path = format!("/v1/integrations/{id}/actions/lookup_user");
    let calls: Vec<_> = (0..CONCURRENT)
        .map(|_| {
            let request = app
                .post(&path)
                .json(&json!({"data_subject_email": "someone@example.com"}));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_client_credentials_token_is_renewed_once_for_many_concurrent_calls() {
    let app = TestApp::spawn().await;
    let id = connect_hotjar(&app).await;
    // Connecting bought the first token.
    assert_eq!(tokens_issued(&app), 1);

    // Hotjar expires the token before Junction expected: every call meets a 401,
    // and the single-flight renewal under the row lock fetches one new token for all.
    let expired = app.sandbox.sandbox.expire_tokens("hotjar").unwrap();
    assert_eq!(expired, 1);
    // Slow answers keep every call in flight at once: all meet the 401 together.
    app.sandbox
        .sandbox
        .set_latency("hotjar", Duration::from_millis(300))
        .unwrap();
    let answers = concurrent_lookups(&app, id).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["output"]["deletion_requested"], false, "{body}");
    }
    assert_eq!(
        tokens_issued(&app),
        2,
        "one token request for {CONCURRENT} calls"
    );

    // Junction's own view: the stored token is about to expire. The calls renew it
    // ahead of its expiry, again once for all of them.
    app.db
        .execute(&format!(
            "UPDATE integrations SET token_expires_at = now() + interval '5 seconds' WHERE id = '{id}'"
        ))
        .await;
    let answers = concurrent_lookups(&app, id).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    assert_eq!(
        tokens_issued(&app),
        3,
        "one token request for {CONCURRENT} calls"
    );

    // Each renewal is logged once, and the integration stays active.
    let logs = app
        .count(&format!(
            "SELECT count(*) AS n FROM integration_logs WHERE integration_id = '{id}' \
             AND message = 'Access token obtained with the client credentials.'"
        ))
        .await;
    assert_eq!(logs, 2);
    let details = integration(&app, id).await;
    assert_eq!(details["status"], "active", "{details}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_client_secret_marks_the_integration_as_needing_new_credentials() {
    let app = TestApp::spawn().await;
    let id = connect_hotjar(&app).await;

    // The key is deleted in Hotjar (or expired after its year): the token endpoint
    // refuses the pair once the current token has run out.
    app.sandbox.sandbox.expire_tokens("hotjar").unwrap();
    app.sandbox
        .sandbox
        .script_token_failure(
            "hotjar",
            GrantType::ClientCredentials,
            TokenFailure::InvalidGrant,
            1,
        )
        .unwrap();
    let answers = concurrent_lookups(&app, id).await;
    let codes: BTreeSet<&str> = answers
        .iter()
        .map(|(_, body)| body["code"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        codes,
        BTreeSet::from(["integration_needs_reauth"]),
        "{answers:?}"
    );
    // One token request, refused, was enough: the others found the integration
    // marked (a second request would have been granted, and its calls answered).
    let state = &app.sandbox.sandbox.snapshot().providers["hotjar"];
    assert_eq!(
        (state.scripted_failures, state.access_tokens_issued),
        (0, 1)
    );
    let details = integration(&app, id).await;
    assert_eq!(details["status"], "needs_reauth", "{details}");
    let said = details.to_string();
    assert!(
        said.contains("refused the client credentials") && said.contains("replace the key pair"),
        "{details}"
    );
    assert!(!said.contains("hotjar-sandbox-client-secret"), "{details}");

    // A sync says the same and changes nothing.
    let test: Value = app
        .post(&format!("/v1/integrations/{id}/test"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(test["code"], "integration_needs_reauth", "{test}");

    // A new key pair (here the sandbox's, accepted again) brings it back.
    let catalog = app.catalog().await;
    let entry = catalog
        .providers
        .iter()
        .find(|entry| entry.provider == "hotjar")
        .unwrap();
    let reconnected = app
        .post(&format!("/v1/integrations/{id}/reconnect"))
        .json(&json!({"credentials": entry.connect.credentials}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reconnected.status(),
        200,
        "{}",
        reconnected.text().await.unwrap()
    );
    assert_eq!(integration(&app, id).await["status"], "active");
    let answers = concurrent_lookups(&app, id).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
}

#[tokio::test]
async fn a_wrong_key_pair_never_connects_and_names_both_fields() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let entry = catalog
        .providers
        .iter()
        .find(|entry| entry.provider == "hotjar")
        .unwrap();
    let mut credentials = entry.connect.credentials.clone();
    credentials.insert("client_secret".into(), json!("not-the-secret-4711"));
    let response = app
        .post("/v1/integrations")
        .json(&json!({
            "provider": "hotjar",
            "config": entry.connect.config,
            "credentials": credentials,
        }))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422, "invalid_credentials").await;
    let fields: BTreeSet<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["client_id", "client_secret"]),
        "{problem}"
    );
    assert!(!problem.to_string().contains("not-the-secret-4711"));
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);
    assert_eq!(app.count("SELECT count(*) AS n FROM credentials").await, 0);
    // The refused pair bought nothing.
    assert_eq!(tokens_issued(&app), 0);
}

//! `GET /_sandbox/catalog`: every entry the sandbox serves, with values that pass the
//! provider's own validation and an OAuth client that completes the flow at the URLs
//! it names.

use std::net::SocketAddr;

use junction_sandbox::{CLIENT_ID, CLIENT_SECRET, Catalog, SandboxConfig};
use serde_json::{Map, Value};

use crate::support::{API_KEY, REDIRECT_URI, ROTATING, STABLE, pkce, redirect_from, start};

/// Every entry of the built-in registry.
const BUILTIN: [&str; 17] = [
    "buffer",
    "devto",
    "google-analytics",
    "hashnode",
    "hotjar",
    "hubspot",
    "hubspot-oauth",
    "kit",
    "kit-oauth",
    "mailchimp",
    "mailchimp-oauth",
    "medium",
    "meta-ads",
    "mixpanel",
    "resend",
    "sendgrid",
    "stripe",
];

async fn spawn_builtin() -> junction_sandbox::RunningSandbox {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    junction_sandbox::spawn(SandboxConfig::default(), bind)
        .await
        .unwrap()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn fetch(http: &reqwest::Client, base: &str) -> (Value, Catalog) {
    let response = http
        .get(format!("{base}/_sandbox/catalog"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let json: Value = response.json().await.unwrap();
    let catalog: Catalog = serde_json::from_value(json.clone()).unwrap();
    (json, catalog)
}

#[tokio::test]
async fn the_catalog_lists_every_builtin_entry_with_what_connecting_it_takes() {
    let running = spawn_builtin().await;
    let base = running.base_url();
    let (json, catalog) = fetch(&client(), &base).await;

    let ids: Vec<&str> = catalog
        .providers
        .iter()
        .map(|entry| entry.provider.as_str())
        .collect();
    assert_eq!(ids, BUILTIN);

    let registry = junction_registry::Registry::builtin();
    for entry in &catalog.providers {
        let id = entry.provider.as_str();
        let spec = registry.get(id).unwrap().spec();
        assert_eq!(entry.name.as_deref(), Some(spec.name), "{id}");
        assert_eq!(entry.base_url, Some(format!("{base}/{id}/")), "{id}");

        // The values pass the provider's own validation (every required field there,
        // every value well-formed, nothing unknown), config and credentials together
        // as the API takes them.
        let mut fields: Map<String, Value> = entry.connect.config.clone();
        for (name, value) in &entry.connect.credentials {
            assert!(
                fields.insert(name.clone(), value.clone()).is_none(),
                "{id}: {name} both in config and credentials"
            );
        }
        if let Err(errors) = spec.validate_fields(&fields) {
            panic!("{id}: the catalog's values are not valid: {errors:?}");
        }
        for required in &entry.required_fields {
            assert!(fields.contains_key(required), "{id}: {required} missing");
        }
        // Secret fields go in credentials, the rest in config: where the API keeps them.
        for field in spec.all_fields() {
            if entry.connect.config.contains_key(field.name) {
                assert!(!field.secret, "{id}: secret {} in config", field.name);
            }
            if entry.connect.credentials.contains_key(field.name) {
                assert!(field.secret, "{id}: public {} in credentials", field.name);
            }
        }

        match entry.auth.as_deref() {
            Some("api_key" | "basic") => {
                assert!(entry.oauth.is_none(), "{id}");
                assert!(!entry.connect.credentials.is_empty(), "{id}");
            }
            // Tokens of the client-credentials grant come from no consent page.
            Some("client_credentials") => assert!(entry.oauth.is_none(), "{id}"),
            Some("oauth2") => {
                let oauth = entry.oauth.as_ref().unwrap();
                assert_eq!(oauth.client_id, CLIENT_ID);
                assert_eq!(oauth.client_secret, CLIENT_SECRET);
                assert_eq!(oauth.authorize_url, format!("{base}/oauth/{id}/authorize"));
                assert_eq!(oauth.token_url, format!("{base}/oauth/{id}/token"));
                assert_eq!(oauth.revoke_url, format!("{base}/oauth/{id}/revoke"));
                assert!(entry.connect.credentials.is_empty(), "{id}");
            }
            other => panic!("{id}: unexpected auth {other:?}"),
        }
    }

    // The values a reader of the JSON sees, for a few entries (found by id: an entry
    // added to the registry moves the others in the sorted list).
    let by_id = |id: &str| {
        json["providers"]
            .as_array()
            .and_then(|entries| entries.iter().find(|entry| entry["provider"] == id))
            .unwrap_or_else(|| panic!("{id} is not in the catalog's JSON"))
    };
    let stripe = by_id("stripe");
    assert_eq!(stripe["provider"], "stripe");
    assert_eq!(stripe["auth"], "api_key");
    assert_eq!(stripe["credentials"]["secret_key"], "sk_test_sandbox");
    assert_eq!(stripe["webhook_secret"], "whsec_junctionsandbox");
    assert_eq!(
        stripe["credentials"]["webhook_secret"],
        stripe["webhook_secret"]
    );
    assert_eq!(stripe["special_values"][0]["value"], "rk_test_sandbox");
    let mailchimp = by_id("mailchimp");
    assert_eq!(mailchimp["provider"], "mailchimp");
    let key = mailchimp["credentials"]["api_key"].as_str().unwrap();
    assert!(key.ends_with(&format!(
        "-{}",
        mailchimp["fixtures"]["data_center"].as_str().unwrap()
    )));
    assert_eq!(mailchimp["fixtures"]["audiences"][0]["id"], "b1f3a9c2d4");
    let ga4 = by_id("google-analytics");
    assert_eq!(ga4["auth"], "oauth2");
    assert_eq!(ga4["config"]["property_id"], "123456789");
    assert_eq!(ga4["required_fields"], serde_json::json!(["property_id"]));
    assert_eq!(
        ga4["oauth"]["extra_authorize_params"]["access_type"],
        "offline"
    );
    assert!(ga4.get("webhook_secret").is_none());
    // Meta signs webhooks with the app secret: the sandbox's client secret.
    let meta = catalog.provider("meta-ads").unwrap();
    assert_eq!(meta.connect.config["ad_account_id"], "1234567890");
    assert_eq!(meta.connect.webhook_secret.as_deref(), Some(CLIENT_SECRET));
    let resend = catalog.provider("resend").unwrap();
    assert!(
        resend
            .connect
            .webhook_secret
            .as_deref()
            .unwrap()
            .starts_with("whsec_")
    );
    for unsigned in [
        "google-analytics",
        "kit",
        "kit-oauth",
        "mailchimp",
        "mailchimp-oauth",
    ] {
        assert_eq!(
            catalog.provider(unsigned).unwrap().connect.webhook_secret,
            None
        );
    }
    running.handle.stop(true).await;
}

#[tokio::test]
async fn every_oauth_entry_completes_the_flow_with_the_catalogs_values_alone() {
    let running = spawn_builtin().await;
    let http = client();
    let (_, catalog) = fetch(&http, &running.base_url()).await;
    let mut flows = 0;
    for entry in &catalog.providers {
        let Some(oauth) = &entry.oauth else { continue };
        let id = entry.provider.as_str();
        let scope = oauth.scopes.join(&oauth.scope_separator);
        let pkce = pkce(id);
        let mut authorize = url::Url::parse(&oauth.authorize_url).unwrap();
        authorize.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", oauth.client_id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("scope", scope.as_str()),
            ("state", "catalog"),
            ("decision", "approve"),
        ]);
        if oauth.pkce {
            authorize.query_pairs_mut().extend_pairs([
                ("code_challenge", pkce.challenge.as_str()),
                ("code_challenge_method", "S256"),
            ]);
        }
        authorize
            .query_pairs_mut()
            .extend_pairs(&oauth.extra_authorize_params);
        let response = http.get(authorize).send().await.unwrap();
        assert_eq!(
            response.status(),
            302,
            "{id}: {}",
            response.text().await.unwrap()
        );
        let redirect = redirect_from(&response);
        let code = redirect
            .get("code")
            .unwrap_or_else(|| panic!("{id}: no code in {redirect:?}"))
            .to_owned();

        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", oauth.client_id.as_str()),
            ("client_secret", oauth.client_secret.as_str()),
        ];
        if oauth.pkce {
            form.push(("code_verifier", pkce.verifier.as_str()));
        }
        let answer: Value = http
            .post(&oauth.token_url)
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no access token in {answer}"));
        // The token is one the fake mounted at the catalog's base URL accepts.
        assert!(
            matches!(
                junction_core::fake::TokenAuthority::check(&running.sandbox, id, token),
                junction_core::fake::TokenStatus::Valid { .. }
            ),
            "{id}"
        );
        flows += 1;
    }
    assert_eq!(
        flows, 5,
        "google-analytics, hubspot-oauth, kit-oauth, mailchimp-oauth, meta-ads"
    );
    running.handle.stop(true).await;
}

#[tokio::test]
async fn the_catalogs_urls_are_on_the_host_the_client_used() {
    let running = spawn_builtin().await;
    let response = client()
        .get(format!("{}/_sandbox/catalog", running.base_url()))
        .header("host", "sandbox.example.test:8090")
        .send()
        .await
        .unwrap();
    let catalog: Catalog = response.json().await.unwrap();
    let stripe = catalog.provider("stripe").unwrap();
    assert_eq!(
        stripe.base_url.as_deref(),
        Some("http://sandbox.example.test:8090/stripe/")
    );
    let ga4 = catalog.provider("google-analytics").unwrap();
    assert_eq!(
        ga4.oauth.as_ref().unwrap().token_url,
        "http://sandbox.example.test:8090/oauth/google-analytics/token"
    );
    running.handle.stop(true).await;
}

#[tokio::test]
async fn entries_without_a_fake_or_without_catalog_values_are_listed_with_what_is_known() {
    let harness = start().await;
    let (json, catalog) = fetch(&harness.http, harness.running.base_url().as_str()).await;
    // A spec without a fake: its OAuth server, no base URL.
    let steady = catalog.provider(STABLE).unwrap();
    assert_eq!(steady.base_url, None);
    assert_eq!(steady.auth.as_deref(), Some("oauth2"));
    assert_eq!(steady.oauth.as_ref().unwrap().scope_separator, ",");
    // A fake that says nothing of itself (the trait's default): an empty entry.
    let keyed = catalog.provider(API_KEY).unwrap();
    assert_eq!(keyed.auth.as_deref(), Some("api_key"));
    assert!(keyed.oauth.is_none());
    assert_eq!(keyed.required_fields, ["api_key"]);
    assert!(keyed.connect.credentials.is_empty());
    let keyed_json = json["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["provider"] == API_KEY)
        .unwrap();
    assert!(keyed_json.get("special_values").is_none());
    assert!(keyed_json.get("fixtures").is_none());
    assert!(keyed_json.get("oauth").is_none());
    assert!(catalog.provider(ROTATING).unwrap().base_url.is_some());
    harness.stop().await;
}

//! The Connect page (`/connect?session=TOKEN`) over HTTP, as a browser uses it: it
//! lists the session's allowed providers and nothing else, may be framed by the
//! return URL's origin only, turns dead links into readable pages, refuses forms
//! without their CSRF token, connects Stripe by key (the refusal by the field,
//! then the outcome page) and GA4 by OAuth (the callback ends on the outcome page),
//! and never puts the token in a log.

use std::sync::{Arc, Mutex, OnceLock};

use regex::Regex;
use reqwest::Response;
use serde_json::{Value, json};
use url::Url;

use crate::support::{TestApp, query};

const ORIGIN: &str = "https://app.example.com";
const RETURN_URL: &str = "https://app.example.com/connected?x=1";

/// Allows the client's origin and makes a session; returns (id, token).
async fn session(app: &TestApp, providers: Value) -> (String, String) {
    let response = app
        .patch("/v1/workspace")
        .json(&json!({"connect_return_urls": [ORIGIN]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .post("/v1/connect-sessions")
        .json(&json!({
            "allowed_providers": providers,
            "end_user": {"id": "user-42", "display_name": "Ada"},
            "tags": {"plan": "pro"},
            "return_url": RETURN_URL,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    (
        body["id"].as_str().unwrap().to_owned(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// A GET of the Connect page, as a browser sends it (no API key).
async fn get(app: &TestApp, query: &[(&str, &str)]) -> Response {
    app.client
        .get(format!("{}/connect", app.url))
        .query(query)
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// The value of a `name=` cookie the response sets.
fn cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap()[name.len() + 1..].to_owned())
}

fn csrf_of(html: &str) -> String {
    let re = Regex::new(r#"name="csrf_token" value="([^"]*)""#).unwrap();
    re.captures(html).unwrap()[1].to_owned()
}

/// Text of an HTML attribute as askama escapes it.
fn unescape(text: &str) -> String {
    text.replace("&#38;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Where the outcome page sends the browser on (its Continue link).
fn outcome_url(html: &str) -> Url {
    let re = Regex::new(r#"id="continue" href="([^"]*)""#).unwrap();
    Url::parse(&unescape(&re.captures(html).unwrap()[1])).unwrap()
}

fn data(html: &str, name: &str) -> String {
    let re = Regex::new(&format!(r#"data-{name}="([^"]*)""#)).unwrap();
    unescape(&re.captures(html).unwrap()[1])
}

/// A provider's form on the Connect page: the double-submit cookie and token.
async fn form(app: &TestApp, token: &str, provider: &str) -> (String, String) {
    let response = get(app, &[("session", token), ("provider", provider)]).await;
    assert_eq!(response.status(), 200);
    let cookie = cookie(&response, "junction_connect_csrf").unwrap();
    let html = response.text().await.unwrap();
    let csrf = csrf_of(&html);
    assert_eq!(cookie, csrf);
    (cookie, csrf)
}

async fn post(app: &TestApp, cookie: Option<&str>, form: &[(String, String)]) -> Response {
    let mut request = app.client.post(format!("{}/connect", app.url)).form(form);
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("junction_connect_csrf={cookie}"));
    }
    request.send().await.unwrap()
}

fn pairs(values: &[(&str, &str)]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn the_page_lists_only_the_allowed_providers_and_is_framed_by_the_return_origin_only() {
    let app = TestApp::spawn().await;
    // The workspace's own integration: the token must not reveal it.
    let catalog = app.catalog().await;
    app.connect_from_catalog(catalog.provider("stripe").unwrap())
        .await;
    let (_, token) = session(&app, json!(["stripe", "google-analytics"])).await;

    let response = get(&app, &[("session", &token)]).await;
    assert_eq!(response.status(), 200);
    let policy = header(&response, "content-security-policy").unwrap();
    assert!(
        policy.contains(&format!("frame-ancestors {ORIGIN};")),
        "{policy}"
    );
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(header(&response, "x-frame-options").is_none());
    assert_eq!(header(&response, "referrer-policy"), Some("same-origin"));
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    let html = response.text().await.unwrap();
    assert!(html.contains("Stripe") && html.contains("Google Analytics"));
    // A few providers are one list, by name.
    let ga4 = html.find("Google Analytics").unwrap();
    assert!(ga4 < html.find("<h3>Stripe</h3>").unwrap(), "{html}");
    assert!(
        !html.contains("<h2>"),
        "no category headings for two: {html}"
    );
    for other in ["Meta Ads", "Mailchimp", "Kit", "Resend"] {
        assert!(!html.contains(other), "{other} is not allowed: {html}");
    }
    assert!(
        !html.contains("Catalog stripe"),
        "the token reads no integration"
    );
    assert!(html.contains("For Ada."), "{html}");

    // One provider's form: the spec's fields, by the dashboard's rendering.
    let response = get(&app, &[("session", &token), ("provider", "stripe")]).await;
    assert_eq!(response.status(), 200);
    let set = header(&response, "set-cookie").unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/connect"] {
        assert!(set.contains(flag), "{flag}: {set}");
    }
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"type="password""#), "{html}");
    assert!(html.contains(r#"name="provider" value="stripe""#));

    // A provider the session does not offer.
    let response = get(&app, &[("session", &token), ("provider", "meta-ads")]).await;
    assert_eq!(response.status(), 403);

    // Every provider (no list given): grouped by category and searchable.
    let (_, every) = session(&app, json!([])).await;
    let html = get(&app, &[("session", &every)])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"role="search""#), "{html}");
    assert!(html.contains("<h2>Payments</h2>"), "{html}");
    let html = get(&app, &[("session", &every), ("q", "pay")])
        .await
        .text()
        .await
        .unwrap();
    let names = Regex::new(r"<h3>([^<]*)</h3>").unwrap();
    let found: Vec<&str> = names
        .captures_iter(&html)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(found, vec!["Stripe"], "{html}");
}

#[tokio::test]
async fn dead_links_get_a_readable_page() {
    let app = TestApp::spawn().await;
    let response = get(&app, &[]).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("incomplete"));

    let response = get(&app, &[("session", "jcs_made_up_0000000000000000000000")]).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        header(&response, "content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(response.text().await.unwrap().contains("not valid"));
    // The API key is no connect token either.
    let response = get(&app, &[("session", &app.api_key)]).await;
    assert_eq!(response.status(), 404);

    let (id, token) = session(&app, json!(["stripe"])).await;
    let response = app
        .post(&format!("/v1/connect-sessions/{id}/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = get(&app, &[("session", &token)]).await;
    assert_eq!(response.status(), 410);
    let html = response.text().await.unwrap();
    assert!(html.contains("withdrawn"), "{html}");
    assert!(
        !html.contains(&token),
        "the token is not put back in a page"
    );

    let (id, token) = session(&app, json!(["stripe"])).await;
    app.db
        .execute(&format!(
            "UPDATE connect_sessions SET created_at = now() - interval '2 hours', \
             expires_at = now() - interval '1 hour' WHERE id = '{id}'"
        ))
        .await;
    let response = get(&app, &[("session", &token)]).await;
    assert_eq!(response.status(), 410);
    assert!(response.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let stripe = catalog.provider("stripe").unwrap();
    let (_, token) = session(&app, json!(["stripe"])).await;
    let (cookie, csrf) = form(&app, &token, "stripe").await;
    let mut values = pairs(&[("session", &token), ("provider", "stripe")]);
    for (name, value) in &stripe.connect.credentials {
        values.push((name.clone(), value.as_str().unwrap().to_owned()));
    }
    for (sent_cookie, sent_csrf) in [
        (Some(cookie.as_str()), None),
        (Some(cookie.as_str()), Some("wrong")),
        (None, Some(csrf.as_str())),
        (None, None),
    ] {
        let mut form = values.clone();
        if let Some(csrf) = sent_csrf {
            form.push(("csrf_token".into(), csrf.into()));
        }
        let response = post(&app, sent_cookie, &form).await;
        assert_eq!(response.status(), 403, "{sent_cookie:?} {sent_csrf:?}");
        assert!(response.text().await.unwrap().contains("expired"));
    }
    // Another site's page cannot claim this server's origin.
    let mut form = values.clone();
    form.push(("csrf_token".into(), "from-elsewhere".into()));
    let response = app
        .client
        .post(format!("{}/connect", app.url))
        .header("origin", "https://evil.example.com")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM integrations").await,
        0,
        "nothing was connected"
    );
    // A framed page whose cookie the browser withheld: its own origin vouches.
    let response = app
        .client
        .post(format!("{}/connect", app.url))
        .header("origin", app.url.as_str())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        data(&response.text().await.unwrap(), "outcome"),
        "connected"
    );
}

#[tokio::test]
async fn stripe_by_key_a_wrong_key_by_its_field_then_the_right_one() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let stripe = catalog.provider("stripe").unwrap();
    let (session_id, token) = session(&app, json!(["stripe", "google-analytics"])).await;
    let field = stripe.connect.credentials.keys().next().unwrap().clone();
    let (cookie, csrf) = form(&app, &token, "stripe").await;
    let mut values = pairs(&[
        ("session", &token),
        ("provider", "stripe"),
        ("csrf_token", &csrf),
    ]);
    let mut wrong = values.clone();
    wrong.push((field.clone(), "sk_test_wrong".into()));
    let response = post(&app, Some(&cookie), &wrong).await;
    assert_eq!(response.status(), 422);
    let policy = header(&response, "content-security-policy").unwrap();
    assert!(policy.contains(&format!("frame-ancestors {ORIGIN};")));
    let cookie = self::cookie(&response, "junction_connect_csrf").unwrap();
    let html = response.text().await.unwrap();
    let by_field = Regex::new(&format!(r#"id="f-{field}-error">key rejected"#)).unwrap();
    assert!(by_field.is_match(&html), "{html}");
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(!html.contains("sk_test_wrong"), "a secret is not put back");
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);

    // The refused form came with a fresh token.
    values.retain(|(k, _)| k != "csrf_token");
    values.push(("csrf_token".into(), csrf_of(&html)));
    for (name, value) in &stripe.connect.credentials {
        values.push((name.clone(), value.as_str().unwrap().to_owned()));
    }
    let response = post(&app, Some(&cookie), &values).await;
    assert_eq!(response.status(), 200);
    let policy = header(&response, "content-security-policy").unwrap();
    assert!(policy.contains(&format!("frame-ancestors {ORIGIN};")));
    let html = response.text().await.unwrap();
    assert_eq!(data(&html, "outcome"), "connected");
    assert_eq!(data(&html, "provider"), "stripe");
    assert_eq!(data(&html, "connect-session"), session_id);
    assert_eq!(data(&html, "return-origin"), ORIGIN);
    let back = outcome_url(&html);
    assert!(
        back.as_str().starts_with(&format!("{RETURN_URL}&")),
        "{back}"
    );
    let outcome = query(&back);
    assert_eq!(outcome["outcome"], "connected");
    assert_eq!(outcome["connect_session"], session_id);
    let id = outcome["integration_id"].clone();
    assert_eq!(data(&html, "integration-id"), id);
    // Without JavaScript the page forwards by itself.
    assert!(html.contains(r#"<noscript><meta http-equiv="refresh""#));

    let integration: Value = app
        .get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(integration["end_user_id"], "user-42");
    assert_eq!(integration["tags"], json!({"plan": "pro"}));

    // The list now shows Stripe connected; a second connection is refused.
    let html = get(&app, &[("session", &token)])
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<span class="badge ok">connected</span>"#));
    let response = post(&app, Some(&cookie), &values).await;
    assert_eq!(response.status(), 409);
    assert!(response.text().await.unwrap().contains("already connected"));
}

#[tokio::test]
async fn ga4_by_oauth_ends_on_the_outcome_page() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let ga4 = catalog.provider("google-analytics").unwrap();
    let (session_id, token) = session(&app, json!(["google-analytics"])).await;
    // The only provider: its form straight away.
    let response = get(&app, &[("session", &token)]).await;
    let cookie = cookie(&response, "junction_connect_csrf").unwrap();
    let html = response.text().await.unwrap();
    assert!(html.contains("Continue to Google Analytics"), "{html}");
    let mut values = pairs(&[
        ("session", &token),
        ("provider", "google-analytics"),
        ("csrf_token", &csrf_of(&html)),
    ]);
    for (name, value) in &ga4.connect.config {
        let text = value
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        values.push((name.clone(), text));
    }
    let response = post(&app, Some(&cookie), &values).await;
    assert_eq!(response.status(), 303);
    let authorize = Url::parse(header(&response, "location").unwrap()).unwrap();
    let callback = app.consent(&authorize, "approve").await;
    let response = app.callback(&callback).await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "referrer-policy"), Some("same-origin"));
    let html = response.text().await.unwrap();
    assert_eq!(data(&html, "outcome"), "connected");
    assert_eq!(data(&html, "provider"), "google-analytics");
    let outcome = query(&outcome_url(&html));
    assert_eq!(outcome["connect_session"], session_id);
    assert_eq!(outcome["outcome"], "connected");
}

/// Every log line of this process, from the moment [`capture_logs`] is first called.
fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(move || Writer(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
    .clone()
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_token_is_never_logged() {
    let logs = capture_logs();
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let stripe = catalog.provider("stripe").unwrap();
    let (_, token) = session(&app, json!(["stripe", "google-analytics"])).await;
    get(&app, &[("session", &token)]).await;
    let (cookie, csrf) = form(&app, &token, "stripe").await;
    let mut values = pairs(&[
        ("session", &token),
        ("provider", "stripe"),
        ("csrf_token", &csrf),
    ]);
    let field = stripe.connect.credentials.keys().next().unwrap().clone();
    values.push((field, "sk_test_wrong".into()));
    assert_eq!(post(&app, Some(&cookie), &values).await.status(), 422);
    let (_, other) = session(&app, json!(["stripe"])).await;
    // A refused one too, without its CSRF token.
    post(&app, None, &pairs(&[("session", &other)])).await;

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("path=/connect") && text.contains("request done"),
        "the Connect page's requests are logged: {}",
        text.len()
    );
    for secret in [&token, &other] {
        assert!(!text.contains(secret.as_str()), "a token was logged");
        // Nor any long piece of it.
        assert!(
            !text.contains(&secret[4..20]),
            "a piece of a token was logged"
        );
    }
}

//! The dashboard's rules, end to end against the real server: a signed-out visitor
//! reaches no page (only the assets), sign-in exchanges an API key for a session
//! cookie (HttpOnly, SameSite=Lax, Path=/dashboard, Secure behind https) and never
//! echoes the key, sign-out ends the session, every form refuses a missing or wrong
//! CSRF token, another workspace's integration is unknown, a one-time sign-in link
//! works once, and connecting shows the provider's refusal by its field.

use junction_app::dashboard;
use junction_testkit::{create_integration, create_workspace};
use regex::Regex;
use reqwest::{Response, header};
use secrecy::ExposeSecret;
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

/// A browser's view of the dashboard: a cookie jar of one session.
struct Browser<'a> {
    app: &'a TestApp,
    session: Option<String>,
}

/// The value of a `Set-Cookie` named `name` in a response, with its attributes.
fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap();
    pair.split_once('=').unwrap().1.to_owned()
}

/// The CSRF token of the first form of a page.
fn csrf_of(html: &str) -> String {
    let re = Regex::new(r#"name="csrf_token" value="([^"]*)""#).unwrap();
    re.captures(html).unwrap()[1].to_owned()
}

fn location(response: &Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, session: None }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.url)
    }

    fn cookies(&self, builder: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.session {
            Some(value) => builder.header(header::COOKIE, format!("junction_session={value}")),
            None => builder,
        }
    }

    async fn get(&self, path: &str) -> Response {
        self.cookies(self.app.client.get(self.url(path)))
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.cookies(self.app.client.post(self.url(path)))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Shows the sign-in form and sends `key` with its token; returns the answer.
    async fn sign_in_with(&mut self, key: &str) -> Response {
        let form = self.get("/dashboard/sign-in").await;
        assert_eq!(form.status(), 200);
        let token_cookie = set_cookie(&form, "junction_sign_in").unwrap();
        assert!(token_cookie.contains("HttpOnly"), "{token_cookie}");
        assert!(token_cookie.contains("SameSite=Strict"), "{token_cookie}");
        let html = form.text().await.unwrap();
        let token = csrf_of(&html);
        assert_eq!(token, cookie_value(&token_cookie));
        let response = self
            .app
            .client
            .post(self.url("/dashboard/sign-in"))
            .header(header::COOKIE, format!("junction_sign_in={token}"))
            .form(&[("csrf_token", token.as_str()), ("api_key", key)])
            .send()
            .await
            .unwrap();
        if let Some(cookie) = set_cookie(&response, "junction_session") {
            self.session = Some(cookie_value(&cookie));
        }
        response
    }

    async fn sign_in(&mut self) {
        let key = self.app.api_key.clone();
        let response = self.sign_in_with(&key).await;
        assert_eq!(response.status(), 303);
        assert_eq!(location(&response), "/dashboard/integrations");
        assert!(self.session.is_some());
    }

    /// The CSRF token of a page.
    async fn token(&self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status(), 200, "{path}");
        csrf_of(&page.text().await.unwrap())
    }
}

/// Every page a signed-in visitor can open, for an integration id.
fn pages(id: Uuid) -> Vec<String> {
    let mut pages: Vec<String> = [
        "/dashboard/integrations",
        "/dashboard/integrations?q=pay",
        "/dashboard/connect/stripe",
        "/dashboard/connect/google-analytics",
        "/dashboard/operations",
        "/dashboard/operations/queues",
        "/dashboard/oauth/return?status=denied",
        "/dashboard/no-such-page",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for tab in [
        "",
        "/runs",
        "/log",
        "/records",
        "/kpis",
        "/actions",
        "/reconnect",
        "/disconnect",
    ] {
        pages.push(format!("/dashboard/integrations/{id}{tab}"));
    }
    pages
}

#[tokio::test]
async fn a_signed_out_visitor_reaches_no_page_only_the_assets() {
    let app = TestApp::spawn().await;
    let id = create_integration(app.db.store(), app.workspace, "stripe")
        .await
        .id;
    let mut visitor = Browser::new(&app);
    for session in [None, Some("jds_made-up".to_owned())] {
        visitor.session = session;
        for path in pages(id) {
            let response = visitor.get(&path).await;
            assert_eq!(response.status(), 303, "{path}");
            let to = location(&response);
            assert!(to.starts_with("/dashboard/sign-in?next="), "{path}: {to}");
            assert!(!response.text().await.unwrap().contains("Stripe"), "{path}");
        }
        for path in [
            format!("/dashboard/integrations/{id}/sync"),
            format!("/dashboard/integrations/{id}/disconnect"),
            "/dashboard/sign-out".to_owned(),
            "/dashboard/dead-letters/replay".to_owned(),
        ] {
            let response = visitor.post(&path, &[("csrf_token", "x")]).await;
            assert_eq!(response.status(), 303, "{path}");
            assert_eq!(location(&response), "/dashboard/sign-in", "{path}");
        }
    }
    assert_eq!(
        app.count("SELECT count(*) AS n FROM sync_runs").await,
        0,
        "a signed-out form changed nothing"
    );
    // A poll (htmx) is told to send the whole page to sign-in, and back to the page.
    let poll = app
        .client
        .get(visitor.url("/dashboard/operations/queues"))
        .header("HX-Request", "true")
        .header("HX-Current-URL", visitor.url("/dashboard/operations"))
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 200);
    assert_eq!(
        poll.headers()["HX-Redirect"],
        "/dashboard/sign-in?next=%2Fdashboard%2Foperations"
    );
    // Assets need no session and are cached by fingerprint.
    let page = visitor.get("/dashboard/sign-in").await;
    let html = page.text().await.unwrap();
    let css = Regex::new(r#"href="(/dashboard/assets/dashboard\.css\?v=[0-9a-f]+)""#)
        .unwrap()
        .captures(&html)
        .unwrap()[1]
        .to_owned();
    let response = visitor.get(&css).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let etag = response.headers()[header::ETAG].clone();
    let revalidated = app
        .client
        .get(visitor.url("/dashboard/assets/htmx.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.headers()[header::CACHE_CONTROL], "no-cache");
    let unchanged = app
        .client
        .get(visitor.url(&css))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
}

#[tokio::test]
async fn sign_in_exchanges_the_key_for_a_session_that_sign_out_ends() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);

    // A wrong key: said in the page, no session, the key not echoed.
    let wrong = "jct_not-a-real-key-but-long-enough-000000000";
    let response = browser.sign_in_with(wrong).await;
    assert_eq!(response.status(), 401);
    assert!(set_cookie(&response, "junction_session").is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("the API key is not valid"), "{html}");
    assert!(!html.contains(wrong));

    // A form without the sign-in token (another site's) is refused.
    let response = app
        .client
        .post(browser.url("/dashboard/sign-in"))
        .form(&[("api_key", app.api_key.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(set_cookie(&response, "junction_session").is_none());

    let response = browser.sign_in_with(&app.api_key.clone()).await;
    assert_eq!(response.status(), 303);
    let cookie = set_cookie(&response, "junction_session").unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/dashboard", "Max-Age="] {
        assert!(cookie.contains(flag), "{flag}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    // Only a hash of the session id is stored.
    let value = cookie_value(&cookie);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM dashboard_sessions WHERE session_hash = sha256('{value}'::bytea)"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM dashboard_sessions s WHERE s::text LIKE '%{value}%'"
        ))
        .await,
        0
    );
    let page = browser.get("/dashboard/integrations").await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    assert!(
        page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains(&app.api_key),
        "the key is never put in a page"
    );
    assert!(!html.contains(&value), "nor the session id");

    // Signed in, the sign-in page goes on to the dashboard.
    let response = browser.get("/dashboard/sign-in").await;
    assert_eq!(response.status(), 303);

    // Sign-out needs the token, then ends the session for good.
    let token = browser.token("/dashboard/integrations").await;
    let response = browser.post("/dashboard/sign-out", &[]).await;
    assert_eq!(response.status(), 403);
    let response = browser
        .post("/dashboard/sign-out", &[("csrf_token", token.as_str())])
        .await;
    assert_eq!(response.status(), 303);
    let removal = set_cookie(&response, "junction_session").unwrap();
    assert!(removal.contains("Max-Age=0"), "{removal}");
    assert_eq!(
        app.count("SELECT count(*) AS n FROM dashboard_sessions")
            .await,
        0
    );
    let response = browser.get("/dashboard/integrations").await;
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let app = TestApp::spawn().await;
    let form = app
        .client
        .get(format!("{}/dashboard/sign-in", app.url))
        .header("X-Forwarded-Proto", "https")
        .send()
        .await
        .unwrap();
    let token_cookie = set_cookie(&form, "junction_sign_in").unwrap();
    assert!(token_cookie.contains("Secure"), "{token_cookie}");
    let token = cookie_value(&token_cookie);
    let response = app
        .client
        .post(format!("{}/dashboard/sign-in", app.url))
        .header("X-Forwarded-Proto", "https")
        .header(header::COOKIE, format!("junction_sign_in={token}"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("api_key", app.api_key.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let cookie = set_cookie(&response, "junction_session").unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn forms_refuse_a_missing_or_wrong_csrf_token() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let stripe = app
        .connect_from_catalog(catalog.provider("stripe").unwrap())
        .await;
    let mut browser = Browser::new(&app);
    browser.sign_in().await;
    let mut other = Browser::new(&app);
    other.sign_in().await;
    let others_token = other.token("/dashboard/integrations").await;
    let token = browser.token("/dashboard/integrations").await;
    assert_ne!(token, others_token, "each session has its own token");

    let posts = [
        format!("/dashboard/integrations/{stripe}/sync"),
        format!("/dashboard/integrations/{stripe}/test"),
        format!("/dashboard/integrations/{stripe}/settings"),
        format!("/dashboard/integrations/{stripe}/setup"),
        format!("/dashboard/integrations/{stripe}/streams"),
        format!("/dashboard/integrations/{stripe}/webhook"),
        format!("/dashboard/integrations/{stripe}/disconnect"),
        format!("/dashboard/integrations/{stripe}/reconnect"),
        format!("/dashboard/integrations/{stripe}/actions/create_customer"),
        "/dashboard/connect/stripe".to_owned(),
        "/dashboard/dead-letters/replay".to_owned(),
        format!("/dashboard/dead-letters/{}/replay", Uuid::new_v4()),
        format!("/dashboard/webhook-events/{}/replay", Uuid::new_v4()),
        "/dashboard/sign-out".to_owned(),
    ];
    for path in &posts {
        for sent in [
            None,
            Some(""),
            Some("bm90LWEtdG9rZW4"),
            Some(others_token.as_str()),
        ] {
            let mut form = vec![("display_name", "Changed")];
            if let Some(sent) = sent {
                form.push(("csrf_token", sent));
            }
            let response = browser.post(path, &form).await;
            assert_eq!(response.status(), 403, "{path} with {sent:?}");
            let html = response.text().await.unwrap();
            assert!(html.contains("This form has expired"), "{path}: {html}");
        }
    }
    // Nothing happened: no run, the name kept, the integration still there.
    assert_eq!(app.count("SELECT count(*) AS n FROM sync_runs").await, 0);
    let page = browser
        .get(&format!("/dashboard/integrations/{stripe}"))
        .await;
    assert_eq!(page.status(), 200);
    assert!(!page.text().await.unwrap().contains("Changed"));

    // The right token passes.
    let response = browser
        .post(
            &format!("/dashboard/integrations/{stripe}/sync"),
            &[("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.count("SELECT count(*) AS n FROM sync_runs").await, 1);
}

#[tokio::test]
async fn another_workspaces_integration_is_not_reachable() {
    let app = TestApp::spawn().await;
    let (other, _) = create_workspace(app.db.store(), "Other").await;
    let foreign = create_integration(app.db.store(), other, "stripe").await.id;
    let mut browser = Browser::new(&app);
    browser.sign_in().await;
    let token = browser.token("/dashboard/integrations").await;
    for path in pages(foreign)
        .into_iter()
        .filter(|p| p.contains(&foreign.to_string()))
    {
        let response = browser.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("no such integration")
        );
    }
    for action in [
        "sync",
        "test",
        "settings",
        "streams",
        "disconnect",
        "reconnect",
    ] {
        let path = format!("/dashboard/integrations/{foreign}/{action}");
        let response = browser.post(&path, &[("csrf_token", token.as_str())]).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM integrations WHERE id = '{foreign}'"
        ))
        .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM sync_runs").await, 0);
}

#[tokio::test]
async fn a_one_time_sign_in_link_works_once() {
    let app = TestApp::spawn().await;
    let link = dashboard::create_sign_in_link(app.db.store(), app.workspace)
        .await
        .unwrap();
    let token = link.token.expose_secret().to_owned();
    assert!(token.starts_with("jdl_"));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM dashboard_sign_in_links WHERE token_hash = sha256('{token}'::bytea) AND expires_at <= now() + interval '15 minutes'"
        ))
        .await,
        1
    );
    let use_link = || async {
        let page = app
            .client
            .get(format!("{}/dashboard/sign-in/link?token={token}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()[header::REFERRER_POLICY], "no-referrer");
        let form_token = cookie_value(&set_cookie(&page, "junction_sign_in").unwrap());
        app.client
            .post(format!("{}/dashboard/sign-in/link", app.url))
            .header(header::COOKIE, format!("junction_sign_in={form_token}"))
            .form(&[
                ("csrf_token", form_token.as_str()),
                ("token", token.as_str()),
            ])
            .send()
            .await
            .unwrap()
    };
    // Opening the link spends nothing (a link preview must not use it up).
    let first = use_link().await;
    assert_eq!(first.status(), 303);
    let session = cookie_value(&set_cookie(&first, "junction_session").unwrap());
    let mut browser = Browser::new(&app);
    browser.session = Some(session);
    assert_eq!(browser.get("/dashboard/integrations").await.status(), 200);

    let second = use_link().await;
    assert_eq!(second.status(), 401);
    assert!(set_cookie(&second, "junction_session").is_none());
    assert!(second.text().await.unwrap().contains("works once"));

    // An unknown workspace gets no link.
    let error = dashboard::create_sign_in_link(app.db.store(), junction_core::WorkspaceId::new())
        .await
        .unwrap_err();
    assert_eq!(error.code, junction_core::ErrorCode::WorkspaceNotFound);
}

#[tokio::test]
async fn a_revoked_key_ends_its_sessions() {
    let app = TestApp::spawn().await;
    let (key, secret) =
        junction_app::workspaces::create_api_key(app.db.store(), app.workspace, "dashboard")
            .await
            .unwrap();
    let mut browser = Browser::new(&app);
    let response = browser.sign_in_with(secret.expose_secret()).await;
    assert_eq!(response.status(), 303);
    assert_eq!(browser.get("/dashboard/integrations").await.status(), 200);
    junction_app::workspaces::revoke_api_key(app.db.store(), app.workspace, key.id)
        .await
        .unwrap();
    assert_eq!(browser.get("/dashboard/integrations").await.status(), 303);
}

#[tokio::test]
async fn connecting_stripe_shows_the_providers_refusal_by_the_field() {
    let app = TestApp::spawn().await;
    let catalog = app.catalog().await;
    let entry = catalog.provider("stripe").unwrap();
    let mut browser = Browser::new(&app);
    browser.sign_in().await;
    let token = browser.token("/dashboard/connect/stripe").await;
    let field = entry.connect.credentials.keys().next().unwrap().clone();
    let mut form: Vec<(String, String)> = entry
        .connect
        .config
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
            )
        })
        .collect();
    form.push(("csrf_token".into(), token.clone()));
    form.push(("display_name".into(), "Payments".into()));
    let mut wrong = form.clone();
    wrong.push((field.clone(), "sk_test_wrong".into()));
    let response = browser
        .cookies(app.client.post(browser.url("/dashboard/connect/stripe")))
        .form(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    let by_field = Regex::new(&format!(r#"id="f-{field}-error">key rejected"#)).unwrap();
    assert!(by_field.is_match(&html), "{html}");
    assert!(html.contains(r#"value="Payments""#), "the name is kept");
    assert!(
        !html.contains("sk_test_wrong"),
        "a secret is not put back in the page"
    );
    assert_eq!(app.count("SELECT count(*) AS n FROM integrations").await, 0);

    let mut right = form;
    for (name, value) in &entry.connect.credentials {
        right.push((name.clone(), value.as_str().unwrap().to_owned()));
    }
    let response = browser
        .cookies(app.client.post(browser.url("/dashboard/connect/stripe")))
        .form(&right)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let to = location(&response);
    assert!(to.ends_with("?done=connected"), "{to}");
    let page = browser.get(&to).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Payments") && html.contains("Connected"),
        "{html}"
    );
}

#[tokio::test]
async fn an_oauth_flow_started_from_the_dashboard_comes_back_to_it() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in().await;
    let token = browser.token("/dashboard/connect/google-analytics").await;
    let start = |decision: &'static str| {
        let token = token.clone();
        let browser = &browser;
        async move {
            let response = browser
                .post(
                    "/dashboard/connect/google-analytics",
                    &[("csrf_token", token.as_str()), ("property_id", "123456")],
                )
                .await;
            assert_eq!(response.status(), 303);
            let authorize = url::Url::parse(&location(&response)).unwrap();
            let callback = browser.app.consent(&authorize, decision).await;
            let back = browser.app.callback(&callback).await;
            assert_eq!(back.status(), 302);
            let to = location(&back);
            assert!(
                to.starts_with(&format!("{}/dashboard/oauth/return?", browser.app.url)),
                "{to}"
            );
            (to, callback)
        }
    };
    let (denied, _) = start("deny").await;
    let page = browser.get(denied.strip_prefix(&app.url).unwrap()).await;
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Access was not granted")
    );

    let (approved, callback) = start("approve").await;
    let response = browser.get(approved.strip_prefix(&app.url).unwrap()).await;
    assert_eq!(response.status(), 303);
    assert!(location(&response).ends_with("?done=authorized"));
    // The same callback again: the state is spent, the page says so.
    let again = app.callback(&callback).await;
    let to = location(&again);
    let page = browser.get(to.strip_prefix(&app.url).unwrap()).await;
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("expired or was already used")
    );
}

#[tokio::test]
async fn ga4_connected_without_a_property_is_finished_by_picking_one_from_the_list() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    browser.sign_in().await;
    let form = browser.get("/dashboard/connect/google-analytics").await;
    let html = form.text().await.unwrap();
    // The property is optional up front.
    assert!(
        !html.contains(r#"name="property_id" type="text" value="" required"#),
        "{html}"
    );
    let token = csrf_of(&html);
    let response = browser
        .post(
            "/dashboard/connect/google-analytics",
            &[("csrf_token", token.as_str()), ("property_id", "")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let authorize = url::Url::parse(&location(&response)).unwrap();
    let callback = app.consent(&authorize, "approve").await;
    let back = app.callback(&callback).await;
    let to = location(&back);
    let response = browser.get(to.strip_prefix(&app.url).unwrap()).await;
    assert_eq!(response.status(), 303);
    let page = location(&response);
    assert!(page.ends_with("?done=authorized#setup"), "{page}");
    let id: Uuid = page
        .trim_start_matches("/dashboard/integrations/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // The setup step: a select of the account's properties; the card's badge.
    let html = browser
        .get(&format!("/dashboard/integrations/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Finish setup"), "{html}");
    assert!(html.contains(r#"<select id="setup-property_id""#), "{html}");
    for value in ["123456789", "987654321", "555000111"] {
        assert!(
            html.contains(&format!(r#"<option value="{value}""#)),
            "{html}"
        );
    }
    let list = browser.get("/dashboard/integrations").await;
    assert!(list.text().await.unwrap().contains("finish setup"));

    // A value the account does not list: shown by the field, nothing changed.
    let token = csrf_of(&html);
    let setup = format!("/dashboard/integrations/{id}/setup");
    let refused = browser
        .post(
            &setup,
            &[("csrf_token", token.as_str()), ("property_id", "111")],
        )
        .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(html.contains("is not one of the choices"), "{html}");
    let view: Value = app
        .get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "needs_setup");

    // A listed one finishes it.
    let done = browser
        .post(
            &setup,
            &[("csrf_token", token.as_str()), ("property_id", "555000111")],
        )
        .await;
    assert_eq!(done.status(), 303);
    assert!(location(&done).ends_with("?done=setup"));
    let view: Value = app
        .get(&format!("/v1/integrations/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "active", "{view}");
    assert_eq!(view["config"]["property_id"], "555000111");
    // The settings form shows it as a select holding the chosen property.
    let html = browser
        .get(&format!("/dashboard/integrations/{id}?done=setup"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Setup finished"), "{html}");
    assert!(html.contains(r#"<select id="f-property_id""#), "{html}");
    assert!(
        html.contains(r#"<option value="555000111" selected>"#),
        "{html}"
    );
}

//! The authorization endpoint: immediate decisions, and every way a request is refused
//! (an error page for an untrusted client or redirect URI, a redirect otherwise).

use junction_sandbox::CLIENT_ID;

use crate::support::*;

/// Authorize query parameters.
type Params = Vec<(&'static str, &'static str)>;

fn base_params() -> Params {
    vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "ads_read"),
        ("state", "s-1"),
        ("decision", "approve"),
    ]
}

fn with(params: &[(&'static str, &'static str)], name: &str, value: &'static str) -> Params {
    let mut params: Vec<_> = params
        .iter()
        .copied()
        .filter(|(key, _)| *key != name)
        .collect();
    params.push((leak(name), value));
    params
}

fn without(params: &[(&'static str, &'static str)], name: &str) -> Params {
    params
        .iter()
        .copied()
        .filter(|(key, _)| *key != name)
        .collect()
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

#[tokio::test]
async fn approve_redirects_with_a_code_and_the_state() {
    let h = start().await;
    let redirect = h.redirect_of(h.authorize_url(STABLE, &base_params())).await;
    assert_eq!(redirect.location.host_str(), Some("app.example.test"));
    assert_eq!(redirect.location.path(), "/oauth/callback");
    let code = redirect.get("code").unwrap();
    assert!(code.starts_with("steady_code_"), "{code}");
    assert_eq!(redirect.get("state"), Some("s-1"));
    assert_eq!(redirect.get("error"), None);
    assert_eq!(h.sandbox().snapshot().providers[STABLE].pending_codes, 1);
    h.stop().await;
}

#[tokio::test]
async fn the_redirect_keeps_the_redirect_uris_own_query() {
    let h = start().await;
    let params = with(
        &base_params(),
        "redirect_uri",
        "https://app.example.test/cb?tenant=7",
    );
    let redirect = h.redirect_of(h.authorize_url(STABLE, &params)).await;
    assert_eq!(redirect.get("tenant"), Some("7"));
    assert!(redirect.get("code").is_some());
    h.stop().await;
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_the_state() {
    let h = start().await;
    let params = with(&base_params(), "decision", "deny");
    let redirect = h.redirect_of(h.authorize_url(STABLE, &params)).await;
    assert_eq!(redirect.get("error"), Some("access_denied"));
    assert!(redirect.get("error_description").is_some());
    assert_eq!(redirect.get("state"), Some("s-1"));
    assert_eq!(redirect.get("code"), None);
    assert_eq!(h.sandbox().snapshot().providers[STABLE].pending_codes, 0);
    h.stop().await;
}

#[tokio::test]
async fn an_unknown_client_or_bad_redirect_uri_gets_an_error_page_never_a_redirect() {
    let h = start().await;
    let cases = [
        with(&base_params(), "client_id", "someone-else"),
        without(&base_params(), "client_id"),
        without(&base_params(), "redirect_uri"),
        with(&base_params(), "redirect_uri", "ftp://app.example.test/cb"),
        with(&base_params(), "redirect_uri", "/relative/cb"),
        with(
            &base_params(),
            "redirect_uri",
            "https://app.example.test/cb#frag",
        ),
        {
            let mut params = base_params();
            params.push(("redirect_uri", "https://evil.example.test/cb"));
            params
        },
    ];
    for params in cases {
        let response = h.get(h.authorize_url(STABLE, &params)).await;
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none(), "{params:?}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let body = response.text().await.unwrap();
        assert!(body.contains("Authorization error"), "{body}");
    }
    h.stop().await;
}

#[tokio::test]
async fn the_error_page_escapes_what_it_echoes() {
    let h = start().await;
    let params = with(&base_params(), "client_id", "<script>alert(1)</script>");
    let body = h
        .get(h.authorize_url(STABLE, &params))
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test]
async fn other_errors_redirect_with_the_rfc_error_code() {
    let h = start().await;
    let challenge = pkce("x").challenge;
    let challenge: &'static str = leak(&challenge);
    let rotor = |extra: &[(&'static str, &'static str)]| {
        let mut params = with(&base_params(), "scope", "read");
        params.extend_from_slice(extra);
        params
    };
    let cases: Vec<(&str, Params, &str)> = vec![
        (
            STABLE,
            with(&base_params(), "response_type", "token"),
            "unsupported_response_type",
        ),
        (
            STABLE,
            without(&base_params(), "response_type"),
            "invalid_request",
        ),
        (
            STABLE,
            with(&base_params(), "scope", "ads_read,admin"),
            "invalid_scope",
        ),
        // The spec separates scopes with commas: a space-joined list is one unknown scope.
        (
            STABLE,
            with(&base_params(), "scope", "ads_read ads_management"),
            "invalid_scope",
        ),
        (STABLE, without(&base_params(), "scope"), "invalid_scope"),
        (
            STABLE,
            with(&base_params(), "decision", "maybe"),
            "invalid_request",
        ),
        (
            STABLE,
            {
                let mut params = base_params();
                params.push(("scope", "ads_read"));
                params
            },
            "invalid_request",
        ),
        // PKCE is required by this spec.
        (ROTATING, rotor(&[]), "invalid_request"),
        (
            ROTATING,
            rotor(&[("code_challenge", challenge)]),
            "invalid_request",
        ),
        (
            ROTATING,
            rotor(&[
                ("code_challenge", challenge),
                ("code_challenge_method", "plain"),
            ]),
            "invalid_request",
        ),
        (
            ROTATING,
            rotor(&[
                ("code_challenge", "short"),
                ("code_challenge_method", "S256"),
            ]),
            "invalid_request",
        ),
        // Extra parameters the spec declares must be there.
        (
            EXTRA_PARAMS,
            {
                let mut params = with(&base_params(), "scope", "analytics.readonly");
                params.push(("code_challenge", challenge));
                params.push(("code_challenge_method", "S256"));
                params.push(("access_type", "offline"));
                params
            },
            "invalid_request",
        ),
    ];
    for (provider, params, error) in cases {
        let redirect = h.redirect_of(h.authorize_url(provider, &params)).await;
        assert_eq!(redirect.get("error"), Some(error), "{provider} {params:?}");
        assert!(redirect.get("error_description").is_some());
        assert_eq!(redirect.get("state"), Some("s-1"), "{params:?}");
        assert_eq!(redirect.get("code"), None);
        assert_eq!(redirect.location.host_str(), Some("app.example.test"));
    }
    h.stop().await;
}

#[tokio::test]
async fn a_spec_with_extra_parameters_is_satisfied_when_they_are_sent() {
    let h = start().await;
    let pkce = pkce("offline");
    let mut params = with(&base_params(), "scope", "analytics.readonly");
    params.push(("code_challenge", leak(&pkce.challenge)));
    params.push(("code_challenge_method", "S256"));
    params.push(("access_type", "offline"));
    params.push(("prompt", "consent"));
    let redirect = h.redirect_of(h.authorize_url(EXTRA_PARAMS, &params)).await;
    let code = redirect.get("code").unwrap();
    let answer = h
        .exchange(EXTRA_PARAMS, GOOD_BODY, code, Some(&pkce.verifier))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    h.stop().await;
}

#[tokio::test]
async fn unknown_and_non_oauth_providers_are_404_json() {
    let h = start().await;
    for (provider, error) in [("nope", "unknown_provider"), (API_KEY, "not_oauth2")] {
        let response = h.get(h.authorize_url(provider, &base_params())).await;
        assert_eq!(response.status(), 404);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], error);
        let answer = h
            .token(provider, GOOD_BODY, &[("grant_type", "authorization_code")])
            .await;
        assert_eq!(answer.status, 404);
        assert_eq!(answer.error(), error);
    }
    h.stop().await;
}

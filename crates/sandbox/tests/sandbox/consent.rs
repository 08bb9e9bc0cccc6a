//! The consent page: what it shows, that it escapes everything, and that its Approve /
//! Deny buttons complete the flow through the decision endpoint.

use junction_sandbox::CLIENT_ID;

use crate::support::*;

const HOSTILE_STATE: &str = "\"><script>alert('x')</script>&";

fn consent_params(challenge: &str) -> Vec<(&str, &str)> {
    vec![
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "read write"),
        ("state", HOSTILE_STATE),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// The `value` of the hidden input `name` in the page (unescaped).
fn hidden_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn the_consent_page_shows_the_request_escaped() {
    let h = start().await;
    let pkce = pkce("consent");
    let response = h
        .get(h.authorize_url(ROTATING, &consent_params(&pkce.challenge)))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    // The provider's display name is `Rotor <Analytics> & "Co"`.
    assert!(
        page.contains("Rotor &lt;Analytics&gt; &amp; &quot;Co&quot;"),
        "{page}"
    );
    assert!(!page.contains("<Analytics>"));
    assert!(page.contains("<code>read</code>") && page.contains("<code>write</code>"));
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"));
    assert!(page.contains("action=\"/oauth/rotor/decision\""));
    assert!(page.contains("value=\"approve\"") && page.contains("value=\"deny\""));
    assert_eq!(hidden_value(&page, "state"), HOSTILE_STATE);
    assert_eq!(hidden_value(&page, "code_challenge"), pkce.challenge);
    h.stop().await;
}

#[tokio::test]
async fn approving_on_the_page_completes_the_flow() {
    let h = start().await;
    let pkce = pkce("page");
    let page = h
        .get(h.authorize_url(ROTATING, &consent_params(&pkce.challenge)))
        .await
        .text()
        .await
        .unwrap();
    // Post back exactly what the browser would: the hidden fields plus the button.
    let names = [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    ];
    let mut form: Vec<(String, String)> = names
        .iter()
        .map(|name| (name.to_string(), hidden_value(&page, name)))
        .collect();
    form.push(("decision".into(), "approve".into()));
    let response = h
        .http
        .post(h.url("/oauth/rotor/decision"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let redirect = redirect_from(&response);
    assert_eq!(redirect.get("state"), Some(HOSTILE_STATE));
    let code = redirect.get("code").unwrap();
    let answer = h
        .exchange(ROTATING, GOOD_BASIC, code, Some(&pkce.verifier))
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    form.pop();
    form.push(("decision".into(), "deny".into()));
    let response = h
        .http
        .post(h.url("/oauth/rotor/decision"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect_from(&response).get("error"), Some("access_denied"));
    h.stop().await;
}

#[tokio::test]
async fn the_decision_endpoint_validates_like_authorize() {
    let h = start().await;
    let response = h
        .http
        .post(h.url("/oauth/rotor/decision"))
        .form(&[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "read"),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    // No PKCE challenge for a PKCE spec: refused through the redirect.
    assert_eq!(
        redirect_from(&response).get("error"),
        Some("invalid_request")
    );

    let response = h
        .http
        .post(h.url("/oauth/rotor/decision"))
        .form(&[("client_id", "intruder"), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    h.stop().await;
}

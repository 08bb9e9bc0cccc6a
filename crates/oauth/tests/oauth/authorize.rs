//! The consent URL: every required parameter, fresh state, PKCE S256, extra params.

use std::collections::BTreeMap;

use junction_core::{RefreshBehaviour, TokenClientAuth};
use junction_oauth::{ClientConfig, EndpointOverrides, OAuthError};
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::{CLIENT_ID, REDIRECT_URI, default_spec, engine, spec};

fn client(spec: &junction_core::OAuth2Spec) -> ClientConfig {
    ClientConfig::from_spec(
        spec,
        CLIENT_ID.into(),
        SecretString::from("unused"),
        Url::parse(REDIRECT_URI).unwrap(),
        &EndpointOverrides::default(),
    )
    .unwrap()
}

fn params(url: &Url) -> BTreeMap<String, String> {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let map: BTreeMap<_, _> = pairs.iter().cloned().collect();
    assert_eq!(
        map.len(),
        pairs.len(),
        "a parameter appears twice: {pairs:?}"
    );
    map
}

fn is_url_safe(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[test]
fn the_url_carries_every_required_parameter() {
    let spec = default_spec();
    let request = engine().authorize(&spec, &client(&spec)).unwrap();
    let url = &request.url;
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host_str(), Some("accounts.provider.example"));
    assert_eq!(url.path(), "/o/oauth2/auth");
    let params = params(url);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], CLIENT_ID);
    assert_eq!(params["redirect_uri"], REDIRECT_URI);
    assert_eq!(
        params["scope"],
        "openid https://www.googleapis.com/auth/analytics.readonly"
    );
    assert_eq!(params["access_type"], "offline");
    assert_eq!(params["prompt"], "consent");
    assert_eq!(params["state"], request.state.expose_secret());
    assert_eq!(params["code_challenge_method"], "S256");

    // 32 random bytes in base64url without padding: 43 URL-safe characters.
    let state = request.state.expose_secret();
    assert_eq!(state.len(), 43, "{state}");
    assert!(is_url_safe(state));
}

#[test]
fn the_challenge_is_the_s256_of_the_verifier() {
    // RFC 7636 Appendix B: the function used below computes the published vector.
    let rfc_verifier =
        PkceCodeVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
    assert_eq!(
        PkceCodeChallenge::from_code_verifier_sha256(&rfc_verifier).as_str(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );

    let spec = default_spec();
    let request = engine().authorize(&spec, &client(&spec)).unwrap();
    let verifier = request.pkce_verifier.expect("PKCE verifier");
    let verifier = verifier.expose_secret();
    assert!((43..=128).contains(&verifier.len()), "{verifier}");
    assert!(is_url_safe(verifier));
    let expected =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_owned()));
    assert_eq!(params(&request.url)["code_challenge"], expected.as_str());
    // The verifier itself never travels in the URL.
    assert!(!request.url.as_str().contains(verifier));
}

#[test]
fn every_request_gets_a_fresh_state_and_verifier() {
    let spec = default_spec();
    let client = client(&spec);
    let engine = engine();
    let mut states = std::collections::HashSet::new();
    let mut verifiers = std::collections::HashSet::new();
    for _ in 0..20 {
        let request = engine.authorize(&spec, &client).unwrap();
        assert!(states.insert(request.state.expose_secret().to_owned()));
        assert!(verifiers.insert(request.pkce_verifier.unwrap().expose_secret().to_owned()));
    }
}

#[test]
fn no_pkce_when_the_spec_says_not() {
    let spec = spec(
        TokenClientAuth::RequestBody,
        false,
        RefreshBehaviour::Stable,
    );
    let request = engine().authorize(&spec, &client(&spec)).unwrap();
    assert!(request.pkce_verifier.is_none());
    let params = params(&request.url);
    assert!(!params.contains_key("code_challenge"));
    assert!(!params.contains_key("code_challenge_method"));
    assert_eq!(params["response_type"], "code");
}

#[test]
fn scopes_use_the_specs_separator_and_the_url_keeps_its_own_query() {
    let mut spec = default_spec();
    spec.scopes = vec!["read", "write", "admin:org"];
    spec.scope_separator = ",";
    spec.extra_authorize_params = vec![];
    let mut client = client(&spec);
    client.authorize_url = Url::parse("https://provider.example/authorize?audience=api").unwrap();
    let request = engine().authorize(&spec, &client).unwrap();
    let params = params(&request.url);
    assert_eq!(params["scope"], "read,write,admin:org");
    assert_eq!(params["audience"], "api");
    assert!(!params.contains_key("access_type"));

    spec.scopes = vec![];
    let request = engine().authorize(&spec, &client).unwrap();
    assert!(!self::params(&request.url).contains_key("scope"));
}

#[test]
fn extra_params_may_not_replace_the_engines_own() {
    let mut spec = default_spec();
    spec.extra_authorize_params = vec![("state", "fixed")];
    let err = engine().authorize(&spec, &client(&spec)).unwrap_err();
    assert!(matches!(err, OAuthError::Config(_)), "{err:?}");
}

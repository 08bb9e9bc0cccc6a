//! The long-lived token exchange of the built-in Meta Ads spec: the code's token is
//! short-lived, `GET /oauth/meta-ads/token?grant_type=fb_exchange_token&..` trades a
//! valid one for a 60-day token of the same grant that Meta's fake accepts, and a
//! dead token is refused the way Meta refuses it (code 190).

use std::net::SocketAddr;

use junction_sandbox::{CLIENT_ID, CLIENT_SECRET, SandboxConfig};
use serde_json::Value;

use crate::support::{REDIRECT_URI, redirect_from};

struct Meta {
    http: reqwest::Client,
    base: String,
    running: junction_sandbox::RunningSandbox,
}

async fn start() -> Meta {
    let bind: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let running = junction_sandbox::spawn(SandboxConfig::default(), bind)
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = running.base_url();
    Meta {
        http,
        base,
        running,
    }
}

impl Meta {
    /// Consent and code exchange: the short-lived token answer.
    async fn short_lived(&self) -> Value {
        let mut authorize =
            url::Url::parse(&format!("{}/oauth/meta-ads/authorize", self.base)).unwrap();
        authorize.query_pairs_mut().extend_pairs([
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "ads_read"),
            ("state", "s"),
            ("decision", "approve"),
        ]);
        let response = self.http.get(authorize).send().await.unwrap();
        assert_eq!(response.status(), 302);
        let redirect = redirect_from(&response);
        let code = redirect.get("code").unwrap().to_owned();
        let response = self
            .http
            .post(format!("{}/oauth/meta-ads/token", self.base))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    async fn exchange(&self, token: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}/oauth/meta-ads/token", self.base))
            .query(&[
                ("grant_type", "fb_exchange_token"),
                ("fb_exchange_token", token),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn account_status(&self, token: &str) -> u16 {
        self.http
            .get(format!("{}/meta-ads/v25.0/act_42?fields=name", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[tokio::test]
async fn a_short_lived_token_is_exchanged_for_a_long_lived_one() {
    let meta = start().await;
    let short = meta.short_lived().await;
    assert_eq!(short["expires_in"], 3600);
    assert!(short.get("refresh_token").is_none(), "{short}");
    let short = short["access_token"].as_str().unwrap().to_owned();

    let (status, long) = meta.exchange(&short).await;
    assert_eq!(status, 200, "{long}");
    assert_eq!(long["expires_in"], 60 * 24 * 3600);
    let long = long["access_token"].as_str().unwrap().to_owned();
    assert_ne!(long, short);
    assert_eq!(meta.account_status(&long).await, 200);

    // A long-lived token can be exchanged again (renewal).
    let (status, renewed) = meta.exchange(&long).await;
    assert_eq!(status, 200, "{renewed}");
    meta.running.handle.stop(true).await;
}

#[tokio::test]
async fn dead_tokens_and_bad_clients_are_refused() {
    let meta = start().await;
    let (status, body) = meta.exchange("EAAnever-issued").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], 190, "{body}");
    assert_eq!(body["error"]["type"], "OAuthException");

    let short = meta.short_lived().await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    meta.running.sandbox.expire_tokens("meta-ads").unwrap();
    let (status, body) = meta.exchange(&short).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, 190.into()));

    let response = meta
        .http
        .get(format!("{}/oauth/meta-ads/token", meta.base))
        .query(&[
            ("grant_type", "fb_exchange_token"),
            ("fb_exchange_token", short.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Providers without the exchange answer only POST at their token endpoint.
    let response = meta
        .http
        .get(format!("{}/oauth/google-analytics/token", meta.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    meta.running.handle.stop(true).await;
}

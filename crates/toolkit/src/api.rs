//! [`HttpApi`]: the declarative description of a provider's HTTP API.

use junction_core::AdapterError;

use crate::{auth::AuthMode, base::BaseUrl, errors::ErrorTable, ratelimit::RateLimitSignals};

/// Everything the toolkit needs to call a provider: where its API lives, how a
/// connection authenticates, what every request carries, how to verify a connection,
/// and how to read its refusals and rate-limit signals. A `const` of the provider
/// crate; each part is documented on its type.
#[derive(Debug, Clone, Copy)]
pub struct HttpApi {
    pub base: BaseUrl,
    /// The auth modes of the provider entry, in order of preference (see
    /// [`crate::auth::select`]).
    pub auth: &'static [AuthMode],
    /// Headers every request carries (`Stripe-Version`, `Accept`, a `User-Agent` the
    /// provider's edge insists on). Not credentials: those come from `auth`.
    pub headers: &'static [(&'static str, &'static str)],
    /// The cheapest request that proves a connection works: the default `check`.
    pub verification: Option<Verification>,
    pub errors: ErrorTable,
    pub rate_limits: RateLimitSignals,
}

/// The request of the default `check` ([`crate::Client::check`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// Below the base URL's prefix; `{name}` is the connection's config value `name`
    /// (percent-encoded), e.g. `lists/{audience_id}`.
    pub path: &'static str,
    pub query: &'static [(&'static str, &'static str)],
    /// The JSON pointer of the answer's field that labels the account (`/email`).
    pub account: Option<&'static str>,
}

impl HttpApi {
    /// Problems with the description itself (a template without its placeholder, an
    /// unfilled host placeholder): a provider's unit test asserts there are none.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems: Vec<String> = self.auth.iter().filter_map(AuthMode::problem).collect();
        if self.auth.is_empty() {
            problems.push("no auth mode".into());
        }
        problems.extend(self.base.problem());
        for (name, value) in self.headers {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
            {
                problems.push(format!("the header `{name}` cannot be sent"));
            }
        }
        if let Some(verification) = &self.verification
            && http::Method::from_bytes(verification.method.as_bytes()).is_err()
        {
            problems.push(format!("`{}` is not a method", verification.method));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// How a provider takes an action's idempotency key: in a request header, up to a
/// length. A `const` beside the provider's [`HttpApi`]; [`IdempotencyKey::apply`]
/// puts the key Junction passes to `act` (the same for every retry of one request)
/// on the provider request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The header, e.g. `Idempotency-Key`.
    pub header: &'static str,
    /// The longest key the provider accepts, in characters.
    pub max_chars: usize,
}

impl IdempotencyKey {
    /// `Idempotency-Key` with keys of at most `max_chars` (Stripe 255, Resend 256).
    pub const fn header(max_chars: usize) -> Self {
        Self {
            header: "Idempotency-Key",
            max_chars,
        }
    }

    /// `key` when the provider would take it: 1 to `max_chars` printable ASCII
    /// characters (spaces included), which a header carries as they are. Otherwise
    /// `Invalid` naming `idempotency_key`, without quoting the key.
    pub fn check<'k>(&self, key: Option<&'k str>) -> Result<Option<&'k str>, AdapterError> {
        match key {
            None => Ok(None),
            Some(key)
                if !key.is_empty()
                    && key.len() <= self.max_chars
                    && key.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
            {
                Ok(Some(key))
            }
            Some(_) => Err(AdapterError::invalid_field(
                "idempotency_key",
                format!("must be 1 to {} visible ASCII characters", self.max_chars),
            )),
        }
    }

    /// `request` with the checked `key` in the header; unchanged without a key.
    pub fn apply(
        &self,
        request: reqwest::RequestBuilder,
        key: Option<&str>,
    ) -> Result<reqwest::RequestBuilder, AdapterError> {
        Ok(match self.check(key)? {
            Some(key) => request.header(self.header, key),
            None => request,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_checked_and_sent_in_their_header() {
        let resend = IdempotencyKey::header(256);
        assert_eq!(resend.check(None), Ok(None));
        assert_eq!(resend.check(Some("welcome/123")), Ok(Some("welcome/123")));
        let longest = "k".repeat(256);
        assert!(resend.check(Some(&longest)).is_ok());
        for bad in [
            String::new(),
            "k".repeat(257),
            "line\nbreak".into(),
            "é".into(),
        ] {
            assert_eq!(
                resend.check(Some(&bad)),
                Err(AdapterError::invalid_field(
                    "idempotency_key",
                    "must be 1 to 256 visible ASCII characters"
                )),
                "{bad:?}"
            );
        }
        let http = reqwest::Client::new();
        let sent = resend
            .apply(http.post("https://api.example.test/emails"), Some("k-1"))
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(sent.headers()["idempotency-key"], "k-1");
        let bare = resend
            .apply(http.post("https://api.example.test/emails"), None)
            .unwrap()
            .build()
            .unwrap();
        assert!(bare.headers().is_empty());
        assert!(
            resend
                .apply(http.post("https://api.example.test/emails"), Some(""))
                .is_err()
        );
    }
}

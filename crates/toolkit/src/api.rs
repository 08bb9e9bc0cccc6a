//! [`HttpApi`]: the declarative description of a provider's HTTP API.

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

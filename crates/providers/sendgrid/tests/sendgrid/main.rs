//! Integration tests of junction_sendgrid: against wiremock serving the API's
//! documented shapes (a page of items, refusals), and (with the `sandbox` feature)
//! the conformance suite against the crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
mod requests;
mod support;

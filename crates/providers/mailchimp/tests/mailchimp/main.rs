//! Integration tests of the Mailchimp adapters (API key and OAuth): against wiremock serving the
//! Marketing API's documented JSON shapes (paging, errors, rate limits, the batch
//! flow and its results archive), and (with the `sandbox` feature) against the
//! crate's own fake through the conformance suite's server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
#[cfg(feature = "sandbox")]
mod conformance;
mod errors;
#[cfg(feature = "sandbox")]
mod fake;
mod oauth;
mod paging;
mod proxy;
mod support;

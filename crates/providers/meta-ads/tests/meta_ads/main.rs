//! Integration tests of the Meta Ads adapter: against wiremock serving the Graph
//! API's documented JSON shapes (insights pages with cursors, numbers as strings,
//! Graph errors and usage headers), webhooks with the official signature vector,
//! and (with the `sandbox` feature) the conformance suite against the crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
mod errors;
mod options;
mod proxy;
mod requests;
mod support;
mod webhooks;

//! Integration tests of junction_hotjar: against wiremock serving the API's shapes
//! (pages to the end, refusals, the rate limit, the privacy requests), and (with
//! the `sandbox` feature) the conformance suite and the privacy requests against
//! the crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
mod requests;
mod support;

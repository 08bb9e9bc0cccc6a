//! Integration tests of junction_mixpanel: against wiremock serving the shapes of
//! Mixpanel's OpenAPI files (reports, the JSONL export, imports, refusals), and
//! (with the `sandbox` feature) the conformance suite and the adapter against the
//! crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
#[cfg(feature = "sandbox")]
mod fake;
mod requests;
mod support;

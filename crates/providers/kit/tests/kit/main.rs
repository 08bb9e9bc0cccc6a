//! Integration tests of the Kit adapter: against wiremock serving Kit v4's documented
//! JSON shapes (requests, paging, errors and rate-limit signals, actions), and (with
//! the `sandbox` feature) against the crate's own fakes through the conformance
//! suite's `FakeServer`, for both the API-key (`kit`) and OAuth (`kit-oauth`) entries.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
#[cfg(feature = "sandbox")]
mod conformance;
mod contacts;
mod errors;
#[cfg(feature = "sandbox")]
mod fake;
mod oauth;
mod paging;
mod proxy;
mod requests;
mod support;

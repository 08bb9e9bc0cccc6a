//! Integration tests of the Resend adapter: against wiremock serving the shapes of
//! Resend's official OpenAPI spec (requests, paging, errors, rate-limit signals),
//! webhook verification (the official Svix vector, tampering, staleness), and (with
//! the `sandbox` feature) against the crate's own fake, including the conformance
//! suite.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
mod errors;
#[cfg(feature = "sandbox")]
mod fake;
mod paging;
mod proxy;
mod requests;
mod support;
mod webhooks;

//! Integration tests of junction_buffer: against wiremock serving the API's
//! documented GraphQL shapes (paging, errors, unions, rate-limit headers, retries),
//! and (with the `sandbox` feature) the conformance suite and the actions and
//! streams against the crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
#[cfg(feature = "sandbox")]
mod fake;
mod requests;
mod support;

//! Integration tests of junction_hashnode: against wiremock serving Hashnode's
//! GraphQL shapes (connections paged to the end, errors with HTTP 200, the
//! mutations' inputs), and (with the `sandbox` feature) the conformance suite and
//! the actions against the crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
#[cfg(feature = "sandbox")]
mod conformance;
#[cfg(feature = "sandbox")]
mod fake;
mod requests;
mod support;

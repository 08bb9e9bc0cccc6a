//! Integration tests of junction_medium: against wiremock serving Medium's
//! documented shapes (the profile and publications, the post requests, refusals, a
//! lost answer), and (with the `sandbox` feature) the conformance suite and the
//! publish action against the crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
#[cfg(feature = "sandbox")]
mod conformance;
#[cfg(feature = "sandbox")]
mod fake;
mod requests;
mod support;

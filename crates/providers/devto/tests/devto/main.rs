//! Integration tests of junction_devto: against wiremock serving Forem's documented
//! shapes (the article lists page by page, refusals, the actions' requests), and
//! (with the `sandbox` feature) the conformance suite and the actions against the
//! crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
#[cfg(feature = "sandbox")]
mod conformance;
#[cfg(feature = "sandbox")]
mod fake;
mod requests;
mod support;

//! Integration tests of the Stripe adapter: against wiremock serving Stripe's
//! documented shapes (objects from the official fixtures, list envelopes, error
//! objects), and (with the `sandbox` feature) against the crate's own fake served
//! through junction-conformance's `FakeServer`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
#[cfg(feature = "sandbox")]
mod billing;
#[cfg(feature = "sandbox")]
mod conformance;
mod errors;
#[cfg(feature = "sandbox")]
mod fake;
mod form;
mod paging;
mod proxy;
mod requests;
mod support;
mod webhooks;

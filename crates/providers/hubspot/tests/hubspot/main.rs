//! Integration tests of junction-hubspot: against wiremock serving HubSpot's
//! documented shapes (paging, searches, actions, errors and rate-limit signals,
//! webhooks with the official signature vector), and (with the `sandbox` feature)
//! the conformance suite and end-to-end flows against the crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
#[cfg(feature = "sandbox")]
mod fake;
mod requests;
mod support;
mod webhooks;

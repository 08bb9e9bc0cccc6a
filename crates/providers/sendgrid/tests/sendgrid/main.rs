//! Integration tests of junction_sendgrid: against wiremock serving SendGrid's
//! documented shapes (statistics, lists, the contacts export and import jobs,
//! suppressions, mail send and its refusals, rate limits), SendGrid's own Event
//! Webhook vectors, and (with the `sandbox` feature) the conformance suite and the
//! email port against the crate's fake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
#[cfg(feature = "sandbox")]
mod fake;
mod mail;
mod requests;
mod support;
mod webhooks;

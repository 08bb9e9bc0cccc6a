//! Integration tests of the Google Analytics 4 adapter: against wiremock serving the
//! GA4 Data API's documented JSON shapes, and (with the `sandbox` feature) against
//! the crate's own fake, served through wiremock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "sandbox")]
mod conformance;
mod errors;
mod events;
#[cfg(feature = "sandbox")]
mod fake;
#[cfg(feature = "sandbox")]
mod features;
mod options;
mod paging;
mod proxy;
mod requests;
mod streams;
mod support;

//! Integration tests of the Mailchimp adapter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

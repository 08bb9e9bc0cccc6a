//! Integration tests of junction-app's use cases against real Postgres (a fresh
//! database per test), real Redis (a random key prefix per test) and the real
//! sandbox (fake OAuth server, GA4 and Resend fakes) on port 0, with in-process
//! workers: the sync semantics, streams under control, the notifications and the
//! connect sessions.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod connect_sessions;
mod notices;
mod notifications;
mod one_run;
mod outbound;
mod payment_emails;
mod reconcile;
mod resend;
mod setup;
mod streams;
mod support;
mod syncs;
mod webhook_batches;

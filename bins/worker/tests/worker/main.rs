//! Integration tests of junction-worker against real Postgres (a fresh database per
//! test), real Redis (a random key prefix per test) and the real sandbox (fake OAuth
//! server, GA4 and Resend fakes) on port 0: in-process workers for the sync semantics,
//! `junction-worker` processes for scheduling across pods, SIGKILL and SIGTERM.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod notifications;
mod processes;
mod support;
mod syncs;

//! Tests of the `junction-worker` binary: processes scheduling across pods, SIGKILL
//! and SIGTERM, against real Postgres, Redis and the sandbox. The test world is the
//! application layer's own test support (one copy, shared by path).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod process;
mod processes;
mod redis_outage;
#[path = "../../../../crates/app/tests/app/support.rs"]
#[allow(dead_code)]
mod support;

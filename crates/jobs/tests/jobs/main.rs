//! junction-jobs integration tests, against the real Redis (a random key prefix per
//! test) and the real Postgres (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod connection;
mod dead_letters;
mod layout;
mod outbox;
mod payload;
mod policy;
mod queue;
mod runner;
mod support;

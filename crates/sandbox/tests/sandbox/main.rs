//! Integration tests of junction-sandbox: each test spawns the real server on
//! 127.0.0.1:0 (with test providers whose specs cover every OAuth behaviour the sandbox
//! honours) and talks HTTP to it with reqwest, redirects disabled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorize;
mod builtin;
mod catalog;
mod client_credentials;
mod consent;
mod control;
mod exchange;
mod failures;
mod fakes;
mod kit_oauth;
mod refresh;
mod support;
mod token;
mod tokens;

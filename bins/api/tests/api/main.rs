//! End-to-end tests of junction-api: the real server on port 0, a fresh Postgres
//! database, and the real sandbox (fake OAuth server + GA4 fake) on port 0.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
mod alerts;
mod api_key_connections;
mod api_keys;
mod bad_bytes;
mod basics;
mod catalog;
mod client_credentials;
mod connect_sessions;
mod connect_ui;
mod cross_posts;
mod dashboard;
mod hostile;
mod hubspot_webhooks;
mod jobs;
mod kpis;
mod notices;
mod oauth_flow;
mod outage;
mod outbound;
mod outbox;
mod proxy;
mod setup_step;
mod streams;
mod support;
mod tenancy;
mod webhooks;

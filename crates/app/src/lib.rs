//! junction-app: what the API and the worker share.
//!
//! - [`config`]: one configuration for every binary (defaults, file, environment),
//!   validated once at start-up.
//! - [`connections`]: opening an integration for an adapter call — its adapter, the
//!   call context with the provider's base-URL override, the OAuth client, and the
//!   opened credentials with an access token refreshed (single-flight) when needed.
//! - [`process`]: the start-up every server binary shares.
//! - [`webhooks`]: an integration's webhook secrets, and delivery headers as stored.

pub mod config;
pub mod connections;
pub mod process;
pub mod webhooks;

pub use config::{Config, ConfigError, ProviderConfig, WorkerSettings};
pub use connections::{CallError, ConnectError, Connections};
pub use webhooks::WebhookSetupError;

//! junction-store: everything Junction keeps in Postgres.
//!
//! - [`schema`]: diesel tables, in step with `migrations/` (embedded, see [`migrate`]).
//! - [`Store`]: the application's connection pool. Its connections work as the role
//!   `junction_app`, which row-level security restricts to one workspace per
//!   transaction; [`Store::begin`] opens such a transaction ([`WorkspaceTx`]).
//! - [`AdminStore`]: the schema owner's connection, for the few operator commands
//!   that span workspaces (migrations, key rotation, listing workspaces).
//! - [`vault`]: AES-256-GCM sealing of credentials with a key ring.
//! - [`repo`]: one module of queries per table.
//! - [`listen`]: LISTEN on a connection of its own, for caches that must learn at
//!   once what other processes changed (API keys that stop working).

pub mod db;
pub mod error;
pub mod ingest;
pub mod listen;
pub mod migrate;
pub mod models;
pub mod repo;
pub mod schema;
pub mod vault;

pub use db::{
    APP_ROLE, AdminStore, DatabaseUrl, DbRole, SYSTEM_ROLE, Store, StoreOptions, WorkspaceTx,
};
pub use error::StoreError;
pub use vault::{KeyCheck, KeyRing, KeyRingError, SealContext, Sealed, Vault, VaultError};

/// The async Postgres connection every repository function takes.
pub type Conn = diesel_async::AsyncPgConnection;

//! junction-core: the contract between Junction and its provider crates.
//!
//! A provider is static data ([`ProviderSpec`]) plus a handful of async functions
//! ([`Adapter`]). Everything a provider needs from the outside world arrives through
//! [`Context`]: the HTTP client, a base-URL override (sandbox, tests), a clock and the
//! request limiter. This crate has no database, no Redis and no web framework in it, so
//! a provider crate depends on it alone.
//!
//! Every failure an adapter can have is an [`AdapterError`], whose classification is
//! the only thing the worker's retry policy reads; every error any Junction crate
//! reports to a user maps into one stable [`ErrorCode`].

pub mod adapter;
pub mod codes;
pub mod error;
pub mod fake;
pub mod http;
pub mod ids;
pub mod model;
pub mod ratelimit;
pub mod spec;
pub mod storable;
pub mod webhook;

pub use adapter::{
    ActionOutcome, Adapter, Clock, Connection, Context, Credentials, EmailSender, FieldOption,
    FixedClock, Health, NoticeAudience, OutgoingEmail, PaymentNotice, PaymentOutcome, ProxyTarget,
    ReadRequest, StreamDeletion, StreamKpi, StreamRecord, Suppression, SystemClock, WebhookEffects,
};
pub use codes::{ErrorCode, ErrorKind, HasErrorCode};
pub use error::AdapterError;
pub use ids::{IntegrationId, ProviderId, WorkspaceId};
pub use model::{KpiPoint, Page, Record, dimensions_from_key};
pub use ratelimit::{NoopLimiter, RateLimiter};
pub use spec::{
    ActionSpec, AuthSpec, Category, ConfigField, FieldError, FieldKind, MetricFamily, MetricKind,
    MetricSpec, OAuth2Spec, RateBudget, RecipientField, RefreshBehaviour, StreamSpec,
    TokenClientAuth, Unit, WebhookScheme, WebhookSecret, WebhookSpec,
};

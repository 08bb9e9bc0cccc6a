//! Outbound webhooks: events Junction sends to the client app's endpoints, in the
//! manner of Svix and Standard Webhooks.
//!
//! - [`events`]: the event types and their payloads, and recording an event in the
//!   transaction of the fact it reports — one row per fact (its dedupe key), one
//!   delivery per enabled endpoint that subscribes to its type, each delivery's job
//!   staged in the outbox beside it. The use cases that own the facts (connect,
//!   disconnect, a sync run's end, an action's end, a stored provider webhook) call
//!   it with one line; lost grants found outside a sync are announced by the
//!   scheduler's sweep.
//! - [`endpoints`]: endpoints per workspace (URL, description, event-type filter,
//!   enabled), their signing secrets (sealed in the vault, rotatable with a 24-hour
//!   overlap), and the events and delivery attempts a client reads back.
//! - [`delivery`]: one attempt of a delivery (the `outbound` queue's job) — one
//!   signed HTTP POST with a timeout, recorded with its status code and latency —
//!   retried on Svix's schedule, then dead-lettered (and replayable like any dead
//!   letter).
//! - [`network`]: which addresses an endpoint may point at.

pub mod delivery;
pub mod endpoints;
pub mod events;
pub mod network;

//! The API's routes, one module per resource. Each handler parses the request,
//! calls one use case of junction-app and renders its answer.

pub mod actions;
pub mod alerts;
pub mod connect;
pub mod data;
pub mod dead_letters;
pub mod health;
pub mod integrations;
pub mod providers;
pub mod proxy;
pub mod runs;
pub mod webhooks;

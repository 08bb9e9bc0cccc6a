//! Stripe's form encoding of nested parameters: `application/x-www-form-urlencoded`
//! bodies with brackets (`metadata[order_id]=6735`, `items[0][price]=price_123`),
//! the toolkit's [`junction_toolkit::form`]. Actions send their input through
//! [`encode`] and [`to_body`] (keys in a stable order, so a retried request is
//! byte-for-byte the same, which Stripe's idempotency check compares); the sandbox
//! fake reads bodies back with [`decode`].

pub use junction_toolkit::form::{DecodeError, decode, encode, to_body};

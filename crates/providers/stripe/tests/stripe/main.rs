//! Integration tests of the Stripe adapter (being written).

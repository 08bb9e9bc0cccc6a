//! Provider HTTP helper: sends a request under the rate limiter and classifies the
//! response into [`AdapterError`]. (Being written.)

use std::time::Duration;

use chrono::{DateTime, Utc};

/// What a response's rate-limit headers said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// Requests allowed in the current window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// When the window resets.
    pub reset_at: Option<DateTime<Utc>>,
    /// The `Retry-After` hint.
    pub retry_after: Option<Duration>,
}

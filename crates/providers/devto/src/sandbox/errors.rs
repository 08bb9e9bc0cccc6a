//! The fake's error answers, in devto's own shape: what the service and the
//! account's store both answer with.

use junction_toolkit::fake::{Data, ErrorShape};

/// Forem's error body: `{"error": "<message>", "status": <status>}`.
pub(crate) const ERRORS: ErrorShape = ErrorShape::new(None, "/error")
    .status_at("/status")
    .catalogue(&WORDS, "");

static WORDS: Data = Data::new(
    r#"{
 "server_error": [500, null, "Internal Server Error"],
 "rate_limited": {"status": 429, "message": "Rate limit reached, try again in {secs} seconds", "headers": {"retry-after": "{secs}"}},
 "quota_exhausted": {"status": 429, "message": "Rate limit reached, try again in 30 seconds", "headers": {"retry-after": "30"}},
 "not_found": [404, null, "not found"],
 "missing": [401, null, "unauthorized"],
 "unknown": [401, null, "unauthorized"],
 "insufficient": [401, null, "unauthorized"]
}"#,
);

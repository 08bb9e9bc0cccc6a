//! The fake's error answers, in medium's own shape: what the service and the
//! account's store both answer with.

use junction_toolkit::fake::{Data, ErrorShape};

/// Medium's error body: `{"errors": [{"message", "code"}]}`.
pub(crate) const ERRORS: ErrorShape =
    ErrorShape::new(Some("/errors/0/code"), "/errors/0/message").catalogue(&WORDS, "");

static WORDS: Data = Data::new(
    r#"{
 "server_error": [500, null, "Internal server error."],
 "rate_limited": {"status": 429, "message": "Too many requests.", "headers": {"retry-after": "{secs}"}},
 "quota_exhausted": {"status": 429, "message": "You have reached the daily limit of posts.", "headers": {"retry-after": "3600"}},
 "not_found": [404, null, "Not found."],
 "missing": [401, "6000", "An access token is required."],
 "unknown": [401, "6003", "Token was invalid."],
 "expired": [401, "6003", "Token was invalid."],
 "insufficient": [403, "6027", "Application does not have permission."]
}"#,
);

//! Stripe's error object as the fake renders it, for the request handling in the
//! `sandbox` module and the endpoint logic in `store` alike.

use junction_core::fake::FakeResponse;
use serde_json::json;

/// Renders Stripe's error object.
pub(crate) fn stripe_error(
    status: u16,
    kind: &str,
    code: Option<&str>,
    message: &str,
    param: Option<&str>,
) -> FakeResponse {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
        error["doc_url"] = json!(format!(
            "https://stripe.com/docs/error-codes/{}",
            code.replace('_', "-")
        ));
    }
    if let Some(param) = param {
        error["param"] = json!(param);
    }
    error["request_log_url"] = json!("https://dashboard.stripe.com/test/logs");
    FakeResponse::json(status, &json!({"error": error}))
}

//! The sandbox's fixed credentials: the API keys the fake accepts, the secret it
//! signs webhooks with and the verified sender to send from. The `sandbox` module
//! re-exports them.

/// The sandbox's full-access API key.
pub const SANDBOX_API_KEY: &str = "re_sandbox_full_access";

/// The sandbox's sending-access API key: it may only send.
pub const SANDBOX_SENDING_KEY: &str = "re_sandbox_sending_only";

/// The secret the sandbox signs webhooks with (`whsec_` + base64 of 32 bytes).
pub const SANDBOX_WEBHOOK_SECRET: &str = "whsec_anVuY3Rpb24tcmVzZW5kLXNhbmRib3gtc2lnbmluZyE=";

/// A verified sandbox domain to send from.
pub const SANDBOX_SENDER: &str = "Junction <alerts@junction-demo.dev>";

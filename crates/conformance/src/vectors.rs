//! Webhook signature vectors of the providers' own libraries, for the webhook checks
//! of a [`crate::Description`].
//!
//! `vectors/webhook-signatures.json` is an exact copy of the workspace's shared
//! `provider-specs/test-vectors.json` (see `provider-specs/SOURCES.md`):
//!
//! - `svix_official`: the vector of Svix's own test suite (svix/svix-webhooks
//!   `go/webhook_test.go` `TestWebhookSign`, the same in its C# and Java tests):
//!   secret, message id, timestamp, payload and the expected `v1` signature;
//! - `stripe_computed`: the inputs of stripe/stripe-python's `tests/test_webhook.py`
//!   (`DUMMY_WEBHOOK_PAYLOAD`, `DUMMY_WEBHOOK_SECRET`, timestamp 12345), the
//!   `Stripe-Signature` value computed from them with HMAC-SHA256 as Stripe documents;
//! - `meta_x_hub_signature_256_computed`: `X-Hub-Signature-256` of the body `test`
//!   under the secret `secret`, which matches the worked example of the WhatsApp SDK
//!   docs.
//!
//! `vectors/hubspot-webhook-signatures.json` is an exact copy of the workspace's
//! shared `provider-specs/hubspot/webhook-signature-vectors.json`: HubSpot's request
//! signatures, whose `v3_post` entry is the vector of HubSpot's own Python client
//! (`tests/spec/utils/test_signature.py`, `test_get_signature__v3`).
//! `vectors/sendgrid-event-webhook.json` is an exact copy of the shared
//! `provider-specs/sendgrid/event-webhook-vectors.json`: SendGrid's own Signed Event
//! Webhook vectors (sendgrid-python, -nodejs, -go tests), each a public key,
//! timestamp, payload and signature; [`SENDGRID`] is its `single_event` vector and
//! [`SENDGRID_MULTIPLE`] its `multiple_events` one.

use serde_json::Value;

/// The vectors file, verbatim.
const FILE: &str = include_str!("../vectors/webhook-signatures.json");

/// HubSpot's vectors file, verbatim.
const HUBSPOT_FILE: &str = include_str!("../vectors/hubspot-webhook-signatures.json");
/// SendGrid's vectors file, verbatim.
const SENDGRID_FILE: &str = include_str!("../vectors/sendgrid-event-webhook.json");

/// The scheme a vector is signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// `Stripe-Signature: t=..,v1=..`.
    Stripe,
    /// `svix-id`, `svix-timestamp`, `svix-signature`.
    Svix,
    /// `X-Hub-Signature-256: sha256=..`.
    Meta,
    /// HubSpot's `X-HubSpot-Signature-v3` and `X-HubSpot-Request-Timestamp` over the
    /// method, the URL (Junction's ingress gives it in
    /// `junction_core::webhook::REQUEST_URL_HEADER`), the body and the timestamp.
    HubSpotV3,
    /// `X-Twilio-Email-Event-Webhook-Signature` / `-Timestamp` (ECDSA P-256).
    Sendgrid,
}

/// One signature vector: an entry of the vectors file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureVector {
    /// The entry's key in the file.
    pub entry: &'static str,
    pub signed: Signed,
}

/// Stripe's (stripe-python's test inputs).
pub const STRIPE: SignatureVector = SignatureVector {
    entry: "stripe_computed",
    signed: Signed::Stripe,
};

/// Svix's own (Resend signs its webhooks through Svix).
pub const SVIX: SignatureVector = SignatureVector {
    entry: "svix_official",
    signed: Signed::Svix,
};

/// Meta's `X-Hub-Signature-256`.
pub const META: SignatureVector = SignatureVector {
    entry: "meta_x_hub_signature_256_computed",
    signed: Signed::Meta,
};

/// HubSpot's v3 vector (hubspot-api-python's), an entry of HubSpot's file.
pub const HUBSPOT_V3: SignatureVector = SignatureVector {
    entry: "v3_post",
    signed: Signed::HubSpotV3,
};

/// SendGrid's own, one event (the secret is the account's public key).
pub const SENDGRID: SignatureVector = SignatureVector {
    entry: "single_event",
    signed: Signed::Sendgrid,
};

/// SendGrid's own, two events in one delivery.
pub const SENDGRID_MULTIPLE: SignatureVector = SignatureVector {
    entry: "multiple_events",
    signed: Signed::Sendgrid,
};

/// A signed delivery, as the vector gives it.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub secret: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    /// When it was signed (unix seconds), for schemes that sign a time.
    pub timestamp: Option<i64>,
    /// The tolerance the provider documents, in seconds.
    pub tolerance_secs: Option<u64>,
}

impl SignatureVector {
    /// The vector's delivery, read from the file.
    pub(crate) fn delivery(&self) -> Result<Delivery, String> {
        if self.signed == Signed::HubSpotV3 {
            return self.hubspot_delivery();
        }
        let text = if self.signed == Signed::Sendgrid {
            SENDGRID_FILE
        } else {
            FILE
        };
        let file: Value =
            serde_json::from_str(text).map_err(|e| format!("the vectors file: {e}"))?;
        let entry = match self.signed {
            // SendGrid's file lists its vectors by name.
            Signed::Sendgrid => file["vectors"]
                .as_array()
                .and_then(|all| all.iter().find(|v| v["name"] == self.entry))
                .unwrap_or(&Value::Null),
            _ => &file[self.entry],
        };
        let text = |key: &str| {
            entry[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("the vector `{}` has no text `{key}`", self.entry))
        };
        let number = |key: &str| {
            entry[key]
                .as_i64()
                .ok_or_else(|| format!("the vector `{}` has no number `{key}`", self.entry))
        };
        let body = text("payload")?;
        if self.signed == Signed::Sendgrid {
            let timestamp = text("timestamp")?;
            return Ok(Delivery {
                secret: text("public_key")?,
                headers: vec![
                    ("x-twilio-email-event-webhook-signature", text("signature")?),
                    ("x-twilio-email-event-webhook-timestamp", timestamp.clone()),
                ],
                body,
                timestamp: timestamp.parse().ok(),
                // SendGrid documents no replay window.
                tolerance_secs: None,
            });
        }
        let secret = text("secret")?;
        Ok(match self.signed {
            Signed::Stripe => Delivery {
                secret,
                headers: vec![("stripe-signature", text("header")?)],
                body,
                timestamp: Some(number("timestamp")?),
                tolerance_secs: entry["default_tolerance_s"].as_u64(),
            },
            Signed::Svix => {
                let timestamp = number("timestamp")?;
                Delivery {
                    secret,
                    headers: vec![
                        ("svix-id", text("msg_id")?),
                        ("svix-timestamp", timestamp.to_string()),
                        ("svix-signature", text("expected_signature")?),
                    ],
                    body,
                    timestamp: Some(timestamp),
                    tolerance_secs: entry["tolerance_s"].as_u64(),
                }
            }
            // SendGrid's vectors returned above.
            Signed::Meta | Signed::Sendgrid => Delivery {
                secret,
                headers: vec![("x-hub-signature-256", text("header")?)],
                body,
                timestamp: None,
                tolerance_secs: None,
            },
            Signed::HubSpotV3 => return self.hubspot_delivery(),
        })
    }

    /// A vector of HubSpot's file: its timestamp is in milliseconds, and the URL it
    /// was signed for goes where Junction's ingress puts it.
    fn hubspot_delivery(&self) -> Result<Delivery, String> {
        let file: Value = serde_json::from_str(HUBSPOT_FILE)
            .map_err(|e| format!("HubSpot's vectors file: {e}"))?;
        let entry = file["vectors"]
            .as_array()
            .and_then(|vectors| vectors.iter().find(|v| v["name"] == self.entry))
            .ok_or_else(|| format!("HubSpot's vectors file has no `{}`", self.entry))?;
        let text = |key: &str| {
            entry[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("the vector `{}` has no text `{key}`", self.entry))
        };
        let millis = text("timestamp")?;
        let seconds = millis
            .parse::<i64>()
            .map_err(|_| format!("the vector `{}` has no millisecond timestamp", self.entry))?
            .div_euclid(1000);
        Ok(Delivery {
            secret: text("client_secret")?,
            headers: vec![
                ("x-hubspot-signature-v3", text("expected_signature")?),
                ("x-hubspot-request-timestamp", millis),
                (junction_core::webhook::REQUEST_URL_HEADER, text("uri")?),
            ],
            body: text("body")?,
            timestamp: Some(seconds),
            tolerance_secs: Some(junction_core::webhook::hubspot::DEFAULT_TOLERANCE_SECS),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vector_reads() {
        for vector in [STRIPE, SVIX, META, HUBSPOT_V3, SENDGRID, SENDGRID_MULTIPLE] {
            let delivery = vector.delivery().unwrap();
            assert!(!delivery.body.is_empty() && !delivery.headers.is_empty());
        }
        assert_eq!(SVIX.delivery().unwrap().timestamp, Some(1_614_265_330));
        assert_eq!(STRIPE.delivery().unwrap().tolerance_secs, Some(300));
        assert_eq!(SENDGRID.delivery().unwrap().timestamp, Some(1_600_112_502));
        assert!(
            SENDGRID_MULTIPLE
                .delivery()
                .unwrap()
                .body
                .ends_with("}]\r\n")
        );
    }
}

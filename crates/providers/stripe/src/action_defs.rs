//! The five Stripe actions as data: each one's name, description, input JSON Schema,
//! endpoint and the response fields its outcome keeps. The spec lists them and
//! `actions` validates and runs them.

use serde_json::{Value, json};

/// One action: its name, description, input schema, endpoint and the response fields
/// its outcome keeps.
pub(crate) struct ActionDef {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: fn() -> Value,
    pub path: &'static str,
    pub output_fields: &'static [&'static str],
}

/// Every action, in the order the spec lists them.
pub(crate) const ACTIONS: [ActionDef; 5] = [
    ActionDef {
        name: "create_customer",
        description: "Create a customer (POST /v1/customers).",
        schema: create_customer_schema,
        path: "v1/customers",
        output_fields: &[
            "id",
            "object",
            "email",
            "name",
            "phone",
            "description",
            "created",
            "livemode",
            "metadata",
        ],
    },
    ActionDef {
        name: "create_payment_intent",
        description: "Create a payment intent, optionally confirming it at once \
                      (POST /v1/payment_intents). Amounts are integer minor units.",
        schema: create_payment_intent_schema,
        path: "v1/payment_intents",
        // The client secret goes back to the client app, which hands it to Stripe.js
        // to complete the payment in the customer's browser; it is not a Junction
        // credential.
        output_fields: &[
            "id",
            "object",
            "amount",
            "amount_received",
            "currency",
            "status",
            "customer",
            "client_secret",
            "latest_charge",
            "next_action",
            "last_payment_error",
            "created",
            "livemode",
            "metadata",
        ],
    },
    ActionDef {
        name: "create_subscription",
        description: "Subscribe a customer to one or more prices (POST /v1/subscriptions).",
        schema: create_subscription_schema,
        path: "v1/subscriptions",
        output_fields: &[
            "id",
            "object",
            "status",
            "customer",
            "currency",
            "items",
            "latest_invoice",
            "trial_end",
            "cancel_at_period_end",
            "created",
            "livemode",
            "metadata",
        ],
    },
    ActionDef {
        name: "refund",
        description: "Refund a charge or a payment intent, in full or in part \
                      (POST /v1/refunds). Amounts are integer minor units.",
        schema: refund_schema,
        path: "v1/refunds",
        output_fields: &[
            "id",
            "object",
            "amount",
            "currency",
            "status",
            "charge",
            "payment_intent",
            "reason",
            "created",
            "metadata",
        ],
    },
    ActionDef {
        name: "create_invoice",
        description: "Create a draft invoice for a customer, picking up their pending \
                      invoice items (POST /v1/invoices).",
        schema: create_invoice_schema,
        path: "v1/invoices",
        output_fields: &[
            "id",
            "object",
            "status",
            "customer",
            "currency",
            "amount_due",
            "collection_method",
            "hosted_invoice_url",
            "created",
            "livemode",
            "metadata",
        ],
    },
];

/// Stripe's metadata: at most 50 keys of at most 40 characters, values of at most 500.
fn metadata() -> Value {
    json!({
        "type": "object",
        "description": "Key-value pairs stored on the Stripe object.",
        "maxProperties": 50,
        "propertyNames": {"maxLength": 40},
        "additionalProperties": {"type": "string", "maxLength": 500}
    })
}

fn id(description: &str) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 255, "description": description})
}

fn text(max: u64) -> Value {
    json!({"type": "string", "maxLength": max})
}

fn currency() -> Value {
    json!({"type": "string", "minLength": 3, "maxLength": 3,
        "description": "Three-letter ISO currency code, e.g. usd."})
}

/// The largest amount Stripe accepts (eight digits of minor units).
const MAX_AMOUNT: i64 = 99_999_999;

fn amount(description: &str) -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT, "description": description})
}

fn create_customer_schema() -> Value {
    json!({
        "type": "object",
        "required": [],
        "additionalProperties": false,
        "properties": {
            "email": text(512),
            "name": text(256),
            "phone": text(20),
            "description": text(350),
            "metadata": metadata()
        }
    })
}

fn create_payment_intent_schema() -> Value {
    json!({
        "type": "object",
        "required": ["amount", "currency"],
        "additionalProperties": false,
        "properties": {
            "amount": amount("Amount in the currency's smallest unit (1099 = $10.99)."),
            "currency": currency(),
            "customer": id("The customer (cus_…) paying."),
            "description": text(1000),
            "receipt_email": text(512),
            "payment_method": id("A payment method (pm_…) to charge."),
            "confirm": {"type": "boolean"},
            "off_session": {"type": "boolean"},
            "return_url": text(2048),
            "capture_method": {"type": "string", "enum": ["automatic", "automatic_async", "manual"]},
            "automatic_payment_methods": {
                "type": "object",
                "required": ["enabled"],
                "additionalProperties": false,
                "properties": {
                    "enabled": {"type": "boolean"},
                    "allow_redirects": {"type": "string", "enum": ["always", "never"]}
                }
            },
            "statement_descriptor_suffix": text(22),
            "metadata": metadata()
        }
    })
}

fn create_subscription_schema() -> Value {
    json!({
        "type": "object",
        "required": ["customer", "items"],
        "additionalProperties": false,
        "properties": {
            "customer": id("The customer (cus_…) to subscribe."),
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": 20,
                "items": {
                    "type": "object",
                    "required": ["price"],
                    "additionalProperties": false,
                    "properties": {
                        "price": id("A recurring price (price_…)."),
                        "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT}
                    }
                }
            },
            "trial_period_days": {"type": "integer", "minimum": 0, "maximum": 730},
            "collection_method": {"type": "string", "enum": ["charge_automatically", "send_invoice"]},
            "days_until_due": {"type": "integer", "minimum": 0, "maximum": 730},
            "payment_behavior": {"type": "string", "enum": [
                "allow_incomplete", "default_incomplete", "error_if_incomplete", "pending_if_incomplete"
            ]},
            "default_payment_method": id("A payment method (pm_…) for the renewals."),
            "cancel_at_period_end": {"type": "boolean"},
            "description": text(500),
            "metadata": metadata()
        }
    })
}

fn refund_schema() -> Value {
    json!({
        "type": "object",
        "required": [],
        "additionalProperties": false,
        "properties": {
            "charge": id("The charge (ch_…) to refund."),
            "payment_intent": id("The payment intent (pi_…) to refund."),
            "amount": amount("Amount to refund in the smallest unit; the whole remainder if absent."),
            "reason": {"type": "string", "enum": ["duplicate", "fraudulent", "requested_by_customer"]},
            "metadata": metadata()
        },
        "oneOf": [{"required": ["charge"]}, {"required": ["payment_intent"]}]
    })
}

fn create_invoice_schema() -> Value {
    json!({
        "type": "object",
        "required": ["customer"],
        "additionalProperties": false,
        "properties": {
            "customer": id("The customer (cus_…) to invoice."),
            "auto_advance": {"type": "boolean"},
            "collection_method": {"type": "string", "enum": ["charge_automatically", "send_invoice"]},
            "days_until_due": {"type": "integer", "minimum": 0, "maximum": 730},
            "currency": currency(),
            "description": text(1500),
            "pending_invoice_items_behavior": {"type": "string", "enum": ["exclude", "include"]},
            "metadata": metadata()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    #[test]
    fn schemas_use_only_supported_keywords() {
        for action in &ACTIONS {
            let schema = (action.schema)();
            assert_eq!(
                schema::unknown_keywords(&schema),
                Vec::<String>::new(),
                "{}",
                action.name
            );
        }
    }
}

//! Payment emails: what the integration's `payment_emails` setting asks Junction to
//! mail about `payment_intent.succeeded`, `payment_intent.payment_failed` and
//! `charge.refunded`.
//!
//! The adapter only says who is told what ([`PaymentNotice`]s in the event's
//! effects); Junction renders and sends them through the workspace's email
//! integration, once per event and audience.
//!
//! The customer's address is the one Stripe itself would mail a receipt to: the
//! payment's `receipt_email`, else the email the customer paid with (the charge's or
//! the failed payment method's `billing_details.email`), else the Stripe customer's
//! `email`. A payment with none of them gets no customer email (the copies still go
//! out). Copies go to `payment_emails_to`.

use junction_core::{
    AdapterError, Connection, NoticeAudience, PaymentNotice, PaymentOutcome, webhook::WebhookEvent,
};
use junction_toolkit::{Client, input::is_email};
use serde_json::Value;

use crate::{
    api, money,
    spec::{PAYMENT_EMAILS_FIELD, PAYMENT_EMAILS_TO_FIELD, PROVIDER_ID},
};

/// Who hears of payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub customer: bool,
    pub copies: Vec<String>,
}

/// The connection's payment email setting; `None` when nobody is to hear of payments
/// (the default).
pub(crate) fn plan(conn: &Connection) -> Option<Plan> {
    let text = |field: &str| conn.config.get(field).and_then(Value::as_str);
    let copies: Vec<String> = text(PAYMENT_EMAILS_TO_FIELD)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|address| is_email(address))
        .map(str::to_owned)
        .collect();
    let (customer, copies) = match text(PAYMENT_EMAILS_FIELD).unwrap_or("off") {
        "customer" => (true, Vec::new()),
        "address" => (false, copies),
        "customer_and_address" => (true, copies),
        _ => return None,
    };
    (customer || !copies.is_empty()).then_some(Plan { customer, copies })
}

/// The charge and refund the event's handling fetched, for the email to quote.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen<'a> {
    pub charge: Option<&'a Value>,
    pub refund: Option<&'a Value>,
}

fn text<'a>(object: Option<&'a Value>, pointer: &str) -> Option<&'a str> {
    object?
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// The notices `event` warrants under `plan` (none for other events).
pub(crate) async fn build(
    client: &Client<'_>,
    plan: &Plan,
    event: &WebhookEvent,
    object: &Value,
    seen: Seen<'_>,
) -> Result<Vec<PaymentNotice>, AdapterError> {
    let object = Some(object);
    let (outcome, minor, reference, charge) = match event.event_type.as_str() {
        "payment_intent.succeeded" => {
            let received = object.and_then(|o| o.get("amount_received")?.as_i64());
            let amount = received
                .filter(|amount| *amount > 0)
                .or_else(|| object.and_then(|o| o.get("amount")?.as_i64()));
            (
                PaymentOutcome::Succeeded,
                amount,
                text(object, "/id"),
                seen.charge,
            )
        }
        "payment_intent.payment_failed" => {
            let amount = object.and_then(|o| o.get("amount")?.as_i64());
            (PaymentOutcome::Failed, amount, text(object, "/id"), None)
        }
        "charge.refunded" => {
            // The refund this event announces; else what was refunded in all.
            let amount = seen
                .refund
                .and_then(|r| r.get("amount")?.as_i64())
                .or_else(|| object.and_then(|o| o.get("amount_refunded")?.as_i64()));
            (
                PaymentOutcome::Refunded,
                amount,
                text(object, "/id"),
                object,
            )
        }
        _ => return Ok(Vec::new()),
    };
    let (Some(minor), Some(reference)) = (minor, reference) else {
        return Ok(Vec::new());
    };
    let currency = text(object, "/currency").unwrap_or_default();
    let failed_method = object.and_then(|o| o.pointer("/last_payment_error/payment_method"));
    let mut customer_name = text(charge, "/billing_details/name")
        .or_else(|| text(failed_method, "/billing_details/name"))
        .map(str::to_owned);
    let mut address = text(object, "/receipt_email")
        .or_else(|| text(charge, "/receipt_email"))
        .or_else(|| text(charge, "/billing_details/email"))
        .or_else(|| text(failed_method, "/billing_details/email"))
        .map(str::to_owned);
    if plan.customer
        && (address.is_none() || customer_name.is_none())
        && let Some(id) = text(object, "/customer")
        && let Some(customer) = api::live_customer(client, id).await?
    {
        address = address.or_else(|| text(Some(&customer), "/email").map(str::to_owned));
        customer_name = customer_name.or_else(|| text(Some(&customer), "/name").map(str::to_owned));
    }
    let notice = |key: &str, audience, to: Vec<String>| PaymentNotice {
        key: key.to_owned(),
        outcome,
        audience,
        to,
        amount: money::format_major(minor, currency),
        currency: money::currency_code(currency),
        customer_name: customer_name.clone(),
        description: text(object, "/description").map(str::to_owned),
        reference: reference.to_owned(),
        failure_message: text(object, "/last_payment_error/message").map(str::to_owned),
        receipt_url: text(charge, "/receipt_url").map(str::to_owned),
        occurred_at: event.occurred_at,
    };
    let mut notices = Vec::new();
    if plan.customer {
        match address.filter(|address| is_email(address)) {
            Some(address) => {
                notices.push(notice("customer", NoticeAudience::Customer, vec![address]))
            }
            None => tracing::info!(
                provider = PROVIDER_ID,
                event = %event.id,
                "no customer address for a payment email (no receipt_email, billing email or customer email)"
            ),
        }
    }
    if !plan.copies.is_empty() {
        notices.push(notice("team", NoticeAudience::Team, plan.copies.clone()));
    }
    Ok(notices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use junction_core::{IntegrationId, WorkspaceId};
    use serde_json::json;

    fn conn(config: Value) -> Connection {
        Connection {
            workspace_id: WorkspaceId::new(),
            integration_id: IntegrationId::new(),
            config: config.as_object().cloned().unwrap_or_default(),
            secrets: Default::default(),
            access_token: None,
            token_expires_at: None,
        }
    }

    #[test]
    fn the_setting_says_who_hears_of_payments() {
        assert_eq!(plan(&conn(json!({}))), None);
        assert_eq!(plan(&conn(json!({"payment_emails": "off"}))), None);
        assert_eq!(
            plan(&conn(
                json!({"payment_emails": "customer", "payment_emails_to": "a@b.example"})
            )),
            Some(Plan {
                customer: true,
                copies: vec![]
            })
        );
        assert_eq!(
            plan(&conn(json!({"payment_emails": "customer_and_address",
                "payment_emails_to": " billing@acme.example, ,nope, ops@acme.example"}))),
            Some(Plan {
                customer: true,
                copies: vec!["billing@acme.example".into(), "ops@acme.example".into()]
            })
        );
        // Copies only, but no address: nobody.
        assert_eq!(plan(&conn(json!({"payment_emails": "address"}))), None);
    }
}

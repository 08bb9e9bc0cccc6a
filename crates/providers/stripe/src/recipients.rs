//! Whom Stripe itself emails when an action runs, though the input names no address:
//! an invoice collected by `send_invoice` is emailed to its customer. Read before
//! each run (the spec's `provider_recipients` says whom, in words), so Junction's
//! suppression list screens these addresses like the input's `receipt_email`:
//!
//! - `send_invoice` emails the invoice (to its `customer_email`);
//! - `finalize_invoice` of a `send_invoice` invoice that auto-advances (the input's
//!   `auto_advance`, else the invoice's): Stripe emails it on finalizing;
//! - `create_invoice` with `collection_method: send_invoice` and `auto_advance:
//!   true`: Stripe finalizes the draft about an hour later and emails it;
//! - `create_subscription` with `collection_method: send_invoice`: Stripe emails
//!   each of its invoices.
//!
//! Stripe mails nobody in the other cases (a draft left alone, invoices charged
//! automatically), and nobody is read.

use junction_core::AdapterError;
use junction_toolkit::Client;
use serde_json::Value;

use crate::{actions::object_id, api};

/// The addresses Stripe will email when `action` runs with `input`.
pub(crate) async fn mailed(
    client: &Client<'_>,
    action: &str,
    input: &Value,
) -> Result<Vec<String>, AdapterError> {
    let address = match action {
        "send_invoice" => {
            let invoice = invoice(client, input).await?;
            invoice_address(client, &invoice).await?
        }
        "finalize_invoice" => {
            let invoice = invoice(client, input).await?;
            let advances = flag(input, "auto_advance")
                .or_else(|| flag(&invoice, "auto_advance"))
                .unwrap_or(false);
            if sent_by_email(&invoice) && advances {
                invoice_address(client, &invoice).await?
            } else {
                None
            }
        }
        "create_invoice" if sent_by_email(input) && flag(input, "auto_advance") == Some(true) => {
            customer_address(client, object_id(input.get("customer"), "customer")?).await?
        }
        "create_subscription" if sent_by_email(input) => {
            customer_address(client, object_id(input.get("customer"), "customer")?).await?
        }
        _ => None,
    };
    Ok(address.into_iter().collect())
}

/// Whether invoices of `object` (an input or an invoice) are emailed for payment.
fn sent_by_email(object: &Value) -> bool {
    object.get("collection_method").and_then(Value::as_str) == Some("send_invoice")
}

fn flag(object: &Value, name: &str) -> Option<bool> {
    object.get(name).and_then(Value::as_bool)
}

/// The invoice the input's `invoice` names.
async fn invoice(client: &Client<'_>, input: &Value) -> Result<Value, AdapterError> {
    let id = object_id(input.get("invoice"), "invoice")?;
    Ok(api::get(client, &format!("invoices/{id}"), &[]).await?.body)
}

/// Where Stripe emails an invoice: its `customer_email` (the customer's email until
/// it is finalized, then kept), else its customer's current email.
async fn invoice_address(
    client: &Client<'_>,
    invoice: &Value,
) -> Result<Option<String>, AdapterError> {
    if let Some(address) = text(invoice, "customer_email") {
        return Ok(Some(address));
    }
    match invoice.get("customer").and_then(Value::as_str) {
        Some(customer) => customer_address(client, customer).await,
        None => Ok(None),
    }
}

/// The email of the customer `id` (none for a customer without one, or deleted).
async fn customer_address(client: &Client<'_>, id: &str) -> Result<Option<String>, AdapterError> {
    Ok(api::live_customer(client, id)
        .await?
        .and_then(|customer| text(&customer, "email")))
}

fn text(object: &Value, name: &str) -> Option<String> {
    object
        .get(name)
        .and_then(Value::as_str)
        .filter(|text| !text.trim().is_empty())
        .map(str::to_owned)
}

//! The privacy actions: `lookup_user` and `delete_user_data`, both
//! `POST /v1/organizations/{organization_id}/user-lookup` (described in
//! `actions.json`).
//!
//! The input names the data subject by `data_subject_email`, by
//! `data_subject_site_id_to_user_id_map` (the user ids the sites sent through the
//! Identify API, by site id), or both. `delete_user_data` is irreversible, so its
//! input must say `"delete_all_hits": true` itself — nothing defaults to a deletion —
//! and the lookup never sends it. The body sent is exactly the checked input with
//! `delete_all_hits` set, and the output repeats it (with the organization) under
//! `requested`, beside Hotjar's status and answer, whose shape Hotjar does not
//! document [check] and which is returned as it came.
//!
//! Hotjar takes no idempotency key. A retried lookup submits another lookup; a
//! retried deletion request asks again to delete what is already gone, which
//! deletes nothing more.

use std::collections::BTreeMap;

use http::Method;
use junction_core::{ActionOutcome, AdapterError, Connection, Context};
use junction_toolkit::input;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    api,
    spec::{self, DELETE_USER_DATA, LOOKUP_USER, ORGANIZATION_ID},
};

/// The user-lookup request body, as Hotjar takes it.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct Lookup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_subject_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data_subject_site_id_to_user_id_map: Option<BTreeMap<String, String>>,
    /// `true` only for `delete_user_data`, whose input must say so itself.
    #[serde(default)]
    delete_all_hits: bool,
}

/// Runs `lookup_user` or `delete_user_data`.
pub(crate) async fn user_lookup(
    ctx: &Context,
    conn: &Connection,
    action: &str,
    input: &Value,
) -> Result<ActionOutcome, AdapterError> {
    let mut body: Lookup = input::checked(spec::spec(), action, input)?;
    // The schema lets `delete_all_hits` only into the deletion, and there only as
    // `true`; this says the same again for an input queued under another schema.
    body.delete_all_hits = match action {
        DELETE_USER_DATA if body.delete_all_hits => true,
        DELETE_USER_DATA => {
            return Err(AdapterError::invalid_field(
                "delete_all_hits",
                "must be true: a deletion request has to be asked for explicitly",
            ));
        }
        LOOKUP_USER => false,
        other => return Err(AdapterError::unknown_action(spec::spec().name, other)),
    };
    if let Some(email) = &body.data_subject_email
        && !input::is_email(email)
    {
        return Err(AdapterError::invalid_field(
            "data_subject_email",
            "is not an email address",
        ));
    }
    let organization = ORGANIZATION_ID.require(conn)?;
    let client = api::client(ctx, conn)?;
    let request = client
        .request(
            Method::POST,
            &format!("organizations/{organization}/user-lookup"),
        )?
        .json(&body);
    let response = client.send(request).await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|err| {
        AdapterError::unavailable(format!("Hotjar's answer could not be read: {err}"))
    })?;
    // Whatever Hotjar answers (its shape is not documented), kept as JSON when it is.
    let answer = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    let mut requested = serde_json::to_value(&body)
        .map_err(|err| AdapterError::invalid(format!("request not serializable: {err}")))?;
    requested["organization_id"] = json!(organization);
    let output = json!({
        "requested": requested,
        "deletion_requested": body.delete_all_hits,
        "status": status,
        "answer": answer,
    });
    Ok(ActionOutcome {
        output,
        external_id: None,
    })
}

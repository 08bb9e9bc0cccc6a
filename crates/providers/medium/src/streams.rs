//! The streams: `profile` (`GET /v1/me`, one record) and `publications` (`GET
//! /v1/users/{userId}/publications`, one list). Medium pages neither and offers
//! nothing else to read — no posts, no statistics — so a pass is one page and no
//! KPI comes from Medium.

use junction_core::{AdapterError, Page, Record};
use junction_toolkit::{Client, data};
use serde_json::Value;

/// The authenticated user (`data` of `GET /v1/me`).
pub(crate) async fn me(client: &Client<'_>) -> Result<Value, AdapterError> {
    let mut body: Value = client.get("me", &[]).await?;
    body.get_mut("data")
        .map(Value::take)
        .filter(Value::is_object)
        .ok_or_else(|| AdapterError::unavailable("malformed response body: no `data` user"))
}

/// The user's id.
pub(crate) fn user_id(user: &Value) -> Result<String, AdapterError> {
    data::Fields::new(user, "Medium sent a user").text("id")
}

pub(crate) async fn profile(client: &Client<'_>) -> Result<Page, AdapterError> {
    let user = me(client).await?;
    let record = Record {
        external_id: user_id(&user)?,
        data: user,
        modified_at: None,
    };
    Ok(whole(vec![record]))
}

pub(crate) async fn publications(client: &Client<'_>) -> Result<Page, AdapterError> {
    let user = user_id(&me(client).await?)?;
    let mut body: Value = client
        .get(&format!("users/{user}/publications"), &[])
        .await?;
    let Some(Value::Array(list)) = body.get_mut("data").map(Value::take) else {
        return Err(AdapterError::unavailable(
            "malformed response body: no `data` list",
        ));
    };
    let records = list
        .into_iter()
        .map(|publication| {
            let id = data::Fields::new(&publication, "Medium sent a publication").text("id")?;
            Ok(Record {
                external_id: id,
                data: publication,
                modified_at: None,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()?;
    Ok(whole(records))
}

/// A whole stream in one page: nothing to resume from.
fn whole(records: Vec<Record>) -> Page {
    Page {
        records,
        kpis: Vec::new(),
        next_cursor: None,
        has_more: false,
    }
}

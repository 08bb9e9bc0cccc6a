//! The account and what hangs off it: the check (`account`), the organizations a
//! connection syncs, and the `organizations` and `channels` streams (one page each:
//! Buffer lists both without paging).

use chrono::DateTime;
use junction_core::{AdapterError, Connection, Health, KpiPoint, Page, Record};
use junction_toolkit::{Client, cursor, data, graphql};
use serde_json::{Value, json};

use crate::{
    api::ENDPOINT,
    ops,
    spec::{CHANNEL_COUNT, ORGANIZATION},
};

/// The `account` query's answer.
async fn account(client: &Client<'_>) -> Result<Value, AdapterError> {
    let mut data = graphql::execute(client, ENDPOINT, ops::ACCOUNT, json!({})).await?;
    match data.get_mut("account").map(Value::take) {
        Some(account) if account.is_object() => Ok(account),
        _ => Err(AdapterError::unavailable(
            "malformed response body: no `account`",
        )),
    }
}

/// The organizations the connection syncs: the one its `organization_id` names (which
/// must be the account's), else every organization of the account.
pub(crate) async fn organizations(
    client: &Client<'_>,
    conn: &Connection,
) -> Result<Vec<Value>, AdapterError> {
    let account = account(client).await?;
    chosen(&account, conn)
}

fn chosen(account: &Value, conn: &Connection) -> Result<Vec<Value>, AdapterError> {
    let all = account
        .get("organizations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(wanted) = ORGANIZATION.read(conn)? else {
        return Ok(all);
    };
    let found: Vec<Value> = all
        .into_iter()
        .filter(|org| org.get("id").and_then(Value::as_str) == Some(wanted.as_str()))
        .collect();
    if found.is_empty() {
        return Err(AdapterError::invalid_field(
            ORGANIZATION.name,
            "is not an organization of the key's Buffer account",
        ));
    }
    Ok(found)
}

/// The ids of `organizations`.
pub(crate) fn ids(organizations: &[Value]) -> Vec<String> {
    organizations
        .iter()
        .filter_map(|org| org.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// The `account` query proves the key; the health names the account and counts its
/// organizations, and a chosen organization must be the account's.
pub(crate) async fn check(client: &Client<'_>, conn: &Connection) -> Result<Health, AdapterError> {
    let account = account(client).await?;
    let organizations = chosen(&account, conn)?;
    let label = ["email", "name", "id"]
        .iter()
        .find_map(|field| account.get(*field).and_then(Value::as_str))
        .map(str::to_owned);
    Ok(Health {
        account: label,
        details: json!({
            "account_id": account.get("id"),
            "timezone": account.get("timezone"),
            "organizations": ids(&organizations),
        }),
    })
}

/// The `organizations` stream: each organization a record, its channel count a gauge
/// of the day.
pub(crate) async fn read_organizations(
    client: &Client<'_>,
    conn: &Connection,
) -> Result<Page, AdapterError> {
    let today = client.context().now().date_naive();
    let organizations = organizations(client, conn).await?;
    let (records, kpis) = data::records_and_points(&organizations, |org| {
        let fields = data::Fields::new(org, "Buffer sent an organization");
        let id = fields.text("id")?;
        let kpis = fields
            .number("channelCount")?
            .map(|count| {
                KpiPoint::total(CHANNEL_COUNT, today, count).with_dimension("organization", &id)
            })
            .into_iter()
            .collect();
        Ok((record(id, org), kpis))
    })?;
    cursor::page(records, kpis, &Value::Null, false)
}

/// The `channels` stream: every channel of the organizations synced.
pub(crate) async fn read_channels(
    client: &Client<'_>,
    conn: &Connection,
) -> Result<Page, AdapterError> {
    let organizations = organizations(client, conn).await?;
    let mut records = Vec::new();
    for organization in ids(&organizations) {
        for channel in channels(client, &organization).await? {
            let id = data::Fields::new(&channel, "Buffer sent a channel").text("id")?;
            records.push(record(id, &channel));
        }
    }
    cursor::page(records, Vec::new(), &Value::Null, false)
}

/// The channels of one organization.
pub(crate) async fn channels(
    client: &Client<'_>,
    organization: &str,
) -> Result<Vec<Value>, AdapterError> {
    let variables = json!({ "organizationId": organization });
    let mut data = graphql::execute(client, ENDPOINT, ops::CHANNELS, variables).await?;
    match data.get_mut("channels").map(Value::take) {
        Some(Value::Array(channels)) => Ok(channels),
        _ => Err(AdapterError::unavailable(
            "malformed response body: no list `channels`",
        )),
    }
}

/// A Buffer object as a record, changed when its `updatedAt` says.
pub(crate) fn record(id: String, object: &Value) -> Record {
    let modified_at = object
        .get("updatedAt")
        .and_then(Value::as_str)
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .map(|at| at.to_utc());
    Record {
        external_id: id,
        data: object.clone(),
        modified_at,
    }
}

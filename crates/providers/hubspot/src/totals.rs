//! The `daily_totals` stream: per UTC day, the contacts and deals created and the
//! deals closed won with their amount, each a whole day's figure from HubSpot's
//! search API, one day per page:
//!
//! - `new_contacts`, `deals_created`: the `total` of a search for records whose
//!   `createdate` is in the day (`GTE` its first millisecond, `LT` the next day's);
//! - `deals_won`, `won_amount`: the deals with `hs_is_closed_won` true and their
//!   `closedate` in the day, read whole (a day has far fewer than the search's
//!   10,000-result limit) and added up by currency — the deal's
//!   `deal_currency_code`, else the account's company currency. A day without a won
//!   deal has a `won_amount` of 0 in the company currency.
//!
//! The first sync reads the lookback period through today; later syncs start
//! [`REREAD_DAYS`] before the last one ended, as deals close and move after the fact
//! (points upsert, so a re-read day gets its new figures).

use std::collections::BTreeMap;

use chrono::{Duration as Days, NaiveDate, NaiveTime};
use http::Method;
use junction_core::{
    AdapterError, Connection, KpiPoint, Page, ReadRequest, Record, spec::MetricSpec,
};
use junction_toolkit::{Client, PageToken, cursor, data, paging};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    api::{self, SEARCH_PAGING},
    objects::{self, CONTACT, DEAL, ObjectType},
    spec::{
        DAILY_TOTALS, KPI_DEALS_CREATED, KPI_DEALS_WON, KPI_NEW_CONTACTS, KPI_WON_AMOUNT, LOOKBACK,
    },
};

/// Days a pass re-reads before the day the previous one ended.
pub(crate) const REREAD_DAYS: i64 = 3;

/// The most pages of won deals one day may have (200 each: the search's limit).
const MAX_WON_PAGES: usize = 50;

/// The stored cursor of `daily_totals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    /// The next day to read.
    day: NaiveDate,
    /// The pass's last day, while a pass is under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<NaiveDate>,
}

/// Reads one day of `daily_totals`.
pub(crate) async fn read(
    client: &Client<'_>,
    conn: &Connection,
    declared: &[MetricSpec],
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let today = client.context().now().date_naive();
    let (day, end) = match cursor::read::<Cursor>(request.cursor.as_ref(), DAILY_TOTALS)? {
        None => (today - Days::days(LOOKBACK.read(conn)?), today),
        Some(Cursor { day, end }) => {
            let end = end.unwrap_or(today);
            (day.min(end), end)
        }
    };
    let account = api::account(client, conn).await?;
    let currency = account
        .company_currency
        .as_deref()
        .unwrap_or("USD")
        .to_ascii_uppercase();
    let (from, to) = (millis(day), millis(day + Days::days(1)));
    let created = |kind| search_total(client, kind, created_in(from, to));
    let new_contacts = created(CONTACT).await?;
    let deals_created = created(DEAL).await?;
    let won = won_deals(client, from, to).await?;
    let mut won_amount: BTreeMap<String, f64> = BTreeMap::new();
    for deal in &won {
        let properties = deal.get("properties");
        let code = data::text(properties.and_then(|p| p.get("deal_currency_code")))
            .map_or_else(|| currency.clone(), |code| code.to_ascii_uppercase());
        let amount = properties
            .and_then(|p| p.get("amount"))
            .and_then(data::number)
            .unwrap_or(0.0);
        *won_amount.entry(code).or_default() += amount;
    }
    if won_amount.is_empty() {
        won_amount.insert(currency, 0.0);
    }
    let none = BTreeMap::new();
    let mut kpis: Vec<KpiPoint> = data::day_points(
        day,
        &none,
        [
            (KPI_NEW_CONTACTS, Some(new_contacts as f64)),
            (KPI_DEALS_CREATED, Some(deals_created as f64)),
            (KPI_DEALS_WON, Some(won.len() as f64)),
        ],
    );
    for (code, amount) in &won_amount {
        kpis.extend(data::metric_points(
            day,
            &none,
            Some(code),
            declared,
            [(KPI_WON_AMOUNT, Some(*amount))],
        ));
    }
    let record = Record {
        external_id: day.to_string(),
        data: json!({
            "date": day,
            "new_contacts": new_contacts,
            "deals_created": deals_created,
            "deals_won": won.len(),
            "won_amount": won_amount,
        }),
        modified_at: None,
    };
    let (next, has_more) = if day < end {
        (
            Cursor {
                day: day + Days::days(1),
                end: Some(end),
            },
            true,
        )
    } else {
        (
            Cursor {
                day: end - Days::days(REREAD_DAYS),
                end: None,
            },
            false,
        )
    };
    cursor::page(vec![record], kpis, &next, has_more)
}

/// The first millisecond of `day`, UTC.
fn millis(day: NaiveDate) -> i64 {
    day.and_time(NaiveTime::MIN).and_utc().timestamp_millis()
}

/// Filters: `createdate` from `from` (inclusive) to `to` (exclusive).
fn created_in(from: i64, to: i64) -> Value {
    json!([
        {"propertyName": "createdate", "operator": "GTE", "value": from.to_string()},
        {"propertyName": "createdate", "operator": "LT", "value": to.to_string()},
    ])
}

/// How many records of `kind` match `filters` (one group: all of them): the
/// search's `total`.
async fn search_total(
    client: &Client<'_>,
    kind: ObjectType,
    filters: Value,
) -> Result<u64, AdapterError> {
    let body = json!({
        "filterGroups": [{"filters": filters}],
        "properties": ["hs_object_id"],
        "limit": 1,
    });
    let fetched = client
        .fetch(
            client
                .request(Method::POST, &objects::path(kind, "/search"))?
                .json(&body),
        )
        .await?;
    fetched
        .body
        .get("total")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            AdapterError::unavailable(format!(
                "HubSpot's search of {} has no `total`",
                kind.plural
            ))
        })
}

/// The deals closed won between `from` and `to`, every page.
async fn won_deals(client: &Client<'_>, from: i64, to: i64) -> Result<Vec<Value>, AdapterError> {
    let size = SEARCH_PAGING.size.max;
    let pages = paging::walk(MAX_WON_PAGES, |token: PageToken| async move {
        let mut body = json!({
            "filterGroups": [{"filters": [
                {"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"},
                {"propertyName": "closedate", "operator": "GTE", "value": from.to_string()},
                {"propertyName": "closedate", "operator": "LT", "value": to.to_string()},
            ]}],
            "sorts": [{"propertyName": "closedate", "direction": "ASCENDING"}],
            "properties": ["amount", "deal_currency_code", "closedate"],
            "limit": size,
        });
        if let PageToken::Cursor(after) = &token {
            body["after"] = Value::String(after.clone());
        }
        let fetched = client
            .fetch(
                client
                    .request(Method::POST, &objects::path(DEAL, "/search"))?
                    .json(&body),
            )
            .await?;
        let next = SEARCH_PAGING.next(&token, size, &fetched.headers, &fetched.body)?;
        let items = fetched
            .body
            .get("results")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok((items, next))
    })
    .await?;
    Ok(pages.into_iter().flatten().collect())
}

//! The `owners` and `pipelines` streams.
//!
//! `owners` is `GET /crm/v3/owners?limit=100&after=..`, read whole on every sync
//! (owners are few and have no change filter).
//!
//! `pipelines` reads `GET /crm/v3/pipelines/deals` (every deal pipeline with its
//! stages, one answer) as records, then walks the deals (`GET /crm/v3/objects/deals`,
//! a page per stream page) adding up the open ones — those whose stage is not closed
//! by its pipeline's metadata — by pipeline, stage and currency. The sums travel in
//! the cursor, so each page is one request, and the KPI points (`open_deals`,
//! `open_pipeline_value`, gauges dated by the sync day) go out with the last page
//! only: a point is always the whole day's figure. Every open stage gets its points,
//! zero when it holds no deal, so an emptied stage reads 0 rather than its last
//! level. A deal without `deal_currency_code` is in the account's company currency.

use std::collections::BTreeMap;

use http::Method;
use junction_core::{AdapterError, Connection, KpiPoint, Page, ReadRequest, spec::MetricSpec};
use junction_toolkit::{Client, PageToken, cursor, data};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    api::{self, PAGING},
    objects::{self, DEAL},
    spec::{KPI_OPEN_DEALS, KPI_OPEN_PIPELINE_VALUE, OWNERS, PIPELINES},
};

/// The deal pipelines and their stages.
pub(crate) const PIPELINES_PATH: &str = "crm/v3/pipelines/deals";

/// The owners.
pub(crate) const OWNERS_PATH: &str = "crm/v3/owners";

/// The properties the open-pipeline walk reads of each deal.
const WALKED_PROPERTIES: &str = "amount,deal_currency_code,pipeline,dealstage";

/// The stored cursor of `owners`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct OwnersCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// Reads one page of `owners`.
pub(crate) async fn owners(
    client: &Client<'_>,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let cursor = cursor::read::<OwnersCursor>(request.cursor.as_ref(), OWNERS)?;
    let token = PageToken::from_cursor(cursor.and_then(|c| c.after));
    let size = PAGING.size.pick(request.page_size);
    let page = client
        .list_page_with(
            Method::GET,
            OWNERS_PATH,
            &PAGING,
            &token,
            size,
            &[("archived", "false")],
        )
        .await?;
    let records = page
        .items
        .iter()
        .map(|owner| objects::record(owner, OWNER))
        .collect::<Result<Vec<_>, _>>()?;
    let after = page.next.and_then(PageToken::into_cursor);
    let has_more = after.is_some();
    cursor::page(records, Vec::new(), &OwnersCursor { after }, has_more)
}

/// Owners read as records the way objects are (an `id`, an `updatedAt`).
const OWNER: objects::ObjectType = objects::ObjectType {
    stream: OWNERS,
    plural: "owners",
    singular: "owner",
    type_id: "",
    modified: "updatedAt",
    properties: &[],
};

/// The open deals of one stage in one currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct Sum {
    deals: u64,
    amount: f64,
}

/// The stored cursor of `pipelines`: between passes nothing (the next page reads
/// the pipelines); during the deal walk the open stages, the sums so far and
/// HubSpot's cursor of the next page of deals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct PipelinesCursor {
    /// Whether the deal walk is under way.
    #[serde(default)]
    walking: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// Open stage id → its pipeline id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    open: BTreeMap<String, String>,
    /// Stage id → currency → the open deals so far.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    sums: BTreeMap<String, BTreeMap<String, Sum>>,
}

/// Reads one page of `pipelines`.
pub(crate) async fn pipelines(
    client: &Client<'_>,
    conn: &Connection,
    declared: &[MetricSpec],
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let cursor =
        cursor::read::<PipelinesCursor>(request.cursor.as_ref(), PIPELINES)?.unwrap_or_default();
    if !cursor.walking {
        return read_pipelines(client).await;
    }
    let account = api::account(client, conn).await?;
    let default_currency = account.company_currency.as_deref().unwrap_or("USD");
    let token = PageToken::from_cursor(cursor.after.clone());
    let size = PAGING.size.max;
    let page = client
        .list_page_with(
            Method::GET,
            &objects::path(DEAL, ""),
            &PAGING,
            &token,
            size,
            &[("properties", WALKED_PROPERTIES), ("archived", "false")],
        )
        .await?;
    let mut next = cursor;
    for deal in &page.items {
        let fields = data::Fields::new(deal, "HubSpot sent a deal");
        let properties = fields.get("properties");
        let text = |name: &str| data::text(properties.and_then(|p| p.get(name)));
        let Some(stage) = text("dealstage") else {
            continue;
        };
        if !next.open.contains_key(&stage) {
            continue;
        }
        let currency = text("deal_currency_code")
            .unwrap_or_else(|| default_currency.to_owned())
            .to_ascii_uppercase();
        let amount = properties
            .and_then(|p| p.get("amount"))
            .and_then(data::number)
            .unwrap_or(0.0);
        let sum = next
            .sums
            .entry(stage)
            .or_default()
            .entry(currency)
            .or_default();
        sum.deals += 1;
        sum.amount += amount;
    }
    match page.next.and_then(PageToken::into_cursor) {
        Some(after) => {
            next.after = Some(after);
            cursor::page(Vec::new(), Vec::new(), &next, true)
        }
        None => {
            let today = client.context().now().date_naive();
            let kpis = open_points(&next, today, default_currency, declared);
            cursor::page(Vec::new(), kpis, &PipelinesCursor::default(), false)
        }
    }
}

/// The pipelines as records; the deal walk comes next.
async fn read_pipelines(client: &Client<'_>) -> Result<Page, AdapterError> {
    let body = api::get_json(client, PIPELINES_PATH, &[]).await?;
    let pipelines = body
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| AdapterError::unavailable("HubSpot sent no pipeline list at `results`"))?;
    let mut open = BTreeMap::new();
    let mut records = Vec::with_capacity(pipelines.len());
    for pipeline in pipelines {
        let record = objects::record(pipeline, PIPELINE)?;
        let archived = |v: &Value| v.get("archived").and_then(Value::as_bool) == Some(true);
        if !archived(pipeline) {
            for stage in pipeline
                .get("stages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let closed = data::text(stage.pointer("/metadata/isClosed"))
                    .is_some_and(|closed| closed.eq_ignore_ascii_case("true"));
                if let (false, false, Some(id)) =
                    (closed, archived(stage), data::text(stage.get("id")))
                {
                    open.insert(id, record.external_id.clone());
                }
            }
        }
        records.push(record);
    }
    let next = PipelinesCursor {
        walking: true,
        open,
        ..PipelinesCursor::default()
    };
    cursor::page(records, Vec::new(), &next, true)
}

/// Pipelines read as records the way objects are.
const PIPELINE: objects::ObjectType = objects::ObjectType {
    stream: PIPELINES,
    plural: "pipelines",
    singular: "pipeline",
    type_id: "",
    modified: "updatedAt",
    properties: &[],
};

/// The open-pipeline points of a finished walk: per open stage, its deals and their
/// amount per currency (zero in the company currency for an empty stage).
fn open_points(
    walked: &PipelinesCursor,
    today: chrono::NaiveDate,
    default_currency: &str,
    declared: &[MetricSpec],
) -> Vec<KpiPoint> {
    let mut points = Vec::new();
    for (stage, pipeline) in &walked.open {
        let dimensions: BTreeMap<String, String> = [
            ("pipeline".to_owned(), pipeline.clone()),
            ("stage".to_owned(), stage.clone()),
        ]
        .into();
        let empty = BTreeMap::from([(default_currency.to_ascii_uppercase(), Sum::default())]);
        let sums = walked.sums.get(stage).unwrap_or(&empty);
        let deals: u64 = sums.values().map(|sum| sum.deals).sum();
        points.extend(data::day_points(
            today,
            &dimensions,
            [(KPI_OPEN_DEALS, Some(deals as f64))],
        ));
        for (currency, sum) in sums {
            points.extend(data::metric_points(
                today,
                &dimensions,
                Some(currency),
                declared,
                [(KPI_OPEN_PIPELINE_VALUE, Some(sum.amount))],
            ));
        }
    }
    points
}

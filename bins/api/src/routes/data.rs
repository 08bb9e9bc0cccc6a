//! What syncs produced: GET /v1/records and GET /v1/kpis.

use std::collections::BTreeMap;

use actix_web::{get, web};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use junction_core::ErrorCode;
use junction_store::repo;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Authenticated,
    error::{ApiError, ApiResult, Problem},
    pagination::{PageParams, paginate},
    state::AppState,
};

/// `GET /v1/records` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    pub integration_id: Uuid,
    /// A stream of the integration's provider.
    pub stream: String,
    /// Only records changed (in Junction) after this moment.
    pub modified_after: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// One record as the provider returned it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub external_id: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub provider_modified_at: Option<DateTime<Utc>>,
    pub first_seen_at: DateTime<Utc>,
    /// When the record last changed in Junction (the `modified_after` clock).
    pub updated_at: DateTime<Utc>,
}

/// A page of records, oldest change first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordList {
    pub data: Vec<RecordView>,
    pub next_cursor: Option<String>,
}

/// Records of one stream of an integration, in the order they last changed, so a
/// client can follow changes with `modified_after` and the cursor.
#[utoipa::path(
    tag = "data",
    params(RecordQuery),
    responses((status = 200, body = RecordList), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/records")]
pub async fn records(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<RecordQuery>,
) -> ApiResult<web::Json<RecordList>> {
    let query = query.into_inner();
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, String)> = page.keyset()?;
    let mut tx = state.store.begin(auth.workspace_id).await?;
    let integration = repo::integrations::get(tx.conn(), query.integration_id)
        .await
        .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    let adapter = state.adapter(&integration.provider)?;
    if adapter.spec().stream(&query.stream).is_none() {
        return Err(ApiError::new(
            ErrorCode::UnknownStream,
            format!("{} has no stream `{}`", adapter.spec().name, query.stream),
        ));
    }
    let rows = repo::records::list(
        tx.conn(),
        integration.id,
        &query.stream,
        query.modified_after,
        after,
        limit + 1,
    )
    .await?;
    tx.commit().await?;
    let (rows, next_cursor) = paginate(rows, limit, |r| (r.updated_at, r.external_id.clone()));
    Ok(web::Json(RecordList {
        data: rows
            .into_iter()
            .map(|r| RecordView {
                external_id: r.external_id,
                data: r.data,
                provider_modified_at: r.provider_modified_at,
                first_seen_at: r.first_seen_at,
                updated_at: r.updated_at,
            })
            .collect(),
        next_cursor,
    }))
}

/// How KPI points are bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    #[default]
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
}

impl Granularity {
    fn bucket(self, date: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => date,
            Granularity::Week => {
                date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
            }
            Granularity::Month => date.with_day(1).unwrap_or(date),
        }
    }
}

/// `GET /v1/kpis` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// The metric, e.g. `sessions`, `total_revenue` (a provider stream's `metrics`).
    pub metric: String,
    /// Only this integration (default: every integration of the workspace).
    pub integration_id: Option<Uuid>,
    /// First day, inclusive (default: 29 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default: today, UTC).
    pub to: Option<NaiveDate>,
    #[serde(default)]
    pub granularity: Granularity,
}

/// One value of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiValue {
    /// The first day of the bucket.
    pub date: NaiveDate,
    pub value: f64,
}

/// One series: an integration and a set of dimensions.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiSeries {
    pub integration_id: Uuid,
    #[schema(value_type = Object)]
    pub dimensions: serde_json::Value,
    pub points: Vec<KpiValue>,
}

/// A metric's series.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiResponse {
    pub metric: String,
    pub granularity: Granularity,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// `sum`, or `mean` for rates (metrics named `*_rate`).
    pub aggregation: String,
    pub series: Vec<KpiSeries>,
}

/// The longest range one request may cover.
const MAX_DAYS: i64 = 3660;

/// A metric's series by day, week or month, per integration and dimension set.
/// Buckets add daily values up, except rates, which are averaged.
#[utoipa::path(
    tag = "data",
    params(KpiQuery),
    responses((status = 200, body = KpiResponse), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("api_key" = []))
)]
#[get("/v1/kpis")]
pub async fn kpis(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<KpiQuery>,
) -> ApiResult<web::Json<KpiResponse>> {
    let query = query.into_inner();
    let to = query.to.unwrap_or_else(|| state.now().date_naive());
    let from = query.from.unwrap_or(to - Duration::days(29));
    if from > to {
        return Err(ApiError::field("from", "must not be after `to`"));
    }
    if (to - from).num_days() > MAX_DAYS {
        return Err(ApiError::field(
            "from",
            format!("the range may cover at most {MAX_DAYS} days"),
        ));
    }
    let metric = query.metric.trim();
    if metric.is_empty() {
        return Err(ApiError::field("metric", "is required"));
    }
    let mut tx = state.store.begin(auth.workspace_id).await?;
    if let Some(id) = query.integration_id {
        repo::integrations::get(tx.conn(), id)
            .await
            .map_err(|_| ApiError::not_found(ErrorCode::IntegrationNotFound, "integration"))?;
    }
    let rows = repo::kpis::series(tx.conn(), query.integration_id, metric, from, to).await?;
    tx.commit().await?;

    let mean = metric.ends_with("_rate") || metric.ends_with("rate");
    // (integration, dimension key) -> (dimensions, bucket -> (sum, count))
    type Buckets = BTreeMap<NaiveDate, (f64, u32)>;
    let mut grouped: BTreeMap<(Uuid, String), (serde_json::Value, Buckets)> = BTreeMap::new();
    for row in rows {
        let entry = grouped
            .entry((row.integration_id, row.dimension_key))
            .or_insert_with(|| (row.dimensions, BTreeMap::new()));
        let bucket = entry
            .1
            .entry(query.granularity.bucket(row.date))
            .or_insert((0.0, 0));
        bucket.0 += row.value;
        bucket.1 += 1;
    }
    let series = grouped
        .into_iter()
        .map(|((integration_id, _), (dimensions, buckets))| KpiSeries {
            integration_id,
            dimensions,
            points: buckets
                .into_iter()
                .map(|(date, (sum, count))| KpiValue {
                    date,
                    value: if mean && count > 0 {
                        sum / f64::from(count)
                    } else {
                        sum
                    },
                })
                .collect(),
        })
        .collect();
    Ok(web::Json(KpiResponse {
        metric: metric.to_owned(),
        granularity: query.granularity,
        from,
        to,
        aggregation: if mean { "mean" } else { "sum" }.to_owned(),
        series,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_start_on_monday_and_the_first_of_the_month() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 19).unwrap(); // a Thursday
        assert_eq!(Granularity::Day.bucket(date), date);
        assert_eq!(
            Granularity::Week.bucket(date),
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
        );
        assert_eq!(
            Granularity::Month.bucket(date),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
        );
    }
}

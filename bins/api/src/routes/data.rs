//! What syncs produced: GET /v1/records and GET /v1/kpis.

use actix_web::{get, web};
use chrono::{DateTime, NaiveDate, Utc};
use junction_app::data;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::Query,
    pagination::{PageParams, page},
    state::AppState,
};

/// `GET /v1/records` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordQuery {
    pub integration_id: Uuid,
    /// A stream of the integration's provider.
    pub stream: String,
    /// Only records changed (in Junction) after this moment, deletions included.
    pub modified_after: Option<DateTime<Utc>>,
    #[param(schema_with = crate::pagination::limit)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::pagination::record_cursor)]
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
    /// When Junction found the record removed upstream (a full-refresh sync that no
    /// longer lists it, or the provider's delete event); null while it exists. A
    /// record marked deleted is kept, and read again it is live again.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A page of records, oldest change first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordList {
    pub data: Vec<RecordView>,
    pub next_cursor: Option<String>,
}

/// Records of one stream of an integration, in the order they last changed, so a
/// client can follow changes with `modified_after` and the cursor. Records removed
/// upstream are in it, marked with `deleted_at`: a follower learns of deletions in
/// the same order.
#[utoipa::path(
    tag = "data",
    params(RecordQuery),
    responses(
        (status = 200, body = RecordList),
        (status = 404, body = Problem, description = "`integration_not_found`, or `unknown_stream`")
    ),
    security(("api_key" = []))
)]
#[get("/v1/records")]
pub async fn records(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<RecordQuery>,
) -> ApiResult<web::Json<RecordList>> {
    let query = query.into_inner();
    let request = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let listed = state
        .app
        .records(
            auth.workspace_id,
            query.integration_id,
            &query.stream,
            query.modified_after,
            request,
        )
        .await?;
    let (data, next_cursor) = page(listed, |r| RecordView {
        external_id: r.external_id,
        data: r.data,
        provider_modified_at: r.provider_modified_at,
        first_seen_at: r.first_seen_at,
        updated_at: r.updated_at,
        deleted_at: r.deleted_at,
    });
    Ok(web::Json(RecordList { data, next_cursor }))
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

impl From<Granularity> for data::Granularity {
    fn from(granularity: Granularity) -> Self {
        match granularity {
            Granularity::Day => data::Granularity::Day,
            Granularity::Week => data::Granularity::Week,
            Granularity::Month => data::Granularity::Month,
        }
    }
}

/// `GET /v1/kpis` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// The metric, e.g. `sessions`, `total_revenue` (a provider stream's `metrics`;
    /// one nothing produces has no series).
    pub metric: String,
    /// Only this integration (default: every integration of the workspace).
    pub integration_id: Option<Uuid>,
    /// First day, inclusive (default: 29 days before `to`; at most 3660 days before
    /// it: a longer range is cut to the days ending at `to`, and the answer's `from`
    /// says where it starts). A `from` after `to` covers no day.
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

/// A metric's series by day, week or month, per integration and dimension set.
/// Buckets add daily values up, except rates, which are averaged.
#[utoipa::path(
    tag = "data",
    params(KpiQuery),
    responses((status = 200, body = KpiResponse), (status = 404, body = Problem, description = "`integration_not_found`")),
    security(("api_key" = []))
)]
#[get("/v1/kpis")]
pub async fn kpis(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<KpiQuery>,
) -> ApiResult<web::Json<KpiResponse>> {
    let query = query.into_inner();
    let kpis = state
        .app
        .kpis(
            auth.workspace_id,
            data::KpiQuery {
                metric: query.metric,
                integration_id: query.integration_id,
                from: query.from,
                to: query.to,
                granularity: query.granularity.into(),
            },
        )
        .await?;
    Ok(web::Json(KpiResponse {
        metric: kpis.metric,
        granularity: query.granularity,
        from: kpis.from,
        to: kpis.to,
        aggregation: if kpis.mean { "mean" } else { "sum" }.to_owned(),
        series: kpis
            .series
            .into_iter()
            .map(|series| KpiSeries {
                integration_id: series.integration_id,
                dimensions: series.dimensions,
                points: series
                    .points
                    .into_iter()
                    .map(|(date, value)| KpiValue { date, value })
                    .collect(),
            })
            .collect(),
    }))
}

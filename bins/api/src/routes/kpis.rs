//! KPIs: GET /v1/kpis (a metric's or a canonical family's series and totals, by
//! the metric's kind), GET /v1/metrics (every metric with its kind, unit and
//! family), GET /v1/workspace and PATCH /v1/workspace (the calendar KPIs are read
//! in: time zone and first day of the week).

use actix_web::{get, patch, web};
use chrono::{DateTime, NaiveDate, Utc};
use junction_app::{
    aggregate::Total,
    kpis::{self as use_case, KpiSelector, WorkspaceChanges},
    models::Workspace,
};
use junction_core::{
    ErrorCode,
    spec::{MetricFamily, MetricKind, MetricSpec},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiError, ApiResult, Problem},
    extract::{Json, Query},
    state::AppState,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    #[default]
    Day,
    Week,
    Month,
}

impl From<Granularity> for use_case::Granularity {
    fn from(granularity: Granularity) -> Self {
        match granularity {
            Granularity::Day => use_case::Granularity::Day,
            Granularity::Week => use_case::Granularity::Week,
            Granularity::Month => use_case::Granularity::Month,
        }
    }
}

/// GET /v1/kpis: `metric`, `family`, or both (the family's one member).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiQuery {
    /// A metric name (`GET /v1/metrics` lists them).
    pub metric: Option<String>,
    /// A canonical family (`revenue`, `ad_spend`, `sessions`, `new_subscribers`,
    /// `emails_sent`, `emails_delivered`): every integration's member metric.
    pub family: Option<String>,
    pub integration_id: Option<Uuid>,
    /// First day, inclusive (default: 29 days before `to`).
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (default: today in the workspace's time zone).
    pub to: Option<NaiveDate>,
    #[serde(default)]
    pub granularity: Granularity,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiValue {
    /// The first day of the bucket.
    pub date: NaiveDate,
    pub value: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiSeries {
    pub integration_id: Uuid,
    /// The metric of the series (for a family, the member metric).
    pub metric: String,
    #[schema(value_type = Object)]
    pub dimensions: serde_json::Value,
    /// The ISO 4217 currency of a money series.
    pub currency: Option<String>,
    pub points: Vec<KpiValue>,
}

/// The total of every series, for one currency (money) or for all.
#[derive(Debug, Serialize, ToSchema)]
pub struct KpiTotal {
    pub currency: Option<String>,
    pub points: Vec<KpiValue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KpiResponse {
    /// The metric read (absent for a family).
    pub metric: Option<String>,
    /// The family read (absent for a metric).
    pub family: Option<String>,
    /// `sum`, `gauge` or `ratio`: how buckets and totals were computed.
    #[schema(schema_with = metric_kind)]
    pub kind: String,
    /// A ratio's components.
    pub numerator: Option<String>,
    pub denominator: Option<String>,
    /// `count`, `money`, `percent`, `ratio` or `seconds`.
    #[schema(schema_with = unit)]
    pub unit: String,
    pub granularity: Granularity,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The workspace's time zone and first day of the week the buckets follow.
    pub time_zone: String,
    pub week_start: String,
    pub series: Vec<KpiSeries>,
    /// Across every series: one per currency for money, else one.
    pub totals: Vec<KpiTotal>,
}

fn metric_kind() -> utoipa::openapi::Object {
    crate::schema::one_of(["sum", "gauge", "ratio"])
}

fn unit() -> utoipa::openapi::Object {
    crate::schema::one_of(["count", "money", "percent", "ratio", "seconds"])
}

/// The API names of a metric's kind and unit.
fn kind_and_unit(
    kind: MetricKind,
    unit: junction_core::spec::Unit,
) -> (String, Option<String>, Option<String>, String) {
    let text = |v: serde_json::Result<serde_json::Value>| {
        v.ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let (name, numerator, denominator) = match kind {
        MetricKind::Sum => ("sum", None, None),
        MetricKind::Gauge => ("gauge", None, None),
        MetricKind::Ratio {
            numerator,
            denominator,
        } => (
            "ratio",
            Some(numerator.to_owned()),
            Some(denominator.to_owned()),
        ),
    };
    (
        name.to_owned(),
        numerator,
        denominator,
        text(serde_json::to_value(unit)),
    )
}

fn values(points: Vec<(NaiveDate, f64)>) -> Vec<KpiValue> {
    points
        .into_iter()
        .map(|(date, value)| KpiValue { date, value })
        .collect()
}

#[utoipa::path(
    tag = "data",
    params(KpiQuery),
    responses(
        (status = 200, body = KpiResponse),
        (status = 404, body = Problem, description = "`integration_not_found`; `unknown_metric`: a metric no provider declares, an unknown family, or a metric outside the family given"),
        (status = 422, body = Problem, description = "`validation_failed`: neither `metric` nor `family`")
    ),
    security(("api_key" = []))
)]
#[get("/v1/kpis")]
pub async fn kpis(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<KpiQuery>,
) -> ApiResult<web::Json<KpiResponse>> {
    let query = query.into_inner();
    let family = query
        .family
        .as_deref()
        .map(|name| {
            MetricFamily::parse(name.trim()).ok_or_else(|| {
                ApiError::new(
                    ErrorCode::UnknownMetric,
                    format!(
                        "no metric family `{}`: one of {}",
                        name.trim(),
                        MetricFamily::ALL.map(MetricFamily::as_str).join(", ")
                    ),
                )
            })
        })
        .transpose()?;
    let selector = match (&query.metric, family) {
        (Some(metric), None) => KpiSelector::Metric(metric.clone()),
        (None, Some(family)) => KpiSelector::Family(family),
        // Both: the family narrowed to one of its members.
        (Some(metric), Some(family)) => {
            let member = state.app.metric_catalog().iter().any(|entry| {
                entry.metric.name == metric.trim() && entry.metric.family == Some(family)
            });
            if !member {
                return Err(ApiError::new(
                    ErrorCode::UnknownMetric,
                    format!(
                        "`{}` is not a metric of the family `{}`",
                        metric.trim(),
                        family.as_str()
                    ),
                ));
            }
            KpiSelector::Metric(metric.clone())
        }
        (None, None) => {
            return Err(ApiError::field(
                "metric",
                "is required, unless `family` is given",
            ));
        }
    };
    let kpis = state
        .app
        .kpis(
            auth.workspace_id,
            use_case::KpiQuery {
                selector,
                integration_id: query.integration_id,
                from: query.from,
                to: query.to,
                granularity: query.granularity.into(),
            },
        )
        .await?;
    let (kind, numerator, denominator, unit) = kind_and_unit(kpis.kind, kpis.unit);
    let (metric, family) = match &kpis.selector {
        KpiSelector::Metric(name) => (Some(name.trim().to_owned()), None),
        KpiSelector::Family(family) => (None, Some(family.as_str().to_owned())),
    };
    Ok(web::Json(KpiResponse {
        metric,
        family,
        kind,
        numerator,
        denominator,
        unit,
        granularity: query.granularity,
        from: kpis.from,
        to: kpis.to,
        time_zone: kpis.calendar.time_zone.name().to_owned(),
        week_start: kpis.calendar.week_start_name().to_owned(),
        series: kpis
            .series
            .into_iter()
            .map(|series| KpiSeries {
                integration_id: series.integration_id,
                metric: series.metric.to_owned(),
                dimensions: series.dimensions,
                currency: series.currency,
                points: values(series.points),
            })
            .collect(),
        totals: kpis
            .totals
            .into_iter()
            .map(|Total { currency, points }| KpiTotal {
                currency,
                points: values(points),
            })
            .collect(),
    }))
}

/// A metric of the catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricView {
    pub name: String,
    pub provider: String,
    pub stream: String,
    #[schema(schema_with = metric_kind)]
    pub kind: String,
    pub numerator: Option<String>,
    pub denominator: Option<String>,
    #[schema(schema_with = unit)]
    pub unit: String,
    pub description: String,
    /// The canonical family it maps into.
    pub family: Option<String>,
}

/// A canonical metric family.
#[derive(Debug, Serialize, ToSchema)]
pub struct FamilyView {
    pub name: String,
    pub description: String,
    #[schema(schema_with = unit)]
    pub unit: String,
    /// `provider/metric` of every member.
    pub members: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricList {
    pub data: Vec<MetricView>,
    pub families: Vec<FamilyView>,
}

impl MetricView {
    fn from(provider: &str, stream: &str, metric: &MetricSpec) -> Self {
        let (kind, numerator, denominator, unit) = kind_and_unit(metric.kind, metric.unit);
        Self {
            name: metric.name.to_owned(),
            provider: provider.to_owned(),
            stream: stream.to_owned(),
            kind,
            numerator,
            denominator,
            unit,
            description: metric.description.to_owned(),
            family: metric.family.map(|f| f.as_str().to_owned()),
        }
    }
}

#[utoipa::path(
    tag = "data",
    responses((status = 200, body = MetricList)),
    security(("api_key" = []))
)]
#[get("/v1/metrics")]
pub async fn metrics(state: web::Data<AppState>, _auth: Auth) -> web::Json<MetricList> {
    let catalog = state.app.metric_catalog();
    let families = MetricFamily::ALL
        .into_iter()
        .map(|family| FamilyView {
            name: family.as_str().to_owned(),
            description: family.description().to_owned(),
            unit: kind_and_unit(family.kind(), family.unit()).3,
            members: catalog
                .iter()
                .filter(|entry| entry.metric.family == Some(family))
                .map(|entry| format!("{}/{}", entry.provider, entry.metric.name))
                .collect(),
        })
        .collect();
    web::Json(MetricList {
        data: catalog
            .iter()
            .map(|entry| MetricView::from(entry.provider, entry.stream, &entry.metric))
            .collect(),
        families,
    })
}

/// The workspace of the API key.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The IANA time zone "today" is in for KPIs and alerts.
    pub time_zone: String,
    /// The first day of KPI weeks: `monday`, `sunday` or `saturday`.
    pub week_start: String,
    /// Where connect sessions may send end users back (`return_url`): origins
    /// (any path) or URLs (that path).
    pub connect_return_urls: Vec<String>,
}

impl From<Workspace> for WorkspaceView {
    fn from(w: Workspace) -> Self {
        Self {
            id: w.id,
            name: w.name,
            created_at: w.created_at,
            time_zone: w.time_zone,
            week_start: w.week_start,
            connect_return_urls: w.connect_return_urls,
        }
    }
}

/// PATCH /v1/workspace: the calendar and the connect return URLs; an absent field
/// keeps its value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspace {
    /// An IANA time zone name (`Europe/Berlin`, `UTC`).
    #[schema(schema_with = crate::schema::time_zone_or_null)]
    pub time_zone: Option<String>,
    /// `monday`, `sunday` or `saturday`.
    #[schema(schema_with = week_start)]
    pub week_start: Option<String>,
    #[schema(schema_with = crate::schema::return_urls_or_null)]
    pub connect_return_urls: Option<Vec<String>>,
}

fn week_start() -> utoipa::openapi::Object {
    crate::schema::or_null(crate::schema::one_of(use_case::week_start_names()))
}

#[utoipa::path(
    tag = "data",
    responses((status = 200, body = WorkspaceView)),
    security(("api_key" = []))
)]
#[get("/v1/workspace")]
pub async fn workspace(
    state: web::Data<AppState>,
    auth: Auth,
) -> ApiResult<web::Json<WorkspaceView>> {
    let current = state.app.workspace(auth.workspace_id).await?;
    Ok(web::Json(current.into()))
}

#[utoipa::path(
    tag = "data",
    request_body = UpdateWorkspace,
    responses(
        (status = 200, body = WorkspaceView),
        (status = 422, body = Problem, description = "`validation_failed`: an unknown time zone or week start, a return URL that is not one")
    ),
    security(("api_key" = []))
)]
#[patch("/v1/workspace")]
pub async fn update_workspace(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<UpdateWorkspace>,
) -> ApiResult<web::Json<WorkspaceView>> {
    let body = body.into_inner();
    let updated = state
        .app
        .update_workspace(
            auth.workspace_id,
            WorkspaceChanges {
                time_zone: body.time_zone,
                week_start: body.week_start,
                connect_return_urls: body.connect_return_urls,
            },
        )
        .await?;
    Ok(web::Json(updated.into()))
}

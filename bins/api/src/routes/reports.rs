//! The weekly KPI report: GET /v1/reports/weekly, PUT /v1/reports/weekly and
//! GET /v1/reports/weekly/preview.
//!
//! Once a week, on `weekday` at `hour` in `time_zone`, the worker mails the report to
//! its recipients through the workspace's Resend integration: each metric's total
//! for the last whole week (Monday to Sunday) against the week before, per
//! integration. One report per workspace and week, however many workers run. The
//! preview renders the email a send today would mail, enabled or not.

use actix_web::{HttpResponse, get, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use junction_app::notifications::{
    calendar,
    report::{EffectiveWeeklyReport, ReportPreview, WeeklyReportInput},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::{Json, Query},
    state::AppState,
};

/// PUT /v1/reports/weekly: the whole settings (what is left out takes its default:
/// off, no recipients, Monday, 8 o'clock, UTC, every metric).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutWeeklyReport {
    /// Whether the report goes out (unset: `false`); an enabled report needs
    /// recipients.
    pub enabled: Option<bool>,
    #[schema(schema_with = crate::schema::optional_recipients)]
    pub recipients: Option<Vec<String>>,
    #[schema(schema_with = crate::schema::weekday_or_null)]
    pub weekday: Option<String>,
    #[schema(schema_with = crate::schema::hour_or_null)]
    pub hour: Option<i64>,
    #[schema(schema_with = crate::schema::time_zone_or_null)]
    pub time_zone: Option<String>,
    #[schema(schema_with = crate::schema::report_metrics)]
    pub metrics: Option<Vec<String>>,
}

/// The workspace's weekly report settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeeklyReportView {
    /// Whether the workspace saved settings (if not, the report is off).
    pub configured: bool,
    pub enabled: bool,
    pub recipients: Vec<String>,
    #[schema(schema_with = crate::schema::weekday)]
    pub weekday: String,
    /// The hour (0-23, in `time_zone`) it goes out.
    pub hour: i16,
    /// An IANA time zone name.
    pub time_zone: String,
    /// The metrics it lists; empty: every metric of the workspace's integrations.
    pub metrics: Vec<String>,
    /// When the next report goes out (enabled reports only).
    pub next_send_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<EffectiveWeeklyReport> for WeeklyReportView {
    fn from(report: EffectiveWeeklyReport) -> Self {
        Self {
            configured: report.configured,
            enabled: report.enabled,
            recipients: report.recipients,
            weekday: calendar::weekday_name(report.weekday).to_owned(),
            hour: report.hour,
            time_zone: report.time_zone,
            metrics: report.metrics,
            next_send_at: report.next_send_at,
            updated_at: report.updated_at,
        }
    }
}

/// The report's email as it would go out now.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeeklyReportPreview {
    pub subject: String,
    pub html: String,
    pub text: String,
    /// The week it covers (Monday to Sunday).
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    pub recipients: Vec<String>,
    /// The metrics it lists.
    pub metrics: Vec<String>,
}

impl From<ReportPreview> for WeeklyReportPreview {
    fn from(rendered: ReportPreview) -> Self {
        Self {
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            week_start: rendered.week_start,
            week_end: rendered.week_end,
            recipients: rendered.recipients,
            metrics: rendered.metrics,
        }
    }
}

/// How the preview is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreviewFormat {
    /// Subject, HTML and text in one JSON object.
    #[default]
    Json,
    /// The HTML body alone (`text/html`), to open in a browser.
    Html,
    /// The plain-text body alone (`text/plain`).
    Text,
}

/// `GET /v1/reports/weekly/preview` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// `json` (default), `html` or `text`.
    // Inline: the document has no component for this query-only enum.
    #[param(inline)]
    pub format: Option<PreviewFormat>,
}

/// The workspace's weekly report settings.
#[utoipa::path(
    tag = "notifications",
    responses((status = 200, body = WeeklyReportView)),
    security(("api_key" = []))
)]
#[get("/v1/reports/weekly")]
pub async fn get(state: web::Data<AppState>, auth: Auth) -> ApiResult<web::Json<WeeklyReportView>> {
    let report = state.app.weekly_report(auth.workspace_id).await?;
    Ok(web::Json(report.into()))
}

/// Replaces the workspace's weekly report settings.
#[utoipa::path(
    tag = "notifications",
    request_body = PutWeeklyReport,
    responses(
        (status = 200, body = WeeklyReportView),
        (status = 422, body = Problem, description = "`validation_failed`: every field at fault (an address that is not one, an unknown weekday, an hour outside 0-23, a time zone that is not an IANA name, a metric no provider's stream produces)")
    ),
    security(("api_key" = []))
)]
#[put("/v1/reports/weekly")]
pub async fn update(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<PutWeeklyReport>,
) -> ApiResult<web::Json<WeeklyReportView>> {
    let body = body.into_inner();
    let report = state
        .app
        .put_weekly_report(
            auth.workspace_id,
            WeeklyReportInput {
                enabled: body.enabled,
                recipients: body.recipients,
                weekday: body.weekday,
                hour: body.hour,
                time_zone: body.time_zone,
                metrics: body.metrics,
            },
        )
        .await?;
    Ok(web::Json(report.into()))
}

/// Renders the weekly report a send today would mail: the last whole week before
/// today (in the report's time zone) against the week before, enabled or not.
#[utoipa::path(
    tag = "notifications",
    params(PreviewQuery),
    responses(
        (status = 200, description = "The rendered email: JSON, or with `format=html` / `format=text` the body alone",
            content(
                (WeeklyReportPreview = "application/json"),
                (String = "text/html"),
                (String = "text/plain")
            )
        )
    ),
    security(("api_key" = []))
)]
#[get("/v1/reports/weekly/preview")]
pub async fn preview(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<PreviewQuery>,
) -> ApiResult<HttpResponse> {
    let rendered = state.app.preview_weekly_report(auth.workspace_id).await?;
    Ok(match query.into_inner().format.unwrap_or_default() {
        PreviewFormat::Json => HttpResponse::Ok().json(WeeklyReportPreview::from(rendered)),
        PreviewFormat::Html => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(rendered.html),
        PreviewFormat::Text => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(rendered.text),
    })
}

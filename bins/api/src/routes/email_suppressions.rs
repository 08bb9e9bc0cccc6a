//! The workspace's email suppression list: GET /v1/email-suppressions,
//! POST /v1/email-suppressions and DELETE /v1/email-suppressions/{address}.
//!
//! Addresses land on the list when the email provider reports a bounce or a
//! complaint (Resend's webhooks), or when a client adds one. Every email Junction
//! sends skips them: its notifications, and every action that sends email (Resend's
//! `send_email` and `send_batch`, Stripe's receipts), whose run lists the recipients
//! it dropped. Taking an address off the list lets the workspace's emails reach it
//! again.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use junction_app::models::EmailSuppression;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::{Json, Path, Query},
    pagination::{PageParams, page},
    state::AppState,
};

/// An address the workspace's emails skip.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailSuppressionView {
    /// Lower-cased.
    pub address: String,
    /// Why: `bounce` or `complaint` (from the email provider), `manual`, or what the
    /// client who added it said.
    pub reason: String,
    /// The integration whose webhook reported it.
    pub source_integration_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<EmailSuppression> for EmailSuppressionView {
    fn from(entry: EmailSuppression) -> Self {
        Self {
            address: entry.address,
            reason: entry.reason,
            source_integration_id: entry.source_integration_id,
            created_at: entry.created_at,
        }
    }
}

/// A page of suppressed addresses, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailSuppressionList {
    pub data: Vec<EmailSuppressionView>,
    pub next_cursor: Option<String>,
}

/// `?limit=&cursor=` of the suppression list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuppressionPage {
    #[param(schema_with = crate::pagination::limit)]
    pub limit: Option<i64>,
    #[param(schema_with = crate::pagination::record_cursor)]
    pub cursor: Option<String>,
}

/// POST /v1/email-suppressions: an address to stop mailing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddEmailSuppression {
    #[schema(schema_with = crate::schema::address, required = true)]
    pub address: Option<String>,
    #[schema(schema_with = crate::schema::suppression_reason_or_null)]
    pub reason: Option<String>,
}

/// Lists the workspace's suppressed addresses.
#[utoipa::path(
    tag = "notifications",
    params(SuppressionPage),
    responses((status = 200, body = EmailSuppressionList)),
    security(("api_key" = []))
)]
#[get("/v1/email-suppressions")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    query: Query<SuppressionPage>,
) -> ApiResult<web::Json<EmailSuppressionList>> {
    let query = query.into_inner();
    let request = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let listed = state
        .app
        .email_suppressions(auth.workspace_id, request)
        .await?;
    let (data, next_cursor) = page(listed, EmailSuppressionView::from);
    Ok(web::Json(EmailSuppressionList { data, next_cursor }))
}

/// Puts an address on the suppression list: the workspace's emails skip it from now
/// on. An address already on it keeps its first reason (200 instead of 201).
#[utoipa::path(
    tag = "notifications",
    request_body = AddEmailSuppression,
    responses(
        (status = 201, body = EmailSuppressionView, description = "Added"),
        (status = 200, body = EmailSuppressionView, description = "It was on the list already"),
        (status = 422, body = Problem, description = "`validation_failed`: not a plain email address, or a reason that is not one line of 1-200 characters")
    ),
    security(("api_key" = []))
)]
#[post("/v1/email-suppressions")]
pub async fn add(
    state: web::Data<AppState>,
    auth: Auth,
    body: Json<AddEmailSuppression>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (entry, created) = state
        .app
        .add_email_suppression(
            auth.workspace_id,
            body.address.as_deref(),
            body.reason.as_deref(),
        )
        .await?;
    let view = EmailSuppressionView::from(entry);
    Ok(if created {
        HttpResponse::Created()
            .insert_header((
                "Location",
                format!("/v1/email-suppressions/{}", view.address),
            ))
            .json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// Takes an address off the suppression list (case does not matter), so the
/// workspace's emails reach it again.
#[utoipa::path(
    tag = "notifications",
    params(("address" = String, Path, description = "The suppressed address")),
    responses(
        (status = 204),
        (status = 404, body = Problem, description = "`email_suppression_not_found`: the address is not on the list")
    ),
    security(("api_key" = []))
)]
#[delete("/v1/email-suppressions/{address}")]
pub async fn remove(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<String>,
) -> ApiResult<HttpResponse> {
    state
        .app
        .remove_email_suppression(auth.workspace_id, &path.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

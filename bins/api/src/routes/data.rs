//! What syncs produced: GET /v1/records (KPIs: [`super::kpis`]).

use actix_web::{get, web};
use chrono::{DateTime, Utc};
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
